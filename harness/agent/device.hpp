// device.hpp: one simulated device as a state machine that hands out transfers: first the
// MgsPing ranking of its failover list (the `select` request, 3 tries per beacon, 3 s timeout, up
// to 50 beacons at once), then each operation in order on the best beacon, failing over down the
// ranking when it does not get in. Driving it (one device or a fleet) is fleet.hpp's job.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "agent/agent.hpp"
#include "agent/transfer.hpp"

namespace mtls::agent {

struct DevicePlan {
  std::vector<const Operation*> operations;
  const Operation* select = nullptr;  // rank the beacons first (else: try them in list order)
  std::vector<BeaconChoice> beacons;
  AgentOptions options;
};

class Device {
 public:
  explicit Device(DevicePlan plan);

  // The next transfer to start, or nullptr while this device waits for one in flight (or is done).
  std::unique_ptr<Transfer> next();
  // `t` (which next() returned) has finished with `code`.
  void done(Transfer& t, CURLcode code);
  bool finished() const { return op_ >= plan_.operations.size(); }
  const std::vector<ResultRecord>& results() const { return results_; }

 private:
  enum class Kind { kPing, kSums, kRequest };
  struct Pending {
    Kind kind;
    std::size_t beacon;  // index into plan_.beacons
  };
  struct PingState {
    int started = 0, done = 0;
    bool in_flight = false;
    std::vector<double> times_ms;
    std::string last_error;
  };

  std::unique_ptr<Transfer> start(Kind kind, std::size_t beacon, const RequestSpec& spec,
                                  const std::string& path, std::string upload,
                                  std::optional<std::string> expected,
                                  std::chrono::milliseconds timeout);
  void rank();
  void finish_op(const RequestResult& last, Outcome outcome, const std::string& reason);
  std::size_t current_beacon() const { return ranking_[attempt_]; }

  DevicePlan plan_;
  std::vector<PingState> pings_;
  bool ranked_ = false;
  std::vector<std::size_t> ranking_;  // beacon indexes, best first
  nlohmann::json ranking_json_ = nlohmann::json::array();
  std::size_t op_ = 0, request_ = 0, attempt_ = 0;
  bool in_flight_ = false;
  std::map<std::size_t, std::map<std::string, std::string>> sums_;  // beacon -> path -> sha256
  nlohmann::json attempts_ = nlohmann::json::array();
  nlohmann::json steps_ = nlohmann::json::array();
  std::map<const Transfer*, Pending> pending_;
  std::vector<ResultRecord> results_;
};

}  // namespace mtls::agent
