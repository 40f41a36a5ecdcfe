// capacity.hpp: `bench --plan`, the answer to "how many beacons does our fleet need with mTLS?".
// A pure function of the fleet (devices, connections per device per day, the peak factor, the
// share of mTLS handshakes that resume a session, the beacons and their cores) and of costs
// measured in the same bench run (server CPU per handshake: server-only, full mTLS, resumed mTLS).
// Peak handshakes/s = devices x connections per day / 86,400 x peak factor; CPU cores needed at
// the peak = peak x CPU per handshake; beacons needed so that none runs above the utilisation
// target; headroom = the cores the beacons have / the cores the peak needs. Handshake CPU only:
// the requests themselves (downloads, uploads) come on top.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace mtls::load {

struct FleetModel {
  std::uint64_t devices = 0;
  double connections_per_device_per_day = 0;
  std::string connections_source;  // "fixtures/operations.yaml (per_day)" or "--checkins-per-day"
  double peak_factor = 3;          // peak hour over the day's average
  double resumed_share = 0;        // of mTLS handshakes, 0..1
  unsigned beacons = 1;            // the fleet's beacons today
  unsigned cores_per_beacon = 2;
  double target_utilisation = 0.7;  // plan beacons to stay below this at the peak
};

struct MeasuredCosts {
  double server_only_us = 0;              // server CPU per full server-only handshake
  double mtls_full_us = 0;                // ... per full mTLS handshake
  std::optional<double> mtls_resumed_us;  // ... per resumed mTLS handshake (abbreviated)
  std::string source;                     // "our beacon (crypto: openssl)", "https://..."
};

// Throws InputError naming the flag when the model cannot be planned (no devices, a share outside
// 0..1, resumption asked without a resumed measurement...).
nlohmann::json capacity_plan(const FleetModel& fleet, const MeasuredCosts& costs);

// The plan as a few lines of text for the console.
std::string plan_text(const nlohmann::json& plan);

}  // namespace mtls::load
