// scenario.cpp: see scenario.hpp.
#include "engine/scenario.hpp"

#include "core/yaml_file.hpp"

#include <algorithm>
#include <set>

#include "core/files.hpp"
#include "core/home.hpp"

namespace mtls::engine {
namespace fs = std::filesystem;

Scenario load_scenario(const fs::path& file) {
  const YamlFields r(file);
  const YAML::Node root = load_yaml_file(file);
  if (!root.IsMap()) throw InputError(file.string() + ": a scenario must be a YAML mapping");
  Scenario s;
  s.file = file;
  s.name = r.str(root, "name", "name", "", true);
  s.id = file.parent_path().filename().string() + "/" + s.name;
  s.description = r.str(root, "description", "description");

  const YAML::Node beacons = root["beacons"];
  if (!beacons || !beacons.IsSequence() || beacons.size() == 0)
    r.fail(beacons ? beacons : root, "beacons", "must be a non-empty list");
  for (std::size_t i = 0; i < beacons.size(); ++i) {
    const YAML::Node b = beacons[i];
    const std::string f = "beacons[" + std::to_string(i) + "]";
    if (!b.IsMap()) r.fail(b, f, "must be a mapping");
    BeaconSpec spec;
    spec.name = r.str(b, "name", f + ".name", "", true);
    const YAML::Node sim = b["simulated"];
    if (!sim || !sim.IsMap())
      r.fail(b, f + ".simulated", "is missing (only simulated beacons are supported so far)");
    spec.client_auth = r.str(sim, "client_auth", f + ".simulated.client_auth", "require");
    r.one_of(sim["client_auth"] ? sim["client_auth"] : sim, f + ".simulated.client_auth",
             spec.client_auth, {"ignore", "request", "require"});
    for (const auto& other : s.beacons)
      if (other.name == spec.name) r.fail(b, f + ".name", "'" + spec.name + "' is used twice");
    s.beacons.push_back(spec);
  }

  const YAML::Node policy = root["policy"];
  if (!policy || !policy.IsMap()) r.fail(policy ? policy : root, "policy", "must be a mapping");
  const std::string cc =
      r.str(policy, "client_certificate", "policy.client_certificate", "required");
  r.one_of(policy["client_certificate"] ? policy["client_certificate"] : policy,
           "policy.client_certificate", cc, {"required"});
  s.revocation = r.str(policy, "revocation", "policy.revocation", "off");
  r.one_of(policy["revocation"] ? policy["revocation"] : policy, "policy.revocation", s.revocation,
           {"off", "crl"});

  s.control_credential = r.str(root, "control_credential", "control_credential", "valid");
  s.credentials = r.list(root, "credentials", "credentials");
  s.operations = r.list(root, "operations", "operations");
  s.entry_paths = r.list(root, "entry_paths", "entry_paths");
  for (const auto& item : root["entry_paths"])
    r.one_of(item, "entry_paths", item.as<std::string>(), {"https"});
  if (std::find(s.credentials.begin(), s.credentials.end(), s.control_credential) ==
      s.credentials.end())
    r.fail(root["credentials"], "credentials",
           "must include the control credential '" + s.control_credential + "'");
  return s;
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
