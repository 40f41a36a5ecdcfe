// cmd_bench.cpp: `bench`: handshake load over sockets against our beacon or --target URLs.
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>
#include "agent/agent.hpp"
#include "cli/commands.hpp"
#include "core/console.hpp"
#include "core/files.hpp"
#include "engine/beacon_process.hpp"
#include "load/loadgen.hpp"
#include "pki/manifest.hpp"
#include "pki/pki.hpp"

namespace mtls::cli {
namespace fs = std::filesystem;

namespace {

struct BenchArgs {
  std::vector<std::string> targets;
  std::optional<fs::path> ca, cert, key;
  std::optional<int> pid;
  double duration_s = 10;
  double slice_s = 1;
  unsigned concurrency = 16;
  std::string modes = "server-only,mtls";
  bool resume = false;
  std::string client = "openssl";
  std::string key_type = "ecdsa-p256";
  std::string crypto = "openssl";
  fs::path out = "reports/bench";
};

// Our beacon on loopback, a server-only and an mTLS listener, with a fresh PKI under --out: the
// targets of `modes` added to `o`.
void start_own_beacon(const BenchArgs& a, const std::vector<std::string>& modes,
                      mtls::load::LoadOptions& o,
                      std::optional<mtls::engine::BeaconProcess>& beacon) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path work = fs::absolute(a.out / "work");
  fs::remove_all(work, ec);
  if (a.key_type == "ed25519") throw mtls::InputError(mtls::pki::ed25519_refusal());
  const auto kt = mtls::pki::key_type_from_string(a.key_type);
  if (!kt) throw mtls::InputError("--key-type " + a.key_type + ": expected ecdsa-p256 or rsa-2048");
  if (a.crypto != "openssl" && a.crypto != "botan")
    throw mtls::InputError("--crypto " + a.crypto + ": expected openssl or botan");
  mtls::pki::init({.out = work / "pki", .key_type = *kt});
  const auto m = mtls::pki::load_manifest(work / "pki");
  const YAML::Node sim = YAML::Load(
      "listeners: [{name: server-only, client_auth: ignore}, {name: mtls, client_auth: "
      "require}]\n"
      "max_connections: 100000\ntimeouts: {handshake_ms: 30000, idle_ms: 30000}\n"
      "crypto: " +
      a.crypto + "\n");
  beacon.emplace(
      mtls::self_executable(), "beacon-a",
      mtls::engine::beacon_config_yaml(sim, "beacon-a", "beacon-a", work / "pki", work / "store"),
      work / "beacon");
  o.trust.ca_file = m.server_ca;
  o.server_pid = beacon->pid();
  for (const auto& l : beacon->ready()["listeners"]) {
    const std::string name = l["name"];
    if (std::find(modes.begin(), modes.end(), name) == modes.end()) continue;
    mtls::agent::ClientCredential cred;
    if (name == "mtls") {
      cred.name = "valid";
      cred.cert = m.credential("valid").cert;
      cred.key = m.credential("valid").key;
    }
    o.targets.push_back({name, "https://127.0.0.1:" + std::to_string(l["port"].get<int>()), cred});
  }
}

int cmd_bench(const BenchArgs& a) {
  namespace fs = std::filesystem;
  mtls::load::LoadOptions o;
  if (a.concurrency == 0 || a.concurrency > 1000)
    throw mtls::InputError("--concurrency: must be 1..1000");
  o.concurrency = a.concurrency;
  if (!(a.duration_s > 0 && a.duration_s <= 600))
    throw mtls::InputError("--duration: must be more than 0 and at most 600 seconds");
  if (!(a.slice_s >= 0.1 && a.slice_s <= a.duration_s))
    throw mtls::InputError("--slice: must be 0.1 s to --duration");
  o.duration = std::chrono::milliseconds(static_cast<long>(a.duration_s * 1000));
  o.slice = std::chrono::milliseconds(static_cast<long>(a.slice_s * 1000));
  o.resume = a.resume;
  if (a.client != "openssl" && a.client != "curl")
    throw mtls::InputError("--client " + a.client + ": expected openssl or curl");
  o.client = a.client;
  if (!a.targets.empty() && a.key_type != "ecdsa-p256")
    throw mtls::InputError("--key-type applies to our own beacon, not to --target");
  std::vector<std::string> modes;
  std::stringstream ss(a.modes);
  for (std::string m; std::getline(ss, m, ',');) {
    if (m != "server-only" && m != "mtls")
      throw mtls::InputError("--mode " + m + ": expected server-only and/or mtls");
    modes.push_back(m);
  }
  std::error_code ec;
  fs::create_directories(a.out, ec);
  if (ec)
    throw mtls::InputError("--out " + a.out.string() + ": cannot create (" + ec.message() + ")");
  std::optional<mtls::engine::BeaconProcess> beacon;
  if (a.targets.empty()) {  // our beacon, a server-only and an mTLS listener, on loopback
    start_own_beacon(a, modes, o, beacon);
  } else {  // the user's beacons: --mode applies the client certificate (mtls) or not
    if (!a.ca)
      throw mtls::InputError("--target needs --ca (the CA that issued the beacon's certificate)");
    o.trust.ca_file = a.ca;
    if (a.pid) o.server_pid = *a.pid;
    for (const auto& arg : a.targets) {
      // MODE=URL pins one mode to that URL (e.g. a server-only and an mTLS port of one server).
      std::string url = arg;
      std::vector<std::string> these = modes;
      if (auto eq = arg.find('='); eq != std::string::npos && !arg.starts_with("https://")) {
        these = {arg.substr(0, eq)};
        url = arg.substr(eq + 1);
        if (these[0] != "server-only" && these[0] != "mtls")
          throw mtls::InputError("--target " + arg + ": expected server-only=URL or mtls=URL");
      }
      if (!url.starts_with("https://"))
        throw mtls::InputError("--target " + arg + ": expected an https:// URL");
      for (const auto& mode : these) {
        mtls::agent::ClientCredential cred;
        if (mode == "mtls") {
          if (!a.cert || !a.key) throw mtls::InputError("--mode mtls needs --cert and --key");
          cred.name = "custom";
          cred.cert = a.cert;
          cred.key = a.key;
        }
        o.targets.push_back({mode, url, cred});
      }
    }
  }
  const long long total_ms = o.duration.count();
  mtls::ProgressBar bar(&std::cerr, ::isatty(STDERR_FILENO) == 1,
                        static_cast<std::size_t>((total_ms + 999) / 1000), "s");
  o.on_slice = [&](long long elapsed_ms, std::uint64_t handshakes) {
    bar.update(static_cast<std::size_t>(std::min(elapsed_ms, total_ms) / 1000),
               std::to_string(handshakes) + " handshakes");
  };
  const auto result = mtls::load::run_load(o);
  bar.finish();
  mtls::write_file_atomic(a.out / "bench.json", result.dump(2) + "\n");
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
  std::cout << "mtls-harness bench: results in " << (a.out / "bench.json").string() << "\n";
  int failed = 0;
  for (const auto& t : result["targets"]) failed += t["handshakes"].get<std::uint64_t>() == 0;
  return failed ? 3 : 0;
}

}  // namespace

void add_bench(CLI::App& app, Store& store, std::vector<Command>& commands) {
  // bench
  auto* bench = app.add_subcommand(
      "bench",
      "Handshake load over sockets: server-only vs mTLS interleaved in one run against our beacon\n"
      "(started on loopback) or --target URLs; handshakes/s, server and generator CPU per\n"
      "handshake, latency percentiles, errors by outcome. Writes bench.json");
  auto& bench_args = store.make<BenchArgs>();
  bench->add_option("--target", bench_args.targets,
                    "https://host:port of a beacon (default: our own), or MODE=URL to pin a mode");
  bench->add_option("--ca", bench_args.ca, "With --target: CA file for the beacon's certificate");
  bench->add_option("--cert", bench_args.cert,
                    "With --target and --mode mtls: client certificate (PEM)");
  bench->add_option("--key", bench_args.key, "With --target and --mode mtls: its key (PEM)");
  bench->add_option("--pid", bench_args.pid,
                    "With --target: the server process whose CPU to count");
  bench->add_option("--duration", bench_args.duration_s,
                    "Seconds of load in all (default 10, at most 600)");
  bench->add_option("--slice", bench_args.slice_s, "Seconds per turn of each mode (default 1)");
  bench->add_option("--concurrency", bench_args.concurrency, "Connections in flight (default 16)");
  bench->add_option("--mode", bench_args.modes, "server-only,mtls (default both, interleaved)");
  bench->add_flag("--resume", bench_args.resume, "Resume TLS sessions (shared session cache)");
  bench->add_option("--key-type", bench_args.key_type,
                    "Our beacon's PKI: ecdsa-p256 (default) or rsa-2048 (server and client keys)");
  bench->add_option("--crypto", bench_args.crypto,
                    "Our beacon's handshake public-key operations: openssl (default: OpenSSL's "
                    "libcrypto\nfrom Botan's TLS callbacks) or botan (Botan 2's own)");
  bench->add_option(
      "--client", bench_args.client,
      "openssl (default: OpenSSL driven directly, one SSL_CTX per target, like\n"
      "openssl s_time) or curl (the agent's own libcurl stack, an SSL_CTX per connection)");
  bench->add_option("--out", bench_args.out, "Folder for bench.json (default reports/bench)");
  commands.push_back({bench, [&bench_args] {
                        mtls::agent::CurlGlobal curl;
                        return cmd_bench(bench_args);
                      }});
}

}  // namespace mtls::cli
