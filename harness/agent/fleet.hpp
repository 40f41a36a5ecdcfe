// fleet.hpp: drives simulated devices concurrently in one process on curl's multi interface
// (not a thread per device), with a cap on transfers in flight.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "agent/device.hpp"

namespace mtls::agent {

struct DriveLimits {
  std::chrono::milliseconds min_interval{0};  // between two transfer starts (a probe's rate limit)
  const std::atomic<bool>* stop = nullptr;    // raised: start nothing new, finish what flies
  // The earliest next start, kept across calls (pacing continues from one drive to the next).
  std::chrono::steady_clock::time_point* next_start = nullptr;
};

// Runs every device to completion (or until `limits.stop`). `max_in_flight` bounds open transfers
// (and descriptors). `on_finished(i)` is called as soon as device i has finished (this thread).
void drive(std::vector<std::unique_ptr<Device>>& devices, std::size_t max_in_flight,
           const std::function<void(std::size_t)>& on_finished = {}, DriveLimits limits = {});

}  // namespace mtls::agent
