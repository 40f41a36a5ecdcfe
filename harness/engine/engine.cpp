// engine.cpp: see engine.hpp.
#include "engine/engine.hpp"

#include <botan/pkix_types.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <thread>

#include "agent/agent.hpp"
#include "agent/botan_client.hpp"
#include "agent/device.hpp"
#include "agent/fleet.hpp"
#include "agent/side_door.hpp"
#include "agent/url.hpp"
#include "beacon/config.hpp"
#include "beacon/content.hpp"
#include "core/console.hpp"
#include "core/files.hpp"
#include "core/home.hpp"
#include "core/process.hpp"
#include "core/timefmt.hpp"
#include "engine/beacon_process.hpp"
#include "engine/entry_paths.hpp"
#include "engine/findings.hpp"
#include "engine/prepared.hpp"
#include "engine/scenario.hpp"
#include "engine/verdict.hpp"
#include "pki/manifest.hpp"
#include "pki/pem.hpp"
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

// A beacon's evidence log, read once after the beacon stopped, indexed by client port. A port
// can serve several connections in one run (a port the beacon closed first is free again at
// once): the connection a check made is the one that ended closest to when the check finished.
class BeaconLog {
 public:
  explicit BeaconLog(const fs::path& log) {
    std::error_code ec;
    if (!fs::exists(log, ec)) return;
    std::istringstream in(read_file(log));
    for (std::string line; std::getline(in, line);) {
      json rec = json::parse(line, nullptr, false);
      if (rec.is_discarded() || !rec.is_object()) continue;
      const std::string event = rec.value("event", "");
      if (event == "connection") connections_[rec.value("peer_port", -1L)].push_back(rec);
      if (event == "request") requests_[rec.value("connection", -1L)].push_back(rec);
    }
  }

  json evidence(long local_port, std::chrono::system_clock::time_point finished) const {
    const auto it = connections_.find(local_port);
    if (it == connections_.end()) return nullptr;
    const json* best = nullptr;
    double best_gap = 0;
    for (const json& c : it->second) {
      const double gap = std::abs(std::chrono::duration<double>(ended(c) - finished).count());
      if (best == nullptr || gap < best_gap) best = &c, best_gap = gap;
    }
    const auto req = requests_.find(best->value("connection", -2L));
    return {{"connection", *best},
            {"requests", req == requests_.end() ? json::array() : json(req->second)}};
  }

 private:
  // A record's "ts" ("2026-11-26T22:11:18.170Z": when the connection ended).
  static std::chrono::system_clock::time_point ended(const json& rec) {
    const std::string ts = rec.value("ts", "");
    std::tm tm{};
    const char* rest = ::strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    auto t = std::chrono::system_clock::from_time_t(::timegm(&tm));
    if (rest != nullptr && *rest == '.') t += std::chrono::milliseconds(std::atoi(rest + 1));
    return t;
  }

  std::map<long, std::vector<json>> connections_;  // client port -> its connections
  std::map<long, std::vector<json>> requests_;     // connection id -> its requests
};

// Whether a self-test scenario declares the finding a FAILed record belongs to (its severity,
// kind, beacon, credential, door and operation), so its progress line can say so at once.
bool declares(const Scenario& sc, const ResultRecord& r, bool boundary) {
  if (!sc.expected_findings || !r.severity) return false;
  for (const auto& e : *sc.expected_findings) {
    const std::vector<std::string>& ops = !e.operations.empty() ? e.operations
                                          : e.kind == "boundary-leak" && sc.boundary
                                              ? sc.boundary->operations
                                              : sc.operations;
    if (e.severity == to_string(*r.severity) && e.kind == (boundary ? "boundary-leak" : "check") &&
        e.beacon == r.beacon && e.credential == r.credential && e.entry_path == r.entry_path &&
        std::find(ops.begin(), ops.end(), r.operation) != ops.end())
      return true;
  }
  return false;
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

// Credentials curl/OpenSSL refuse to present (an RSA-1024 key below security level 2; a
// certificate with another device's key): the protocol-level Botan client presents them.
bool needs_botan_client(const pki::Credential& c) {
  return c.defect == "key-strength" || c.defect == "key-match";
}

enum class Client { kCurl, kSideDoor, kBotan };

struct Check {
  ResultRecord record;
  const agent::Operation* op = nullptr;
  std::vector<std::string> beacon_names;     // one, or the boundary's failover list
  std::vector<agent::BeaconChoice> beacons;  // their URLs, once the beacons run
  bool boundary = false;
  Client client = Client::kCurl;
  agent::AgentOptions options;
  std::optional<std::size_t> control;
  std::optional<std::string> skip;
};

// Progress: a one-line bar on a terminal; elsewhere (CI logs) one timestamped line per check.
class Progress {
 public:
  Progress(std::ostream* out, bool tty, bool color, std::size_t total)
      : out_(out), tty_(tty), color_(color), total_(total), bar_(out, tty, total, "checks") {}
  // `declared`: a FAIL the scenario (a self-test) declares: the line says so when it is printed.
  void add(const ResultRecord& r, bool declared) {
    ++done_;
    const std::string verdict(to_string(r.verdict.value_or(Verdict::kInconclusive)));
    ++counts_[verdict];
    if (!out_) return;
    if (!tty_) {
      *out_ << format_utc_ms(std::chrono::system_clock::now()) << " [" << done_ << "/" << total_
            << "] " << r.check_id << "  "
            << (r.verdict == Verdict::kSkipped ? "SKIPPED" : std::string(to_string(r.outcome)))
            << "  " << paint(verdict, color_)
            << (declared ? " (declared by the self-test: caught as expected)" : "") << "\n"
            << std::flush;
      return;
    }
    bar_.update(done_, paint(std::to_string(counts_["PASS"]) + " PASS", false) + "  " +
                           std::to_string(counts_["FAIL"]) + " " + paint("FAIL", color_) + "  " +
                           std::to_string(counts_["INCONCLUSIVE"]) + " " +
                           paint("INCONCLUSIVE", color_) + "  " +
                           std::to_string(counts_["SKIPPED"]) + " SKIPPED");
  }

 private:
  std::ostream* out_;
  bool tty_, color_;
  std::size_t total_, done_ = 0;
  std::map<std::string, std::size_t> counts_;
  ProgressBar bar_;
};

// The certificates of a PEM file as the report's cover shows them: SHA-256 fingerprint (of the
// DER), subject, issuer, not-after. Empty when the file cannot be read (the run goes on).
json certificates_summary(const fs::path& pem) {
  json out = json::array();
  try {
    for (const auto& c : pki::load_certificates(pem))
      out.push_back({{"sha256_fingerprint", pki::fingerprint_sha256(c)},
                     {"subject", c.subject_dn().to_string()},
                     {"issuer", c.issuer_dn().to_string()},
                     {"not_after", c.not_after().readable_string()}});
  } catch (const std::exception&) {
  }
  return out;
}

json certificate_summary(const fs::path& pem) {
  json all = certificates_summary(pem);
  return all.empty() ? json(nullptr) : all.front();
}

// Who ran the run, for the report's cover: the login name (not a secret), else the uid.
std::string run_by() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) return pw->pw_name;
  return "uid " + std::to_string(::geteuid());
}

}  // namespace

// A simulated beacon's settings, checked now as the beacon will read them (a typo is an error that
// names the scenario, not a beacon that silently ignores it).
void check_simulated_settings(const Scenario& sc) {
  for (const auto& b : sc.beacons) {
    if (!b.simulated) continue;
    char tmpl[] = "/tmp/mtls-settings-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd < 0) throw HarnessError("mkstemp failed");
    ::close(fd);
    const fs::path tmp = tmpl;
    try {
      write_file_atomic(tmp, beacon_config_yaml(*b.simulated, b.name, b.name, "/", "/"));
      beacon::load_beacon_config(tmp);
      fs::remove(tmp);
    } catch (const InputError& e) {
      fs::remove(tmp);
      const std::string what = e.what();
      const auto at = what.find("field '");
      throw InputError(
          sc.file.string() + ":" + std::to_string(b.line) + ": beacons '" + b.name +
          "' simulated settings: " + (at == std::string::npos ? what : what.substr(at)));
    }
  }
}

Prepared prepare(const RunOptions& o) {
  Prepared p{{}, agent::Catalogue::load_default(), {}, EntryPaths::load_default(), {}, {}};
  p.vantage = o.vantage;
  p.source_address = o.source_address;
  for (const auto& f : find_scenarios(o.scenarios)) {
    p.scenarios.push_back(load_scenario(f, p.catalogue.ids()));
    check_simulated_settings(p.scenarios.back());
  }
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

namespace {

// A simulated beacon's first listener (its settings, when it has no listener list).
YAML::Node first_listener(const YAML::Node& sim) {
  return sim["listeners"] && sim["listeners"].IsSequence() && sim["listeners"].size() > 0
             ? sim["listeners"][0]
             : sim;
}

// The names the `sni` door tries on a beacon's port: those the scenario or probe gives, a
// simulated beacon's virtual hosts, and a name nobody configured; never the front door's own.
std::vector<std::string> tls_names_of(const BeaconSpec& b) {
  std::vector<std::string> names = b.tls_names;
  if (b.open_server_name) names.push_back(*b.open_server_name);
  if (b.simulated) {
    if (const YAML::Node v = first_listener(*b.simulated)["virtual_hosts"]; v && v.IsSequence())
      for (const auto& h : v)
        if (h["name"]) names.push_back(h["name"].as<std::string>());
  }
  names.push_back(kUnknownTlsName);
  const auto front = b.url ? agent::parse_url(*b.url) : std::nullopt;
  std::vector<std::string> out;
  for (auto& n : names) {
    for (char& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if ((!front || n != front->host) && std::find(out.begin(), out.end(), n) == out.end())
      out.push_back(n);
  }
  return out;
}

// Expands one scenario into checks (beacons by name; their URLs are known once they run).
std::vector<Check> expand(const Scenario& sc, const pki::Manifest& m, const Prepared& prep) {
  const agent::Catalogue& catalogue = prep.catalogue;
  const std::map<std::string, std::string>& digests = prep.digests;
  std::vector<std::string> creds = sc.credentials;
  if (sc.all_credentials) {
    creds = {sc.control_credential};
    for (const auto& [name, _] : m.credentials)
      if (name != sc.control_credential) creds.push_back(name);
  }
  std::vector<std::string> all_creds = creds;
  all_creds.insert(all_creds.end(), sc.side_door_credentials.begin(),
                   sc.side_door_credentials.end());
  for (const auto& c : all_creds) {
    const auto& cred = m.credential(c);
    if (!cred.expected.contains(sc.policy_key()))
      throw InputError(sc.file.string() + ": credential '" + c +
                       "' has no expectation for policy '" + sc.policy_key() +
                       "' in the PKI manifest");
    if (cred.p12 && !cred.p12_password_file)
      throw InputError(sc.file.string() + ": credential '" + c +
                       "': the PKI manifest does not say where its PKCS#12 password is");
  }
  for (const auto& c : sc.side_door_credentials)
    if (m.credential(c).expected.at(sc.policy_key()) != Expectation::kRejected)
      throw InputError(sc.file.string() + ": side_door_credentials: '" + c +
                       "' is expected to get in, so it cannot test a side door");
  if (m.credential(sc.control_credential).expected.at(sc.policy_key()) != Expectation::kAccepted)
    throw InputError(sc.file.string() + ": control credential '" + sc.control_credential +
                     "' is not expected to get in, so it cannot be a positive control");
  std::vector<Check> plan;
  std::map<std::string, agent::ClientCredential> loaded;  // each credential parsed once
  // The distributed certificate's public facts, for header:<name> doors that name it.
  std::map<std::string, std::string> facts;
  if (auto it = prep.credentials.find(sc.control_credential);
      it != prep.credentials.end() && it->second.cert)
    facts = agent::certificate_facts(*it->second.cert);
  else if (const auto& cc = m.credential(sc.control_credential); cc.cert)
    facts = agent::certificate_facts(*cc.cert);
  // A rotation stage's beacon: the devices that must keep working there (null otherwise).
  auto must_work_of = [&](const std::string& beacon) -> const std::vector<std::string>* {
    for (const auto& b : sc.beacons)
      if (b.name == beacon && b.must_work) return &*b.must_work;
    return nullptr;
  };
  auto add = [&](const std::string& beacon_label, const agent::Operation& op,
                 const std::string& path, const std::string& cname,
                 std::vector<std::string> beacon_names, bool boundary) {
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
    ch.record.defect = cred.defect;
    ch.record.credential_description = cred.description;
    ch.record.check_id =
        (boundary ? "boundary" : beacon_label) + "/" + op.id + "/" + cname + "/" + path;
    ch.record.expected =
        path == "https" ? cred.expected.at(sc.policy_key()) : Expectation::kRejected;
    if (const auto* must = must_work_of(ch.beacon_names.front()); must && path == "https")
      ch.record.expected = std::find(must->begin(), must->end(), cname) != must->end()
                               ? Expectation::kAccepted
                               : Expectation::kRejected;  // a rotation stage: the user's demand
    ch.options.trust.ca_file = m.server_ca;
    if (prep.trust) ch.options.trust = *prep.trust;
    if (auto it = prep.credentials.find(cname); it != prep.credentials.end())
      ch.options.credential = it->second;  // the user's own credential (probe)
    else
      ch.options.credential = loaded.try_emplace(cname, credential_for(cred)).first->second;
    ch.options.known_digests = digests;
    ch.options.check_id = ch.record.check_id;
    if (const agent::RequestVariant* v = prep.variants.find(path)) {
      agent::RequestVariant filled = *v;
      filled.headers = agent::fill_headers(v->headers, facts);
      ch.options.entry.variant = std::move(filled);
    }
    ch.options.resolve = prep.resolve;
    ch.options.source_address = prep.source_address;
    if (!prep.vantage.empty()) ch.record.vantage = prep.vantage;
    if (prep.timeout) ch.options.total_timeout = *prep.timeout;
    ch.options.entry.path = path;
    if (const auto& sel = catalogue.get("select-beacon").requests; !sel.empty())
      ch.options.entry.warmup_path = sel.front().path_template;
    if (agent::needs_raw_client(path)) ch.client = Client::kSideDoor;
    if (needs_botan_client(cred)) {
      if (path == "https" && !boundary)
        ch.client = Client::kBotan;
      else
        ch.skip =
            "only the protocol-level client presents this credential, and it runs the front "
            "door (https) only";
    }
    plan.push_back(std::move(ch));
  };
  for (const auto& b : sc.beacons)
    for (const auto& op_id : sc.operations) {
      const agent::Operation& op = catalogue.get(op_id);
      const std::size_t first = plan.size();
      for (const auto& c : creds) add(b.name, op, "https", c, {b.name}, false);
      std::optional<std::size_t> control;
      for (std::size_t i = first; i < plan.size(); ++i)
        if (plan[i].record.credential == sc.control_credential) control = i;
      if (b.must_work) {  // a rotation stage: the first device of its must_work list
        control.reset();
        for (const auto& name : *b.must_work)
          for (std::size_t i = first; i < plan.size() && !control; ++i)
            if (plan[i].record.credential == name) control = i;
      }
      std::vector<std::string> methods;
      for (const auto& r : op.requests) methods.push_back(r.method);
      for (const auto& path : sc.entry_paths)
        if (path == "sni") {
          for (const auto& name : tls_names_of(b))
            for (const auto& c : sc.side_door_credentials)
              add(b.name, op, "sni:" + name, c, {b.name}, false);
        } else if (path == "path" || path == "header") {
          for (const agent::RequestVariant* v : prep.variants.for_door(path, methods))
            for (const auto& c : sc.side_door_credentials)
              add(b.name, op, path + ":" + v->name, c, {b.name}, false);
        } else if (path != "https") {
          for (const auto& c : sc.side_door_credentials) add(b.name, op, path, c, {b.name}, false);
        }
      for (std::size_t i = first; i < plan.size(); ++i)
        if (plan[i].record.expected == Expectation::kRejected) plan[i].control = control;
    }
  if (sc.boundary) {
    const std::vector<std::string>& list = sc.boundary->failover;
    for (const auto& op_id : sc.boundary->operations) {
      const std::size_t control = plan.size();
      add("boundary", catalogue.get(op_id), "https", sc.control_credential, list, true);
      for (const auto& c : sc.boundary->credentials)
        if (c != sc.control_credential) {
          add("boundary", catalogue.get(op_id), "https", c, list, true);
          if (plan.back().record.expected == Expectation::kRejected) plan.back().control = control;
        }
    }
  }
  if (plan.empty()) throw InputError(sc.file.string() + ": the scenario expands to no check");
  return plan;
}

// A negative check whose upload got a 2xx without the beacon's receipt: was anything stored? Each
// such upload is read back through the front door with the control's (valid) credential and
// compared with what this check sent (its payload names the check, so another check's upload
// cannot match). Recorded in evidence.upload_readback for the verdict.
void read_back_uploads(Evidence& e, const Check& control, const std::function<void()>& pace) {
  if (!e.steps.is_array() || control.beacons.empty()) return;
  for (const json& step : e.steps) {
    const long status =
        step.value("http_status", json(0)).is_number() ? step["http_status"].get<long>() : 0;
    if (step.value("method", "") != "PUT" || status < 200 || status > 299) continue;
    if (receipt_proves_stored(step)) continue;  // the beacon's receipt already proves it
    const std::string path = step.value("path", "");
    const std::string sent = step.value("payload_sha256", json("")).is_string()
                                 ? step["payload_sha256"].get<std::string>()
                                 : "";
    const agent::Operation read{.id = "read-back",
                                .description = "GET " + path + " (read back an upload)",
                                .requests = {{.method = "GET", .path_template = path}}};
    pace();
    const ResultRecord back =
        agent::run_operation(read, control.beacons.front().url, control.options);
    json entry = {{"path", path},
                  {"http_status",
                   back.evidence.http_status ? json(*back.evidence.http_status) : json(nullptr)},
                  {"stored", nullptr}};
    if (back.outcome == Outcome::kAccepted && back.evidence.body_sha256) {
      entry["stored"] = !sent.empty() && *back.evidence.body_sha256 == sent;
      entry["found"] = entry["stored"] == json(true)
                           ? "what this check sent"
                           : "other content (" +
                                 std::to_string(back.evidence.body_bytes.value_or(0)) + " bytes)";
    } else {
      entry["found"] = back.evidence.http_status
                           ? "HTTP " + std::to_string(*back.evidence.http_status)
                           : std::string(to_string(back.outcome));
    }
    if (!e.upload_readback.is_array()) e.upload_readback = json::array();
    e.upload_readback.push_back(entry);
  }
}

// The manifest with the run's extra (forged) credentials.
pki::Manifest with_extras(pki::Manifest m, const Prepared& prep) {
  for (const auto& [name, c] : prep.extra_credentials) m.credentials[name] = c;
  return m;
}

// This shard's share of a plan (--shard I/N): a check belongs to shard 1 + FNV-1a(scenario |
// check id) mod N, the same on every machine. A positive control also runs in every other shard
// that holds a check judged against it, as a copy (`shard_copy`: `report merge` keeps the owner's
// record). Control indexes are renumbered.
void keep_shard(std::vector<Check>& plan, const std::string& scenario, unsigned index,
                unsigned count) {
  if (count <= 1) return;
  auto shard_of = [&](const Check& ch) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : scenario + "|" + ch.record.check_id) h = (h ^ c) * 1099511628211ull;
    return static_cast<unsigned>(h % count) + 1;
  };
  std::vector<bool> keep(plan.size()), copy(plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) keep[i] = shard_of(plan[i]) == index;
  for (std::size_t i = 0; i < plan.size(); ++i)
    if (keep[i] && plan[i].control && !keep[*plan[i].control])
      keep[*plan[i].control] = copy[*plan[i].control] = true;
  std::vector<Check> kept;
  std::map<std::size_t, std::size_t> renumbered;
  for (std::size_t i = 0; i < plan.size(); ++i)
    if (keep[i]) {
      renumbered[i] = kept.size();
      kept.push_back(std::move(plan[i]));
      kept.back().record.shard_copy = copy[i];
    }
  for (auto& ch : kept)
    if (ch.control) ch.control = renumbered.at(*ch.control);
  plan = std::move(kept);
}

// The PKI beacon whose certificate a simulated beacon serves: its own name (a rotation stage's
// "<beacon>@<stage>" without the stage), else beacon-a's.
std::string identity_of(const pki::Manifest& m, const std::string& beacon) {
  const std::string name = beacon.substr(0, beacon.find('@'));
  return m.beacons.contains(name) ? name : "beacon-a";
}

// The certificates of `credentials` in one PEM file: what a rotation stage's beacon trusts.
fs::path write_trust_bundle(const pki::Manifest& m, const std::vector<std::string>& credentials,
                            const fs::path& file) {
  std::string pem;
  for (const auto& name : credentials) {
    const auto& c = m.credential(name);
    if (!c.cert)
      throw InputError("rotation: credential '" + name + "' has no certificate to trust");
    pem += pki::load_certificates(*c.cert).front().PEM_encode();
  }
  fs::create_directories(file.parent_path());
  write_file_atomic(file, pem);
  return file;
}

// WARN when the scenario's distributed certificate (its control credential's: the user's own in a
// probe) expires within `days`: every device holding it loses access that same day.
std::optional<Finding> expiry_warning(const Scenario& sc, const pki::Manifest& m,
                                      const Prepared& prep, int days) {
  std::optional<fs::path> cert;
  if (auto it = prep.credentials.find(sc.control_credential); it != prep.credentials.end())
    cert = it->second.cert;
  else if (m.credentials.contains(sc.control_credential))
    cert = m.credential(sc.control_credential).cert;
  if (!cert) return std::nullopt;
  std::optional<Botan::X509_Certificate> leaf;
  try {
    leaf = pki::load_certificates(*cert).front();
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const auto not_after = leaf->not_after().to_std_timepoint();
  const auto left =
      std::chrono::duration_cast<std::chrono::hours>(not_after - std::chrono::system_clock::now())
          .count() /
      24;
  if (left >= days) return std::nullopt;
  Finding f;
  f.severity = FindingSeverity::kWarn;
  f.kind = "expiry";
  f.scenario = sc.id;
  f.beacon = "all beacons";
  f.credential = sc.control_credential;
  f.title = "the distributed certificate '" + sc.control_credential + "' (" +
            leaf->subject_dn().get_first_attribute("CN") + ") " +
            (left < 0 ? "expired on " : "expires on ") + format_utc(not_after) + " (" +
            std::to_string(left) + " days): every device holding it loses access that day";
  f.remediation =
      "distribute its successor and rehearse the rotation (a scenario with rotation: stages) "
      "before " +
      format_utc(not_after);
  f.details = {{"not_after", format_utc(not_after)}, {"days_left", left}};
  return f;
}

// The test PKI of each trust model the scenarios use: `--pki` (which must be of that model), or a
// fresh one in `work` (work/pki for "ca", work/pki-<model> otherwise).
struct RunPki {
  fs::path dir;
  pki::Manifest manifest;
};

std::map<std::string, RunPki> pkis_for(const RunOptions& o, const Prepared& prep,
                                       const fs::path& work) {
  std::map<std::string, RunPki> out;
  for (const auto& sc : prep.scenarios) {
    if (out.contains(sc.trust_model)) continue;
    fs::path dir = work / (sc.trust_model == "ca" ? "pki" : "pki-" + sc.trust_model);
    if (o.pki) {
      dir = fs::absolute(*o.pki);
    } else {
      pki::InitOptions init{.out = dir, .key_type = pki::KeyType::kEcdsaP256, .force = true};
      init.trust_model = *pki::trust_model_from_string(sc.trust_model);
      pki::init(init);
    }
    pki::Manifest m = with_extras(pki::load_manifest(dir), prep);
    if (m.trust_model != sc.trust_model)
      throw InputError(sc.file.string() + ": policy.trust_model is " + sc.trust_model +
                       ", but --pki " + dir.string() + " is a " + m.trust_model +
                       " PKI (make one with 'pki init --trust-model " + sc.trust_model + "')");
    out.emplace(sc.trust_model, RunPki{dir, std::move(m)});
  }
  return out;
}

// Where each side door of a beacon is (entry paths): derived from a simulated beacon's listeners
// and settings, or given by the scenario for an external one.
struct Doors {
  std::string url, plain_url, open_name, resume_from, address;
  // The TLS name sni-host-mismatch presents: the open name, else the default virtual host's.
  std::string mismatch_name() const { return open_name.empty() ? kUnknownTlsName : open_name; }
};

std::string first_open_vhost(const YAML::Node& sim) {
  if (const YAML::Node v = first_listener(sim)["virtual_hosts"]; v && v.IsSequence())
    for (const auto& h : v)
      if (h["name"] && (!h["client_auth"] || h["client_auth"].as<std::string>() != "require"))
        return h["name"].as<std::string>();
  return "";
}

Doors doors_of(const BeaconSpec& b, const std::string& url, const BeaconProcess* process) {
  Doors d{url, b.plain_http_url.value_or(""), b.open_server_name.value_or(""),
          b.resume_from.value_or(""), b.address.value_or("")};
  const auto u = agent::parse_url(url);
  if (process) {
    const auto& listeners = process->ready()["listeners"];
    bool first_tls = true;
    for (const auto& l : listeners) {
      const std::string at =
          l["address"].get<std::string>() + ":" + std::to_string(l["port"].get<int>());
      if (l["scheme"] == "http") {
        if (d.plain_url.empty()) d.plain_url = "http://" + at;
      } else if (first_tls) {
        first_tls = false;
      } else if (d.resume_from.empty() && l["client_auth"] != "require") {
        d.resume_from = "https://" + at;
      }
    }
    if (d.open_name.empty()) d.open_name = first_open_vhost(*b.simulated);
    // No plain listener: speak cleartext HTTP to the TLS port itself.
    if (d.plain_url.empty() && u) d.plain_url = "http://" + u->authority();
  } else if (d.plain_url.empty() && u) {
    d.plain_url =
        "http://" + (u->host.find(':') != std::string::npos ? "[" + u->host + "]" : u->host);
  }
  return d;
}

// Points a check at its beacon's door; a door that cannot be found is a SKIPPED check.
void aim(Check& ch, const Doors& d) {
  const std::string& path = ch.record.entry_path;
  std::string url = d.url;
  if (path == "plain-http") url = d.plain_url;
  if (path == "sni-host-mismatch") ch.options.entry.sni_name = d.mismatch_name();
  if (path == "resumption-cross-listener") {
    if (d.resume_from.empty() && d.open_name.empty())
      ch.skip =
          "no listener or TLS name without client authentication is known for this "
          "beacon, so no session can be obtained elsewhere (scenario: resume_from or "
          "open_server_name; probe: --resume-from or --open-name)";
    ch.options.entry.resume_from = d.resume_from;
    ch.options.entry.sni_name = d.resume_from.empty() ? d.open_name : "";
  }
  if (path.starts_with("sni:")) ch.options.entry.sni_name = path.substr(4);
  if (!ch.options.entry.sni_name.empty()) ch.record.door_name = ch.options.entry.sni_name;
  if (path == "no-sni") {
    const auto u = agent::parse_url(d.url);
    std::string address = d.address;
    if (address.empty() && u)
      address = agent::resolved_address(ch.options.resolve, u->host, u->port).value_or("");
    if (u && u->host_is_ip())
      ch.skip = "the front door already reaches this beacon by its address, without a TLS name";
    else if (address.empty() || !u)
      ch.skip = "the beacon's address is not known (probe finds it; a scenario gives `address`)";
    else
      url = "https://" + agent::Url{"https", address, u->port, ""}.authority();
  }
  ch.beacons.push_back({url, 1});
}

}  // namespace

json plan(const RunOptions& o) {
  return plan_prepared(o, prepare(o));
}

json plan_prepared(const RunOptions& o, const Prepared& p) {
  char tmpl[] = "/tmp/mtls-plan-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw HarnessError("mkdtemp failed");
  const fs::path tmp = tmpl;
  json out = json::array();
  try {
    const auto pkis = pkis_for(o, p, tmp);
    for (const auto& sc : p.scenarios) {
      auto checks = expand(sc, pkis.at(sc.trust_model).manifest, p);
      keep_shard(checks, sc.id, o.shard_index, o.shard_count);
      for (auto& ch : checks) {
        // External beacons' doors are known without starting anything: say what will be skipped.
        for (const auto& b : sc.beacons)
          if (!ch.boundary && b.url && b.name == ch.beacon_names.front())
            aim(ch, doors_of(b, *b.url, nullptr));
        out.push_back(
            {{"check_id", ch.record.check_id},
             {"scenario", sc.id},
             {"file", sc.file.string()},
             {"beacon", ch.record.beacon},
             {"operation", ch.record.operation},
             {"credential", ch.record.credential},
             {"entry_path", ch.record.entry_path},
             {"expected", std::string(to_string(*ch.record.expected))},
             {"skipped", ch.skip ? json(*ch.skip) : json(nullptr)},
             {"shard", std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count)},
             {"shard_copy", ch.record.shard_copy}});
      }
    }
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
  return run_prepared(o, prepare(o));  // every scenario validated before anything starts
}

RunResult run_prepared(const RunOptions& o, const Prepared& prep) {
  std::error_code ec;
  const bool out_existed = fs::exists(o.out, ec);
  fs::create_directories(o.out, ec);
  if (ec) throw InputError("--out " + o.out.string() + ": cannot create (" + ec.message() + ")");
  const fs::path work = fs::absolute(o.out / "work");  // beacon configs need absolute paths
  fs::remove_all(work, ec);
  fs::create_directories(work, ec);
  if (ec) throw InputError(work.string() + ": cannot create (" + ec.message() + ")");
  // Expand every scenario once. The manifest is needed to check credential names: on bad
  // input, undo what this run wrote.
  std::map<std::string, RunPki> pkis;
  std::vector<std::vector<Check>> plans;
  try {
    pkis = pkis_for(o, prep, work);
    for (const auto& sc : prep.scenarios) {
      plans.push_back(expand(sc, pkis.at(sc.trust_model).manifest, prep));
      keep_shard(plans.back(), sc.id, o.shard_index, o.shard_count);
    }
  } catch (const InputError&) {
    if (!out_existed)
      fs::remove_all(o.out, ec);
    else
      fs::remove_all(work, ec);
    throw;
  }

  // The cover's PKI: the CA model's when a scenario uses it (each scenario names its own model).
  const pki::Manifest& manifest =
      (pkis.contains("ca") ? pkis.at("ca") : pkis.begin()->second).manifest;
  json meta = {{"tool", "mtls-harness"},
               {"version", harness_version()},
               {"started", utc_now()},
               {"jobs", o.jobs},
               {"scenarios", json::array()},
               {"pki",
                {{"key_type", manifest.key_type},
                 {"trust_model", manifest.trust_model},
                 {"client_ca_sha256", sha256_file_hex(manifest.client_ca)},
                 {"server_ca_sha256", sha256_file_hex(manifest.server_ca)},
                 {"client_ca_certificates", certificates_summary(manifest.client_ca)},
                 {"server_ca_certificates", certificates_summary(manifest.server_ca)}}},
               {"beacons", json::array()}};
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  meta["host"] = host;
  meta["run_by"] = run_by();
  meta["vantage"] = o.vantage.empty() ? json(nullptr) : json(o.vantage);
  meta["source_address"] = o.source_address.empty() ? json(nullptr) : json(o.source_address);
  meta["shard"] = {{"index", o.shard_index}, {"count", o.shard_count}};
  meta["git_commit"] = git_commit();
  if (!prep.survey.is_null()) meta["tls_survey"] = prep.survey;

  const fs::path results_file = o.out / "results.jsonl";
  report::ResultStream stream(results_file);
  std::vector<ResultRecord> all;
  // Every finding, and those not derived from the records alone (self-test results, the
  // probe's survey): results.jsonl keeps the latter, so that a re-rendered report has them too.
  std::vector<Finding> findings, recorded;
  std::size_t total = 0;
  for (const auto& plan : plans) total += plan.size();
  Progress progress(o.progress, o.progress_is_terminal, o.color, total);
  auto stopped = [&] { return o.stop != nullptr && o.stop->load(); };
  auto next_start = std::chrono::steady_clock::now();  // pacing (a probe's rate) across phases
  const agent::Operation& select = prep.catalogue.get("select-beacon");

  for (std::size_t si = 0; si < prep.scenarios.size() && !stopped(); ++si) {
    const Scenario& sc = prep.scenarios[si];
    meta["scenarios"].push_back(
        {{"id", sc.id},
         {"file", sc.file.string()},
         {"sha256", sha256_file_hex(sc.file)},
         {"description", sc.description},
         {"policy",
          {{"client_certificate", "required"},
           {"revocation", sc.revocation},
           {"trust_model", sc.trust_model},
           {"control_credential", sc.control_credential}}},
         // declares deliberate misconfigurations it must catch
         {"self_test", sc.expected_findings.has_value() && !sc.expected_findings->empty()}});
    const RunPki& pk = pkis.at(sc.trust_model);
    meta["scenarios"].back()["client_trust_certificates"] =
        certificates_summary(pk.manifest.client_ca);
    // Start the simulated beacons; external ones are used as they are.
    std::vector<std::unique_ptr<BeaconProcess>> processes;
    std::map<std::string, std::string> urls;
    std::map<std::string, BeaconProcess*> by_url;
    std::map<std::string, std::string> name_of_url;
    std::map<std::string, BeaconProcess*> by_name;
    std::map<std::string, Doors> doors;
    for (const auto& b : sc.beacons) {
      if (b.simulated) {
        const std::string identity = identity_of(pk.manifest, b.name);
        const fs::path dir = work / sc.name / b.name;
        YAML::Node settings = YAML::Clone(*b.simulated);
        if (!b.trust_credentials.empty())  // a rotation stage: it trusts these certificates
          settings["client_trust"]["ca"] =
              write_trust_bundle(pk.manifest, b.trust_credentials, dir / "trust.pem").string();
        processes.push_back(std::make_unique<BeaconProcess>(
            o.harness_executable, b.name,
            beacon_config_yaml(settings, b.name, identity, pk.dir, dir / "store"), dir));
        urls[b.name] = processes.back()->url();
        by_url[urls[b.name]] = processes.back().get();
        by_name[b.name] = processes.back().get();
      } else {
        urls[b.name] = *b.url;
      }
      doors[b.name] = doors_of(b, urls[b.name], by_name.count(b.name) ? by_name[b.name] : nullptr);
      name_of_url[urls[b.name]] = b.name;
      json certificate =
          nullptr;  // what the agents are shown: ours from the PKI, else the survey's
      if (b.simulated) {
        certificate =
            certificate_summary(pk.manifest.beacons.at(identity_of(pk.manifest, b.name)).cert);
      } else if (prep.survey.is_array()) {
        for (const auto& t : prep.survey)
          if (t.value("beacon", "") == b.name && !t.value("certificate_sha256", "").empty())
            certificate = {{"sha256_fingerprint", t["certificate_sha256"]},
                           {"subject", t.value("certificate_subject", "")},
                           {"issuer", t.value("certificate_issuer", "")}};
      }
      meta["beacons"].push_back(
          {{"scenario", sc.id},
           {"name", b.name},
           {"kind", b.simulated ? "simulated" : "external"},
           {"url", urls[b.name]},
           {"line", b.line > 0 ? json(b.line) : json(nullptr)},
           {"certificate", certificate},
           {"settings", b.simulated ? json(YAML::Dump(*b.simulated)) : json(nullptr)}});
    }

    std::vector<Check>& plan = plans[si];
    for (auto& ch : plan) {
      if (!ch.boundary) {
        aim(ch, doors.at(ch.beacon_names.front()));
        continue;
      }
      for (const auto& name : ch.beacon_names) ch.beacons.push_back({urls.at(name), 1});
    }
    std::vector<std::optional<ResultRecord>> done(plan.size());
    std::vector<std::chrono::system_clock::time_point> finished_at(plan.size());
    auto finish = [&](std::size_t i, ResultRecord got) {
      finished_at[i] = std::chrono::system_clock::now();
      Check& ch = plan[i];
      ResultRecord r = ch.record;
      // The protocol-level client speaks TLS 1.2 only (Botan 2): against a beacon that refuses
      // TLS 1.2 the credential could not be presented, so the check was not carried out.
      const bool tls12_refused = ch.client == Client::kBotan && got.evidence.tls_alert_code == 70 &&
                                 !got.evidence.handshake_completed;
      if (ch.skip || tls12_refused) {
        r.verdict = Verdict::kSkipped;
        r.reason = ch.skip ? *ch.skip
                           : "not carried out: the beacon refused TLS 1.2, the only version of the "
                             "protocol-level client (Botan 2) that presents this credential";
        r.evidence = got.evidence;
      } else {
        r.outcome = got.outcome;
        r.evidence = got.evidence;
        if (ch.boundary) {
          const std::string used =
              r.evidence.selection.is_object() ? r.evidence.selection.value("used", "") : "";
          r.beacon = name_of_url.count(used) ? name_of_url[used] : used;
        }
        std::optional<Answer> control;
        if (ch.control) {
          r.control_id = plan[*ch.control].record.check_id;
          const auto& c = done[*ch.control];
          if (c && c->verdict != Verdict::kSkipped) control = Answer{c->outcome, &c->evidence};
        }
        // An upload answered 2xx without the beacon's receipt is read back: a negative check's
        // (was it stored?), and a control's own (does this beacon serve uploads back at all?).
        const bool negative = *r.expected == Expectation::kRejected;
        if (r.outcome == Outcome::kAccepted && !ch.boundary && (!negative || ch.control))
          read_back_uploads(r.evidence, negative ? plan[*ch.control] : ch, [&] {
            std::this_thread::sleep_until(next_start);  // a probe's rate limit
            next_start = std::chrono::steady_clock::now() + o.pace;
          });
        const EntryPathInfo& door = prep.entry_paths.get(r.entry_path);
        const Judgement j = *r.expected == Expectation::kAccepted
                                ? judge_positive({r.outcome, &r.evidence})
                                : judge_negative({r.outcome, &r.evidence}, control, &door.closed);
        if (j.outcome) r.outcome = *j.outcome;
        r.verdict = j.verdict;
        r.severity = j.severity;
        r.reason = j.reason + "; agent: " + got.reason;
      }
      done[i] = r;
      stream.append(r);
      progress.add(r, r.verdict == Verdict::kFail && declares(sc, r, ch.boundary));
    };
    // Positive checks first (every negative check's control among them), then the rest.
    for (int phase = 0; phase < 2; ++phase) {
      std::vector<std::size_t> indices, by_hand;
      std::vector<std::unique_ptr<agent::Device>> devices;
      for (std::size_t i = 0; i < plan.size(); ++i) {
        const bool positive = plan[i].record.expected == Expectation::kAccepted;
        if (positive != (phase == 0)) continue;
        if (plan[i].skip) {
          finish(i, {});
          continue;
        }
        if (plan[i].client != Client::kCurl) {  // hand-driven TLS clients, one at a time
          by_hand.push_back(i);
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
                   [&](std::size_t k) { finish(indices[k], devices[k]->results().front()); },
                   {.min_interval = o.pace, .stop = o.stop, .next_start = &next_start});
      for (std::size_t i : by_hand) {
        if (stopped()) break;
        std::this_thread::sleep_until(next_start);  // a probe's rate limit
        next_start = std::chrono::steady_clock::now() + o.pace;
        const Check& ch = plan[i];
        const auto began = std::chrono::steady_clock::now();
        ResultRecord got = ch.client == Client::kBotan
                               ? agent::run_botan_client(*ch.op, ch.beacons.front().url, ch.options)
                               : agent::run_side_door(*ch.op, ch.beacons.front().url, ch.options);
        if (got.evidence.elapsed_ms <= 0)  // the whole exchange: JUnit's time, the report's
          got.evidence.elapsed_ms =
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began)
                  .count();
        finish(i, std::move(got));
      }
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
    std::map<const BeaconProcess*, BeaconLog> logs;  // each log read once
    for (const auto& p : processes) logs.emplace(p.get(), BeaconLog(p->log()));
    std::vector<ResultRecord> records;
    std::vector<std::size_t> record_check;  // plan index of each record
    for (std::size_t i = 0; i < done.size(); ++i) {
      auto& r = done[i];
      if (!r) continue;  // interrupted before it ran
      record_check.push_back(i);
      if (r->evidence.local_port) {
        BeaconProcess* process = by_name.count(r->beacon) ? by_name[r->beacon] : nullptr;
        if (r->evidence.selection.is_object()) {
          const std::string used = r->evidence.selection.value("used", "");
          process = by_url.count(used) ? by_url[used] : nullptr;
        }
        if (process)
          r->evidence.beacon_log =
              logs.at(process).evidence(*r->evidence.local_port, finished_at[i]);
      }
      records.push_back(*r);
    }

    // Findings (findings.hpp): the same code re-renders them from results.jsonl.
    std::vector<Finding> groups = group_findings(records, prep.entry_paths);
    if (sc.expected_findings && !stopped()) {  // a self-test: its declarations, exactly
      std::vector<DeclaredFinding> declared;
      for (const auto& e : *sc.expected_findings) {
        std::vector<std::string> ops = e.operations;
        if (ops.empty())
          ops = e.kind == "boundary-leak" && sc.boundary ? sc.boundary->operations : sc.operations;
        declared.push_back({e.severity, e.kind, e.beacon, e.credential, e.entry_path, ops});
      }
      for (auto& f : match_self_test(sc.id, declared, groups, records)) {
        recorded.push_back(f);
        findings.push_back(std::move(f));
      }
    }
    findings.insert(findings.end(), groups.begin(), groups.end());
    if (auto w = expiry_warning(sc, pk.manifest, prep, o.expiry_warning_days)) {
      recorded.push_back(*w);
      findings.push_back(std::move(*w));
    }
    all.insert(all.end(), records.begin(), records.end());
  }

  for (std::size_t i = 0; i < prep.extra_findings.size(); ++i) {
    recorded.push_back(finding_from_json(prep.extra_findings[i], "finding " + std::to_string(i)));
    findings.push_back(recorded.back());
  }
  meta["finished"] = utc_now();
  meta["planned_checks"] = total;
  meta["complete"] = !stopped();
  if (stopped())
    meta["incomplete_reason"] = "interrupted (SIGINT/SIGTERM): " + std::to_string(all.size()) +
                                " of " + std::to_string(total) + " checks ran";
  sort_findings(findings);
  report::Summary summary = report::summarize(all);
  const FindingCounts fc = count(findings);
  summary.selftest_missed = fc.selftest_missed;
  summary.warn = fc.warn;
  json findings_json = json::array(), recorded_json = json::array();
  for (const auto& f : findings) findings_json.push_back(to_json(f));
  for (const auto& f : recorded) recorded_json.push_back(to_json(f));
  report::write_results_jsonl(results_file, all, recorded_json);
  const fs::path report_file = o.out / "report.json";
  report::write_all(o.out, report::make_document(meta, all, summary, findings_json));
  return {summary, report_file, results_file, findings_json, !stopped(), total};
}

}  // namespace mtls::engine
