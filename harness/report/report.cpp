// report.cpp: see report.hpp.
#include "report/report.hpp"

#include <cerrno>
#include <cstring>

#include "core/files.hpp"

namespace mtls::report {
namespace fs = std::filesystem;

Summary summarize(const std::vector<ResultRecord>& records) {
  Summary s;
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

void write_results_jsonl(const fs::path& path, const std::vector<ResultRecord>& records) {
  std::string data;
  for (const auto& r : records) data += mtls::to_json(r).dump() + "\n";
  write_file_atomic(path, data);
}

void write_report_json(const fs::path& path, const nlohmann::json& metadata,
                       const std::vector<ResultRecord>& records, const Summary& summary,
                       const nlohmann::json& findings) {
  nlohmann::json results = nlohmann::json::array();
  for (const auto& r : records) results.push_back(mtls::to_json(r));
  nlohmann::json doc = {{"report_format", 1},
                        {"metadata", metadata},
                        {"summary", to_json(summary)},
                        {"findings", findings},
                        {"results", results}};
  write_file_atomic(path, doc.dump(2) + "\n");
}

}  // namespace mtls::report
