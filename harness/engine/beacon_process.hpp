// beacon_process.hpp: simulated beacons as child processes: a scenario's beacon settings written
// as a beacon config (always 127.0.0.1, port 0), and `mtls-harness beacon --config ...` started,
// waited for on its JSON ready line (no sleeps), and stopped (drained) when destroyed. Used by the
// engine and by `mtls-harness bench`.
#pragma once

#include <sys/types.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/files.hpp"
#include "core/process.hpp"

namespace mtls::engine {

// The last `max_bytes` of a (log) file, for error messages.
std::string tail_of(const std::filesystem::path& file, std::size_t max_bytes = 2000);

// The beacon config for a simulated beacon's settings (a scenario's `simulated` node): it logs
// as `name` and serves the certificate of the PKI manifest's beacon `identity`.
std::string beacon_config_yaml(const YAML::Node& sim, const std::string& name,
                               const std::string& identity, const std::filesystem::path& pki,
                               const std::filesystem::path& store);

// A simulated beacon started as `mtls-harness beacon --config ...`; stopped (drained) when
// destroyed.
class BeaconProcess {
 public:
  BeaconProcess(const std::filesystem::path& exe, const std::string& name,
                const std::string& config_yaml, const std::filesystem::path& dir)
      : name_(name), log_(dir / "beacon.log.jsonl"), stderr_(dir / "beacon.stderr.log") {
    std::filesystem::create_directories(dir);
    write_file_atomic(dir / "beacon.yaml", config_yaml);
    std::vector<std::string> argv = {exe.string(),   "beacon",
                                     "--config",     (dir / "beacon.yaml").string(),
                                     "--ready-file", (dir / "ready.json").string(),
                                     "--log",        log_.string()};
    // If the engine dies (Ctrl-C, a crash), the beacon gets SIGTERM and drains: no orphans.
    child_.emplace(argv, stderr_, std::vector<std::string>{"MTLS_HARNESS_DIE_WITH_PARENT=1"});
    bool timed_out = false;
    auto line = child_->read_line(std::chrono::seconds(30), &timed_out);
    if (line) ready_ = nlohmann::json::parse(*line, nullptr, false);
    const nlohmann::json& ready = ready_;
    if (!line || ready.is_discarded() || ready.value("event", "") != "ready") {
      const std::string status = timed_out ? "no ready signal within 30 s" : child_->stop();
      throw HarnessError("beacon " + name_ + " did not start (" + status + ")\n  command: " +
                         child_->command_line() + "\n  stderr: " + tail_of(stderr_));
    }
    for (const auto& l : ready["listeners"])
      if (l["scheme"] == "https") {
        url_ = "https://" + l["address"].get<std::string>() + ":" +
               std::to_string(l["port"].get<int>());
        break;
      }
    if (url_.empty()) throw HarnessError("beacon " + name_ + " has no TLS listener");
  }

  const std::string& url() const { return url_; }
  const nlohmann::json& ready() const { return ready_; }
  pid_t pid() const { return child_->pid(); }
  const std::filesystem::path& log() const { return log_; }
  const std::filesystem::path& stderr_log() const { return stderr_; }
  std::string stop() { return child_->stop(); }

 private:
  std::string name_, url_;
  nlohmann::json ready_;
  std::filesystem::path log_, stderr_;
  std::optional<ChildProcess> child_;
};

}  // namespace mtls::engine
