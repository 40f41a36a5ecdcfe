// main.cpp: the `mtls-harness` command. It only parses flags and wires the component libraries;
// every error becomes one line on stderr and an exit code (0 pass, 1 a check failed, 2 usage or
// input error, 3 harness error or a check that could not be carried out).
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <arpa/inet.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <thread>

#include "agent/agent.hpp"
#include "agent/fleet.hpp"
#include "audit/audit.hpp"
#include "beacon/beacon.hpp"
#include "beacon/config.hpp"
#include "core/console.hpp"
#include "core/files.hpp"
#include "core/home.hpp"
#include "core/interrupt.hpp"
#include "core/process.hpp"
#include "engine/beacon_process.hpp"
#include "engine/engine.hpp"
#include "engine/findings.hpp"
#include "engine/probe.hpp"
#include "load/loadgen.hpp"
#include "pki/lint.hpp"
#include "pki/manifest.hpp"
#include "pki/pki.hpp"
#include "report/render.hpp"
#include "report/sign.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int kExitInput = 2;
constexpr int kExitHarness = 3;

// A secret from an environment variable or a file (first line), never from argv.
std::optional<std::string> read_secret(const std::string& env_flag, const std::string& env_name,
                                       const std::string& file_flag, const fs::path& file) {
  if (!env_name.empty() && !file.empty())
    throw mtls::InputError(env_flag + " and " + file_flag + " are exclusive");
  if (!env_name.empty()) {
    const char* v = std::getenv(env_name.c_str());
    if (v == nullptr)
      throw mtls::InputError(env_flag + " " + env_name + ": that environment variable is not set");
    return std::string(v);
  }
  if (!file.empty()) {
    std::string s = mtls::read_file(file);
    s = s.substr(0, s.find_first_of("\r\n"));
    return s;
  }
  return std::nullopt;
}

struct PkiInitArgs {
  fs::path out;
  std::string key_type = "ecdsa-p256", trust_model = "ca";
  bool force = false;
  std::optional<std::uint64_t> seed;
  std::string now;
  std::string password_env;
  fs::path password_file;
};

int cmd_pki_init(const PkiInitArgs& a) {
  if (a.key_type == "ed25519") throw mtls::InputError(mtls::pki::ed25519_refusal());
  auto kt = mtls::pki::key_type_from_string(a.key_type);
  if (!kt) throw mtls::InputError("--key-type " + a.key_type + ": expected ecdsa-p256 or rsa-2048");
  mtls::pki::InitOptions o{.out = a.out, .key_type = *kt, .force = a.force, .seed = a.seed};
  const auto model = mtls::pki::trust_model_from_string(a.trust_model);
  if (!model)
    throw mtls::InputError("--trust-model " + a.trust_model +
                           ": expected ca or pinned-self-signed");
  o.trust_model = *model;
  if (!a.now.empty()) o.now = mtls::parse_utc(a.now, "--now");
  o.p12_password =
      read_secret("--p12-password-env", a.password_env, "--p12-password-file", a.password_file);
  mtls::pki::init(o);
  std::cout
      << "mtls-harness pki init: wrote a " << a.key_type << " test PKI (trust model "
      << a.trust_model << ") to " << a.out.string() << " (manifest.json lists every file"
      << (o.p12_password
              ? ""
              : "; the generated PKCS#12 password file is credentials.valid-p12.password_file")
      << ")\n";
  return 0;
}

struct PkiLintArgs {
  mtls::pki::LintInput in;
  std::string password_env;
  fs::path password_file;
  std::string now;
  bool json = false;
};

int cmd_pki_lint(PkiLintArgs a) {
  a.in.password = read_secret("--password-env", a.password_env, "--password-file", a.password_file);
  if (!a.now.empty()) a.in.now = mtls::parse_utc(a.now, "--now");
  if (a.in.p12 && (a.in.cert || a.in.key))
    throw mtls::InputError("--p12 and --cert/--key are exclusive");
  const auto findings = mtls::pki::lint(a.in);
  const int rc = mtls::pki::lint_exit_code(findings);
  if (a.json) {
    std::cout << nlohmann::json{{"findings", mtls::pki::to_json(findings)}, {"exit_code", rc}}.dump(
                     2)
              << "\n";
    return rc;
  }
  int counts[3] = {0, 0, 0};
  for (const auto& f : findings) {
    ++counts[static_cast<int>(f.status)];
    std::printf("%-5s %-15s %s\n", std::string(mtls::pki::to_string(f.status)).c_str(),
                f.property.c_str(), f.detail.c_str());
  }
  std::printf("lint: %d PASS, %d WARN, %d FAIL\n", counts[0], counts[1], counts[2]);
  return rc;
}

struct BeaconArgs {
  mtls::beacon::BeaconConfig cfg;
  fs::path config_file;
  std::string listen = "127.0.0.1:0", client_auth = "require", reject = "alert:handshake_failure",
              revocation = "off", min_tls = "1.2", plain_http;
  std::optional<fs::path> pki, content, store, client_ca;
  std::vector<fs::path> crls;
  std::optional<unsigned> threads;
};

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
    ListenerConfig l;
    l.listen = a.listen;
    auto mode = client_auth_from_string(a.client_auth);
    if (!mode)
      throw mtls::InputError("--client-auth " + a.client_auth +
                             ": expected ignore, request or require");
    l.client_auth = *mode;
    auto reject = reject_mode_from_string(a.reject);
    if (!reject)
      throw mtls::InputError(
          "--reject " + a.reject +
          ": expected alert:handshake_failure, alert:certificate_required, alert:access_denied, "
          "alert:bad_certificate, close, http:403 or http:400");
    l.reject = *reject;
    if (a.revocation != "off" && a.revocation != "crl")
      throw mtls::InputError("--revocation " + a.revocation + ": expected off or crl");
    l.crl = a.revocation == "crl";
    if (a.min_tls != "1.0" && a.min_tls != "1.1" && a.min_tls != "1.2")
      throw mtls::InputError("--min-tls " + a.min_tls + ": expected 1.0, 1.1 or 1.2");
    l.min_tls = a.min_tls;
    cfg.listeners.push_back(l);
    if (!a.plain_http.empty()) {
      ListenerConfig plain;
      plain.name = "plain-http";
      plain.listen = a.plain_http;
      plain.tls = false;
      plain.client_auth = ClientAuth::kIgnore;
      cfg.listeners.push_back(plain);
    }
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
  if (a.threads) cfg.threads = *a.threads;
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
    if (::getppid() != parent) return 0;  // the parent died before the request took effect
  }
  mtls::beacon::Beacon beacon(cfg);
  const auto ready = beacon.start();
  std::cout << ready.dump() << std::endl;  // the ready signal for whoever started us
  for (const auto& l : ready["listeners"])
    std::cerr << "beacon " << cfg.name << ": " << l["name"].get<std::string>() << " on "
              << l["scheme"].get<std::string>() << "://" << l["address"].get<std::string>() << ":"
              << l["port"].get<int>() << " (client-auth " << l["client_auth"].get<std::string>()
              << ")\n";
  std::cerr << "stop with Ctrl-C\n";
  beacon.wait_for_signal();
  return 0;
}

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
std::string p12_password(const std::string& env, const fs::path& file) {
  auto pw = read_secret("--p12-password-env", env, "--p12-password-file", file);
  if (!pw) throw mtls::InputError("--p12 needs --p12-password-env VAR or --p12-password-file FILE");
  return *pw;
}

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
  if (!decided) return 3;
  const bool ok = expectation == mtls::Expectation::kRejected
                      ? rejected
                      : r.outcome == mtls::Outcome::kAccepted;
  return ok ? 0 : 1;
}

// How run and probe talk to the console: --quiet, --color, --format.
// The flags run and probe share: the console (--quiet, --color, --format), the expiry warning,
// and where the checks run from (--vantage, --source-address, --shard).
struct RunFlags {
  bool quiet = false;
  std::string color = "auto", format = "text";
  int expiry_warning_days = 60;
  std::string vantage, source_address, shard = "1/1";
};

void add_run_flags(CLI::App* cmd, RunFlags& c) {
  cmd->add_flag("-q,--quiet", c.quiet, "Print the summary and the findings only (no progress)");
  cmd->add_option("--color", c.color,
                  "never, auto (default: on a terminal, unless NO_COLOR is set) or always")
      ->check(CLI::IsMember({"never", "auto", "always"}));
  cmd->add_option("--format", c.format,
                  "text (default) or json: the summary as one JSON object on stdout")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--expiry-warning", c.expiry_warning_days,
                  "WARN when the distributed certificate expires within DAYS (default 60)");
  cmd->add_option("--vantage", c.vantage,
                  "Name of where this runs from (a site or subnet); on every record, for "
                  "'report merge'");
  cmd->add_option("--source-address", c.source_address,
                  "Connect from this local IP address (stand in for a subnet)");
  cmd->add_option("--shard", c.shard,
                  "I/N: run this deterministic share of the checks (a beacon's operation stays "
                  "in one shard); --list/--dry-run shows it");
}

void apply_run_flags(const RunFlags& c, mtls::engine::RunOptions& o) {
  o.vantage = c.vantage;
  if (!c.source_address.empty()) {
    in6_addr buf{};
    if (::inet_pton(AF_INET, c.source_address.c_str(), &buf) != 1 &&
        ::inet_pton(AF_INET6, c.source_address.c_str(), &buf) != 1)
      throw mtls::InputError("--source-address " + c.source_address +
                             ": expected a local IP address (e.g. 127.0.0.5)");
    o.source_address = c.source_address;
  }
  unsigned index = 0, count = 0;
  char slash = 0, extra = 0;
  if (std::sscanf(c.shard.c_str(), "%u%c%u%c", &index, &slash, &count, &extra) != 3 ||
      slash != '/' || index < 1 || count < 1 || index > count || count > 1000)
    throw mtls::InputError("--shard " + c.shard + ": expected I/N with 1 <= I <= N <= 1000");
  o.shard_index = index;
  o.shard_count = count;
  if (c.expiry_warning_days < 0) throw mtls::InputError("--expiry-warning: must be 0 or more days");
  o.expiry_warning_days = c.expiry_warning_days;
  o.progress = c.quiet || c.format == "json" ? nullptr : &std::cerr;
  o.progress_is_terminal = ::isatty(STDERR_FILENO) == 1;
  o.color = mtls::color_wanted(c.color, STDERR_FILENO);
}

// Prints a run's findings and summary (or, with --format json, one JSON object on stdout);
// returns its exit code (3 when interrupted).
int conclude(const std::string& what, const mtls::engine::RunResult& result, const fs::path& out,
             const RunFlags& console) {
  const int code = result.complete ? mtls::report::exit_code(result.summary) : 3;
  std::vector<mtls::report::InconclusiveCause> causes;
  try {  // why checks are INCONCLUSIVE, grouped, with the fix: one line each
    causes = mtls::report::inconclusive_causes(
        nlohmann::json::parse(mtls::read_file(result.report_file)));
  } catch (const std::exception&) {
  }
  const std::vector<std::string> files = {"report.html",  "report.md",   "junit.xml",
                                          "report.sarif", "report.json", "results.jsonl",
                                          "results.csv"};
  if (console.format == "json") {
    nlohmann::json findings = nlohmann::json::array(), why = nlohmann::json::array();
    for (const auto& f : result.findings)
      if (!f.value("expected", false)) findings.push_back(f);
    for (const auto& c : causes)
      why.push_back({{"checks", c.count}, {"cause", c.cause}, {"fix", c.fix}});
    nlohmann::json summary = mtls::report::to_json(result.summary);
    summary["exit_code"] = code;
    std::cout << nlohmann::json{{"command", what},
                                {"verdict", code == 0   ? "PASS"
                                            : code == 1 ? "FAIL"
                                                        : "INCONCLUSIVE"},
                                {"exit_code", code},
                                {"complete", result.complete},
                                {"summary", summary},
                                {"findings", findings},
                                {"inconclusive_causes", why},
                                {"reports", {{"folder", out.string()}, {"files", files}}}}
                     .dump()
              << "\n";
    return code;
  }
  const bool color = mtls::color_wanted(console.color, STDERR_FILENO);
  for (const auto& f : result.findings)
    if (!f.value("expected", false))
      std::cerr << mtls::paint(f["severity"].get<std::string>(), color) << ": "
                << f["title"].get<std::string>() << " [" << f["operations"].size()
                << " operation(s)]\n    fix: " << f["remediation"].get<std::string>() << "\n";
  for (const auto& c : causes)
    std::cerr << mtls::paint("INCONCLUSIVE", color) << ": " << c.count << " check(s): " << c.cause
              << "\n    fix: " << c.fix << "\n";
  std::string list;
  for (const auto& f : files) list += (list.empty() ? "" : ", ") + f;
  const bool out_color = mtls::color_wanted(console.color, STDOUT_FILENO);
  std::cout << "mtls-harness " << what << ": "
            << mtls::paint(code == 0   ? "PASS"
                           : code == 1 ? "FAIL"
                                       : "INCONCLUSIVE",
                           out_color)
            << ": " << mtls::report::one_line(result.summary) << "; reports in " << out.string()
            << " (" << list << ")\n";
  if (!result.complete)
    std::cerr << "mtls-harness " << what << ": " << mtls::paint("INCOMPLETE", color)
              << ": interrupted after " << result.summary.total << " of " << result.planned
              << " checks; the report is marked incomplete (exit 3)\n";
  return code;
}

int cmd_run(const std::vector<std::string>& scenarios, const fs::path& out, unsigned jobs,
            bool list, const std::optional<fs::path>& pki, const RunFlags& console) {
  mtls::engine::RunOptions o;
  o.pki = pki;
  for (const auto& s : scenarios) o.scenarios.emplace_back(s);
  o.out = out;
  o.jobs = jobs;
  o.harness_executable = mtls::self_executable();
  apply_run_flags(console, o);
  if (list) {
    for (const auto& c : mtls::engine::plan(o)) std::cout << c.dump() << "\n";
    return 0;
  }
  const mtls::InterruptWatch interrupt("mtls-harness run");
  o.stop = &interrupt.stop();
  return conclude("run", mtls::engine::run(o), out, console);
}

struct ProbeArgs {
  std::vector<std::string> targets;
  std::optional<fs::path> targets_file, ca, ca_path, cert, key, p12;
  std::string p12_password_env;
  fs::path p12_password_file, out = "reports/probe";
  mtls::engine::ProbeOptions options;
  std::vector<std::string> paths;
  RunFlags console;
};

int cmd_probe(ProbeArgs a) {
  mtls::engine::ProbeOptions& p = a.options;
  p.targets = a.targets;
  if (a.targets_file)
    for (const auto& t : mtls::engine::read_target_list(*a.targets_file)) p.targets.push_back(t);
  if (!a.paths.empty()) p.paths = a.paths;
  p.trust.ca_file = a.ca;
  p.trust.ca_path = a.ca_path;
  p.credential.cert = a.cert;
  p.credential.key = a.key;
  p.credential.p12 = a.p12;
  if (a.p12) p.credential.p12_password = p12_password(a.p12_password_env, a.p12_password_file);
  mtls::engine::RunOptions o;
  o.out = a.out;
  o.jobs = 4;
  o.harness_executable = mtls::self_executable();
  apply_run_flags(a.console, o);
  if (p.dry_run) {
    mtls::engine::probe(o, p, std::cout);
    return 0;
  }
  const mtls::InterruptWatch interrupt("mtls-harness probe");
  o.stop = &interrupt.stop();
  return conclude("probe", mtls::engine::probe(o, p, std::cout), a.out, a.console);
}

int cmd_report(const fs::path& in, const fs::path& out, const std::vector<fs::path>& benches) {
  auto doc = mtls::report::load_document(in, mtls::engine::findings_of_records);
  // Never overwrite a run's report with less than it holds: a results.jsonl has no run metadata,
  // so it may not replace a report.json that has some.
  std::error_code ec;
  const fs::path existing = out / "report.json";
  const bool input_has_metadata = !doc["metadata"].contains("rendered_from");
  if (!input_has_metadata && fs::exists(existing, ec) && !fs::equivalent(existing, in, ec) &&
      mtls::report::load_document(existing)["metadata"].contains("started"))
    throw mtls::InputError("--out " + out.string() + " already holds a report.json that " +
                           in.string() +
                           " would replace with less (its run metadata): give another --out");
  for (const auto& b : benches) {  // `mtls-harness bench` results: charts in report.html
    const auto bench = nlohmann::json::parse(mtls::read_file(b), nullptr, false);
    if (bench.is_discarded() || !bench.contains("chart") || !bench.contains("targets"))
      throw mtls::InputError(b.string() + ": not a bench.json written by 'mtls-harness bench'");
    nlohmann::json entry = bench["chart"];
    entry["title"] = "server CPU per handshake (" + b.string() + ")";
    entry["targets"] = bench["targets"];
    doc["benchmarks"].push_back(entry);
  }
  mtls::report::write_all(out, doc);
  std::cout << "mtls-harness report: wrote report.json, junit.xml, report.md, report.html, "
               "report.sarif and results.csv to "
            << out.string() << "\n";
  return 0;
}

int cmd_report_verify(const fs::path& file, const std::optional<fs::path>& pub) {
  std::string detail;
  int rc = mtls::report::verify(file, &detail);
  std::cout << file.string() << ": " << (rc == 0 ? "intact" : "CHANGED since it was written")
            << " (SHA-256 checksum: " << detail << ")\n";
  if (pub) {
    std::string why;
    const int signed_rc =
        mtls::report::verify_signature(mtls::report::load_document(file), *pub, &why);
    std::cout << file.string() << ": "
              << (signed_rc == 0 ? "signed by the holder of " + pub->string()
                                 : "NOT signed by the holder of " + pub->string())
              << " (" << why << ")\n";
    rc = std::max(rc, signed_rc);
  }
  return rc;
}

int cmd_report_merge(const std::vector<fs::path>& files, const fs::path& out) {
  const auto doc = mtls::report::merge_documents(files, mtls::engine::findings_of_records);
  mtls::report::write_all(out, doc);
  const auto& s = doc["summary"];
  const int code = s.value("exit_code", 3);
  for (const auto& f : doc["findings"])
    if (!f.value("expected", false))
      std::cerr << f["severity"].get<std::string>() << ": " << f["title"].get<std::string>()
                << "\n";
  if (!doc["metadata"].value("complete", true))
    std::cerr << "mtls-harness report merge: INCOMPLETE: "
              << doc["metadata"]["incomplete_reason"].get<std::string>() << "\n";
  std::cout << "mtls-harness report merge: " << files.size() << " reports, " << s["total"]
            << " checks: " << s["PASS"] << " PASS, " << s["FAIL"] << " FAIL, " << s["INCONCLUSIVE"]
            << " INCONCLUSIVE; reports in " << out.string() << "\n";
  return code;
}

int cmd_report_sign(const fs::path& file, const fs::path& key) {
  if (file.extension() != ".json")
    throw mtls::InputError(file.string() + ": sign a report.json (it carries the digest)");
  auto doc = mtls::report::load_document(file);
  std::string detail;
  if (mtls::report::verify(file, &detail) != 0)
    throw mtls::InputError(file.string() + ": changed since it was written (" + detail +
                           "); it cannot be signed");
  doc["signature"] = mtls::report::sign(doc, key);
  mtls::report::write_all(file.parent_path().empty() ? fs::path(".") : file.parent_path(), doc);
  std::cout << file.string() << ": signed (" << doc["signature"]["algorithm"].get<std::string>()
            << ", public key SHA-256 " << doc["signature"]["public_key_sha256"].get<std::string>()
            << "); report.html shows it; check with 'mtls-harness report verify --pub PUB "
            << file.string() << "'\n";
  return 0;
}

int cmd_report_diff(const fs::path& old_file, const fs::path& new_file) {
  const auto regressions = mtls::report::regressions(
      mtls::report::load_document(old_file, mtls::engine::findings_of_records),
      mtls::report::load_document(new_file, mtls::engine::findings_of_records));
  for (const auto& r : regressions)
    std::cout << "REGRESSION " << r["scenario"].get<std::string>() << " "
              << r["check_id"].get<std::string>() << ": " << r["was"].get<std::string>() << " -> "
              << r["now"].get<std::string>()
              << (r["severity"].is_null() ? "" : " " + r["severity"].get<std::string>()) << " ("
              << (r["outcome"].is_null() ? "no outcome" : r["outcome"].get<std::string>()) << ")\n";
  std::cout << regressions.size() << " regression(s)\n";
  return regressions.empty() ? 0 : 1;
}

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
  fs::path out = "reports/bench";
};

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
    const fs::path work = fs::absolute(a.out / "work");
    fs::remove_all(work, ec);
    if (a.key_type == "ed25519") throw mtls::InputError(mtls::pki::ed25519_refusal());
    const auto kt = mtls::pki::key_type_from_string(a.key_type);
    if (!kt)
      throw mtls::InputError("--key-type " + a.key_type + ": expected ecdsa-p256 or rsa-2048");
    mtls::pki::init({.out = work / "pki", .key_type = *kt});
    const auto m = mtls::pki::load_manifest(work / "pki");
    const YAML::Node sim = YAML::Load(
        "listeners: [{name: server-only, client_auth: ignore}, {name: mtls, client_auth: "
        "require}]\n"
        "max_connections: 100000\ntimeouts: {handshake_ms: 30000, idle_ms: 30000}\n");
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
      o.targets.push_back(
          {name, "https://127.0.0.1:" + std::to_string(l["port"].get<int>()), cred});
    }
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

struct AuditArgs {
  mtls::audit::AuditOptions o;
  std::vector<std::string> paths;
  std::string at, now, p12_password_env;
  fs::path p12_password_file, out = "reports/audit";
};

int cmd_audit(AuditArgs a) {
  // Botan 2's locked memory pool serialises every thread's big-number allocations behind one
  // mutex; the audit's threads only handle public data, so it does without (before Botan's first
  // allocation, which creates the pool).
  ::setenv("BOTAN_MLOCK_POOL_SIZE", "0", 0);
  for (const auto& p : a.paths) a.o.paths.emplace_back(p);
  if (!a.at.empty()) a.o.at = mtls::parse_utc(a.at, "--at");
  if (!a.now.empty()) a.o.now = mtls::parse_utc(a.now, "--now");
  a.o.p12_password = read_secret("--p12-password-env", a.p12_password_env, "--p12-password-file",
                                 a.p12_password_file);
  if (a.o.expiry_warning_days < 0)
    throw mtls::InputError("--expiry-warning: must be 0 or more days");
  const auto doc = mtls::audit::run_audit(a.o);
  mtls::audit::write_reports(a.out, doc);
  const auto& s = doc["summary"];
  for (const auto& d : s["duplicates"])
    std::cerr << "NOTE: " << d["note"].get<std::string>() << "\n";
  if (doc.contains("access_logs"))
    for (const auto& c : doc["access_logs"]["clients_without_a_valid_certificate"])
      std::cerr << "NO VALID CERTIFICATE: " << c["address"].get<std::string>() << " host '"
                << c["host"].get<std::string>() << "' agent '" << c["user_agent"].get<std::string>()
                << "': " << c["requests"] << " request(s), last "
                << c["last_seen"].get<std::string>() << "\n";
  for (const auto& e : doc["devices"]) {
    const bool now_ok = e["accepted_now"].get<bool>();
    if (now_ok && !(e.contains("accepted_at") && !e["accepted_at"].get<bool>())) continue;
    const auto& reasons = now_ok ? e["reasons_at"] : e["reasons_now"];
    std::cerr << "LOCKED OUT " << (now_ok ? "at " + a.at : std::string("now")) << ": "
              << e["device"].get<std::string>() << " (" << e["subject"].get<std::string>()
              << "): " << reasons.front()["property"].get<std::string>() << ": "
              << reasons.front()["detail"].get<std::string>() << "\n";
  }
  std::cout << "mtls-harness audit: " << s["devices"] << " device certificate(s), "
            << s["distinct_certificates"] << " distinct: " << s["accepted_now"] << " accepted now, "
            << s["locked_out_now"] << " locked out now"
            << (a.o.at ? ", " + s["locked_out_at"].dump() + " locked out at " + a.at : "")
            << (doc.contains("access_logs")
                    ? "; " + s["clients_without_a_valid_certificate"].dump() +
                          " client(s) without a valid certificate in the access logs"
                    : "")
            << "; reports in " << a.out.string()
            << " (audit.html, audit.md, junit.xml, audit.json, audit.csv)\n";
  return mtls::audit::exit_code(doc);
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that closes while we write (a beacon refusing a client) is an outcome, not a reason to
  // die: OpenSSL's socket writes would raise SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "mtls-harness: proves that inventory beacons enforce mutual TLS: nothing gets in without a\n"
      "valid client certificate, every legitimate device still gets in.\n"
      "Exit codes: 0 all checks pass, 1 a check FAILED, 2 usage or input error,\n"
      "3 harness error or a check that could not be carried out (INCONCLUSIVE)."};
  app.set_version_flag("-V,--version", "mtls-harness " + mtls::harness_version());
  app.require_subcommand(1);

  // pki init
  auto* pki = app.add_subcommand("pki", "Test PKI: CAs, beacon and client certificates");
  pki->require_subcommand(1);
  auto* pki_init = pki->add_subcommand(
      "init",
      "Write a fresh test PKI: client CA (root + issuing), server CA, an untrusted CA, beacon\n"
      "certificates, every client credential variant (valid, valid-p12, expired, not-yet-valid,\n"
      "untrusted-ca, self-signed, wrong-eku, revoked, wrong-key, missing-intermediate, weak-key,\n"
      "server-ca-issued), CRLs, and manifest.json describing each file and its expected result");
  PkiInitArgs init_args;
  pki_init->add_option("--out", init_args.out, "Folder to write (must be empty unless --force)")
      ->required();
  pki_init->add_option("--key-type", init_args.key_type, "ecdsa-p256 (default) or rsa-2048");
  pki_init->add_flag("--force", init_args.force, "Write into a non-empty folder");
  pki_init->add_option(
      "--trust-model", init_args.trust_model,
      "ca (default: a client CA issues the distributed certificate) or pinned-self-signed (the\n"
      "vendor's model: one self-signed clientAuth certificate, PEM and PKCS#12, that the beacons\n"
      "trust directly; negatives: same subject, same serial, another key, expired copies...)");
  pki_init->add_option("--seed", init_args.seed,
                       "Deterministic output: the same seed and --now give the same bytes");
  pki_init->add_option("--now", init_args.now,
                       "The PKI's current time, UTC (2026-01-31T12:00:00Z)");
  pki_init->add_option(
      "--p12-password-env", init_args.password_env,
      "Env var holding the PKCS#12 password (default: generate one into a 0600 file)");
  pki_init->add_option("--p12-password-file", init_args.password_file,
                       "File holding the PKCS#12 password (first line)");

  auto* pki_lint = pki->add_subcommand(
      "lint",
      "Check the client certificate you will distribute: chain, validity, EKU, key usage, key\n"
      "match, key strength, signature hash, revocation (with --crl), intermediate, PKCS#12.\n"
      "Exit 0: no FAIL; 1: a FAIL; 2: unusable input");
  PkiLintArgs lint_args;
  pki_lint
      ->add_option("--ca", lint_args.in.ca, "CA file the beacons trust (root, plus intermediates)")
      ->required();
  pki_lint->add_option("--cert", lint_args.in.cert,
                       "Client certificate, PEM (may carry its chain)");
  pki_lint->add_option("--key", lint_args.in.key, "Its private key, PEM");
  pki_lint->add_option("--p12", lint_args.in.p12, "Or: the PKCS#12 (.p12/.pfx) export");
  pki_lint->add_option("--password-env", lint_args.password_env,
                       "Env var holding the PKCS#12 password");
  pki_lint->add_option("--password-file", lint_args.password_file,
                       "File holding the PKCS#12 password");
  pki_lint->add_option("--crl", lint_args.in.crl,
                       "CRL file (PEM or DER) to check revocation against");
  pki_lint->add_option("--now", lint_args.now, "Judge validity at this UTC time instead of now");
  pki_lint->add_flag("--json", lint_args.json, "Print the findings as JSON");

  // beacon
  auto* beacon = app.add_subcommand(
      "beacon",
      "Run a simulated inventory beacon (Botan TLS server): downloads under /ManageSoftDL/ from\n"
      "--content, uploads (PUT) under /ManageSoftRL/ into --store. One listener from the flags, "
      "or\n"
      "several from --config FILE (docs/beacon.md). Prints one JSON 'ready' line when listening.");
  BeaconArgs bargs;
  beacon->add_option("--pki", bargs.pki, "PKI folder written by 'pki init'");
  beacon->add_option("--config", bargs.config_file,
                     "YAML beacon config (several listeners, knobs)");
  beacon->add_option("--name", bargs.cfg.name,
                     "Beacon identity in the PKI manifest (default beacon-a)");
  beacon->add_option("--listen", bargs.listen,
                     "Address to listen on, host:port (default 127.0.0.1:0)");
  beacon->add_option("--client-auth", bargs.client_auth,
                     "ignore | request | require (default require)");
  beacon->add_option(
      "--reject", bargs.reject,
      "How to refuse: alert:handshake_failure (default), alert:certificate_required,\n"
      "alert:access_denied, alert:bad_certificate, close, http:403, http:400");
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

  // agent
  auto* agent = app.add_subcommand(
      "agent",
      "Run one agent operation against a beacon (or a failover list: --beacon several times), or\n"
      "--agents N simulated devices doing a full cycle. Settings mirror the agent's preferences.");
  AgentArgs aargs;
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

  // run
  auto* run = app.add_subcommand(
      "run", "Run conformance scenarios; no argument: the built-in default suite on loopback");
  std::vector<std::string> scenarios;
  fs::path out = "reports/out";
  run->add_option("scenarios", scenarios, "Scenario files or folders (default: scenarios/default)");
  run->add_option("--out", out, "Report folder (default reports/out)");
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  bool list_only = false;
  run->add_option("--jobs", jobs, "Checks in flight at once (default: the number of cores)");
  std::optional<fs::path> run_pki;
  run->add_option("--pki", run_pki,
                  "Use this test PKI ('pki init') instead of a fresh one: for external beacons\n"
                  "configured with its server certificate and client CA");
  run->add_flag("--list", list_only,
                "Print the checks the scenarios expand to (JSON Lines); run nothing");
  RunFlags run_flags;
  add_run_flags(run, run_flags);

  // probe
  auto* probe = app.add_subcommand(
      "probe",
      "Probe YOUR beacons (before and after enabling mTLS): each target with your distributed\n"
      "client certificate (the positive control) and with credentials no beacon may accept\n"
      "(none, self-signed, another CA's), through the front door and every side door it can\n"
      "reach (plain HTTP, SNI/Host mismatch, cross-listener resumption, renegotiation, TLS\n"
      "1.0/1.1). Safe by default: GETs of a few paths only; rate-limited. Same reports as 'run'.");
  ProbeArgs pargs;
  add_run_flags(probe, pargs.console);
  probe->add_option("--target", pargs.targets,
                    "Beacon base URL (https://host[:port]); repeat for a failover list");
  probe->add_option("--targets", pargs.targets_file,
                    "File with the agents' beacon list: one https URL per line (# comments)");
  probe->add_option("--ca", pargs.ca, "CA file the devices trust for beacons");
  probe->add_option("--ca-path", pargs.ca_path, "Or: a hashed CA folder");
  probe->add_option("--cert", pargs.cert, "The distributed client certificate, PEM");
  probe->add_option("--key", pargs.key, "Its private key, PEM (unencrypted)");
  probe->add_option("--p12", pargs.p12, "Or: the distributed credential as PKCS#12");
  probe->add_option("--p12-password-env", pargs.p12_password_env,
                    "Env var holding the PKCS#12 password (never on the command line)");
  probe->add_option("--p12-password-file", pargs.p12_password_file,
                    "File holding the PKCS#12 password");
  probe->add_option(
      "--path", pargs.paths,
      "Path to GET (repeat; default /ManageSoftDL/). Only GETs unless --allow-writes");
  probe->add_flag("--allow-writes", pargs.options.allow_writes,
                  "Also PUT one tiny file marked as a test (with the valid credential and the\n"
                  "negative checks) at --upload-path");
  probe->add_option(
      "--upload-path", pargs.options.upload_path,
      "Where --allow-writes uploads (default /ManageSoftRL/mtls-harness-probe-test.log)");
  probe->add_option("--open-name", pargs.options.open_names,
                    "A TLS name your beacons' port may serve WITHOUT client auth (repeatable).\n"
                    "Not needed to find one: no SNI, every name in the beacon's certificate and\n"
                    "a name nobody configured are always tried, each with its own Host. The first\n"
                    "is also the session source of the resumption check (SKIPPED without it\n"
                    "or --resume-from)");
  probe->add_option("--resolve", pargs.options.resolve,
                    "HOST:PORT:ADDR: connect to ADDR for HOST:PORT, as curl's --resolve\n"
                    "(repeatable): probe names before DNS has them");
  probe->add_option("--resume-from", pargs.options.resume_from,
                    "An https listener without client auth whose sessions might resume at the\n"
                    "targets; without it (and --open-name) the resumption check is SKIPPED");
  probe->add_option("--plain-http-port", pargs.options.plain_http_port,
                    "Port where each target's cleartext side door is tried (default 80)");
  probe->add_option("--timeout", pargs.options.timeout_s,
                    "Seconds one request may take before the beacon counts as silent (default\n"
                    "20; a beacon that completed the handshake and never answered is\n"
                    "PROTOCOL_ERROR, not UNREACHABLE)");
  probe->add_option("--rate", pargs.options.rate,
                    "Requests started per second, at most (default 5)");
  probe->add_flag("--dry-run", pargs.options.dry_run, "Print the plan; send nothing");
  probe->add_option("--out", pargs.out, "Report folder (default reports/probe)");

  // bench
  auto* bench = app.add_subcommand(
      "bench",
      "Handshake load over sockets: server-only vs mTLS interleaved in one run against our beacon\n"
      "(started on loopback) or --target URLs; handshakes/s, server and generator CPU per\n"
      "handshake, latency percentiles, errors by outcome. Writes bench.json");
  BenchArgs bench_args;
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
  bench->add_option(
      "--client", bench_args.client,
      "openssl (default: OpenSSL driven directly, one SSL_CTX per target, like\n"
      "openssl s_time) or curl (the agent's own libcurl stack, an SSL_CTX per connection)");
  bench->add_option("--out", bench_args.out, "Folder for bench.json (default reports/bench)");

  // report
  auto* report = app.add_subcommand(
      "report",
      "Re-render reports (--in report.json|results.jsonl --out DIR), verify, or diff them");
  fs::path report_in, report_out = "reports/out";
  report->add_option("--in", report_in, "A report.json or results.jsonl to render");
  report->add_option("--out", report_out,
                     "Folder for report.json, junit.xml, report.md, report.html");
  std::vector<fs::path> report_benches;
  report->add_option("--bench", report_benches, "bench.json files to chart in report.html");
  auto* report_verify = report->add_subcommand(
      "verify",
      "Check a report.json's SHA-256 checksum, and with --pub its signature (exit 0 intact "
      "and signed, 1 changed or not signed by that key, 2 not a report)");
  fs::path verify_file;
  std::optional<fs::path> verify_pub;
  report_verify->add_option("report", verify_file, "report.json")->required();
  report_verify->add_option("--pub", verify_pub,
                            "The signer's public key (PEM, or a certificate holding it)");
  auto* report_merge = report->add_subcommand(
      "merge",
      "Combine the report.json of several shards and vantage points into one report (every\n"
      "format): findings say from which vantage point a door is open; a missing shard makes it\n"
      "INCOMPLETE (exit 3); a check present twice is an error (exit 2)");
  std::vector<fs::path> merge_files;
  fs::path merge_out = "reports/merged";
  report_merge->add_option("reports", merge_files, "report.json files")->required();
  report_merge->add_option("--out", merge_out,
                           "Folder for the merged report (default reports/merged)");
  auto* report_sign = report->add_subcommand(
      "sign",
      "Sign a report.json's SHA-256 checksum with an Ed25519 or ECDSA key (PKCS#8 PEM, "
      "unencrypted): the signature goes into report.json and the cover of report.html");
  fs::path sign_file, sign_key;
  report_sign->add_option("report", sign_file, "report.json")->required();
  report_sign->add_option("--key", sign_key, "The signer's private key file (never printed)")
      ->required();
  auto* report_diff = report->add_subcommand(
      "diff", "List regressions: checks that passed in OLD and fail in NEW (exit 1 on any)");
  fs::path diff_old, diff_new;
  report_diff->add_option("old", diff_old, "the earlier report.json (or results.jsonl)")
      ->required();
  report_diff->add_option("new", diff_new, "the later report.json (or results.jsonl)")->required();

  auto* audit = app.add_subcommand(
      "audit",
      "Fleet readiness before the switch: for every device certificate under PATH... (PEM,\n"
      "bundles, DER, PKCS#12; files or folders), would a beacon that requires client\n"
      "certificates and trusts --ca accept it now and at --at; why not; expiries, duplicates,\n"
      "who would be locked out (exit 1 if anyone). Reports: audit.html, audit.md, junit.xml,\n"
      "audit.json, audit.csv.");
  AuditArgs audit_args;
  audit->add_option("paths", audit_args.paths, "Device certificate files or folders");
  audit->add_option("--ca", audit_args.o.ca,
                    "The beacons' client trust: CA certificates or the pinned certificate");
  audit->add_option("--access-log", audit_args.o.access_logs,
                    "A beacon access log written while it only requested client certificates;\n"
                    "repeatable. The clients without a valid certificate are listed");
  audit
      ->add_option("--log-format", audit_args.o.log_format,
                   "nginx (default), apache, iis or mtls-harness: the formats to configure are in\n"
                   "README, 'Before the switch'")
      ->check(CLI::IsMember({"nginx", "apache", "iis", "mtls-harness"}));
  audit->add_option("--crl", audit_args.o.crls, "CRL files (PEM or DER); repeatable");
  audit->add_option("--at", audit_args.at, "Also judge at this date (UTC, e.g. the switch day)");
  audit->add_option("--now", audit_args.now, "Judge as of this time instead of now (UTC)");
  audit->add_option("--expiry-warning", audit_args.o.expiry_warning_days,
                    "Days before expiry that count as expiring soon (default 60)");
  audit->add_option("--p12-password-env", audit_args.p12_password_env,
                    "Env var holding the PKCS#12 files' password");
  audit->add_option("--p12-password-file", audit_args.p12_password_file,
                    "File holding the PKCS#12 files' password (first line)");
  audit->add_option("--threads", audit_args.o.threads, "Worker threads (default: the cores)");
  audit->add_option("--out", audit_args.out, "Report folder (default reports/audit)");

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
    if (*pki_init) return cmd_pki_init(init_args);
    if (*pki_lint) return cmd_pki_lint(lint_args);
    if (*beacon) return cmd_beacon(bargs, *beacon);
    if (*agent) {
      mtls::agent::CurlGlobal curl;
      return cmd_agent(aargs);
    }
    if (*bench) {
      mtls::agent::CurlGlobal curl;
      return cmd_bench(bench_args);
    }
    if (*audit) return cmd_audit(audit_args);
    if (*report_verify) return cmd_report_verify(verify_file, verify_pub);
    if (*report_sign) return cmd_report_sign(sign_file, sign_key);
    if (*report_merge) return cmd_report_merge(merge_files, merge_out);
    if (*report_diff) return cmd_report_diff(diff_old, diff_new);
    if (*report) {
      if (report_in.empty())
        throw mtls::InputError("report: give --in FILE, or 'verify' / 'diff' (see --help)");
      return cmd_report(report_in, report_out, report_benches);
    }
    if (*run) {
      mtls::agent::CurlGlobal curl;
      return cmd_run(scenarios, out, jobs, list_only, run_pki, run_flags);
    }
    if (*probe) {
      mtls::agent::CurlGlobal curl;
      return cmd_probe(pargs);
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
