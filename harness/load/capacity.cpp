// capacity.cpp: see capacity.hpp.
#include "load/capacity.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/files.hpp"

namespace mtls::load {
namespace {

constexpr double kSecondsPerDay = 86400;

nlohmann::json mode(const std::string& name, double cpu_us, double peak, const FleetModel& f) {
  const double cores = peak * cpu_us / 1e6;
  const double usable = f.cores_per_beacon * f.target_utilisation;
  const double have = static_cast<double>(f.beacons) * f.cores_per_beacon;
  return {{"mode", name},
          {"server_cpu_us_per_handshake", cpu_us},
          {"cores_needed_at_peak", cores},
          {"beacons_needed", std::max(1.0, std::ceil(cores / usable))},
          {"headroom", cores > 0 ? have / cores : 0.0},
          {"handshakes_per_second_per_core", cpu_us > 0 ? 1e6 / cpu_us : 0.0}};
}

}  // namespace

nlohmann::json capacity_plan(const FleetModel& f, const MeasuredCosts& c) {
  if (f.devices == 0) throw InputError("--devices: give the fleet's size (devices, 1 or more)");
  if (!(f.connections_per_device_per_day > 0))
    throw InputError(
        "--checkins-per-day: the devices' connections per day must be above 0 (the catalogue's "
        "per_day values add up to 0)");
  if (!(f.peak_factor >= 1 && f.peak_factor <= 1000))
    throw InputError("--peak-factor: must be 1 to 1000 (the peak over the day's average)");
  if (!(f.resumed_share >= 0 && f.resumed_share <= 1))
    throw InputError("--resumed-share: must be 0 to 1");
  if (f.beacons == 0 || f.cores_per_beacon == 0)
    throw InputError("--beacons and --cores-per-beacon: must be 1 or more");
  if (!(c.server_only_us > 0 && c.mtls_full_us > 0))
    throw InputError("bench --plan: no server CPU was measured (give --pid for a --target)");
  if (f.resumed_share > 0 && !c.mtls_resumed_us)
    throw InputError("--resumed-share: no resumed mTLS handshake was measured");
  const double average =
      static_cast<double>(f.devices) * f.connections_per_device_per_day / kSecondsPerDay;
  const double peak = average * f.peak_factor;
  const double mixed = c.mtls_resumed_us ? f.resumed_share * *c.mtls_resumed_us +
                                               (1 - f.resumed_share) * c.mtls_full_us
                                         : c.mtls_full_us;
  nlohmann::json modes = nlohmann::json::array();
  modes.push_back(mode("server-only", c.server_only_us, peak, f));
  modes.push_back(mode("mtls", c.mtls_full_us, peak, f));
  if (c.mtls_resumed_us) modes.push_back(mode("mtls-with-resumption", mixed, peak, f));
  return {{"fleet",
           {{"devices", f.devices},
            {"connections_per_device_per_day", f.connections_per_device_per_day},
            {"connections_source", f.connections_source},
            {"peak_factor", f.peak_factor},
            {"resumed_share", f.resumed_share},
            {"beacons", f.beacons},
            {"cores_per_beacon", f.cores_per_beacon},
            {"target_utilisation", f.target_utilisation}}},
          {"costs_from", c.source},
          {"average_handshakes_per_second", average},
          {"peak_handshakes_per_second", peak},
          {"mtls_over_server_only", c.mtls_full_us / c.server_only_us},
          {"modes", modes},
          {"note", "handshake CPU only: the downloads and uploads themselves come on top"}};
}

std::string plan_text(const nlohmann::json& p) {
  std::ostringstream os;
  char line[256];
  const auto& f = p["fleet"];
  std::snprintf(line, sizeof line,
                "capacity plan: %llu devices x %.1f connections/day, peak factor %.1f -> %.1f "
                "handshakes/s at the peak (average %.2f)\n",
                static_cast<unsigned long long>(f["devices"].get<std::uint64_t>()),
                f["connections_per_device_per_day"].get<double>(), f["peak_factor"].get<double>(),
                p["peak_handshakes_per_second"].get<double>(),
                p["average_handshakes_per_second"].get<double>());
  os << line;
  for (const auto& m : p["modes"]) {
    std::snprintf(
        line, sizeof line,
        "  %-22s %7.0f us/handshake  %6.2f cores at the peak  %3.0f beacon(s) of %u "
        "cores at <= %.0f %%  headroom %.1fx with %u\n",
        m["mode"].get<std::string>().c_str(), m["server_cpu_us_per_handshake"].get<double>(),
        m["cores_needed_at_peak"].get<double>(), m["beacons_needed"].get<double>(),
        f["cores_per_beacon"].get<unsigned>(), f["target_utilisation"].get<double>() * 100,
        m["headroom"].get<double>(), f["beacons"].get<unsigned>());
    os << line;
  }
  os << "  (costs: " << p["costs_from"].get<std::string>() << "; " << p["note"].get<std::string>()
     << ")\n";
  return os.str();
}

}  // namespace mtls::load
