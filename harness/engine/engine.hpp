// engine.hpp: `mtls-harness run`: loads scenarios, makes a fresh test PKI, starts the simulated
// beacons as child processes (loopback, port 0, ready signal), runs every check with the
// simulated agent, judges verdicts against positive controls, and writes results and reports.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <vector>

#include "report/report.hpp"

namespace mtls::engine {

struct RunOptions {
  std::vector<std::filesystem::path> scenarios;  // empty: the built-in default suite
  std::filesystem::path out = "reports/out";
  std::filesystem::path harness_executable;  // the mtls-harness binary (starts beacons)
  std::ostream* progress = nullptr;          // one line per finished check, when set
};

struct RunResult {
  report::Summary summary;
  std::filesystem::path report_file;
  std::filesystem::path results_file;
};

// Throws InputError for bad scenarios/options (nothing is started), HarnessError when the
// harness itself fails (a beacon does not start).
RunResult run(const RunOptions& options);

}  // namespace mtls::engine
