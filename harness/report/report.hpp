// report.hpp: the run's outputs: results.jsonl (one record per check, streamed while running) and
// report.json (metadata, every record, summary). Later: JUnit XML, Markdown, HTML.
#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/result.hpp"

namespace mtls::report {

struct Summary {
  int total = 0, pass = 0, fail = 0, inconclusive = 0, skipped = 0;
  int exposure = 0, lockout = 0;
  int expected_fail = 0;    // FAILs a self-test scenario declared (the harness caught them)
  int selftest_missed = 0;  // declared findings the harness did not produce
  int warn = 0;             // WARN findings
};

// The counts of a run: the records' verdicts and severities, and (when given) the findings'
// self-test misses and WARNs.
Summary summarize(const std::vector<ResultRecord>& records,
                  const nlohmann::json& findings = nlohmann::json::array());
nlohmann::json to_json(const Summary& s);

// The CLI's exit code for a run: 0 all checks pass, 1 any FAIL not declared by a self-test (or a
// declared finding missed), 3 any check could not be carried out (INCONCLUSIVE) and none failed.
int exit_code(const Summary& s);

// One line for people: "2 checks: 2 PASS, 0 FAIL, 0 INCONCLUSIVE, 0 SKIPPED".
std::string one_line(const Summary& s);

// Appends records to results.jsonl as checks finish (flushed per record).
class ResultStream {
 public:
  explicit ResultStream(const std::filesystem::path& path);  // truncates
  void append(const ResultRecord& r);

 private:
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> file_;
  std::filesystem::path path_;
};

// results.jsonl as a run leaves it: one check record per line, then one {"finding": {...}} line
// per finding that is not derived from the records alone (a self-test's misses, the probe's
// survey findings), so that re-rendering the file gives the run's findings.
void write_results_jsonl(const std::filesystem::path& path,
                         const std::vector<ResultRecord>& records,
                         const nlohmann::json& recorded_findings = nlohmann::json::array());

// The findings of a report re-rendered from results.jsonl: (records, the recorded findings) ->
// every finding, in listing order. The engine's findings module provides it (the CLI wires it).
using FindingsOf =
    std::function<nlohmann::json(const std::vector<ResultRecord>&, const nlohmann::json&)>;
// The report document: metadata, summary, findings, results, and an integrity block with the
// SHA-256 over the canonical form of {results, findings, summary} (compact JSON, keys sorted).
nlohmann::json make_document(const nlohmann::json& metadata,
                             const std::vector<ResultRecord>& records, const Summary& summary,
                             const nlohmann::json& findings);
std::string integrity_digest(const nlohmann::json& doc);

// Writes report.json, junit.xml, report.md and report.html into `dir` (each atomically).
void write_all(const std::filesystem::path& dir, const nlohmann::json& doc);

// A report document from report.json, or rebuilt from results.jsonl (summary recomputed,
// findings by `findings_of`; without it, only the recorded ones). Throws InputError naming the
// file on anything else.
nlohmann::json load_document(const std::filesystem::path& file, const FindingsOf& findings_of = {});

// 0: the integrity digest matches; 1: it does not (the report was changed). Throws InputError
// for a file that is not a report.
int verify(const std::filesystem::path& report_json, std::string* detail);

// `report merge`: several runs' report.json (shards, vantage points) as one document: every record
// (with its vantage point), findings by `findings_of` over all of them, INCOMPLETE (complete:
// false, exit 3) when a vantage point's shards are not all there. Throws InputError for fewer
// than two files, a file that is not a run's report.json, or a check present twice.
nlohmann::json merge_documents(const std::vector<std::filesystem::path>& files,
                               const FindingsOf& findings_of);

// Checks that passed in `old_doc` and fail now (same scenario and check id).
nlohmann::json regressions(const nlohmann::json& old_doc, const nlohmann::json& new_doc);

}  // namespace mtls::report
