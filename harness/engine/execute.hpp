// execute.hpp: runs one scenario's planned checks against its running beacons and judges each
// (verdict.hpp): positive checks first (every negative check's control is among them), curl checks
// concurrently and the hand-driven TLS clients one at a time, at a probe's pace; an upload answered
// 2xx without the beacon's receipt is read back to learn whether it was stored. Each record is
// streamed to results.jsonl and shown on the progress line as soon as it is judged. Internal to the
// engine library.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/console.hpp"
#include "engine/engine.hpp"
#include "engine/plan.hpp"
#include "engine/prepared.hpp"
#include "engine/running_beacons.hpp"
#include "report/report.hpp"

namespace mtls::engine {

// Progress: a one-line bar on a terminal; elsewhere (CI logs) one timestamped line per check.
class Progress {
 public:
  Progress(std::ostream* out, bool tty, bool color, std::size_t total)
      : out_(out), tty_(tty), color_(color), total_(total), bar_(out, tty, total, "checks") {}
  // `declared`: a FAIL the scenario (a self-test) declares: the line says so when it is printed.
  void add(const ResultRecord& r, bool declared);

 private:
  std::ostream* out_;
  bool tty_, color_;
  std::size_t total_, done_ = 0;
  std::map<std::string, std::size_t> counts_;
  ProgressBar bar_;
};

// What the run shares across scenarios while checks execute.
struct RunContext {
  const RunOptions& options;
  const Prepared& prep;
  report::ResultStream& stream;
  Progress& progress;
  std::chrono::steady_clock::time_point next_start;  // pacing (a probe's rate) across phases
};

// The judged record of each check (null: interrupted before it ran) and when each finished.
struct Executed {
  std::vector<std::optional<ResultRecord>> done;
  std::vector<std::chrono::system_clock::time_point> finished_at;
};

Executed execute_checks(RunContext& ctx, const Scenario& sc, const std::vector<Check>& plan,
                        const RunningBeacons& beacons);

}  // namespace mtls::engine
