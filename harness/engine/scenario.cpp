// scenario.cpp: see scenario.hpp.
#include "engine/scenario.hpp"

#include <algorithm>
#include <set>

#include "agent/agent.hpp"
#include "core/files.hpp"
#include "core/home.hpp"
#include "core/yaml_file.hpp"

namespace mtls::engine {
namespace fs = std::filesystem;

namespace {

void only_keys(const YamlFields& y, const YAML::Node& map, const std::string& where,
               const std::set<std::string>& allowed) {
  y.only_keys(map, where, allowed);
}

bool in(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// "all" or a list of names; names must be in `known` when `known` is not empty.
std::vector<std::string> names_or_all(const YamlFields& y, const YAML::Node& parent,
                                      const std::string& key, const std::string& field,
                                      const std::vector<std::string>& known, bool* all) {
  const YAML::Node v = parent[key];
  if (v && v.IsScalar() && v.as<std::string>() == "all") {
    if (all) *all = true;
    return known;
  }
  auto list = y.list(parent, key, field);
  if (!known.empty())
    for (std::size_t i = 0; i < list.size(); ++i)
      if (!in(known, list[i])) {
        std::string names;
        for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
        y.fail(v[i], field, "'" + list[i] + "' is not known (known: " + names + ")");
      }
  return list;
}

}  // namespace

namespace {

// One entry of `beacons:` (field name `f`, "beacons[i]").
BeaconSpec load_beacon(const YamlFields& y, const fs::path& file, const YAML::Node& b,
                       const std::string& f) {
  if (!b.IsMap()) y.fail(b, f, "must be a mapping");
  only_keys(y, b, f,
            {"name", "simulated", "url", "plain_http_url", "open_server_name", "resume_from",
             "tls_names", "address"});
  BeaconSpec spec;
  spec.name = y.str(b, "name", f + ".name", "", true);
  spec.line = b.Mark().line + 1;
  if (b["simulated"] && b["url"])
    y.fail(b, f, "a beacon is either simulated or an external url, not both");
  if (b["simulated"]) {
    const YAML::Node sim = b["simulated"];
    if (!sim.IsMap())
      y.fail(sim, f + ".simulated", "must be a mapping of beacon settings (docs/beacon.md)");
    for (const char* k : {"client_auth"})
      if (sim[k])
        y.one_of(sim[k], f + ".simulated." + k, y.str(sim, k, f + ".simulated." + k),
                 {"ignore", "request", "require"});
    if (sim["revocation"])
      y.one_of(sim["revocation"], f + ".simulated.revocation",
               y.str(sim, "revocation", f + ".simulated.revocation"), {"off", "crl"});
    spec.simulated = YAML::Clone(sim);
    // The user's own client trust (beacon config `client_trust`): files relative to the
    // scenario, made absolute here since the beacon's config is written elsewhere.
    if (const YAML::Node t = sim["client_trust"]) {
      if (!t.IsMap() || !t["ca"])
        y.fail(t, f + ".simulated.client_trust", "needs ca: FILE (and optional crls: [FILE...])");
      auto absolute = [&](const std::string& v) {
        const fs::path p(v);
        return (p.is_absolute() ? p : fs::absolute(file).parent_path() / p).string();
      };
      YAML::Node out = (*spec.simulated)["client_trust"];
      out["ca"] = absolute(y.str(t, "ca", f + ".simulated.client_trust.ca"));
      if (t["crls"]) {
        YAML::Node crls(YAML::NodeType::Sequence);
        for (const auto& c : y.list(t, "crls", f + ".simulated.client_trust.crls"))
          crls.push_back(absolute(c));
        out["crls"] = crls;
      }
    }
  } else if (b["url"]) {
    spec.url = y.str(b, "url", f + ".url");
    if (!spec.url->starts_with("https://")) y.fail(b["url"], f + ".url", "must be an https:// URL");
  } else {
    y.fail(b, f, "needs 'simulated' (settings) or 'url' (an external beacon)");
  }
  if (b["plain_http_url"]) {
    spec.plain_http_url = y.str(b, "plain_http_url", f + ".plain_http_url");
    if (!spec.plain_http_url->starts_with("http://"))
      y.fail(b["plain_http_url"], f + ".plain_http_url", "must be an http:// URL");
  }
  if (b["open_server_name"])
    spec.open_server_name = y.str(b, "open_server_name", f + ".open_server_name");
  if (b["tls_names"]) spec.tls_names = y.list(b, "tls_names", f + ".tls_names");
  if (b["address"]) spec.address = y.str(b, "address", f + ".address");
  if (b["resume_from"]) {
    spec.resume_from = y.str(b, "resume_from", f + ".resume_from");
    if (!spec.resume_from->starts_with("https://"))
      y.fail(b["resume_from"], f + ".resume_from", "must be an https:// URL");
  }
  return spec;
}

// `policy:`: what the boundary demands (revocation) and how beacons trust the certificate.
void load_policy(const YamlFields& y, const YAML::Node& root, Scenario& s) {
  const YAML::Node policy = y.map(root, "policy", "policy", true);
  only_keys(y, policy, "policy", {"client_certificate", "revocation", "trust_model"});
  const std::string cc =
      y.str(policy, "client_certificate", "policy.client_certificate", "required");
  y.one_of(policy["client_certificate"] ? policy["client_certificate"] : policy,
           "policy.client_certificate", cc, {"required"});
  s.revocation = y.str(policy, "revocation", "policy.revocation", "off");
  y.one_of(policy["revocation"] ? policy["revocation"] : policy, "policy.revocation", s.revocation,
           {"off", "crl"});
  s.trust_model = y.str(policy, "trust_model", "policy.trust_model", "ca");
  y.one_of(policy["trust_model"] ? policy["trust_model"] : policy, "policy.trust_model",
           s.trust_model, {"ca", "pinned-self-signed"});
  if (s.trust_model == "pinned-self-signed" && s.revocation == "crl")
    y.fail(policy["revocation"], "policy.revocation",
           "crl needs a CA to publish CRLs; a pinned self-signed certificate has none (use off)");
}

// `rotation:`: a rehearsal. Each simulated beacon once per stage ("<beacon>@<stage>"), trusting
// that stage's certificates; the devices are the scenario's credentials.
void load_rotation(const YamlFields& y, const YAML::Node& root, const YAML::Node& rot,
                   Scenario& s) {
  // A rotation rehearsal: each simulated beacon once per stage ("<beacon>@<stage>"), trusting
  // that stage's certificates; the devices are the scenario's credentials.
  only_keys(y, rot, "rotation", {"stages"});
  if (s.trust_model != "pinned-self-signed")
    y.fail(rot, "rotation",
           "rehearses the pinned model (policy.trust_model: pinned-self-signed): each stage "
           "trusts distributed certificates themselves");
  if (root["boundary"]) y.fail(root["boundary"], "boundary", "cannot be combined with rotation");
  const YAML::Node stages = rot["stages"];
  if (!stages || !stages.IsSequence() || stages.size() == 0)
    y.fail(stages ? stages : rot, "rotation.stages", "must be a non-empty list");
  std::vector<BeaconSpec> staged;
  for (const auto& b : s.beacons) {
    if (!b.simulated)
      y.fail(root["beacons"], "beacons",
             "a rotation rehearsal runs simulated beacons ('" + b.name + "' is external)");
    for (std::size_t i = 0; i < stages.size(); ++i) {
      const std::string f = "rotation.stages[" + std::to_string(i) + "]";
      only_keys(y, stages[i], f, {"name", "trust", "must_work"});
      BeaconSpec copy = b;
      copy.simulated = YAML::Clone(*b.simulated);
      copy.name = b.name + "@" + y.str(stages[i], "name", f + ".name", "", true);
      copy.trust_credentials = y.list(stages[i], "trust", f + ".trust");
      copy.must_work = stages[i]["must_work"] ? y.list(stages[i], "must_work", f + ".must_work")
                                              : copy.trust_credentials;
      for (const auto& c : *copy.must_work)
        if (!s.all_credentials && !in(s.credentials, c))
          y.fail(stages[i]["must_work"], f + ".must_work",
                 "'" + c + "' is not one of the scenario's credentials (the devices)");
      staged.push_back(std::move(copy));
    }
  }
  s.beacons = std::move(staged);
}

// `expect_findings:` of a self-test: exactly the findings the scenario must produce.
std::vector<ExpectedFinding> load_expected_findings(const YamlFields& y, const YAML::Node& ef,
                                                    const Scenario& s,
                                                    const std::vector<std::string>& beacon_names,
                                                    const std::vector<std::string>& operation_ids) {
  if (!ef.IsSequence())
    y.fail(ef, "expect_findings", "must be a list (empty: the scenario must find nothing)");
  std::vector<ExpectedFinding> list;
  for (std::size_t i = 0; i < ef.size(); ++i) {
    const std::string f = "expect_findings[" + std::to_string(i) + "]";
    if (!ef[i].IsMap()) y.fail(ef[i], f, "must be a mapping");
    only_keys(y, ef[i], f,
              {"severity", "kind", "beacon", "credential", "entry_path", "operations"});
    ExpectedFinding e;
    e.severity = y.str(ef[i], "severity", f + ".severity", "", true);
    y.one_of(ef[i]["severity"], f + ".severity", e.severity, {"EXPOSURE", "LOCKOUT", "WARN"});
    e.kind = y.str(ef[i], "kind", f + ".kind", "check");
    y.one_of(ef[i]["kind"] ? ef[i]["kind"] : ef[i], f + ".kind", e.kind,
             {"check", "boundary-leak"});
    e.beacon = y.str(ef[i], "beacon", f + ".beacon", "", true);
    if (!in(beacon_names, e.beacon))
      y.fail(ef[i]["beacon"], f + ".beacon", "'" + e.beacon + "' is not a beacon of this scenario");
    e.credential = y.str(ef[i], "credential", f + ".credential", "", true);
    e.entry_path = y.str(ef[i], "entry_path", f + ".entry_path", "https");
    y.one_of(ef[i]["entry_path"] ? ef[i]["entry_path"] : ef[i], f + ".entry_path", e.entry_path,
             s.entry_paths);
    if (ef[i]["operations"])
      e.operations =
          names_or_all(y, ef[i], "operations", f + ".operations", operation_ids, nullptr);
    list.push_back(std::move(e));
  }
  return list;
}

}  // namespace

static Scenario load_scenario_fields(const fs::path& file,
                                     const std::vector<std::string>& operation_ids) {
  const YamlFields y(file);
  const YAML::Node root = load_yaml_file(file);
  if (!root.IsMap()) throw InputError(file.string() + ": a scenario must be a YAML mapping");
  only_keys(y, root, "",
            {"name", "description", "beacons", "policy", "control_credential", "credentials",
             "operations", "entry_paths", "side_door_credentials", "boundary", "expect_findings",
             "rotation"});
  Scenario s;
  s.file = file;
  s.name = y.str(root, "name", "name", "", true);
  // "<folder>/<name>" from the file's absolute path: the same however the tool was called
  // (`run x.yaml` from its folder, or `run sc/x.yaml` from elsewhere).
  s.id = fs::absolute(file).lexically_normal().parent_path().filename().string() + "/" + s.name;
  s.description = y.str(root, "description", "description");

  const YAML::Node beacons = root["beacons"];
  if (!beacons || !beacons.IsSequence() || beacons.size() == 0)
    y.fail(beacons ? beacons : root, "beacons", "must be a non-empty list");
  for (std::size_t i = 0; i < beacons.size(); ++i) {
    const YAML::Node b = beacons[i];
    const std::string f = "beacons[" + std::to_string(i) + "]";
    BeaconSpec spec = load_beacon(y, file, b, f);
    for (const auto& other : s.beacons)
      if (other.name == spec.name) y.fail(b, f + ".name", "'" + spec.name + "' is used twice");
    s.beacons.push_back(std::move(spec));
  }
  std::vector<std::string> beacon_names;
  for (const auto& b : s.beacons) beacon_names.push_back(b.name);

  load_policy(y, root, s);

  s.control_credential = y.str(root, "control_credential", "control_credential", "valid");
  s.credentials = names_or_all(y, root, "credentials", "credentials", {}, &s.all_credentials);
  s.operations = names_or_all(y, root, "operations", "operations", operation_ids, nullptr);
  s.entry_paths = y.list(root, "entry_paths", "entry_paths");
  for (const auto& item : root["entry_paths"])
    y.one_of(item, "entry_paths", item.as<std::string>(), agent::entry_path_names());
  if (!in(s.entry_paths, "https"))
    y.fail(root["entry_paths"], "entry_paths",
           "must include https: every side door is judged against the front door's positive "
           "control");
  if (root["side_door_credentials"])
    s.side_door_credentials = y.list(root, "side_door_credentials", "side_door_credentials");
  if (!s.all_credentials && !in(s.credentials, s.control_credential))
    y.fail(root["credentials"], "credentials",
           "must include the control credential '" + s.control_credential + "'");

  if (const YAML::Node rot = y.map(root, "rotation", "rotation")) {
    load_rotation(y, root, rot, s);
    beacon_names.clear();
    for (const auto& b : s.beacons) beacon_names.push_back(b.name);
  }

  if (const YAML::Node bnd = y.map(root, "boundary", "boundary")) {
    only_keys(y, bnd, "boundary", {"failover", "operations", "credentials"});
    BoundarySpec b;
    b.failover = names_or_all(y, bnd, "failover", "boundary.failover", beacon_names, nullptr);
    b.operations =
        names_or_all(y, bnd, "operations", "boundary.operations", operation_ids, nullptr);
    b.credentials = bnd["credentials"] ? y.list(bnd, "credentials", "boundary.credentials")
                                       : std::vector<std::string>{"none"};
    if (b.failover.size() < 2)
      y.fail(bnd["failover"], "boundary.failover", "a failover list needs two or more beacons");
    s.boundary = std::move(b);
  }

  if (const YAML::Node ef = root["expect_findings"])
    s.expected_findings = load_expected_findings(y, ef, s, beacon_names, operation_ids);
  return s;
}

const std::vector<std::string>& declared_operations(const Scenario& sc, const ExpectedFinding& e) {
  if (!e.operations.empty()) return e.operations;
  return e.kind == "boundary-leak" && sc.boundary ? sc.boundary->operations : sc.operations;
}

Scenario load_scenario(const fs::path& file, const std::vector<std::string>& operation_ids) {
  return guard_yaml(file, [&] { return load_scenario_fields(file, operation_ids); });
}

std::vector<fs::path> find_scenarios(const std::vector<fs::path>& args) {
  std::vector<fs::path> roots = args;
  if (roots.empty()) roots.push_back(scenarios_dir() / "default");
  std::vector<fs::path> files;
  for (const auto& root : roots) {
    std::error_code ec;
    if (fs::is_regular_file(root, ec)) {
      files.push_back(root);
      continue;
    }
    if (!fs::is_directory(root, ec))
      throw InputError(root.string() + ": no such scenario file or folder");
    std::vector<fs::path> found;
    for (const auto& e : fs::recursive_directory_iterator(root, ec))
      if (e.is_regular_file() &&
          (e.path().extension() == ".yaml" || e.path().extension() == ".yml"))
        found.push_back(e.path());
    if (found.empty()) throw InputError(root.string() + ": folder holds no *.yaml scenario");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

}  // namespace mtls::engine
