// engine.cpp: see engine.hpp.
#include "engine/engine.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <map>
#include <ostream>
#include <sstream>

#include "agent/agent.hpp"
#include "beacon/content.hpp"
#include "core/files.hpp"
#include "core/home.hpp"
#include "core/process.hpp"
#include "core/timefmt.hpp"
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

std::string tail_of(const fs::path& file, std::size_t max_bytes = 2000) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return "(no log)";
  std::string s = read_file(file);
  return s.size() > max_bytes ? "..." + s.substr(s.size() - max_bytes) : s;
}

// A simulated beacon started as `mtls-harness beacon ...`; stopped (drained) when destroyed.
class BeaconProcess {
 public:
  BeaconProcess(const fs::path& exe, const BeaconSpec& spec, const fs::path& pki,
                const fs::path& work)
      : name_(spec.name),
        log_(work / (spec.name + ".log.jsonl")),
        stderr_(work / (spec.name + ".stderr.log")) {
    std::vector<std::string> argv = {exe.string(),    "beacon",
                                     "--pki",         pki.string(),
                                     "--name",        spec.name,
                                     "--listen",      "127.0.0.1:0",
                                     "--client-auth", spec.client_auth,
                                     "--content",     (fixtures_dir() / "content").string(),
                                     "--ready-file",  (work / (spec.name + ".ready.json")).string(),
                                     "--log",         log_.string()};
    child_.emplace(argv, stderr_);
    bool timed_out = false;
    auto line = child_->read_line(std::chrono::seconds(30), &timed_out);
    json ready;
    if (line) ready = json::parse(*line, nullptr, false);
    if (!line || ready.is_discarded() || ready.value("event", "") != "ready") {
      std::string status = timed_out ? "no ready signal within 30 s" : child_->stop();
      throw HarnessError("beacon " + name_ + " did not start (" + status + ")\n  command: " +
                         child_->command_line() + "\n  stderr: " + tail_of(stderr_));
    }
    const json& l = ready["listeners"][0];
    url_ =
        "https://" + l["address"].get<std::string>() + ":" + std::to_string(l["port"].get<int>());
  }

  const std::string& url() const { return url_; }
  const fs::path& log() const { return log_; }
  const fs::path& stderr_log() const { return stderr_; }
  // SIGTERM: the beacon drains its connections and writes its last log records.
  std::string stop() { return child_->stop(); }

 private:
  std::string name_, url_;
  fs::path log_, stderr_;
  std::optional<ChildProcess> child_;
};

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
  return out;
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

struct Check {
  ResultRecord record;
  std::string url;
  agent::AgentOptions agent;
  const agent::Operation* op;
  std::size_t beacon_index;
  std::optional<std::size_t> control;  // index of its positive control in the plan
};

}  // namespace

RunResult run(const RunOptions& o) {
  // Validate everything before starting anything.
  std::vector<Scenario> scenarios;
  for (const auto& f : find_scenarios(o.scenarios)) scenarios.push_back(load_scenario(f));
  const agent::Catalogue catalogue = agent::Catalogue::load_default();
  for (const auto& s : scenarios)
    for (const auto& op : s.operations) (void)catalogue.get(op);
  // What our beacons serve, and so the SHA-256 the agent must find in each download.
  const beacon::ContentStore content(fixtures_dir() / "content");
  std::map<std::string, std::string> digests;
  for (const auto& id : catalogue.ids())
    for (const auto& r : catalogue.get(id).requests)
      if (r.content) {
        auto d = content.digest(*r.content);
        if (!d)
          throw InputError("fixtures/operations.yaml: operation " + id + ": content " + *r.content +
                           " is not in fixtures/content");
        digests[*r.content] = *d;
      }

  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw InputError("--out " + o.out.string() + ": cannot create (" + ec.message() + ")");
  const fs::path work = o.out / "work";
  fs::remove_all(work, ec);
  fs::create_directories(work, ec);
  if (ec) throw InputError(work.string() + ": cannot create (" + ec.message() + ")");
  const fs::path pki_dir = work / "pki";
  pki::init({.out = pki_dir, .key_type = pki::KeyType::kEcdsaP256, .force = true});
  const pki::Manifest manifest = pki::load_manifest(pki_dir);

  json meta = {{"tool", "mtls-harness"},
               {"version", harness_version()},
               {"started", utc_now()},
               {"scenarios", json::array()},
               {"pki",
                {{"key_type", manifest.key_type},
                 {"client_ca_sha256", sha256_file_hex(manifest.client_ca)},
                 {"server_ca_sha256", sha256_file_hex(manifest.server_ca)}}},
               {"beacons", json::array()}};
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  meta["host"] = host;

  const fs::path results_file = o.out / "results.jsonl";
  report::ResultStream stream(results_file);
  std::vector<ResultRecord> all;

  for (const Scenario& sc : scenarios) {
    meta["scenarios"].push_back(
        {{"id", sc.id}, {"file", sc.file.string()}, {"sha256", sha256_file_hex(sc.file)}});
    for (const auto& c : sc.credentials) {
      const auto& cred = manifest.credential(c);
      if (cred.p12 && !cred.p12_password_file)
        throw InputError(sc.file.string() + ": credential '" + c +
                         "': the PKI manifest does not say where its PKCS#12 password is");
      if (!cred.expected.contains(sc.policy_key()))
        throw InputError(sc.file.string() + ": credential '" + c +
                         "' has no expectation for policy '" + sc.policy_key() +
                         "' in the PKI manifest");
    }
    std::vector<std::unique_ptr<BeaconProcess>> beacons;
    for (const auto& b : sc.beacons) {
      beacons.push_back(std::make_unique<BeaconProcess>(o.harness_executable, b, pki_dir, work));
      meta["beacons"].push_back({{"scenario", sc.id},
                                 {"name", b.name},
                                 {"kind", "simulated"},
                                 {"client_auth", b.client_auth},
                                 {"url", beacons.back()->url()}});
    }

    // Plan: per beacon x operation x entry path, the control first, then the other credentials.
    std::vector<Check> plan;
    for (std::size_t bi = 0; bi < sc.beacons.size(); ++bi)
      for (const auto& op_id : sc.operations)
        for (const auto& path : sc.entry_paths) {
          const agent::Operation& op = catalogue.get(op_id);
          std::vector<std::string> order = {sc.control_credential};
          for (const auto& c : sc.credentials)
            if (c != sc.control_credential) order.push_back(c);
          const std::size_t control_index = plan.size();
          for (const auto& cname : order) {
            const pki::Credential& cred = manifest.credential(cname);
            Check ch;
            ch.op = &op;
            ch.beacon_index = bi;
            ch.record.scenario = sc.id;
            ch.record.beacon = sc.beacons[bi].name;
            ch.record.operation = op.id;
            ch.record.credential = cname;
            ch.record.entry_path = path;
            ch.record.check_id = ch.record.beacon + "/" + op.id + "/" + cname + "/" + path;
            ch.record.expected = cred.expected.at(sc.policy_key());
            ch.url = beacons[bi]->url();
            ch.agent.trust.ca_file = manifest.server_ca;
            ch.agent.credential = credential_for(cred);
            ch.agent.known_digests = digests;
            // Every negative check is paired with the positive control; positives stand alone.
            if (cname != sc.control_credential && ch.record.expected == Expectation::kRejected)
              ch.control = control_index;
            plan.push_back(std::move(ch));
          }
        }

    std::vector<ResultRecord> done;
    for (std::size_t i = 0; i < plan.size(); ++i) {
      Check& ch = plan[i];
      ResultRecord got = agent::run_operation(*ch.op, ch.url, ch.agent);
      ResultRecord r = ch.record;
      r.outcome = got.outcome;
      r.evidence = got.evidence;
      std::optional<Outcome> control;
      if (ch.control) {
        r.control_id = plan[*ch.control].record.check_id;
        control = done[*ch.control].outcome;
      }
      const Judgement j = judge(*r.expected, r.outcome, control);
      r.verdict = j.verdict;
      r.severity = j.severity;
      r.reason = j.reason + "; agent: " + got.reason;
      stream.append(r);
      if (o.progress)
        *o.progress << "[" << (i + 1) << "/" << plan.size() << "] " << r.check_id << "  "
                    << to_string(r.outcome) << "  " << to_string(*r.verdict) << "\n"
                    << std::flush;
      done.push_back(std::move(r));
    }

    // Stop the beacons (they drain and flush their logs), then attach their side of each check.
    // A beacon that does not exit 0 crashed or misbehaved: its evidence cannot be trusted.
    for (std::size_t bi = 0; bi < beacons.size(); ++bi) {
      const std::string status = beacons[bi]->stop();
      for (auto& m : meta["beacons"])
        if (m["scenario"] == sc.id && m["name"] == sc.beacons[bi].name) m["exit"] = status;
      if (status != "exit 0")
        throw HarnessError("beacon " + sc.beacons[bi].name + " ended with " + status +
                           " (stderr: " + tail_of(beacons[bi]->stderr_log()) + ")");
    }
    for (std::size_t i = 0; i < done.size(); ++i)
      if (done[i].evidence.local_port)
        done[i].evidence.beacon_log =
            beacon_evidence(beacons[plan[i].beacon_index]->log(), *done[i].evidence.local_port);
    all.insert(all.end(), done.begin(), done.end());
  }

  meta["finished"] = utc_now();
  const report::Summary summary = report::summarize(all);
  report::write_results_jsonl(results_file, all);
  const fs::path report_file = o.out / "report.json";
  report::write_report_json(report_file, meta, all, summary);
  return {summary, report_file, results_file};
}

}  // namespace mtls::engine
