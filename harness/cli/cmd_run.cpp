// cmd_run.cpp: `run` and `probe`: the flags they share (console, expiry warning, vantage point,
// shard), and how a run's result is printed.
#include <arpa/inet.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <thread>
#include "agent/agent.hpp"
#include "cli/commands.hpp"
#include "core/console.hpp"
#include "core/files.hpp"
#include "core/interrupt.hpp"
#include "core/process.hpp"
#include "engine/engine.hpp"
#include "engine/probe.hpp"
#include "report/render.hpp"
#include "report/report.hpp"

namespace mtls::cli {
namespace fs = std::filesystem;

namespace {

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
  const int code = result.complete ? mtls::report::exit_code(result.summary) : kExitHarness;
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
    return kExitOk;
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
    return kExitOk;
  }
  const mtls::InterruptWatch interrupt("mtls-harness probe");
  o.stop = &interrupt.stop();
  return conclude("probe", mtls::engine::probe(o, p, std::cout), a.out, a.console);
}

}  // namespace

void add_run(CLI::App& app, Store& store, std::vector<Command>& commands) {
  // run
  auto* run = app.add_subcommand(
      "run", "Run conformance scenarios; no argument: the built-in default suite on loopback");
  auto& scenarios = store.make<std::vector<std::string>>();
  auto& out = store.make<fs::path>("reports/out");
  run->add_option("scenarios", scenarios, "Scenario files or folders (default: scenarios/default)");
  run->add_option("--out", out, "Report folder (default reports/out)");
  auto& jobs = store.make<unsigned>(std::max(1u, std::thread::hardware_concurrency()));
  auto& list_only = store.make<bool>(false);
  run->add_option("--jobs", jobs, "Checks in flight at once (default: the number of cores)");
  auto& run_pki = store.make<std::optional<fs::path>>();
  run->add_option("--pki", run_pki,
                  "Use this test PKI ('pki init') instead of a fresh one: for external beacons\n"
                  "configured with its server certificate and client CA");
  run->add_flag("--list", list_only,
                "Print the checks the scenarios expand to (JSON Lines); run nothing");
  auto& run_flags = store.make<RunFlags>();
  add_run_flags(run, run_flags);

  // probe
  auto* probe = app.add_subcommand(
      "probe",
      "Probe YOUR beacons (before and after enabling mTLS): each target with your distributed\n"
      "client certificate (the positive control) and with credentials no beacon may accept\n"
      "(none, self-signed, another CA's), through the front door and every side door it can\n"
      "reach (plain HTTP, SNI/Host mismatch, cross-listener resumption, renegotiation, TLS\n"
      "1.0/1.1). Safe by default: GETs of a few paths only; rate-limited. Same reports as 'run'.");
  auto& pargs = store.make<ProbeArgs>();
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
  commands.push_back({run, [&] {
                        mtls::agent::CurlGlobal curl;
                        return cmd_run(scenarios, out, jobs, list_only, run_pki, run_flags);
                      }});
  commands.push_back({probe, [&pargs] {
                        mtls::agent::CurlGlobal curl;
                        return cmd_probe(pargs);
                      }});
}

}  // namespace mtls::cli
