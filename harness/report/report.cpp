// report.cpp: see report.hpp.
#include "report/report.hpp"

#include <cerrno>
#include <cstring>

#include "core/files.hpp"
#include "report/render.hpp"

#include <map>
#include <set>
#include <sstream>

namespace mtls::report {
namespace fs = std::filesystem;

Summary summarize(const std::vector<ResultRecord>& records, const nlohmann::json& findings) {
  Summary s;
  for (const auto& f : findings) {
    const std::string severity = f.is_object() ? f.value("severity", "") : "";
    s.selftest_missed += severity == "SELFTEST";
    s.warn += severity == "WARN";
  }
  for (const auto& r : records) {
    ++s.total;
    switch (r.verdict.value_or(Verdict::kInconclusive)) {
      case Verdict::kPass:
        ++s.pass;
        break;
      case Verdict::kFail:
        ++s.fail;
        break;
      case Verdict::kInconclusive:
        ++s.inconclusive;
        break;
      case Verdict::kSkipped:
        ++s.skipped;
        break;
    }
    if (r.severity == Severity::kExposure) ++s.exposure;
    if (r.severity == Severity::kLockout) ++s.lockout;
    if (r.verdict == Verdict::kFail && r.expected_finding) ++s.expected_fail;
  }
  return s;
}

nlohmann::json to_json(const Summary& s) {
  return {{"total", s.total},
          {"PASS", s.pass},
          {"FAIL", s.fail},
          {"INCONCLUSIVE", s.inconclusive},
          {"SKIPPED", s.skipped},
          {"EXPOSURE", s.exposure},
          {"LOCKOUT", s.lockout},
          {"FAIL_declared_by_self_tests", s.expected_fail},
          {"self_test_misses", s.selftest_missed},
          {"WARN_findings", s.warn},
          {"exit_code", exit_code(s)}};
}

int exit_code(const Summary& s) {
  if (s.fail - s.expected_fail > 0 || s.selftest_missed > 0) return 1;
  if (s.inconclusive > 0) return 3;
  return 0;
}

std::string one_line(const Summary& s) {
  std::string line = std::to_string(s.total) + " checks: " + std::to_string(s.pass) + " PASS, " +
                     std::to_string(s.fail) + " FAIL, " + std::to_string(s.inconclusive) +
                     " INCONCLUSIVE, " + std::to_string(s.skipped) + " SKIPPED";
  if (s.exposure + s.lockout > 0)
    line +=
        " (" + std::to_string(s.exposure) + " EXPOSURE, " + std::to_string(s.lockout) + " LOCKOUT)";
  if (s.expected_fail > 0)
    line += "; " + std::to_string(s.expected_fail) + " FAIL declared by self-tests";
  if (s.selftest_missed > 0)
    line += "; " + std::to_string(s.selftest_missed) + " self-test finding(s) MISSED";
  if (s.warn > 0) line += "; " + std::to_string(s.warn) + " WARN finding(s)";
  return line;
}

ResultStream::ResultStream(const fs::path& path)
    : file_(std::fopen(path.c_str(), "w")), path_(path) {
  if (!file_) throw InputError(path.string() + ": cannot write (" + std::strerror(errno) + ")");
}

void ResultStream::append(const ResultRecord& r) {
  const std::string line = mtls::to_json(r).dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_.get()) != line.size() ||
      std::fflush(file_.get()) != 0)
    throw HarnessError(path_.string() + ": write failed (" + std::strerror(errno) + ")");
}

void write_results_jsonl(const fs::path& path, const std::vector<ResultRecord>& records,
                         const nlohmann::json& recorded_findings) {
  std::string data;
  for (const auto& r : records) data += mtls::to_json(r).dump() + "\n";
  for (const auto& f : recorded_findings) data += nlohmann::json{{"finding", f}}.dump() + "\n";
  write_file_atomic(path, data);
}

}  // namespace mtls::report

namespace mtls::report {
namespace {

nlohmann::json canonical_part(const nlohmann::json& doc) {
  return {{"results", doc.value("results", nlohmann::json::array())},
          {"findings", doc.value("findings", nlohmann::json::array())},
          {"summary", doc.value("summary", nlohmann::json::object())}};
}

// A result record read back from a file: the fields the readers use must have their types
// (found by fuzz/report_fuzz: a record without "severity" read out of bounds). Throws InputError.
void check_record(const nlohmann::json& r, const std::string& where) {
  auto fail = [&](const std::string& what) {
    throw InputError(where + ": not a result record (" + what + ")");
  };
  if (!r.is_object()) fail("not a JSON object");
  if (!r.contains("check_id") || !r["check_id"].is_string()) fail("check_id must be a string");
  static const std::set<std::string> verdicts = {"PASS", "FAIL", "INCONCLUSIVE", "SKIPPED"};
  if (!r.contains("verdict") || !r["verdict"].is_string() ||
      !verdicts.contains(r["verdict"].get<std::string>()))
    fail("verdict must be PASS, FAIL, INCONCLUSIVE or SKIPPED");
  for (const char* k : {"scenario", "beacon", "operation", "credential", "entry_path", "severity",
                        "outcome", "reason", "control_id"})
    if (r.contains(k) && !r[k].is_null() && !r[k].is_string())
      fail(std::string(k) + " must be a string or null");
  if (r.contains("expected_finding") && !r["expected_finding"].is_boolean())
    fail("expected_finding must be true or false");
}

// The value of a string-or-null field, "" when absent or null.
std::string text_of(const nlohmann::json& r, const char* key) {
  return r.contains(key) && r[key].is_string() ? r[key].get<std::string>() : "";
}

}  // namespace

std::string integrity_digest(const nlohmann::json& doc) {
  return sha256_hex(canonical_part(doc).dump());
}

nlohmann::json make_document(const nlohmann::json& metadata,
                             const std::vector<ResultRecord>& records, const Summary& summary,
                             const nlohmann::json& findings) {
  nlohmann::json results = nlohmann::json::array();
  for (const auto& r : records) results.push_back(mtls::to_json(r));
  nlohmann::json doc = {{"report_format", 1},
                        {"metadata", metadata},
                        {"summary", to_json(summary)},
                        {"findings", findings},
                        {"results", results}};
  // An interrupted run proves nothing about the checks it did not reach.
  const bool complete = metadata.value("complete", true);
  doc["summary"]["complete"] = complete;
  if (!complete) doc["summary"]["exit_code"] = 3;
  doc["integrity"] = {{"algorithm", "sha256"},
                      {"covers", "results, findings and summary, as compact JSON with sorted keys"},
                      {"sha256", integrity_digest(doc)}};
  return doc;
}

void write_all(const fs::path& dir, const nlohmann::json& doc) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError(dir.string() + ": cannot create (" + ec.message() + ")");
  write_file_atomic(dir / "report.json", doc.dump(2) + "\n");
  write_file_atomic(dir / "junit.xml", render_junit(doc));
  write_file_atomic(dir / "report.md", render_markdown(doc));
  write_file_atomic(dir / "report.html", render_html(doc));
  write_file_atomic(dir / "results.csv", render_csv(doc));
  write_file_atomic(dir / "report.sarif", render_sarif(doc));
}

nlohmann::json load_document(const fs::path& file, const FindingsOf& findings_of) {
  const std::string text = read_file(file);
  if (file.extension() == ".jsonl") {
    nlohmann::json results = nlohmann::json::array(), recorded = nlohmann::json::array();
    std::vector<ResultRecord> records;
    std::istringstream in(text);
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      if (line.empty()) continue;
      const std::string where = file.string() + ":" + std::to_string(line_no);
      auto r = nlohmann::json::parse(line, nullptr, false);
      if (r.is_discarded()) r = nullptr;
      if (r.is_object() && r.contains("finding") && r.size() == 1) {
        if (!r["finding"].is_object()) throw InputError(where + ": a finding must be an object");
        recorded.push_back(r["finding"]);
        continue;
      }
      check_record(r, where);
      records.push_back(record_from_json(r, where));
      results.push_back(std::move(r));
    }
    const nlohmann::json findings = findings_of ? findings_of(records, recorded) : recorded;
    const Summary s = summarize(records, findings);
    nlohmann::json doc = {{"report_format", 1},
                          {"metadata", {{"rendered_from", file.string()}}},
                          {"summary", to_json(s)},
                          {"findings", findings},
                          {"results", results}};
    doc["integrity"] = {
        {"algorithm", "sha256"},
        {"covers", "results, findings and summary, as compact JSON with sorted keys"},
        {"sha256", integrity_digest(doc)}};
    return doc;
  }
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("results") ||
      !doc["results"].is_array() || !doc.contains("summary"))
    throw InputError(file.string() + ": not an mtls-harness report.json (or results.jsonl)");
  if (!doc["summary"].is_object() || (doc.contains("findings") && !doc["findings"].is_array()))
    throw InputError(file.string() + ": not an mtls-harness report.json (summary, findings)");
  for (std::size_t i = 0; i < doc["results"].size(); ++i)
    check_record(doc["results"][i], file.string() + ": results[" + std::to_string(i) + "]");
  return doc;
}

int verify(const fs::path& report_json, std::string* detail) {
  if (report_json.extension() == ".jsonl")
    throw InputError(report_json.string() +
                     ": a results.jsonl carries no integrity digest; verify the report.json");
  const auto doc = load_document(report_json);
  if (!doc.contains("integrity") || !doc["integrity"].is_object() ||
      !doc["integrity"].contains("sha256") || !doc["integrity"]["sha256"].is_string())
    throw InputError(report_json.string() + ": the report has no integrity block");
  const std::string want = doc["integrity"]["sha256"];
  const std::string got = integrity_digest(doc);
  if (detail) *detail = "recorded " + want + ", computed " + got;
  return want == got ? 0 : 1;
}

nlohmann::json regressions(const nlohmann::json& old_doc, const nlohmann::json& new_doc) {
  std::map<std::string, nlohmann::json> before;
  // Both documents come from load_document: every record passed check_record.
  for (const auto& r : old_doc["results"])
    before[text_of(r, "scenario") + "|" + text_of(r, "check_id")] = r;
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : new_doc["results"]) {
    auto it = before.find(text_of(r, "scenario") + "|" + text_of(r, "check_id"));
    if (it == before.end()) continue;
    const auto passed = [](const nlohmann::json& x) {
      return text_of(x, "verdict") == "PASS" ||
             (text_of(x, "verdict") == "FAIL" && x.value("expected_finding", false));
    };
    const bool fails_now = text_of(r, "verdict") == "FAIL" && !r.value("expected_finding", false);
    if (passed(it->second) && fails_now)
      out.push_back({{"scenario", text_of(r, "scenario")},
                     {"check_id", text_of(r, "check_id")},
                     {"was", text_of(it->second, "verdict")},
                     {"now", text_of(r, "verdict")},
                     {"severity", text_of(r, "severity")},
                     {"outcome", text_of(r, "outcome")},
                     {"reason", text_of(r, "reason")}});
  }
  return out;
}

}  // namespace mtls::report
