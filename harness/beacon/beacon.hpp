// beacon.hpp: the simulated inventory beacon: a Botan 2 TLS server on a Boost.Asio event loop
// (N worker threads), HTTP/1.1 keep-alive parsed by Boost.Beast, serving ManageSoftDL downloads.
// It logs one JSON record per connection and per request (the evidence the engine attaches).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "beacon/tls_config.hpp"

namespace mtls::beacon {

struct BeaconConfig {
  std::string name = "beacon-a";       // also the PKI manifest's beacon identity
  std::filesystem::path pki_dir;       // folder written by `pki init`
  std::string listen = "127.0.0.1:0";  // host:port or [v6]:port; port 0 = pick a free one
  ClientAuth client_auth = ClientAuth::kRequire;
  std::filesystem::path content_dir;  // holds ManageSoftDL/
  std::optional<std::filesystem::path> ready_file;
  std::optional<std::filesystem::path> log_file;
  unsigned threads = 2;
};

class Beacon {
 public:
  // Loads credentials and binds the listener. Throws InputError for bad configuration (missing
  // PKI, unparsable --listen, busy port).
  explicit Beacon(const BeaconConfig& config);
  Beacon(const Beacon&) = delete;
  Beacon& operator=(const Beacon&) = delete;
  ~Beacon();  // stops the workers

  // Starts the worker threads, then writes the ready file. Returns the ready record.
  nlohmann::json start();
  // Blocks until SIGINT/SIGTERM (for the CLI), then stops. The caller blocks both signals in
  // every thread (pthread_sigmask before the constructor) so that none is lost or fatal.
  void wait_for_signal();
  void stop();

  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtls::beacon
