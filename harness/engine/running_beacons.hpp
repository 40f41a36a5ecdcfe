// running_beacons.hpp: the beacons of one scenario while its checks run. A simulated beacon is
// started as a child process (its config written from the scenario's settings, serving the PKI
// beacon certificate it stands for); an external one is used as it is. Each RunningBeacon knows its
// URL, its doors (plan.hpp) and the certificate the agents are shown; after the checks, the
// beacons are stopped (drained) and each record gets the beacon's side of its connection from the
// beacon's evidence log. Internal to the engine library.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "engine/beacon_process.hpp"
#include "engine/plan.hpp"
#include "engine/scenario.hpp"
#include "pki/manifest.hpp"

namespace mtls::engine {

// The test PKI of one trust model: where it is and its manifest (with the run's extra credentials).
struct RunPki {
  std::filesystem::path dir;
  pki::Manifest manifest;
};

struct RunningBeacon {
  std::string name;
  std::string url;
  std::unique_ptr<BeaconProcess> process;  // null: an external beacon
  Doors doors;
  nlohmann::json certificate;  // what the agents are shown (report cover); null when unknown
};

class RunningBeacons {
 public:
  // Starts the simulated beacons of `sc` under work/<scenario>/<beacon>/. `survey`: what probe
  // learnt of external beacons (their certificates), or null.
  RunningBeacons(const Scenario& sc, const RunPki& pki, const std::filesystem::path& work,
                 const std::filesystem::path& harness_executable, const nlohmann::json& survey);

  const std::vector<RunningBeacon>& all() const { return beacons_; }
  const RunningBeacon& at(const std::string& name) const;
  // The beacon name of a URL (a boundary check's selection), else the URL itself.
  std::string name_of_url(const std::string& url) const;

  // Points every check of a plan at its beacon's doors (a boundary check at its failover list).
  void aim_all(std::vector<Check>& plan) const;

  // Each beacon as the report's cover lists it.
  nlohmann::json meta(const Scenario& sc) const;

  // Stops the simulated beacons (they drain and flush their logs); `meta_beacons` gets each exit
  // status. Throws HarnessError when one did not exit cleanly.
  void stop(const std::string& scenario_id, nlohmann::json& meta_beacons);

  // The beacon's side of each record's connection (evidence.beacon_log), from its log: `done[i]`
  // (null: the check did not run) finished at `finished_at[i]`.
  void attach_logs(std::vector<std::optional<ResultRecord>>& done,
                   const std::vector<std::chrono::system_clock::time_point>& finished_at) const;

 private:
  const Scenario& sc_;
  std::vector<RunningBeacon> beacons_;
};

}  // namespace mtls::engine
