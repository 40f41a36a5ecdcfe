// engine.hpp: `mtls-harness run`: loads scenarios, makes a fresh test PKI, starts the simulated
// beacons as child processes (loopback, port 0, ready signal), expands each scenario into its
// checks (beacon x operation x credential x entry path, plus the fleet boundary), runs them in
// parallel as simulated devices, judges verdicts against positive controls, derives findings
// (EXPOSURE, LOCKOUT, WARN, boundary leaks), checks self-test scenarios found exactly what they
// declare, and writes results and reports.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "report/report.hpp"

namespace mtls::engine {

struct RunOptions {
  std::vector<std::filesystem::path> scenarios;  // empty: the built-in default suite
  std::filesystem::path out = "reports/out";
  std::filesystem::path harness_executable;  // the mtls-harness binary (starts beacons)
  std::ostream* progress = nullptr;          // progress bar (terminal) or one line per check
  bool progress_is_terminal = false;
  bool color = false;  // verdict words in colour on the progress lines
  unsigned jobs = 2;   // checks in flight at once
  // A test PKI written by `pki init` to use instead of a fresh one: external beacons (a reference
  // nginx, a staging beacon) configured with its server certificate and client CA.
  std::optional<std::filesystem::path> pki;
  std::chrono::milliseconds pace{0};        // at least this long between two requests started
  const std::atomic<bool>* stop = nullptr;  // raised (Ctrl-C): finish what flies, report partial
  // WARN when the distributed certificate expires within this many days: in the shared model
  // every device loses access on that same day.
  int expiry_warning_days = 60;
  // Where the checks run from: a vantage point's name (every record carries it) and the local
  // address its connections come from (--source-address; "" the system's choice).
  std::string vantage, source_address;
  // A deterministic share of the checks (--shard I/N): all checks of one beacon and operation
  // (they share a positive control) go to the same shard; 1/1 is everything.
  unsigned shard_index = 1, shard_count = 1;
};

struct RunResult {
  report::Summary summary;
  std::filesystem::path report_file;
  std::filesystem::path results_file;
  nlohmann::json findings;
  bool complete = true;  // false: interrupted, the report holds only the checks that finished
  std::size_t planned = 0;
};

// Throws InputError for bad scenarios/options (nothing is started, nothing written),
// HarnessError when the harness itself fails (a beacon does not start or crashes).
RunResult run(const RunOptions& options);

// The checks the scenarios expand to, without running anything: one JSON object per check
// (check_id, scenario, beacon, operation, credential, entry_path, expected, skipped).
nlohmann::json plan(const RunOptions& options);

}  // namespace mtls::engine
