// engine.cpp: see engine.hpp.
#include "engine/engine.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "agent/agent.hpp"
#include "agent/device.hpp"
#include "agent/fleet.hpp"
#include "beacon/content.hpp"
#include "core/files.hpp"
#include "core/home.hpp"
#include "core/process.hpp"
#include "core/timefmt.hpp"
#include "engine/beacon_process.hpp"
#include "engine/scenario.hpp"
#include "engine/verdict.hpp"
#include "pki/manifest.hpp"
#include "pki/pki.hpp"

namespace mtls::engine {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string utc_now() {
  return format_utc(std::chrono::system_clock::now());
}

// The commit of the scenarios and fixtures in use (the project home), or null outside a checkout.
json git_commit() {
  try {
    ChildProcess git({"/usr/bin/git", "-C", harness_home().string(), "rev-parse", "HEAD"},
                     "/dev/null");
    bool timed_out = false;
    auto line = git.read_line(std::chrono::seconds(5), &timed_out);
    if (git.stop() == "exit 0" && line && line->size() == 40) return *line;
  } catch (const std::exception&) {
  }
  return nullptr;
}

// The beacon's log records of one client connection, found by the agent's local port.
json beacon_evidence(const fs::path& log, long local_port) {
  std::error_code ec;
  if (!fs::exists(log, ec)) return nullptr;
  json connection = nullptr, requests = json::array();
  std::istringstream in(read_file(log));
  for (std::string line; std::getline(in, line);) {
    json rec = json::parse(line, nullptr, false);
    if (rec.is_discarded() || rec.value("peer_port", -1L) != local_port) continue;
    if (rec.value("event", "") == "connection") connection = rec;
    if (rec.value("event", "") == "request") requests.push_back(rec);
  }
  if (connection.is_null() && requests.empty()) return nullptr;
  return {{"connection", connection}, {"requests", requests}};
}

// How the agent presents a manifest credential.
agent::ClientCredential credential_for(const pki::Credential& c) {
  agent::ClientCredential out;
  out.name = c.name;
  out.cert = c.cert;
  out.key = c.key;
  out.p12 = c.p12;
  if (c.p12_password_file) {
    std::string pw = read_file(*c.p12_password_file);
    out.p12_password = pw.substr(0, pw.find_first_of("\r\n"));
  }
  agent::preload(out);
  return out;
}

// Credentials our agent's TLS stack (OpenSSL at Debian's security level) cannot present.
std::optional<std::string> unpresentable(const pki::Credential& c) {
  if (c.defect == "key-strength")
    return "the agent's TLS stack (OpenSSL, security level 2) refuses to load an RSA-1024 key; the "
           "beacon's own tests present it with openssl s_client at level 0";
  if (c.defect == "key-match")
    return "no stock TLS client presents a certificate with another device's key (OpenSSL checks "
           "the "
           "pair before connecting); this needs a protocol-level client";
  return std::nullopt;
}

struct Check {
  ResultRecord record;
  const agent::Operation* op = nullptr;
  std::vector<std::string> beacon_names;     // one, or the boundary's failover list
  std::vector<agent::BeaconChoice> beacons;  // their URLs, once the beacons run
  bool boundary = false;
  agent::AgentOptions options;
  std::optional<std::size_t> control;
  std::optional<std::string> skip;
};

// Progress: a one-line bar on a terminal, one line per check otherwise.
class Progress {
 public:
  Progress(std::ostream* out, bool tty, std::size_t total) : out_(out), tty_(tty), total_(total) {}
  void add(const ResultRecord& r) {
    ++done_;
    ++counts_[std::string(to_string(r.verdict.value_or(Verdict::kInconclusive)))];
    if (!out_) return;
    if (!tty_) {
      *out_ << "[" << done_ << "/" << total_ << "] " << r.check_id << "  "
            << (r.verdict == Verdict::kSkipped ? "SKIPPED" : std::string(to_string(r.outcome)))
            << "  " << to_string(*r.verdict)
            << (r.expected_finding ? " (declared by the self-test)" : "") << "\n"
            << std::flush;
      return;
    }
    const int width = 30, filled = total_ ? static_cast<int>(width * done_ / total_) : width;
    *out_ << "\r[" << std::string(filled, '#') << std::string(width - filled, '-') << "] " << done_
          << "/" << total_ << " checks  " << counts_["PASS"] << " PASS  " << counts_["FAIL"]
          << " FAIL  " << counts_["INCONCLUSIVE"] << " INCONCLUSIVE  " << counts_["SKIPPED"]
          << " SKIPPED" << std::flush;
    if (done_ == total_) *out_ << "\n";
  }

 private:
  std::ostream* out_;
  bool tty_;
  std::size_t total_, done_ = 0;
  std::map<std::string, std::size_t> counts_;
};

std::string remediation(const std::string& severity, const std::string& kind,
                        const std::string& beacon, const std::optional<std::string>& defect) {
  if (kind == "boundary-leak")
    return "enforce client certificates on " + beacon +
           " or remove it from the agents' failover list: "
           "a device picks any beacon it can reach";
  if (severity == "LOCKOUT")
    return "make " + beacon +
           " trust the client CA for client authentication, and check the chain the "
           "devices send (the intermediate must be included)";
  if (severity == "WARN")
    return beacon +
           " does not check revocation: use short-lived client certificates, or enable CRL "
           "checking before relying on revocation";
  const std::string d = defect.value_or("");
  if (d == "no-certificate") return "require a client certificate on every binding of " + beacon;
  if (d == "chain") return "trust only the client CA for client authentication on " + beacon;
  if (d == "validity") return "reject certificates outside their validity period on " + beacon;
  if (d == "eku") return "require the clientAuth extended key usage on " + beacon;
  if (d == "revocation") return "enable revocation checking (CRL or OCSP) on " + beacon;
  if (d == "intermediate")
    return "trust only the root on " + beacon + " and require devices to send their chain";
  return "require a valid client certificate on " + beacon;
}

// Prepared, validated inputs of a run.
struct Prepared {
  std::vector<Scenario> scenarios;
  agent::Catalogue catalogue;
  std::map<std::string, std::string> digests;
};

Prepared prepare(const RunOptions& o) {
  Prepared p{{}, agent::Catalogue::load_default(), {}};
  for (const auto& f : find_scenarios(o.scenarios))
    p.scenarios.push_back(load_scenario(f, p.catalogue.ids()));
  const beacon::ContentStore content(fixtures_dir() / "content");
  for (const auto& id : p.catalogue.ids())
    for (const auto& r : p.catalogue.get(id).requests)
      if (r.content) {
        auto d = content.digest(*r.content);
        if (!d)
          throw InputError("fixtures/operations.yaml: operation " + id + ": content " + *r.content +
                           " is not in fixtures/content");
        p.digests[*r.content] = *d;
      }
  return p;
}

// Expands one scenario into checks (beacons by name; their URLs are known once they run).
std::vector<Check> expand(const Scenario& sc, const pki::Manifest& m,
                          const agent::Catalogue& catalogue,
                          const std::map<std::string, std::string>& digests) {
  std::vector<std::string> creds = sc.credentials;
  if (sc.all_credentials) {
    creds = {sc.control_credential};
    for (const auto& [name, _] : m.credentials)
      if (name != sc.control_credential) creds.push_back(name);
  }
  for (const auto& c : creds) {
    const auto& cred = m.credential(c);
    if (!cred.expected.contains(sc.policy_key()))
      throw InputError(sc.file.string() + ": credential '" + c +
                       "' has no expectation for policy '" + sc.policy_key() +
                       "' in the PKI manifest");
    if (cred.p12 && !cred.p12_password_file)
      throw InputError(sc.file.string() + ": credential '" + c +
                       "': the PKI manifest does not say where its PKCS#12 password is");
  }
  if (m.credential(sc.control_credential).expected.at(sc.policy_key()) != Expectation::kAccepted)
    throw InputError(sc.file.string() + ": control credential '" + sc.control_credential +
                     "' is not expected to get in, so it cannot be a positive control");
  std::vector<Check> plan;
  std::map<std::string, agent::ClientCredential> loaded;  // each credential parsed once
  auto add = [&](const std::string& beacon_label, const agent::Operation& op,
                 const std::string& path, const std::string& cname,
                 std::vector<std::string> beacon_names, bool boundary,
                 std::optional<std::size_t> control_index) {
    const pki::Credential& cred = m.credential(cname);
    Check ch;
    ch.op = &op;
    ch.beacon_names = std::move(beacon_names);
    ch.boundary = boundary;
    ch.record.scenario = sc.id;
    ch.record.beacon = beacon_label;
    ch.record.operation = op.id;
    ch.record.credential = cname;
    ch.record.entry_path = path;
    ch.record.check_id =
        (boundary ? "boundary" : beacon_label) + "/" + op.id + "/" + cname + "/" + path;
    ch.record.expected = cred.expected.at(sc.policy_key());
    ch.options.trust.ca_file = m.server_ca;
    ch.options.credential = loaded.try_emplace(cname, credential_for(cred)).first->second;
    ch.options.known_digests = digests;
    if (cname != sc.control_credential && ch.record.expected == Expectation::kRejected)
      ch.control = control_index;
    ch.skip = unpresentable(cred);
    plan.push_back(std::move(ch));
  };
  for (const auto& b : sc.beacons)
    for (const auto& op_id : sc.operations)
      for (const auto& path : sc.entry_paths) {
        const std::size_t control = plan.size();
        for (const auto& c : creds)
          add(b.name, catalogue.get(op_id), path, c, {b.name}, false, control);
      }
  if (sc.boundary) {
    const std::vector<std::string>& list = sc.boundary->failover;
    for (const auto& op_id : sc.boundary->operations) {
      const std::size_t control = plan.size();
      add("boundary", catalogue.get(op_id), "https", sc.control_credential, list, true,
          std::nullopt);
      for (const auto& c : sc.boundary->credentials)
        if (c != sc.control_credential)
          add("boundary", catalogue.get(op_id), "https", c, list, true, control);
    }
  }
  if (plan.empty()) throw InputError(sc.file.string() + ": the scenario expands to no check");
  return plan;
}

}  // namespace

json plan(const RunOptions& o) {
  const Prepared p = prepare(o);
  char tmpl[] = "/tmp/mtls-plan-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw HarnessError("mkdtemp failed");
  const fs::path tmp = tmpl;
  json out = json::array();
  try {
    pki::init({.out = tmp / "pki", .key_type = pki::KeyType::kEcdsaP256});
    const pki::Manifest m = pki::load_manifest(tmp / "pki");
    for (const auto& sc : p.scenarios)
      for (const auto& ch : expand(sc, m, p.catalogue, p.digests))
        out.push_back({{"check_id", ch.record.check_id},
                       {"scenario", sc.id},
                       {"file", sc.file.string()},
                       {"beacon", ch.record.beacon},
                       {"operation", ch.record.operation},
                       {"credential", ch.record.credential},
                       {"entry_path", ch.record.entry_path},
                       {"expected", std::string(to_string(*ch.record.expected))},
                       {"skipped", ch.skip ? json(*ch.skip) : json(nullptr)}});
  } catch (...) {
    fs::remove_all(tmp);
    throw;
  }
  fs::remove_all(tmp);
  return out;
}

RunResult run(const RunOptions& o) {
  if (o.jobs == 0 || o.jobs > 256)
    throw InputError("--jobs " + std::to_string(o.jobs) + ": must be 1..256");
  const Prepared prep = prepare(o);  // every scenario validated before anything starts
  std::error_code ec;
  const bool out_existed = fs::exists(o.out, ec);
  fs::create_directories(o.out, ec);
  if (ec) throw InputError("--out " + o.out.string() + ": cannot create (" + ec.message() + ")");
  const fs::path work = fs::absolute(o.out / "work");  // beacon configs need absolute paths
  fs::remove_all(work, ec);
  fs::create_directories(work, ec);
  if (ec) throw InputError(work.string() + ": cannot create (" + ec.message() + ")");
  const fs::path pki_dir = work / "pki";
  pki::init({.out = pki_dir, .key_type = pki::KeyType::kEcdsaP256, .force = true});
  const pki::Manifest manifest = pki::load_manifest(pki_dir);
  // Expand every scenario once. The manifest is needed to check credential names: on bad
  // input, undo what this run wrote.
  std::vector<std::vector<Check>> plans;
  try {
    for (const auto& sc : prep.scenarios)
      plans.push_back(expand(sc, manifest, prep.catalogue, prep.digests));
  } catch (const InputError&) {
    if (!out_existed)
      fs::remove_all(o.out, ec);
    else
      fs::remove_all(work, ec);
    throw;
  }

  json meta = {{"tool", "mtls-harness"},
               {"version", harness_version()},
               {"started", utc_now()},
               {"jobs", o.jobs},
               {"scenarios", json::array()},
               {"pki",
                {{"key_type", manifest.key_type},
                 {"client_ca_sha256", sha256_file_hex(manifest.client_ca)},
                 {"server_ca_sha256", sha256_file_hex(manifest.server_ca)}}},
               {"beacons", json::array()}};
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  meta["host"] = host;
  meta["git_commit"] = git_commit();

  const fs::path results_file = o.out / "results.jsonl";
  report::ResultStream stream(results_file);
  std::vector<ResultRecord> all;
  json findings = json::array();
  int selftest_missed = 0, warn_count = 0;
  std::size_t total = 0;
  for (const auto& plan : plans) total += plan.size();
  Progress progress(o.progress, o.progress_is_terminal, total);
  const agent::Operation& select = prep.catalogue.get("select-beacon");

  for (std::size_t si = 0; si < prep.scenarios.size(); ++si) {
    const Scenario& sc = prep.scenarios[si];
    meta["scenarios"].push_back(
        {{"id", sc.id}, {"file", sc.file.string()}, {"sha256", sha256_file_hex(sc.file)}});
    // Start the simulated beacons; external ones are used as they are.
    std::vector<std::unique_ptr<BeaconProcess>> processes;
    std::map<std::string, std::string> urls;
    std::map<std::string, BeaconProcess*> by_url;
    std::map<std::string, std::string> name_of_url;
    for (const auto& b : sc.beacons) {
      if (b.simulated) {
        const std::string identity = manifest.beacons.contains(b.name) ? b.name : "beacon-a";
        const fs::path dir = work / sc.name / b.name;
        processes.push_back(std::make_unique<BeaconProcess>(
            o.harness_executable, b.name,
            beacon_config_yaml(*b.simulated, identity, pki_dir, dir / "store"), dir));
        urls[b.name] = processes.back()->url();
        by_url[urls[b.name]] = processes.back().get();
      } else {
        urls[b.name] = *b.url;
      }
      name_of_url[urls[b.name]] = b.name;
      meta["beacons"].push_back(
          {{"scenario", sc.id},
           {"name", b.name},
           {"kind", b.simulated ? "simulated" : "external"},
           {"url", urls[b.name]},
           {"settings", b.simulated ? json(YAML::Dump(*b.simulated)) : json(nullptr)}});
    }

    std::vector<Check>& plan = plans[si];
    for (auto& ch : plan)
      for (const auto& name : ch.beacon_names) ch.beacons.push_back({urls.at(name), 1});
    std::vector<std::optional<ResultRecord>> done(plan.size());
    auto finish = [&](std::size_t i, ResultRecord got) {
      Check& ch = plan[i];
      ResultRecord r = ch.record;
      if (ch.skip) {
        r.verdict = Verdict::kSkipped;
        r.reason = *ch.skip;
      } else {
        r.outcome = got.outcome;
        r.evidence = got.evidence;
        if (ch.boundary) {
          const std::string used =
              r.evidence.selection.is_object() ? r.evidence.selection.value("used", "") : "";
          r.beacon = name_of_url.count(used) ? name_of_url[used] : used;
        }
        std::optional<Outcome> control;
        if (ch.control) {
          r.control_id = plan[*ch.control].record.check_id;
          if (done[*ch.control]) control = done[*ch.control]->outcome;
          if (done[*ch.control] && done[*ch.control]->verdict == Verdict::kSkipped) control.reset();
        }
        const Judgement j = judge(*r.expected, r.outcome, control);
        r.verdict = j.verdict;
        r.severity = j.severity;
        r.reason = j.reason + "; agent: " + got.reason;
      }
      done[i] = r;
      stream.append(r);
      progress.add(r);
    };
    // Positive checks first (every negative check's control among them), then the rest.
    for (int phase = 0; phase < 2; ++phase) {
      std::vector<std::size_t> indices;
      std::vector<std::unique_ptr<agent::Device>> devices;
      for (std::size_t i = 0; i < plan.size(); ++i) {
        const bool positive = plan[i].record.expected == Expectation::kAccepted;
        if (positive != (phase == 0)) continue;
        if (plan[i].skip) {
          finish(i, {});
          continue;
        }
        indices.push_back(i);
        devices.push_back(std::make_unique<agent::Device>(
            agent::DevicePlan{.operations = {plan[i].op},
                              .select = plan[i].boundary ? &select : nullptr,
                              .beacons = plan[i].beacons,
                              .options = plan[i].options}));
      }
      agent::drive(devices, o.jobs,
                   [&](std::size_t k) { finish(indices[k], devices[k]->results().front()); });
    }

    // Stop the beacons (they drain and flush their logs), then attach their side of each check.
    for (std::size_t bi = 0; bi < processes.size(); ++bi) {
      const std::string status = processes[bi]->stop();
      for (auto& mb : meta["beacons"])
        if (mb["scenario"] == sc.id && mb["url"] == processes[bi]->url()) mb["exit"] = status;
      if (status != "exit 0")
        throw HarnessError("a beacon of " + sc.id + " ended with " + status +
                           " (stderr: " + tail_of(processes[bi]->stderr_log()) + ")");
    }
    std::vector<ResultRecord> records;
    for (auto& r : done) {
      if (r->evidence.local_port) {
        const std::string used = r->evidence.selection.is_object()
                                     ? r->evidence.selection.value("used", "")
                                     : (urls.count(r->beacon) ? urls[r->beacon] : "");
        if (by_url.count(used))
          r->evidence.beacon_log = beacon_evidence(by_url[used]->log(), *r->evidence.local_port);
      }
      records.push_back(*r);
    }

    // Findings: FAILs grouped by (severity, kind, beacon, credential, entry path); WARN for a
    // revoked certificate let in where the policy does not demand revocation checks.
    struct Group {
      json finding;
      std::vector<std::size_t> members;
    };
    std::map<std::string, Group> groups;
    for (std::size_t i = 0; i < records.size(); ++i) {
      const ResultRecord& r = records[i];
      const auto& cred = manifest.credential(r.credential);
      std::string severity;
      if (r.verdict == Verdict::kFail && r.severity)
        severity = std::string(to_string(*r.severity));
      else if (r.verdict == Verdict::kPass && r.outcome == Outcome::kAccepted &&
               cred.defect == "revocation" && sc.revocation == "off")
        severity = "WARN";
      if (severity.empty()) continue;
      const std::string kind = plan[i].boundary ? "boundary-leak" : "check";
      const std::string key =
          severity + "|" + kind + "|" + r.beacon + "|" + r.credential + "|" + r.entry_path;
      Group& g = groups[key];
      if (g.finding.is_null()) {
        std::string title;
        if (kind == "boundary-leak")
          title = "boundary leak: a device with credential '" + r.credential + "' reached " +
                  r.beacon + " through the failover list and got in";
        else if (severity == "EXPOSURE")
          title = r.beacon + " lets in a device with credential '" + r.credential + "' (" +
                  cred.description + ")";
        else if (severity == "LOCKOUT")
          title = r.beacon + " refuses the legitimate credential '" + r.credential + "'";
        else
          title = "revoked certificate accepted by " + r.beacon;
        g.finding = {{"severity", severity},
                     {"kind", kind},
                     {"scenario", sc.id},
                     {"beacon", r.beacon},
                     {"credential", r.credential},
                     {"entry_path", r.entry_path},
                     {"operations", json::array()},
                     {"check_ids", json::array()},
                     {"title", title},
                     {"remediation", remediation(severity, kind, r.beacon, cred.defect)},
                     {"expected", false}};
      }
      g.finding["operations"].push_back(r.operation);
      g.finding["check_ids"].push_back(r.check_id);
      g.members.push_back(i);
    }
    // Self-test scenarios: the declared findings, exactly.
    if (sc.expected_findings) {
      for (const auto& e : *sc.expected_findings) {
        std::vector<std::string> ops = e.operations;
        if (ops.empty())
          ops = e.kind == "boundary-leak" && sc.boundary ? sc.boundary->operations : sc.operations;
        std::sort(ops.begin(), ops.end());
        bool matched = false;
        for (auto& [key, g] : groups) {
          std::vector<std::string> got = g.finding["operations"].get<std::vector<std::string>>();
          std::sort(got.begin(), got.end());
          if (g.finding["severity"] == e.severity && g.finding["kind"] == e.kind &&
              g.finding["beacon"] == e.beacon && g.finding["credential"] == e.credential &&
              got == ops && !g.finding["expected"].get<bool>()) {
            g.finding["expected"] = true;
            for (auto m : g.members) records[m].expected_finding = true;
            matched = true;
            break;
          }
        }
        if (!matched) {
          ++selftest_missed;
          findings.push_back(
              {{"severity", "SELFTEST"},
               {"kind", "self-test-miss"},
               {"scenario", sc.id},
               {"beacon", e.beacon},
               {"credential", e.credential},
               {"operations", ops},
               {"title", "self-test: the harness did not report the declared " + e.severity + " (" +
                             e.kind + ") for credential '" + e.credential + "' on " + e.beacon},
               {"remediation",
                "the harness missed what this scenario proves it catches: treat "
                "every other result of this run with suspicion"},
               {"expected", false}});
        }
      }
      for (auto& [key, g] : groups)  // in a self-test, an undeclared WARN is a miss too
        if (g.finding["severity"] == "WARN" && !g.finding["expected"].get<bool>())
          ++selftest_missed;
    }
    for (auto& [key, g] : groups) {
      if (g.finding["severity"] == "WARN") ++warn_count;
      findings.push_back(g.finding);
    }
    all.insert(all.end(), records.begin(), records.end());
  }

  meta["finished"] = utc_now();
  report::Summary summary = report::summarize(all);
  summary.selftest_missed = selftest_missed;
  summary.warn = warn_count;
  // Most severe first: EXPOSURE, LOCKOUT, SELFTEST, WARN.
  auto rank = [](const json& f) {
    const std::string s = f["severity"];
    return s == "EXPOSURE" ? 0 : s == "LOCKOUT" ? 1 : s == "SELFTEST" ? 2 : 3;
  };
  std::stable_sort(findings.begin(), findings.end(),
                   [&](const json& a, const json& b) { return rank(a) < rank(b); });
  report::write_results_jsonl(results_file, all);
  const fs::path report_file = o.out / "report.json";
  report::write_all(o.out, report::make_document(meta, all, summary, findings));
  return {summary, report_file, results_file, findings};
}

}  // namespace mtls::engine
