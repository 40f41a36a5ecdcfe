// plan.cpp: see plan.hpp.
#include "engine/plan.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "agent/request_variant.hpp"
#include "agent/url.hpp"
#include "core/files.hpp"

namespace mtls::engine {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

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
  return c.defect == pki::defect::kKeyStrength || c.defect == pki::defect::kKeyMatch;
}

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

// The first virtual host of a simulated beacon that does not require a client certificate.
std::string first_open_vhost(const YAML::Node& sim) {
  if (const YAML::Node v = first_listener(sim)["virtual_hosts"]; v && v.IsSequence())
    for (const auto& h : v)
      if (h["name"] && (!h["client_auth"] || h["client_auth"].as<std::string>() != "require"))
        return h["name"].as<std::string>();
  return "";
}

// The credentials a scenario checks at the front door (its control first when it says "all"), and
// its side-door credentials: each must have an expectation for the scenario's policy, a PKCS#12
// export must say where its password is, a side-door credential must be one no beacon may accept,
// and the control one every beacon must accept.
std::vector<std::string> front_door_credentials(const Scenario& sc, const pki::Manifest& m) {
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
    if (!m.credentials.contains(c))
      throw InputError(sc.file.string() + ": credential '" + c + "' is not in the PKI manifest (" +
                       (m.dir / "manifest.json").string() + ")");
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
  return creds;
}

// Makes the checks of one scenario: what each check is, expects and presents.
class CheckMaker {
 public:
  CheckMaker(const Scenario& sc, const pki::Manifest& m, const Prepared& prep)
      : sc_(sc), m_(m), prep_(prep) {
    // The distributed certificate's public facts, for header:<name> doors that name it.
    if (auto it = prep.credentials.find(sc.control_credential);
        it != prep.credentials.end() && it->second.cert)
      facts_ = agent::certificate_facts(*it->second.cert);
    else if (const auto& cc = m.credential(sc.control_credential); cc.cert)
      facts_ = agent::certificate_facts(*cc.cert);
  }

  Check make(const std::string& beacon_label, const agent::Operation& op, const std::string& path,
             const std::string& cname, std::vector<std::string> beacon_names, bool boundary) {
    const pki::Credential& cred = m_.credential(cname);
    Check ch;
    ch.op = &op;
    ch.beacon_names = std::move(beacon_names);
    ch.boundary = boundary;
    ResultRecord& r = ch.record;
    r.scenario = sc_.id;
    r.beacon = beacon_label;
    r.operation = op.id;
    r.credential = cname;
    r.entry_path = path;
    r.defect = cred.defect;
    r.credential_description = cred.description;
    r.check_id = (boundary ? "boundary" : beacon_label) + "/" + op.id + "/" + cname + "/" + path;
    r.expected = path == "https" ? cred.expected.at(sc_.policy_key()) : Expectation::kRejected;
    if (const auto* must = must_work_of(ch.beacon_names.front()); must && path == "https")
      r.expected = std::find(must->begin(), must->end(), cname) != must->end()
                       ? Expectation::kAccepted
                       : Expectation::kRejected;  // a rotation stage: the user's demand
    ch.options = options_for(cname, cred, path, r.check_id);
    if (!prep_.vantage.empty()) r.vantage = prep_.vantage;
    if (agent::needs_raw_client(path)) ch.client = Client::kSideDoor;
    if (needs_botan_client(cred)) {
      if (path == "https" && !boundary)
        ch.client = Client::kBotan;
      else
        ch.skip =
            "only the protocol-level client presents this credential, and it runs the front "
            "door (https) only";
    }
    return ch;
  }

 private:
  // A rotation stage's beacon: the devices that must keep working there (null otherwise).
  const std::vector<std::string>* must_work_of(const std::string& beacon) const {
    for (const auto& b : sc_.beacons)
      if (b.name == beacon && b.must_work) return &*b.must_work;
    return nullptr;
  }

  agent::AgentOptions options_for(const std::string& cname, const pki::Credential& cred,
                                  const std::string& path, const std::string& check_id) {
    agent::AgentOptions o;
    o.trust.ca_file = m_.server_ca;
    if (prep_.trust) o.trust = *prep_.trust;
    if (auto it = prep_.credentials.find(cname); it != prep_.credentials.end())
      o.credential = it->second;  // the user's own credential (probe)
    else
      o.credential = loaded_.try_emplace(cname, credential_for(cred)).first->second;
    o.known_digests = prep_.digests;
    o.check_id = check_id;
    if (const agent::RequestVariant* v = prep_.variants.find(path)) {
      agent::RequestVariant filled = *v;
      filled.headers = agent::fill_headers(v->headers, facts_);
      o.entry.variant = std::move(filled);
    }
    o.resolve = prep_.resolve;
    o.source_address = prep_.source_address;
    if (prep_.timeout) o.total_timeout = *prep_.timeout;
    o.entry.path = path;
    if (const auto& sel = prep_.catalogue.get("select-beacon").requests; !sel.empty())
      o.entry.warmup_path = sel.front().path_template;
    return o;
  }

  const Scenario& sc_;
  const pki::Manifest& m_;
  const Prepared& prep_;
  std::map<std::string, agent::ClientCredential> loaded_;  // each credential parsed once
  std::map<std::string, std::string> facts_;
};

// One beacon x operation: the front-door checks of every credential, then every side door with
// the side-door credentials; each negative check is judged against the operation's control.
void add_beacon_checks(std::vector<Check>& plan, CheckMaker& make, const Scenario& sc,
                       const Prepared& prep, const BeaconSpec& b, const agent::Operation& op,
                       const std::vector<std::string>& creds) {
  auto add = [&](const std::string& path, const std::string& c) {
    plan.push_back(make.make(b.name, op, path, c, {b.name}, false));
  };
  const std::size_t first = plan.size();
  for (const auto& c : creds) add("https", c);
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
        for (const auto& c : sc.side_door_credentials) add("sni:" + name, c);
    } else if (path == "path" || path == "header") {
      for (const agent::RequestVariant* v : prep.variants.for_door(path, methods))
        for (const auto& c : sc.side_door_credentials) add(path + ":" + v->name, c);
    } else if (path != "https") {
      for (const auto& c : sc.side_door_credentials) add(path, c);
    }
  for (std::size_t i = first; i < plan.size(); ++i)
    if (plan[i].record.expected == Expectation::kRejected) plan[i].control = control;
}

// The boundary's checks: each operation through the agents' failover list, the control credential
// first (the control of the others).
void add_boundary_checks(std::vector<Check>& plan, CheckMaker& make, const Scenario& sc,
                         const agent::Catalogue& catalogue) {
  const std::vector<std::string>& list = sc.boundary->failover;
  for (const auto& op_id : sc.boundary->operations) {
    const agent::Operation& op = catalogue.get(op_id);
    const std::size_t control = plan.size();
    plan.push_back(make.make("boundary", op, "https", sc.control_credential, list, true));
    for (const auto& c : sc.boundary->credentials)
      if (c != sc.control_credential) {
        plan.push_back(make.make("boundary", op, "https", c, list, true));
        if (plan.back().record.expected == Expectation::kRejected) plan.back().control = control;
      }
  }
}

}  // namespace

std::vector<Check> plan_checks(const Scenario& sc, const pki::Manifest& m, const Prepared& prep) {
  const std::vector<std::string> creds = front_door_credentials(sc, m);
  std::vector<Check> plan;
  CheckMaker make(sc, m, prep);
  for (const auto& b : sc.beacons)
    for (const auto& op_id : sc.operations)
      add_beacon_checks(plan, make, sc, prep, b, prep.catalogue.get(op_id), creds);
  if (sc.boundary) add_boundary_checks(plan, make, sc, prep.catalogue);
  if (plan.empty()) throw InputError(sc.file.string() + ": the scenario expands to no check");
  return plan;
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

Doors doors_of(const BeaconSpec& b, const std::string& url, const json* listeners) {
  Doors d{url, b.plain_http_url.value_or(""), b.open_server_name.value_or(""),
          b.resume_from.value_or(""), b.address.value_or("")};
  const auto u = agent::parse_url(url);
  if (listeners) {
    bool first_tls = true;
    for (const auto& l : *listeners) {
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
    if (d.open_name.empty() && b.simulated) d.open_name = first_open_vhost(*b.simulated);
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

}  // namespace mtls::engine
