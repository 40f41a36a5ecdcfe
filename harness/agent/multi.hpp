// multi.hpp: one curl multi handle (RAII) that owns the transfers in flight on it. step() drives
// them and hands back those that finished, already removed from the handle; when none finished it
// waits for socket activity (curl_multi_poll), so callers never busy-loop. Used by the device
// fleet (fleet.cpp) and the load generator (load/loadgen.cpp).
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "agent/transfer.hpp"

namespace mtls::agent {

class MultiHandle {
 public:
  MultiHandle();
  MultiHandle(const MultiHandle&) = delete;
  MultiHandle& operator=(const MultiHandle&) = delete;
  ~MultiHandle();

  // Starts `t`; `tag` comes back with it when it finishes (e.g. the device index).
  void add(std::unique_ptr<Transfer> t, std::size_t tag = 0);
  std::size_t in_flight() const { return in_flight_.size(); }

  struct Finished {
    std::unique_ptr<Transfer> transfer;
    std::size_t tag;
    CURLcode code;
  };
  // Drives the transfers; returns the finished ones (possibly none, after up to `wait`).
  std::vector<Finished> step(std::chrono::milliseconds wait);

 private:
  struct Entry {
    std::unique_ptr<Transfer> transfer;
    std::size_t tag;
  };
  CURLM* multi_;
  std::unordered_map<CURL*, Entry> in_flight_;
};

}  // namespace mtls::agent
