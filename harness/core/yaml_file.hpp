// yaml_file.hpp: loading YAML files and reading their fields with errors that name the file, the
// line and the field ("scenarios/x.yaml:5: field 'policy.revocation': 'maybe' is not one of: ...").
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace mtls {

// Parses a YAML file; a syntax error becomes an InputError naming file and line.
YAML::Node load_yaml_file(const std::filesystem::path& file);

// Runs a loader of `file`: a yaml-cpp error escaping it (a key that is not a string, a node of
// another kind than the loader expects) becomes an InputError naming the file and line, like any
// other bad field (found by fuzz/scenario_fuzz).
[[noreturn]] void rethrow_yaml_error(const std::filesystem::path& file, const YAML::Exception& e);
template <typename F>
auto guard_yaml(const std::filesystem::path& file, F&& load) -> decltype(load()) {
  try {
    return load();
  } catch (const YAML::Exception& e) {
    rethrow_yaml_error(file, e);
  }
}

class YamlFields {
 public:
  explicit YamlFields(std::filesystem::path file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& field,
                         const std::string& what) const;

  // A scalar string; `fallback` when absent and not `required`.
  std::string str(const YAML::Node& parent, const std::string& key, const std::string& field,
                  const std::string& fallback = "", bool required = false) const;
  // A non-empty list of distinct strings (required).
  std::vector<std::string> list(const YAML::Node& parent, const std::string& key,
                                const std::string& field) const;
  std::uint64_t unsigned_int(const YAML::Node& parent, const std::string& key,
                             const std::string& field, std::uint64_t fallback) const;
  double number(const YAML::Node& parent, const std::string& key, const std::string& field,
                double fallback) const;
  bool boolean(const YAML::Node& parent, const std::string& key, const std::string& field,
               bool fallback) const;
  // Fails unless `value` is one of `allowed`, naming them.
  void one_of(const YAML::Node& at, const std::string& field, const std::string& value,
              const std::vector<std::string>& allowed) const;
  // Fails on a key of `map` not in `allowed` (a typo must not be silently ignored), naming the
  // known ones, and on a key given twice. `where`: the mapping's field path ("" for the root).
  void only_keys(const YAML::Node& map, const std::string& where,
                 const std::set<std::string>& allowed) const;
  // A mapping child (`required`: fail when absent); returns an undefined node when absent.
  YAML::Node map(const YAML::Node& parent, const std::string& key, const std::string& field,
                 bool required = false) const;

  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
};

}  // namespace mtls
