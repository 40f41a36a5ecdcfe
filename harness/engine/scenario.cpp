// scenario.cpp: see scenario.hpp.
#include "engine/scenario.hpp"

#include "core/yaml_file.hpp"

#include <algorithm>
#include <set>

#include "core/files.hpp"
#include "core/home.hpp"

namespace mtls::engine {
namespace fs = std::filesystem;

namespace {

class Reader {
 public:
  explicit Reader(fs::path file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& field,
                         const std::string& what) const {
    std::string line =
        at.IsDefined() && at.Mark().line >= 0 ? ":" + std::to_string(at.Mark().line + 1) : "";
    throw InputError(file_.string() + line + ": field '" + field + "': " + what);
  }

  std::string str(const YAML::Node& parent, const std::string& key, const std::string& field,
                  const std::string& fallback = "", bool required = false) const {
    const YAML::Node v = parent[key];
    if (!v) {
      if (required) fail(parent, field, "is missing");
      return fallback;
    }
    if (!v.IsScalar()) fail(v, field, "must be a string");
    return v.as<std::string>();
  }

  std::vector<std::string> list(const YAML::Node& parent, const std::string& key) const {
    const YAML::Node v = parent[key];
    if (!v) fail(parent, key, "is missing");
    if (!v.IsSequence() || v.size() == 0) fail(v, key, "must be a non-empty list");
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& item : v) {
      if (!item.IsScalar()) fail(item, key, "items must be strings");
      std::string s = item.as<std::string>();
      if (!seen.insert(s).second) fail(item, key, "'" + s + "' is listed twice");
      out.push_back(s);
    }
    return out;
  }

  template <std::size_t N>
  void one_of(const YAML::Node& at, const std::string& field, const std::string& value,
              const std::array<const char*, N>& allowed) const {
    std::string names;
    for (const char* a : allowed) {
      if (value == a) return;
      names += (names.empty() ? "" : ", ") + std::string(a);
    }
    fail(at, field, "'" + value + "' is not one of: " + names);
  }

 private:
  fs::path file_;
};

}  // namespace

Scenario load_scenario(const fs::path& file) {
  Reader r(file);
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
             spec.client_auth, std::array{"ignore", "request", "require"});
    for (const auto& other : s.beacons)
      if (other.name == spec.name) r.fail(b, f + ".name", "'" + spec.name + "' is used twice");
    s.beacons.push_back(spec);
  }

  const YAML::Node policy = root["policy"];
  if (!policy || !policy.IsMap()) r.fail(policy ? policy : root, "policy", "must be a mapping");
  const std::string cc =
      r.str(policy, "client_certificate", "policy.client_certificate", "required");
  r.one_of(policy["client_certificate"] ? policy["client_certificate"] : policy,
           "policy.client_certificate", cc, std::array{"required"});
  s.revocation = r.str(policy, "revocation", "policy.revocation", "off");
  r.one_of(policy["revocation"] ? policy["revocation"] : policy, "policy.revocation", s.revocation,
           std::array{"off", "crl"});

  s.control_credential = r.str(root, "control_credential", "control_credential", "valid");
  s.credentials = r.list(root, "credentials");
  s.operations = r.list(root, "operations");
  s.entry_paths = r.list(root, "entry_paths");
  for (const auto& item : root["entry_paths"])
    r.one_of(item, "entry_paths", item.as<std::string>(), std::array{"https"});
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
