// entry_paths.cpp: see entry_paths.hpp.
#include "engine/entry_paths.hpp"

#include "agent/agent.hpp"
#include "core/files.hpp"
#include "core/home.hpp"
#include "core/yaml_file.hpp"

namespace mtls::engine {

EntryPaths EntryPaths::load_fields(const std::filesystem::path& file) {
  const YamlFields y(file);
  const YAML::Node root = load_yaml_file(file);
  if (!root.IsMap()) throw InputError(file.string() + ": must be a mapping of entry paths");
  EntryPaths out;
  const auto& known = agent::entry_path_names();
  for (const auto& kv : root) {
    const std::string name = kv.first.as<std::string>();
    y.one_of(kv.first, name, name, known);
    const YAML::Node n = kv.second;
    if (!n.IsMap()) y.fail(n, name, "must be a mapping");
    EntryPathInfo info;
    info.name = name;
    info.description = y.str(n, "description", name + ".description", "", true);
    if (name != "https") {
      info.title = y.str(n, "title", name + ".title", "", true);
      info.remediation = y.str(n, "remediation", name + ".remediation", "", true);
      info.advisories = y.list(n, "advisories", name + ".advisories");
    }
    for (const auto& o : y.list(n, "closed", name + ".closed")) {
      const auto outcome = outcome_from_string(o);
      if (!outcome || *outcome == Outcome::kAccepted)
        y.fail(n["closed"], name + ".closed", "'" + o + "' is not a refusing outcome name");
      info.closed.push_back(*outcome);
    }
    out.paths_[name] = std::move(info);
  }
  for (const auto& name : known)
    if (!out.paths_.contains(name))
      throw InputError(file.string() + ": entry path '" + name + "' is not described");
  return out;
}

EntryPaths EntryPaths::load(const std::filesystem::path& file) {
  return guard_yaml(file, [&] { return load_fields(file); });
}

EntryPaths EntryPaths::load_default() {
  return load(fixtures_dir() / "entry_paths.yaml");
}

const EntryPathInfo& EntryPaths::get(const std::string& name) const {
  auto it = paths_.find(name.substr(0, name.find(':')));  // "sni:<name>" is the door "sni"
  if (it == paths_.end()) throw InputError("entry path '" + name + "' is not known");
  return it->second;
}

std::string EntryPaths::fill(std::string text, const std::string& beacon, const std::string& name) {
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"{beacon}", beacon},
                                   std::pair<std::string, std::string>{"{name}", name}})
    for (auto pos = text.find(key); pos != std::string::npos;
         pos = text.find(key, pos + value.size()))
      text.replace(pos, key.size(), value);
  return text;
}

}  // namespace mtls::engine
