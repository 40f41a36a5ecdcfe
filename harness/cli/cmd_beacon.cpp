// cmd_beacon.cpp: `beacon`: one listener from the flags or several from --config, run until
// SIGINT/SIGTERM.
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include "beacon/beacon.hpp"
#include "beacon/config.hpp"
#include "cli/commands.hpp"
#include "core/files.hpp"
#include "core/home.hpp"

namespace mtls::cli {
namespace fs = std::filesystem;

namespace {

struct BeaconArgs {
  mtls::beacon::BeaconConfig cfg;
  fs::path config_file;
  std::string listen = "127.0.0.1:0", client_auth = "require",
              reject = mtls::beacon::reject_mode_names().front(), revocation = "off",
              min_tls = "1.2", plain_http;
  std::optional<fs::path> pki, content, store, client_ca;
  std::vector<fs::path> crls;
  std::optional<unsigned> threads;
};

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// The fields of the one beacon-settings validator (beacon/config.hpp) that the flags set.
constexpr std::pair<const char*, const char*> kFlagOfField[] = {
    {"listeners[0].listen", "--listen"},
    {"listeners[0].client_auth", "--client-auth"},
    {"listeners[0].reject", "--reject"},
    {"listeners[0].revocation", "--revocation"},
    {"listeners[0].min_tls", "--min-tls"},
    {"listeners[1].listen", "--plain-http"},
    {"threads", "--threads"}};

// An error of the validator in the flags' terms: "command line: field 'listeners[0].reject': ..."
// becomes "--reject: ...".
std::string in_flag_terms(std::string what) {
  if (what.starts_with("command line: ")) what.erase(0, 14);
  for (const auto& [field, flag] : kFlagOfField)
    if (const std::string f = "field '" + std::string(field) + "'"; what.starts_with(f))
      return flag + what.substr(f.size());
  return what;
}

// The listener flags as the YAML the validator reads: the same rules, the same errors.
mtls::beacon::BeaconConfig config_from_flags(const BeaconArgs& a) {
  YAML::Node root, tls, plain;
  tls["name"] = "https";
  tls["listen"] = a.listen;
  tls["client_auth"] = a.client_auth;
  tls["reject"] = a.reject;
  tls["revocation"] = a.revocation;
  tls["min_tls"] = a.min_tls;
  root["listeners"].push_back(tls);
  if (!a.plain_http.empty()) {
    plain["name"] = "plain-http";
    plain["listen"] = a.plain_http;
    plain["tls"] = false;
    plain["client_auth"] = "ignore";
    root["listeners"].push_back(plain);
  }
  if (a.threads) root["threads"] = *a.threads;
  try {
    return mtls::beacon::beacon_config_from_yaml(root, "command line", fs::current_path());
  } catch (const mtls::InputError& e) {
    throw mtls::InputError(in_flag_terms(e.what()));
  }
}

// The beacon's configuration: from --config (several listeners), or from the listener flags.
mtls::beacon::BeaconConfig beacon_config(BeaconArgs a, const CLI::App& cmd) {
  using namespace mtls::beacon;
  BeaconConfig cfg = a.cfg;
  if (!a.config_file.empty()) {
    for (const char* flag :
         {"--listen", "--client-auth", "--reject", "--revocation", "--min-tls", "--plain-http"})
      if (cmd.count(flag) > 0)
        throw mtls::InputError(std::string(flag) +
                               " cannot be combined with --config (set it in the file)");
    const BeaconConfig file = load_beacon_config(a.config_file);
    const auto ready = cfg.ready_file, log = cfg.log_file;
    cfg = file;
    cfg.ready_file = ready;
    cfg.log_file = log;
    if (cfg.pki_dir.empty() && !a.pki)
      throw mtls::InputError(a.config_file.string() + ": no 'pki' folder (or give --pki)");
    if (cfg.content_dir.empty()) cfg.content_dir = mtls::fixtures_dir() / "content";
  } else {
    const auto ready = cfg.ready_file, log = cfg.log_file;
    const std::string name = cfg.name;
    cfg = config_from_flags(a);
    cfg.name = name;
    cfg.ready_file = ready;
    cfg.log_file = log;
    cfg.content_dir = mtls::fixtures_dir() / "content";
  }
  if (a.pki) cfg.pki_dir = *a.pki;
  if (a.client_ca) {
    cfg.client_ca = *a.client_ca;
    cfg.client_crls = a.crls;
  } else if (!a.crls.empty()) {
    throw mtls::InputError("--crl needs --client-ca (the CRLs of your own client CA)");
  }
  if (a.content) cfg.content_dir = *a.content;
  if (a.store) cfg.store_dir = *a.store;
  if (cfg.pki_dir.empty())
    throw mtls::InputError("--pki is required (the folder written by 'pki init')");
  return cfg;
}

int cmd_beacon(const BeaconArgs& args, const CLI::App& cmd) {
  const auto cfg = beacon_config(args, cmd);
  // A server holds one descriptor per connection: raise the soft limit to the hard one.
  if (rlimit lim{}; ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  // Block SIGINT/SIGTERM in every thread; wait_for_signal() receives them synchronously.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // Started by the engine: ask for SIGTERM when it dies (then drain and exit like on Ctrl-C).
  if (const char* e = std::getenv("MTLS_HARNESS_DIE_WITH_PARENT");
      e != nullptr && std::string(e) == "1") {
    const pid_t parent = ::getppid();
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) return kExitOk;  // the parent died before the request took effect
  }
  std::optional<mtls::beacon::Beacon> started;
  try {
    started.emplace(cfg);
  } catch (const mtls::InputError& e) {
    const std::string what = e.what();
    if (!what.starts_with("field '")) throw;
    throw mtls::InputError(args.config_file.empty() ? in_flag_terms(what)
                                                    : args.config_file.string() + ": " + what);
  }
  mtls::beacon::Beacon& beacon = *started;
  const auto ready = beacon.start();
  std::cout << ready.dump() << std::endl;  // the ready signal for whoever started us
  for (const auto& l : ready["listeners"])
    std::cerr << "beacon " << cfg.name << ": " << l["name"].get<std::string>() << " on "
              << l["scheme"].get<std::string>() << "://" << l["address"].get<std::string>() << ":"
              << l["port"].get<int>() << " (client-auth " << l["client_auth"].get<std::string>()
              << ")\n";
  std::cerr << "stop with Ctrl-C\n";
  beacon.wait_for_signal();
  return kExitOk;
}

}  // namespace

void add_beacon(CLI::App& app, Store& store, std::vector<Command>& commands) {
  // beacon
  auto* beacon = app.add_subcommand(
      "beacon",
      "Run a simulated inventory beacon (Botan TLS server): downloads under /ManageSoftDL/ from\n"
      "--content, uploads (PUT) under /ManageSoftRL/ into --store. One listener from the flags, "
      "or\n"
      "several from --config FILE (docs/beacon.md). Prints one JSON 'ready' line when listening.");
  auto& bargs = store.make<BeaconArgs>();
  beacon->add_option("--pki", bargs.pki, "PKI folder written by 'pki init'");
  beacon->add_option("--config", bargs.config_file,
                     "YAML beacon config (several listeners, knobs)");
  beacon->add_option("--name", bargs.cfg.name,
                     "Beacon identity in the PKI manifest (default beacon-a)");
  beacon->add_option("--listen", bargs.listen,
                     "Address to listen on, host:port (default 127.0.0.1:0)");
  beacon->add_option("--client-auth", bargs.client_auth,
                     "ignore | request | require (default require)");
  beacon->add_option("--reject", bargs.reject,
                     "How to refuse (the first is the default):\n" +
                         join_names(mtls::beacon::reject_mode_names()));
  beacon->add_option("--revocation", bargs.revocation,
                     "off (default) or crl: check the client CA's CRLs");
  beacon->add_option("--min-tls", bargs.min_tls, "Lowest TLS version: 1.2 (default), 1.1 or 1.0");
  beacon->add_option(
      "--plain-http", bargs.plain_http,
      "Also serve the same folders over plain HTTP at host:port (a misconfiguration)");
  beacon->add_option("--client-ca", bargs.client_ca,
                     "Trust exactly these for client authentication instead of the PKI's client "
                     "CA: your CA bundle or pinned certificate (PEM, or one DER certificate)");
  beacon->add_option("--crl", bargs.crls,
                     "Your CRL (PEM or DER), for --revocation crl; repeatable; needs --client-ca");
  beacon->add_option("--content", bargs.content, "Content folder holding ManageSoftDL/");
  beacon->add_option("--store", bargs.store, "Upload store folder (default: uploads answer 503)");
  beacon->add_option(
      "--ready-file", bargs.cfg.ready_file,
      "Written (atomically) with the bound ports as JSON once every listener listens");
  beacon->add_option("--log", bargs.cfg.log_file,
                     "JSON Lines evidence log, one record per connection/request");
  beacon->add_option("--threads", bargs.threads, "Worker threads (default 2)");
  commands.push_back({beacon, [&bargs, beacon] { return cmd_beacon(bargs, *beacon); }});
}

}  // namespace mtls::cli
