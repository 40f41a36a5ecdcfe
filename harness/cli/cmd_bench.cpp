// cmd_bench.cpp: `bench`: handshake load over sockets against our beacon or --target URLs
// (interleaved modes, --workers generator threads), the capacity plan (--plan: how many beacons
// the fleet needs with mTLS) and the reconnect storm (--storm N --window S). Writes bench.json and
// bench.html.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "agent/agent.hpp"
#include "agent/catalogue.hpp"
#include "cli/commands.hpp"
#include "core/console.hpp"
#include "core/files.hpp"
#include "core/process.hpp"
#include "engine/beacon_process.hpp"
#include "load/capacity.hpp"
#include "load/loadgen.hpp"
#include "load/storm.hpp"
#include "pki/manifest.hpp"
#include "pki/pki.hpp"
#include "report/render.hpp"

namespace mtls::cli {
namespace fs = std::filesystem;

namespace {

unsigned cores() {
  return static_cast<unsigned>(std::max<long>(1, ::sysconf(_SC_NPROCESSORS_ONLN)));
}

struct BenchArgs {
  std::vector<std::string> targets;
  std::optional<fs::path> ca, cert, key;
  std::optional<int> pid;
  double duration_s = 10;
  double slice_s = 1;
  unsigned concurrency = 16;
  std::optional<unsigned> workers;
  std::string modes = "server-only,mtls";
  bool resume = false;
  std::string client = "openssl";
  std::string key_type = "ecdsa-p256";
  std::string crypto = "openssl";
  fs::path out = "reports/bench";
  // --plan
  bool plan = false;
  std::uint64_t devices = 0;
  std::optional<double> checkins_per_day;
  double peak_factor = 3, resumed_share = 0, utilisation = 0.7;
  unsigned beacons = 1;
  std::optional<unsigned> cores_per_beacon;
  // --storm
  std::optional<std::uint64_t> storm;
  double window_s = 10;
};

// A load target of `mode` ("server-only", "mtls", "mtls-resumed") at `url`.
load::LoadTarget target_of(const std::string& mode, const std::string& url,
                           const agent::ClientCredential& cred) {
  load::LoadTarget t{mode, url, {}, mode == "mtls-resumed"};
  if (mode != "server-only") t.credential = cred;
  return t;
}

// Our beacon on loopback, a server-only and an mTLS listener, with a fresh PKI under --out: the
// targets of `modes` added to `o`.
void start_own_beacon(const BenchArgs& a, const std::vector<std::string>& modes,
                      load::LoadOptions& o, std::optional<engine::BeaconProcess>& beacon) {
  std::error_code ec;
  const fs::path work = fs::absolute(a.out / "work");
  fs::remove_all(work, ec);
  if (a.key_type == "ed25519") throw InputError(pki::ed25519_refusal());
  const auto kt = pki::key_type_from_string(a.key_type);
  if (!kt) throw InputError("--key-type " + a.key_type + ": expected ecdsa-p256 or rsa-2048");
  if (a.crypto != "openssl" && a.crypto != "botan")
    throw InputError("--crypto " + a.crypto + ": expected openssl or botan");
  pki::init({.out = work / "pki", .key_type = *kt});
  const auto m = pki::load_manifest(work / "pki");
  // One worker thread, as compare.py runs one nginx worker: the CPU per handshake without
  // hand-offs between threads (engine runs use the beacon's default of two).
  const YAML::Node sim = YAML::Load(
      "listeners: [{name: server-only, client_auth: ignore}, {name: mtls, client_auth: "
      "require}]\nmax_connections: 100000\ntimeouts: {handshake_ms: 30000, idle_ms: 30000}\n"
      "threads: 1\n"
      "crypto: " +
      a.crypto + "\n");
  beacon.emplace(
      self_executable(), "beacon-a",
      engine::beacon_config_yaml(sim, "beacon-a", "beacon-a", work / "pki", work / "store"),
      work / "beacon");
  o.trust.ca_file = m.server_ca;
  o.server_pid = beacon->pid();
  agent::ClientCredential cred;
  cred.name = "valid";
  cred.cert = m.credential("valid").cert;
  cred.key = m.credential("valid").key;
  for (const auto& mode : modes)
    for (const auto& l : beacon->ready()["listeners"])
      if (l["name"] == (mode == "server-only" ? "server-only" : "mtls"))
        o.targets.push_back(
            target_of(mode, "https://127.0.0.1:" + std::to_string(l["port"].get<int>()), cred));
}

// The user's beacons: --mode applies the client certificate (mtls) or not; MODE=URL pins one
// mode to a URL (e.g. a server-only and an mTLS port of one server).
void user_targets(const BenchArgs& a, const std::vector<std::string>& modes, load::LoadOptions& o) {
  if (!a.ca) throw InputError("--target needs --ca (the CA that issued the beacon's certificate)");
  o.trust.ca_file = a.ca;
  if (a.pid) o.server_pid = *a.pid;
  agent::ClientCredential cred;
  cred.name = "custom";
  cred.cert = a.cert;
  cred.key = a.key;
  for (const auto& arg : a.targets) {
    std::string url = arg;
    std::vector<std::string> these = modes;
    if (auto eq = arg.find('='); eq != std::string::npos && !arg.starts_with("https://")) {
      const std::string mode = arg.substr(0, eq);
      if (mode != "server-only" && mode != "mtls")
        throw InputError("--target " + arg + ": expected server-only=URL or mtls=URL");
      these = {mode};
      if (mode == "mtls" && std::find(modes.begin(), modes.end(), "mtls-resumed") != modes.end())
        these.push_back("mtls-resumed");
      url = arg.substr(eq + 1);
    }
    if (!url.starts_with("https://"))
      throw InputError("--target " + arg + ": expected an https:// URL");
    for (const auto& mode : these) {
      if (mode != "server-only" && (!a.cert || !a.key))
        throw InputError("--mode mtls needs --cert and --key");
      o.targets.push_back(target_of(mode, url, cred));
    }
  }
}

// --mode, and the resumed mTLS mode --plan needs.
std::vector<std::string> modes_of(const BenchArgs& a) {
  std::vector<std::string> modes;
  std::stringstream ss(a.modes);
  for (std::string m; std::getline(ss, m, ',');) {
    if (m != "server-only" && m != "mtls")
      throw InputError("--mode " + m + ": expected server-only and/or mtls");
    modes.push_back(m);
  }
  if (a.plan) {
    if (std::find(modes.begin(), modes.end(), "server-only") == modes.end() ||
        std::find(modes.begin(), modes.end(), "mtls") == modes.end())
      throw InputError("--plan measures both modes: leave --mode at server-only,mtls");
    modes.push_back("mtls-resumed");
  }
  return modes;
}

load::LoadOptions load_options(const BenchArgs& a) {
  load::LoadOptions o;
  if (a.concurrency == 0 || a.concurrency > 1000)
    throw InputError("--concurrency: must be 1..1000");
  o.concurrency = a.concurrency;
  o.workers = a.workers.value_or(std::min(cores(), a.concurrency));
  if (!(a.duration_s > 0 && a.duration_s <= 600))
    throw InputError("--duration: must be more than 0 and at most 600 seconds");
  if (!(a.slice_s >= 0.1 && a.slice_s <= a.duration_s))
    throw InputError("--slice: must be 0.1 s to --duration");
  o.duration = std::chrono::milliseconds(static_cast<long>(a.duration_s * 1000));
  o.slice = std::chrono::milliseconds(static_cast<long>(a.slice_s * 1000));
  o.resume = a.resume;
  if (a.client != "openssl" && a.client != "curl")
    throw InputError("--client " + a.client + ": expected openssl or curl");
  if (a.plan && a.client != "openssl") throw InputError("--plan measures with --client openssl");
  o.client = a.client;
  if (!a.targets.empty() && a.key_type != "ecdsa-p256")
    throw InputError("--key-type applies to our own beacon, not to --target");
  return o;
}

// The fleet model of --plan: the catalogue's per_day values unless --checkins-per-day.
load::FleetModel fleet_of(const BenchArgs& a) {
  load::FleetModel f;
  f.devices = a.devices;
  if (a.checkins_per_day) {
    f.connections_per_device_per_day = *a.checkins_per_day;
    f.connections_source = "--checkins-per-day";
  } else {
    const auto catalogue = agent::Catalogue::load_default();
    for (const auto& id : catalogue.ids())
      f.connections_per_device_per_day += catalogue.get(id).per_day;
    f.connections_source = "fixtures/operations.yaml (per_day of each operation)";
  }
  f.peak_factor = a.peak_factor;
  f.resumed_share = a.resumed_share;
  f.beacons = a.beacons;
  f.cores_per_beacon = a.cores_per_beacon.value_or(cores());
  if (!(a.utilisation > 0 && a.utilisation <= 1))
    throw InputError("--utilisation: must be above 0 and at most 1");
  f.target_utilisation = a.utilisation;
  return f;
}

std::optional<double> cpu_of(const nlohmann::json& result, const std::string& mode) {
  for (const auto& t : result["targets"])
    if (t["name"] == mode && t["server_cpu_us_per_handshake"].is_number() && t["handshakes"] > 0)
      return t["server_cpu_us_per_handshake"].get<double>();
  return std::nullopt;
}

nlohmann::json plan_of(const BenchArgs& a, const load::FleetModel& fleet,
                       const nlohmann::json& result) {
  load::MeasuredCosts c;
  c.server_only_us = cpu_of(result, "server-only").value_or(0);
  c.mtls_full_us = cpu_of(result, "mtls").value_or(0);
  c.mtls_resumed_us = cpu_of(result, "mtls-resumed");
  c.source = a.targets.empty() ? "our beacon (crypto: " + a.crypto + "), measured in this run"
                               : "the --target beacon (--pid " + std::to_string(a.pid.value_or(0)) +
                                     "), measured in this run";
  return load::capacity_plan(fleet, c);
}

void print_targets(const nlohmann::json& result) {
  for (const auto& t : result["targets"]) {
    std::printf(
        "%-12s %8.1f handshakes/s  server CPU %s us/handshake  generator CPU %.0f us/handshake  "
        "latency p50 %.2f p99 %.2f max %.2f ms  errors %s\n",
        t["name"].get<std::string>().c_str(), t["handshakes_per_second"].get<double>(),
        t["server_cpu_us_per_handshake"].is_null()
            ? "?"
            : std::to_string(static_cast<int>(t["server_cpu_us_per_handshake"].get<double>()))
                  .c_str(),
        t["generator_cpu_us_per_handshake"].get<double>(), t["latency_ms"]["p50"].get<double>(),
        t["latency_ms"]["p99"].get<double>(), t["latency_ms"]["max"].get<double>(),
        t["errors"].dump().c_str());
  }
  for (const auto& w : result.value("warnings", nlohmann::json::array()))
    std::cerr << "mtls-harness bench: warning: " << w.get<std::string>() << "\n";
}

// bench.html: the same figures for a reader without a JSON viewer.
std::string bench_html(const nlohmann::json& doc) {
  using report::xml_escape;
  std::ostringstream h;
  h << "<!doctype html><html lang=en><meta charset=utf-8><title>mtls-harness bench</title>"
       "<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:"
       "1px solid #bbb;padding:.3em .6em;text-align:right}th{background:#eee}.w{color:#a40}"
       "</style><h1>mtls-harness bench</h1>";
  for (const auto& w : doc.value("warnings", nlohmann::json::array()))
    h << "<p class=w>warning: " << xml_escape(w.get<std::string>()) << "</p>";
  if (doc.contains("targets")) {
    h << "<h2>Handshakes</h2><table><tr><th>mode<th>handshakes/s<th>server CPU us/handshake"
         "<th>generator CPU us/handshake<th>p50 ms<th>p99 ms<th>errors</tr>";
    for (const auto& t : doc["targets"])
      h << "<tr><td>" << xml_escape(t["name"].get<std::string>()) << "<td>"
        << static_cast<long>(t["handshakes_per_second"].get<double>()) << "<td>"
        << (t["server_cpu_us_per_handshake"].is_null()
                ? std::string("?")
                : std::to_string(static_cast<long>(t["server_cpu_us_per_handshake"].get<double>())))
        << "<td>" << static_cast<long>(t["generator_cpu_us_per_handshake"].get<double>()) << "<td>"
        << t["latency_ms"]["p50"].get<double>() << "<td>" << t["latency_ms"]["p99"].get<double>()
        << "<td>" << xml_escape(t["errors"].dump()) << "</tr>";
    h << "</table>";
  }
  if (doc.contains("plan")) {
    const auto& p = doc["plan"];
    h << "<h2>Capacity plan</h2><pre>" << xml_escape(load::plan_text(p)) << "</pre>";
  }
  if (doc.contains("storm"))
    h << "<h2>Reconnect storm</h2><pre>" << xml_escape(doc["storm"].dump(2)) << "</pre>";
  h << "</html>\n";
  return h.str();
}

void write_outputs(const BenchArgs& a, const nlohmann::json& doc) {
  write_file_atomic(a.out / "bench.json", doc.dump(2) + "\n");
  write_file_atomic(a.out / "bench.html", bench_html(doc));
  std::cout << "mtls-harness bench: results in " << (a.out / "bench.json").string() << " and "
            << (a.out / "bench.html").string() << "\n";
}

// --storm: every device reconnects within the window, full mTLS handshakes.
int run_storm(const BenchArgs& a, const load::LoadOptions& o) {
  const load::LoadTarget* mtls = nullptr;
  for (const auto& t : o.targets)
    if (t.name == "mtls") mtls = &t;
  if (mtls == nullptr) throw InputError("--storm needs the mTLS mode (--mode mtls)");
  if (!(a.window_s >= 0 && a.window_s <= 600)) throw InputError("--window: must be 0 to 600 s");
  load::StormOptions s{*mtls,
                       o.trust,
                       *a.storm,
                       std::chrono::milliseconds(static_cast<long>(a.window_s * 1000)),
                       std::max(a.concurrency, 1u),
                       o.server_pid,
                       {}};
  ProgressBar bar(&std::cerr, ::isatty(STDERR_FILENO) == 1, static_cast<std::size_t>(*a.storm),
                  "devices");
  s.on_progress = [&](std::uint64_t done) { bar.update(done, ""); };
  const auto storm = load::run_storm(s);
  bar.finish();
  std::printf(
      "storm: %llu devices within %.1f s: %llu through, %llu failed %s; all done after "
      "%.2f s; connection p50 %.1f p99 %.1f ms; start delay p99 %.1f ms\n",
      static_cast<unsigned long long>(storm["devices"].get<std::uint64_t>()), a.window_s,
      static_cast<unsigned long long>(storm["answered"].get<std::uint64_t>()),
      static_cast<unsigned long long>(storm["failed"].get<std::uint64_t>()),
      storm["errors"].dump().c_str(), storm["seconds_until_all_done"].get<double>(),
      storm["connection_ms"]["p50"].get<double>(), storm["connection_ms"]["p99"].get<double>(),
      storm["start_delay_ms"]["p99"].get<double>());
  write_outputs(a, {{"storm", storm}});
  return storm["answered"].get<std::uint64_t>() == 0 ? kExitHarness : kExitOk;
}

int cmd_bench(const BenchArgs& a) {
  load::LoadOptions o = load_options(a);
  const std::vector<std::string> modes = modes_of(a);
  const std::optional<load::FleetModel> fleet = a.plan ? std::optional(fleet_of(a)) : std::nullopt;
  if (fleet) load::capacity_plan(*fleet, {1, 1, 1, ""});  // the model's flags, checked first
  std::error_code ec;
  fs::create_directories(a.out, ec);
  if (ec) throw InputError("--out " + a.out.string() + ": cannot create (" + ec.message() + ")");
  std::optional<engine::BeaconProcess> beacon;
  if (a.targets.empty())
    start_own_beacon(a, modes, o, beacon);
  else
    user_targets(a, modes, o);
  if (a.storm) return run_storm(a, o);
  const long long total_ms = o.duration.count();
  ProgressBar bar(&std::cerr, ::isatty(STDERR_FILENO) == 1,
                  static_cast<std::size_t>((total_ms + 999) / 1000), "s");
  o.on_slice = [&](long long elapsed_ms, std::uint64_t handshakes) {
    bar.update(static_cast<std::size_t>(std::min(elapsed_ms, total_ms) / 1000),
               std::to_string(handshakes) + " handshakes");
  };
  nlohmann::json result = load::run_load(o);
  bar.finish();
  print_targets(result);
  if (fleet) {
    result["plan"] = plan_of(a, *fleet, result);
    std::cout << load::plan_text(result["plan"]);
  }
  write_outputs(a, result);
  int failed = 0;
  for (const auto& t : result["targets"]) failed += t["handshakes"].get<std::uint64_t>() == 0;
  return failed ? kExitHarness : kExitOk;
}

void add_plan_options(CLI::App* bench, BenchArgs& b) {
  bench->add_flag("--plan", b.plan,
                  "Capacity plan: also measure resumed mTLS, then how many beacons the fleet "
                  "needs\nat its peak (server-only vs mTLS, full and with --resumed-share)");
  bench->add_option("--devices", b.devices, "With --plan: the fleet's devices");
  bench->add_option("--checkins-per-day", b.checkins_per_day,
                    "With --plan: TLS connections per device per day (default: the sum of\n"
                    "per_day in fixtures/operations.yaml)");
  bench->add_option("--peak-factor", b.peak_factor,
                    "With --plan: the peak over the day's average (default 3)");
  bench->add_option("--resumed-share", b.resumed_share,
                    "With --plan: share of mTLS handshakes that resume a session, 0-1 (default 0)");
  bench->add_option("--beacons", b.beacons, "With --plan: the fleet's beacons today (default 1)");
  bench->add_option("--cores-per-beacon", b.cores_per_beacon,
                    "With --plan: CPU cores of each beacon (default: this machine's)");
  bench->add_option("--utilisation", b.utilisation,
                    "With --plan: the most CPU a beacon may use at the peak, 0-1 (default 0.7)");
  bench->add_option("--storm", b.storm,
                    "Reconnect storm: N devices reconnect within --window, each a full mTLS\n"
                    "handshake; how long until all got through, how many failed");
  bench->add_option("--window", b.window_s,
                    "With --storm: seconds to spread them over (default 10)");
}

}  // namespace

void add_bench(CLI::App& app, Store& store, std::vector<Command>& commands) {
  auto* bench = app.add_subcommand(
      "bench",
      "Handshake load over sockets: server-only vs mTLS interleaved in one run against our beacon\n"
      "(started on loopback) or --target URLs; handshakes/s, server and generator CPU per\n"
      "handshake, latency percentiles, errors by outcome; --plan, --storm. Writes bench.json\n"
      "and bench.html");
  auto& b = store.make<BenchArgs>();
  bench->add_option("--target", b.targets,
                    "https://host:port of a beacon (default: our own), or MODE=URL to pin a mode");
  bench->add_option("--ca", b.ca, "With --target: CA file for the beacon's certificate");
  bench->add_option("--cert", b.cert, "With --target and --mode mtls: client certificate (PEM)");
  bench->add_option("--key", b.key, "With --target and --mode mtls: its key (PEM)");
  bench->add_option("--pid", b.pid, "With --target: the server process whose CPU to count");
  bench->add_option("--duration", b.duration_s, "Seconds of load in all (default 10, at most 600)");
  bench->add_option("--slice", b.slice_s, "Seconds per turn of each mode (default 1)");
  bench->add_option("--concurrency", b.concurrency,
                    "Connections in flight, over all workers (default 16; --storm: at most)");
  bench->add_option("--workers", b.workers,
                    "Generator threads, each with its own event loop and SSL_CTX (default: the\n"
                    "cores, at most --concurrency); a warning when they use over 80 % of them");
  bench->add_option("--mode", b.modes, "server-only,mtls (default both, interleaved)");
  bench->add_flag("--resume", b.resume, "Resume TLS sessions (shared session cache)");
  bench->add_option("--key-type", b.key_type,
                    "Our beacon's PKI: ecdsa-p256 (default) or rsa-2048 (server and client keys)");
  bench->add_option("--crypto", b.crypto,
                    "Our beacon's handshake public-key operations: openssl (default: OpenSSL's "
                    "libcrypto\nfrom Botan's TLS callbacks) or botan (Botan 2's own)");
  bench->add_option(
      "--client", b.client,
      "openssl (default: OpenSSL driven directly, one SSL_CTX per target, like\n"
      "openssl s_time) or curl (the agent's own libcurl stack, an SSL_CTX per connection)");
  bench->add_option("--out", b.out, "Folder for bench.json and bench.html (default reports/bench)");
  add_plan_options(bench, b);
  commands.push_back({bench, [&b] {
                        agent::CurlGlobal curl;
                        return cmd_bench(b);
                      }});
}

}  // namespace mtls::cli
