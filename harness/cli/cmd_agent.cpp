// cmd_agent.cpp: `agent`: one operation (or a failover list), or --agents N simulated devices.
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>
#include "agent/agent.hpp"
#include "agent/fleet.hpp"
#include "cli/commands.hpp"
#include "core/console.hpp"
#include "core/files.hpp"

namespace mtls::cli {
namespace fs = std::filesystem;

namespace {

struct AgentArgs {
  std::vector<std::string> beacons;
  mtls::agent::AgentOptions options;
  std::optional<fs::path> ca, ca_path, crl, cert, key, p12;
  std::string p12_password_env, credential_name, op = "download-policy", expect, expect_sha256;
  fs::path p12_password_file;
  bool json = false, no_check_server = false;
  std::optional<unsigned> agents;
  std::string cycle =
      "download-policy,download-schedule,download-upgrade,upload-status,upload-discovery,upload-"
      "inventory";
  std::size_t max_in_flight = 200;
  double timeout_s = 60.0;
};

std::vector<mtls::agent::BeaconChoice> beacon_choices(const std::vector<std::string>& args) {
  std::vector<mtls::agent::BeaconChoice> out;
  for (const auto& a : args) {
    mtls::agent::BeaconChoice c{a, 1};
    if (auto comma = a.rfind(','); comma != std::string::npos) {
      c.url = a.substr(0, comma);
      try {
        std::size_t used = 0;
        c.priority = std::stoi(a.substr(comma + 1), &used);
        if (used != a.size() - comma - 1 || c.priority < 0) throw std::invalid_argument("priority");
      } catch (const std::exception&) {
        throw mtls::InputError("--beacon " + a + ": expected URL or URL,PRIORITY (a whole number)");
      }
    }
    out.push_back(c);
  }
  return out;
}

long rss_kib() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// The PKCS#12 password of --p12: from an env var or a file, never from argv.

int cmd_agent(AgentArgs a) {
  using namespace mtls::agent;
  AgentOptions& o = a.options;
  o.trust.ca_file = a.ca;
  o.trust.ca_path = a.ca_path;
  o.trust.crl_file = a.crl;
  o.trust.check_server_certificate = !a.no_check_server;
  o.credential.cert = a.cert;
  o.credential.key = a.key;
  o.credential.p12 = a.p12;
  if (!(a.timeout_s >= 0.1 && a.timeout_s <= 3600))
    throw mtls::InputError("--timeout " + std::to_string(a.timeout_s) +
                           ": must be 0.1..3600 seconds");
  o.total_timeout = std::chrono::milliseconds(static_cast<long>(a.timeout_s * 1000));
  o.connect_timeout = std::min(o.connect_timeout, o.total_timeout);
  if (a.p12) o.credential.p12_password = p12_password(a.p12_password_env, a.p12_password_file);
  o.credential.name = !a.credential_name.empty() ? a.credential_name
                      : (a.cert || a.p12)        ? "custom"
                                                 : "none";
  std::optional<mtls::Expectation> expectation;
  if (!a.expect.empty()) {
    expectation = mtls::expectation_from_string(a.expect);
    if (!expectation)
      throw mtls::InputError("--expect " + a.expect + ": expected ACCEPTED or REJECTED");
  }
  const auto catalogue = Catalogue::load_default();
  const auto beacons = beacon_choices(a.beacons);
  validate(o, beacons);

  if (a.agents) {  // a fleet of simulated devices on curl's multi interface
    if (*a.agents == 0 || *a.agents > 100000) throw mtls::InputError("--agents: must be 1..100000");
    if (a.max_in_flight == 0) throw mtls::InputError("--max-in-flight: must be at least 1");
    std::vector<const Operation*> cycle;
    std::stringstream ss(a.cycle);
    for (std::string id; std::getline(ss, id, ',');) cycle.push_back(&catalogue.get(id));
    preload(o.credential);  // every device holds the same certificate: parse it once
    const long rss_before = rss_kib();
    std::vector<std::unique_ptr<Device>> devices;
    for (unsigned i = 1; i <= *a.agents; ++i) {
      AgentOptions d = o;
      char name[32];
      std::snprintf(name, sizeof name, "device-%05u", i);
      d.device = name;
      devices.push_back(
          std::make_unique<Device>(DevicePlan{.operations = cycle,
                                              .select = &catalogue.get("select-beacon"),
                                              .beacons = beacons,
                                              .options = d}));
    }
    const auto started = std::chrono::steady_clock::now();
    mtls::ProgressBar bar(&std::cerr, ::isatty(STDERR_FILENO) == 1, devices.size(), "devices");
    std::size_t finished = 0;
    drive(devices, a.max_in_flight, [&](std::size_t) { bar.update(++finished); });
    bar.finish();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::map<std::string, int> outcomes;
    unsigned complete = 0;
    for (const auto& d : devices) {
      bool ok = true;
      for (const auto& r : d->results()) {
        ++outcomes[std::string(mtls::to_string(r.outcome))];
        ok = ok && r.outcome == mtls::Outcome::kAccepted;
      }
      complete += ok;
    }
    const long rss_after = rss_kib();
    nlohmann::json summary = {
        {"agents", *a.agents},
        {"cycle", a.cycle},
        {"cycles_accepted", complete},
        {"cycles_failed", *a.agents - complete},
        {"seconds", seconds},
        {"cycles_per_second", *a.agents / seconds},
        {"operations_by_outcome", outcomes},
        {"peak_rss_kib", rss_after},
        {"rss_per_agent_kib", static_cast<double>(rss_after - rss_before) / *a.agents}};
    std::cout << (a.json ? summary.dump()
                         : "mtls-harness agent: " + std::to_string(complete) + "/" +
                               std::to_string(*a.agents) + " device cycles got through; " +
                               summary.dump())
              << "\n";
    return complete == *a.agents ? 0 : 1;
  }

  const Operation& op = catalogue.get(a.op);
  if (!a.expect_sha256.empty())
    for (const auto& r : op.requests)
      if (r.content) o.known_digests[*r.content] = a.expect_sha256;
  mtls::ResultRecord r = beacons.size() > 1
                             ? run_with_failover(op, catalogue.get("select-beacon"), beacons, o)
                             : run_operation(op, beacons.front().url, o);
  r.expected = expectation;
  if (a.json) {
    std::cout << mtls::to_json(r).dump() << "\n";
  } else {
    std::cout << r.check_id << ": " << mtls::to_string(r.outcome) << " (" << r.reason << ")\n";
  }
  // As every subcommand: 0 as expected, 1 the opposite (let in / refused, or a credential the
  // agent cannot use), 3 when the operation could not be carried out (unreachable, untrusted
  // beacon, protocol error): nothing is proven either way.
  const bool rejected = mtls::is_rejection(r.outcome);
  const bool decided = rejected || r.outcome == mtls::Outcome::kAccepted ||
                       r.outcome == mtls::Outcome::kClientCredentialError;
  if (!decided) return kExitHarness;
  const bool ok = expectation == mtls::Expectation::kRejected
                      ? rejected
                      : r.outcome == mtls::Outcome::kAccepted;
  return ok ? 0 : 1;
}

// How run and probe talk to the console: --quiet, --color, --format.

}  // namespace

void add_agent(CLI::App& app, Store& store, std::vector<Command>& commands) {
  // agent
  auto* agent = app.add_subcommand(
      "agent",
      "Run one agent operation against a beacon (or a failover list: --beacon several times), or\n"
      "--agents N simulated devices doing a full cycle. Settings mirror the agent's preferences.");
  auto& aargs = store.make<AgentArgs>();
  agent
      ->add_option("--beacon", aargs.beacons,
                   "Beacon base URL (https://host:port), optionally URL,PRIORITY; repeat for a\n"
                   "failover list (ranked by timed pings, MgsPing-style)")
      ->required();
  agent->add_option("--ca", aargs.ca, "CA file trusted for beacons (SSLCACertificateFile)");
  agent->add_option("--ca-path", aargs.ca_path, "Hashed CA folder (SSLCACertificatePath)");
  agent->add_option("--crl", aargs.crl,
                    "Check the beacon's certificate against this CRL (CheckCertificateRevocation)");
  agent->add_flag("--no-check-server-certificate", aargs.no_check_server,
                  "Do not verify the beacon (CheckServerCertificate=False)");
  agent->add_option("--cert", aargs.cert, "Client certificate, PEM (AddClientCertificateAndKey)");
  agent->add_option("--key", aargs.key, "Client private key, PEM (unencrypted)");
  agent->add_option("--p12", aargs.p12, "Or: client certificate and key as PKCS#12");
  agent->add_option("--p12-password-env", aargs.p12_password_env,
                    "Env var holding the PKCS#12 password");
  agent->add_option("--p12-password-file", aargs.p12_password_file,
                    "File holding the PKCS#12 password");
  agent->add_option("--credential-name", aargs.credential_name, "Label for the result record");
  agent->add_option("--timeout", aargs.timeout_s,
                    "Seconds one request may take in all, connection included (default 60); a\n"
                    "beacon that stalls longer is UNREACHABLE and the next beacon is tried");
  agent->add_option("--op", aargs.op,
                    "Operation id from fixtures/operations.yaml (default download-policy)");
  agent->add_option("--device", aargs.options.device,
                    "Device name used in request paths and payloads");
  agent->add_option("--expect-sha256", aargs.expect_sha256,
                    "Expected SHA-256 of the operation's download");
  agent->add_option("--expect", aargs.expect,
                    "ACCEPTED or REJECTED: sets the exit code (default ACCEPTED)");
  agent->add_flag("--json", aargs.json, "Print the result record (or the fleet summary) as JSON");
  agent->add_option("--agents", aargs.agents, "Simulate N devices at once, each doing the --cycle");
  agent->add_option("--cycle", aargs.cycle,
                    "Operations of a device cycle, comma-separated (with --agents)");
  agent->add_option("--max-in-flight", aargs.max_in_flight,
                    "Transfers open at once with --agents (default 200)");
  commands.push_back({agent, [&aargs] {
                        mtls::agent::CurlGlobal curl;
                        return cmd_agent(aargs);
                      }});
}

}  // namespace mtls::cli
