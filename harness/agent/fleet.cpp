// fleet.cpp: see fleet.hpp.
#include "agent/fleet.hpp"

#include "agent/multi.hpp"

#include "core/files.hpp"

namespace mtls::agent {

void drive(std::vector<std::unique_ptr<Device>>& devices, std::size_t max_in_flight,
           const std::function<void(std::size_t)>& on_finished) {
  MultiHandle multi;
  std::size_t cursor = 0;  // round-robin start, so that early devices do not starve later ones
  auto remaining = [&] {
    for (const auto& d : devices)
      if (!d->finished()) return true;
    return false;
  };
  while (remaining() || multi.in_flight() > 0) {
    // Start what the devices are ready to do, up to the cap.
    for (std::size_t k = 0; k < devices.size() && multi.in_flight() < max_in_flight; ++k) {
      const std::size_t i = (cursor + k) % devices.size();
      while (multi.in_flight() < max_in_flight) {
        auto t = devices[i]->next();
        if (!t) break;
        multi.add(std::move(t), i);
      }
    }
    cursor = devices.empty() ? 0 : (cursor + 1) % devices.size();
    if (multi.in_flight() == 0) {
      if (remaining()) throw HarnessError("simulated devices stalled with nothing in flight");
      break;
    }
    for (auto& f : multi.step(std::chrono::milliseconds(100))) {
      devices[f.tag]->done(*f.transfer, f.code);
      if (on_finished && devices[f.tag]->finished()) on_finished(f.tag);
    }
  }
}

}  // namespace mtls::agent
