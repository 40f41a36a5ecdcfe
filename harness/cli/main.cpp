// main.cpp: the `mtls-harness` command. It only parses flags and wires the component libraries;
// every error becomes one line on stderr and an exit code (0 pass, 1 a check failed, 2 usage or
// input error, 3 harness error or a check that could not be carried out).
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "agent/agent.hpp"
#include "beacon/beacon.hpp"
#include "core/files.hpp"
#include "core/home.hpp"
#include "core/process.hpp"
#include "engine/engine.hpp"
#include "pki/pki.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int kExitInput = 2;
constexpr int kExitHarness = 3;

int cmd_pki_init(const fs::path& out, const std::string& key_type, bool force) {
  auto kt = mtls::pki::key_type_from_string(key_type);
  if (!kt) throw mtls::InputError("--key-type " + key_type + ": expected ecdsa-p256 or rsa-2048");
  mtls::pki::init({.out = out, .key_type = *kt, .force = force});
  std::cout << "mtls-harness pki init: wrote a " << key_type << " test PKI to " << out.string()
            << " (see manifest.json)\n";
  return 0;
}

int cmd_beacon(mtls::beacon::BeaconConfig cfg, const std::string& client_auth) {
  auto mode = mtls::beacon::client_auth_from_string(client_auth);
  if (!mode)
    throw mtls::InputError("--client-auth " + client_auth +
                           ": expected ignore, request or require");
  cfg.client_auth = *mode;
  // Block SIGINT/SIGTERM in every thread; wait_for_signal() receives them synchronously.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  mtls::beacon::Beacon beacon(cfg);
  const auto ready = beacon.start();
  std::cout << ready.dump() << std::endl;  // the ready signal for whoever started us
  std::cerr << "beacon " << cfg.name << " listening on https://"
            << ready["listeners"][0]["address"].get<std::string>() << ":" << beacon.port()
            << " (client-auth " << client_auth << "); stop with Ctrl-C\n";
  beacon.wait_for_signal();
  return 0;
}

int cmd_agent(mtls::agent::AgentOptions o, const std::string& op_id, const std::string& expect,
              bool as_json) {
  std::optional<mtls::Expectation> expectation;
  if (!expect.empty()) {
    expectation = mtls::expectation_from_string(expect);
    if (!expectation)
      throw mtls::InputError("--expect " + expect + ": expected ACCEPTED or REJECTED");
  }
  const auto catalogue = mtls::agent::Catalogue::load_default();
  const auto& op = catalogue.get(op_id);
  mtls::ResultRecord r = mtls::agent::run_operation(op, o);
  r.expected = expectation;
  if (as_json) {
    std::cout << mtls::to_json(r).dump() << "\n";
  } else {
    std::cout << r.check_id << ": " << mtls::to_string(r.outcome) << " (" << r.reason << ")\n";
  }
  const bool ok = expectation == mtls::Expectation::kRejected
                      ? mtls::is_rejection(r.outcome)
                      : r.outcome == mtls::Outcome::kAccepted;
  return ok ? 0 : 1;
}

int cmd_run(const std::vector<std::string>& scenarios, const fs::path& out) {
  mtls::engine::RunOptions o;
  for (const auto& s : scenarios) o.scenarios.emplace_back(s);
  o.out = out;
  o.harness_executable = mtls::self_executable();
  o.progress = &std::cerr;
  const auto result = mtls::engine::run(o);
  std::cout << "mtls-harness run: " << mtls::report::one_line(result.summary) << "; reports in "
            << out.string() << " (report.json, results.jsonl)\n";
  return mtls::report::exit_code(result.summary);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "mtls-harness: proves that inventory beacons enforce mutual TLS: nothing gets in without a\n"
      "valid client certificate, every legitimate device still gets in.\n"
      "Exit codes: 0 all checks pass, 1 a check FAILED, 2 usage or input error,\n"
      "3 harness error or a check that could not be carried out (INCONCLUSIVE)."};
  app.set_version_flag("--version", "mtls-harness " + mtls::harness_version());
  app.require_subcommand(1);

  // pki init
  auto* pki = app.add_subcommand("pki", "Test PKI: CAs, beacon and client certificates");
  pki->require_subcommand(1);
  auto* pki_init = pki->add_subcommand("init", "Write a fresh test PKI and its manifest.json");
  fs::path pki_out;
  std::string key_type = "ecdsa-p256";
  bool force = false;
  pki_init->add_option("--out", pki_out, "Folder to write (must be empty unless --force)")
      ->required();
  pki_init->add_option("--key-type", key_type, "ecdsa-p256 (default) or rsa-2048");
  pki_init->add_flag("--force", force, "Write into a non-empty folder");

  // beacon
  auto* beacon =
      app.add_subcommand("beacon", "Run a simulated inventory beacon (Botan TLS server)");
  mtls::beacon::BeaconConfig bcfg;
  bcfg.content_dir = mtls::fixtures_dir() / "content";
  std::string client_auth = "require";
  beacon->add_option("--pki", bcfg.pki_dir, "PKI folder written by 'pki init'")->required();
  beacon->add_option("--name", bcfg.name, "Beacon identity in the PKI manifest (default beacon-a)");
  beacon->add_option("--listen", bcfg.listen,
                     "Address to listen on, host:port (default 127.0.0.1:0)");
  beacon->add_option("--client-auth", client_auth, "ignore | request | require (default require)");
  beacon->add_option("--content", bcfg.content_dir, "Content folder holding ManageSoftDL/");
  beacon->add_option("--ready-file", bcfg.ready_file,
                     "Written (atomically) with the bound ports as JSON once listening");
  beacon->add_option("--log", bcfg.log_file,
                     "JSON Lines evidence log, one record per connection/request");
  beacon->add_option("--threads", bcfg.threads, "Worker threads (default 2)");

  // agent
  auto* agent = app.add_subcommand("agent", "Run one agent operation against a beacon");
  mtls::agent::AgentOptions aopt;
  std::string op_id, expect;
  bool as_json = false, no_check_server = false;
  agent->add_option("--beacon", aopt.beacon_url, "Beacon base URL, e.g. https://127.0.0.1:8443")
      ->required();
  agent
      ->add_option("--ca", aopt.ca_file,
                   "CA file the agent trusts for beacons (SSLCACertificateFile)")
      ->required();
  agent->add_option("--cert", aopt.cert, "Client certificate, PEM");
  agent->add_option("--key", aopt.key, "Client private key, PEM (unencrypted)");
  agent->add_option("--credential-name", aopt.credential_name, "Label for the result record");
  agent->add_option("--op", op_id, "Operation id from fixtures/operations.yaml")->required();
  agent->add_option("--device", aopt.device, "Device name used in request paths");
  agent->add_option("--expect-sha256", aopt.expect_sha256, "Expected SHA-256 of the payload");
  agent->add_option("--expect", expect,
                    "ACCEPTED or REJECTED: sets the exit code (default ACCEPTED)");
  agent->add_flag("--no-check-server-certificate", no_check_server,
                  "Do not verify the beacon (CheckServerCertificate=False)");
  agent->add_flag("--json", as_json, "Print the result record as JSON");

  // run
  auto* run = app.add_subcommand(
      "run", "Run conformance scenarios; no argument: the built-in default suite on loopback");
  std::vector<std::string> scenarios;
  fs::path out = "reports/out";
  run->add_option("scenarios", scenarios, "Scenario files or folders (default: scenarios/default)");
  run->add_option("--out", out, "Report folder (default reports/out)");

  auto known_command = [&](const std::string& name) {
    for (const auto* sub : app.get_subcommands({}))
      if (sub->get_name() == name) return true;
    return false;
  };
  if (argc > 1 && argv[1][0] != '-' && !known_command(argv[1])) {
    std::string names;
    for (const auto* sub : app.get_subcommands({}))
      names += (names.empty() ? "" : ", ") + sub->get_name();
    std::cerr << "mtls-harness: error: unknown command '" << argv[1] << "' (commands: " << names
              << "; see --help)\n";
    return kExitInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "mtls-harness: error: " << e.what() << " (see --help)\n";
    return kExitInput;
  }

  try {
    if (*pki_init) return cmd_pki_init(pki_out, key_type, force);
    if (*beacon) return cmd_beacon(bcfg, client_auth);
    if (*agent) {
      mtls::agent::CurlGlobal curl;
      aopt.check_server_certificate = !no_check_server;
      return cmd_agent(aopt, op_id, expect, as_json);
    }
    if (*run) {
      mtls::agent::CurlGlobal curl;
      return cmd_run(scenarios, out);
    }
  } catch (const mtls::InputError& e) {
    std::cerr << "mtls-harness: error: " << e.what() << "\n";
    return kExitInput;
  } catch (const mtls::HarnessError& e) {
    std::cerr << "mtls-harness: harness error: " << e.what() << "\n";
    return kExitHarness;
  } catch (const std::exception& e) {
    std::cerr << "mtls-harness: internal error: " << e.what() << "\n";
    return kExitHarness;
  }
  return kExitInput;
}
