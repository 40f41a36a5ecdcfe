// loadgen.hpp: `mtls-harness bench`, the handshake load generator. Against HTTPS targets
// (server-only and mTLS listeners of our beacon by default), it keeps N connections in flight
// (load/engine.hpp: OpenSSL driven directly, or the agent's libcurl stack), each a fresh TLS
// connection doing one small GET: a handshake counts only when the server answered. Targets take
// turns in time slices within one run, so every mode sees the same machine. Per target:
// handshakes/s, the server's CPU per handshake (from /proc/<pid>/stat of a given process), the
// generator's own CPU per handshake, latency percentiles from a histogram, errors by outcome name,
// and throughput per slice. With --workers N, N threads each drive their own engine in lockstep
// slices (a barrier between slices), so that one generator core is never the limit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent.hpp"

namespace mtls::load {

struct LoadTarget {
  std::string name;                    // e.g. "mtls" or "server-only"
  std::string url;                     // https://host:port
  agent::ClientCredential credential;  // what each connection presents
  bool resume = false;                 // resume its last TLS session (e.g. "mtls-resumed")
};

struct LoadOptions {
  std::vector<LoadTarget> targets;
  agent::TrustSettings trust;
  unsigned concurrency = 16;  // in flight, over all workers
  // Generator workers, each a thread with its own connection engine (event loop, SSL_CTX) and a
  // share of the concurrency; their figures are summed.
  unsigned workers = 1;
  std::chrono::milliseconds duration{10000};  // total, over all targets
  std::chrono::milliseconds slice{1000};      // one target's turn
  std::uint64_t max_handshakes = 1000000;     // a bound on the whole run
  bool resume = false;                        // share a TLS session cache: resumed handshakes
  std::string client = "openssl";             // "openssl" (direct, one SSL_CTX) or "curl"
  std::optional<pid_t> server_pid;            // whose CPU to count per handshake
  // Called after every slice: the run's elapsed milliseconds and handshakes so far (a progress
  // bar; never inside the measured loop).
  std::function<void(long long elapsed_ms, std::uint64_t handshakes)> on_slice;
};

// CPU time (us) of a process, from /proc/<pid>/stat (utime + stime); nullopt when it is gone.
// The memory allocator this process runs on ("tcmalloc 2.10", "sanitizer" or "glibc"): bench.json
// reports it,
// since OpenSSL's many small allocations make it part of every CPU figure.
std::string allocator_name();

std::optional<double> process_cpu_us(pid_t pid);

// Runs the load; returns the JSON result (per target, plus the run's settings, each worker's CPU,
// and "warnings": e.g. the generator above 80 % of its cores, so it may be the bottleneck it
// measures).
nlohmann::json run_load(const LoadOptions& options);

}  // namespace mtls::load
