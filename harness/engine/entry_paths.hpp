// entry_paths.hpp: the entry-path catalogue (fixtures/entry_paths.yaml): which outcomes prove a
// door closed, and what a finding about an open one says (title, advisories, remediation).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/outcome.hpp"

namespace mtls::engine {

struct EntryPathInfo {
  std::string name, description, title, remediation;
  std::vector<std::string> advisories;
  std::vector<Outcome> closed;  // outcomes that count as "refused" (PASS with an ACCEPTED control)
};

class EntryPaths {
 public:
  // Throws InputError naming the file, line and field; every agent entry path must be described.
  static EntryPaths load(const std::filesystem::path& file);
  static EntryPaths load_default();  // fixtures/entry_paths.yaml
  // A door with a parameter ("sni:open.example.com") is described by its class ("sni").
  const EntryPathInfo& get(const std::string& name) const;
  // "{beacon}" and "{name}" filled in.
  static std::string fill(std::string text, const std::string& beacon, const std::string& name);

 private:
  static EntryPaths load_fields(const std::filesystem::path& file);
  std::map<std::string, EntryPathInfo> paths_;
};

}  // namespace mtls::engine
