// yaml_file.cpp: see yaml_file.hpp.
#include "core/yaml_file.hpp"

#include <set>

#include "core/files.hpp"

namespace mtls {

void rethrow_yaml_error(const std::filesystem::path& file, const YAML::Exception& e) {
  throw InputError(file.string() + (e.mark.is_null() ? "" : ":" + std::to_string(e.mark.line + 1)) +
                   ": " + (e.msg.empty() ? std::string("not the YAML this file needs") : e.msg) +
                   " (a key or value of an unexpected kind)");
}

YAML::Node load_yaml_file(const std::filesystem::path& file) {
  try {
    return YAML::Load(read_file(file));
  } catch (const YAML::Exception& e) {
    throw InputError(file.string() + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML (" +
                     e.msg + ")");
  }
}

void YamlFields::fail(const YAML::Node& at, const std::string& field,
                      const std::string& what) const {
  std::string line =
      at.IsDefined() && at.Mark().line >= 0 ? ":" + std::to_string(at.Mark().line + 1) : "";
  throw InputError(file_.string() + line + ": field '" + field + "': " + what);
}

std::string YamlFields::str(const YAML::Node& parent, const std::string& key,
                            const std::string& field, const std::string& fallback,
                            bool required) const {
  const YAML::Node v = parent[key];
  if (!v) {
    if (required) fail(parent, field, "is missing");
    return fallback;
  }
  if (!v.IsScalar()) fail(v, field, "must be a string");
  return v.as<std::string>();
}

std::vector<std::string> YamlFields::list(const YAML::Node& parent, const std::string& key,
                                          const std::string& field) const {
  const YAML::Node v = parent[key];
  if (!v) fail(parent, field, "is missing");
  if (!v.IsSequence() || v.size() == 0) fail(v, field, "must be a non-empty list");
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& item : v) {
    if (!item.IsScalar()) fail(item, field, "items must be strings");
    std::string s = item.as<std::string>();
    if (!seen.insert(s).second) fail(item, field, "'" + s + "' is listed twice");
    out.push_back(s);
  }
  return out;
}

std::uint64_t YamlFields::unsigned_int(const YAML::Node& parent, const std::string& key,
                                       const std::string& field, std::uint64_t fallback) const {
  const YAML::Node v = parent[key];
  if (!v) return fallback;
  try {
    if (v.IsScalar() && !v.as<std::string>().starts_with("-")) return v.as<std::uint64_t>();
  } catch (const YAML::Exception&) {
  }
  fail(v, field, "must be a whole number >= 0");
}

double YamlFields::number(const YAML::Node& parent, const std::string& key,
                          const std::string& field, double fallback) const {
  const YAML::Node v = parent[key];
  if (!v) return fallback;
  try {
    if (v.IsScalar()) return v.as<double>();
  } catch (const YAML::Exception&) {
  }
  fail(v, field, "must be a number");
}

bool YamlFields::boolean(const YAML::Node& parent, const std::string& key, const std::string& field,
                         bool fallback) const {
  const YAML::Node v = parent[key];
  if (!v) return fallback;
  try {
    if (v.IsScalar()) return v.as<bool>();
  } catch (const YAML::Exception&) {
  }
  fail(v, field, "must be true or false");
}

void YamlFields::one_of(const YAML::Node& at, const std::string& field, const std::string& value,
                        const std::vector<std::string>& allowed) const {
  std::string names;
  for (const auto& a : allowed) {
    if (value == a) return;
    names += (names.empty() ? "" : ", ") + a;
  }
  fail(at, field, "'" + value + "' is not one of: " + names);
}

YAML::Node YamlFields::map(const YAML::Node& parent, const std::string& key,
                           const std::string& field, bool required) const {
  const YAML::Node v = parent[key];
  if (!v) {
    if (required) fail(parent, field, "is missing");
    return v;
  }
  if (!v.IsMap()) fail(v, field, "must be a mapping");
  return v;
}

void YamlFields::only_keys(const YAML::Node& map, const std::string& where,
                           const std::set<std::string>& allowed) const {
  if (!map.IsMap()) return;
  std::set<std::string> seen;
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    // YAML readers keep the first of two equal keys and drop the second without a word.
    if (!seen.insert(key).second)
      fail(kv.first, where.empty() ? key : where + "." + key,
           "is given twice (the second would be ignored)");
    if (!allowed.contains(key)) {
      std::string names;
      for (const auto& a : allowed) names += (names.empty() ? "" : ", ") + a;
      fail(kv.first, where.empty() ? key : where + "." + key, "unknown key (known: " + names + ")");
    }
  }
}

}  // namespace mtls
