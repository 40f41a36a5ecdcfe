// engine.hpp: the load generator's connection engines. Each keeps connections in flight, each a
// fresh TLS connection doing one small GET; a handshake counts only when the server answered.
// - CurlEngine: the agent's own stack (libcurl multi + OpenSSL), as devices use it. libcurl makes
//   a new SSL_CTX for every connection (about 15 % of its instructions, callgrind).
// - NativeEngine: OpenSSL driven directly on non-blocking sockets with edge-triggered epoll, one
//   SSL_CTX per target made once (credential and trust loaded once) and narrowed to what the
//   server chose after its first answer: the cheaper generator, so that the generator is not the
//   bottleneck it measures. The default.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "agent/agent.hpp"

namespace mtls::load {

struct EngineTarget {
  std::string url;  // https://host:port
  agent::ClientCredential credential;
  bool resume = false;  // its connections resume its last TLS session (openssl engine)
};

struct Finished {
  std::size_t target = 0;
  bool answered = false;  // an HTTP status was read: the handshake counts
  std::string outcome;    // the outcome name when it did not
  double latency_us = 0;
  long status = 0;  // the HTTP status when answered
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual void start(std::size_t target) = 0;
  virtual std::size_t in_flight() const = 0;
  // Drives the connections for up to `wait`; returns the ones that finished.
  virtual std::vector<Finished> step(std::chrono::milliseconds wait) = 0;
};

// `client`: "openssl" (NativeEngine) or "curl". `resume`: connections of every target resume its
// last TLS session (the openssl engine also per target: EngineTarget::resume). Throws InputError
// for an unusable credential or CA file.
std::unique_ptr<Engine> make_engine(const std::string& client,
                                    const std::vector<EngineTarget>& targets,
                                    const agent::TrustSettings& trust, bool resume);

}  // namespace mtls::load
