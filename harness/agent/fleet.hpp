// fleet.hpp: drives simulated devices concurrently in one process on curl's multi interface
// (not a thread per device), with a cap on transfers in flight.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "agent/device.hpp"

namespace mtls::agent {

// Runs every device to completion. `max_in_flight` bounds open transfers (and descriptors).
// `on_finished(i)` is called as soon as device i has finished (from this thread).
void drive(std::vector<std::unique_ptr<Device>>& devices, std::size_t max_in_flight,
           const std::function<void(std::size_t)>& on_finished = {});

}  // namespace mtls::agent
