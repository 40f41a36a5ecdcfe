// storm.cpp: see storm.hpp.
#include "load/storm.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/files.hpp"
#include "load/engine.hpp"

namespace mtls::load {
namespace {

using Clock = std::chrono::steady_clock;

// Exact percentiles of a list of milliseconds (sorted here).
nlohmann::json percentiles(std::vector<double>& ms) {
  if (ms.empty()) return nullptr;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double p) {
    const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(ms.size()))) - 1;
    return ms[std::min(i, ms.size() - 1)];
  };
  return {{"p50", at(0.50)}, {"p90", at(0.90)}, {"p99", at(0.99)}, {"max", ms.back()}};
}

}  // namespace

nlohmann::json run_storm(const StormOptions& o) {
  if (o.devices == 0 || o.devices > 100000)
    throw InputError("--storm " + std::to_string(o.devices) + ": must be 1..100000 devices");
  if (o.window.count() < 0 || o.window > std::chrono::minutes(10))
    throw InputError("--window: must be 0 to 600 seconds");
  if (o.max_in_flight == 0 || o.max_in_flight > 10000)
    throw InputError("--concurrency: must be 1..10000 for a storm");
  const auto engine =
      make_engine("openssl", {{o.target.url, o.target.credential, false}}, o.trust, false);
  std::map<std::string, std::uint64_t> errors, statuses;
  std::vector<double> connection_ms, start_delay_ms;
  connection_ms.reserve(o.devices);
  start_delay_ms.reserve(o.devices);
  std::uint64_t started = 0, done = 0, answered = 0;
  std::size_t peak_in_flight = 0;
  const auto server0 = o.server_pid ? process_cpu_us(*o.server_pid) : std::nullopt;
  const auto t0 = Clock::now();
  Clock::time_point last_answer = t0;
  while (done < o.devices) {
    const auto now = Clock::now();
    // Every device whose planned start has come, as far as the in-flight bound allows.
    while (started < o.devices && engine->in_flight() < o.max_in_flight) {
      const auto planned =
          t0 + std::chrono::duration_cast<Clock::duration>(o.window * started / o.devices);
      if (planned > now) break;
      start_delay_ms.push_back(std::chrono::duration<double, std::milli>(now - planned).count());
      engine->start(0);
      ++started;
    }
    peak_in_flight = std::max(peak_in_flight, engine->in_flight());
    if (engine->in_flight() == 0 && started < o.devices) {  // idle until the next planned start
      std::this_thread::sleep_until(
          t0 + std::chrono::duration_cast<Clock::duration>(o.window * started / o.devices));
      continue;
    }
    const auto finished = engine->step(std::chrono::milliseconds(20));
    for (const auto& f : finished) {
      ++done;
      connection_ms.push_back(f.latency_us / 1000);
      if (f.answered) {
        ++answered;
        ++statuses[std::to_string(f.status)];
        last_answer = Clock::now();
      } else {
        ++errors[f.outcome];
      }
    }
    if (!finished.empty() && o.on_progress) o.on_progress(done);
  }
  const double all_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto server1 = o.server_pid ? process_cpu_us(*o.server_pid) : std::nullopt;
  const nlohmann::json server_cpu_us =
      server0 && server1 ? nlohmann::json(*server1 - *server0) : nlohmann::json(nullptr);
  return {{"target", o.target.name},
          {"url", o.target.url},
          {"devices", o.devices},
          {"window_s", o.window.count() / 1000.0},
          {"max_in_flight", o.max_in_flight},
          {"peak_in_flight", peak_in_flight},
          {"answered", answered},
          {"failed", o.devices - answered},
          {"errors", errors},
          {"http_statuses", statuses},
          {"seconds_until_all_done", all_s},
          {"seconds_until_last_answer",
           answered ? std::chrono::duration<double>(last_answer - t0).count() : 0.0},
          {"handshakes_per_second", all_s > 0 ? answered / all_s : 0.0},
          {"connection_ms", percentiles(connection_ms)},
          {"start_delay_ms", percentiles(start_delay_ms)},
          {"server_cpu_us", server_cpu_us},
          {"server_cpu_us_per_handshake",
           server_cpu_us.is_null() || answered == 0
               ? nlohmann::json(nullptr)
               : nlohmann::json(server_cpu_us.get<double>() / static_cast<double>(answered))}};
}

}  // namespace mtls::load
