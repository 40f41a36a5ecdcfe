// fleet.cpp: see fleet.hpp.
#include "agent/fleet.hpp"

#include <algorithm>

#include "agent/multi.hpp"

#include "core/files.hpp"

namespace mtls::agent {

void drive(std::vector<std::unique_ptr<Device>>& devices, std::size_t max_in_flight,
           const std::function<void(std::size_t)>& on_finished, DriveLimits limits) {
  using Clock = std::chrono::steady_clock;
  MultiHandle multi;
  std::size_t cursor = 0;  // round-robin start, so that early devices do not starve later ones
  Clock::time_point local_next = Clock::now();
  Clock::time_point& next_start = limits.next_start ? *limits.next_start : local_next;
  auto stopping = [&] { return limits.stop != nullptr && limits.stop->load(); };
  auto remaining = [&] {
    if (stopping()) return false;
    for (const auto& d : devices)
      if (!d->finished()) return true;
    return false;
  };
  auto may_start = [&] {
    return multi.in_flight() < max_in_flight && !stopping() && Clock::now() >= next_start;
  };
  while (remaining() || multi.in_flight() > 0) {
    // Whether the rate let this pass start something: only then does "nothing started and
    // nothing in flight" mean the devices are stalled (a slow pass may cross next_start later).
    const bool rate_allowed = Clock::now() >= next_start;
    // Start what the devices are ready to do, up to the cap (and the rate, if any).
    for (std::size_t k = 0; k < devices.size() && may_start(); ++k) {
      const std::size_t i = (cursor + k) % devices.size();
      while (may_start()) {
        auto t = devices[i]->next();
        if (!t) break;
        multi.add(std::move(t), i);
        next_start = Clock::now() + limits.min_interval;
      }
    }
    cursor = devices.empty() ? 0 : (cursor + 1) % devices.size();
    auto wait = std::chrono::milliseconds(100);
    if (multi.in_flight() == 0) {
      if (!remaining()) break;
      if (rate_allowed && !stopping())
        throw HarnessError("simulated devices stalled with nothing in flight");
      wait = std::max(
                 std::chrono::milliseconds(0),
                 std::chrono::duration_cast<std::chrono::milliseconds>(next_start - Clock::now())) +
             std::chrono::milliseconds(1);  // paced: wait for the next start
    }
    for (auto& f : multi.step(wait)) {
      devices[f.tag]->done(*f.transfer, f.code);
      if (on_finished && devices[f.tag]->finished()) on_finished(f.tag);
    }
  }
}

}  // namespace mtls::agent
