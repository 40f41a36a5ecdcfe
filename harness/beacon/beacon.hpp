// beacon.hpp: the simulated inventory beacon: Botan 2 TLS servers (and, as a misconfiguration, a
// plain-HTTP one) on a Boost.Asio event loop with N worker threads, HTTP/1.1 keep-alive parsed
// by Boost.Beast, serving ManageSoftDL downloads and storing ManageSoftRL uploads atomically.
// Every connection and request is logged as JSON Lines with the true reason of any rejection.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "beacon/config.hpp"

namespace mtls::beacon {

class Beacon {
 public:
  // Loads credentials and binds every listener. Throws InputError for bad configuration (missing
  // PKI, unparsable listen address, busy port, no listener).
  explicit Beacon(const BeaconConfig& config);
  Beacon(const Beacon&) = delete;
  Beacon& operator=(const Beacon&) = delete;
  ~Beacon();  // stops the workers

  // Starts the worker threads, then writes the ready file. Returns the ready record:
  // {"event":"ready","beacon":...,"pid":...,"listeners":[{"name","scheme","address","port",...}]}.
  nlohmann::json start();
  // Blocks until SIGINT/SIGTERM (for the CLI), then stops. The caller blocks both signals in
  // every thread (pthread_sigmask before the constructor) so that none is lost or fatal.
  void wait_for_signal();
  // Stops accepting, lets connections in flight finish (up to 3 s), then ends the workers.
  void stop();

  std::uint16_t port() const;  // the first listener's port
  std::uint16_t port(const std::string& listener) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtls::beacon
