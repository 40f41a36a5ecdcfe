// storm.hpp: `bench --storm N --window S`, a reconnect storm: after a beacon restart every device
// reconnects within a window. N devices, each one fresh TLS connection with a full handshake (no
// resumption: the restart lost the session cache) and one small GET, start spread evenly over the
// window (at most `max_in_flight` at once; a device that cannot start yet waits, and its wait
// counts in its latency). Reported: how long until every device got through, how many failed and
// how (outcome names), latency percentiles from each device's planned start, and the server's CPU.
// Bounded: at most 100,000 devices, a window of at most 600 s, each connection at most 10 s.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "load/loadgen.hpp"

namespace mtls::load {

struct StormOptions {
  LoadTarget target;  // the mTLS listener and the credential every device presents
  agent::TrustSettings trust;
  std::uint64_t devices = 1000;
  std::chrono::milliseconds window{10000};
  unsigned max_in_flight = 1000;
  std::optional<pid_t> server_pid;
  std::function<void(std::uint64_t done)> on_progress;  // after each batch of finished devices
};

nlohmann::json run_storm(const StormOptions& options);

}  // namespace mtls::load
