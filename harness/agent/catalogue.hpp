// catalogue.hpp: the operation catalogue (fixtures/operations.yaml): what each agent operation
// sends and how its answer is verified.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mtls::agent {

struct Operation {
  std::string id;
  std::string description;
  std::string method;
  std::string path_template;           // contains {device}
  std::optional<std::string> content;  // relative to fixtures/content
  std::string format = "any";          // "xml" or "any"

  std::string path_for(const std::string& device) const;
};

class Catalogue {
 public:
  // Throws InputError naming the file and field.
  static Catalogue load(const std::filesystem::path& file);
  static Catalogue load_default();  // fixtures/operations.yaml

  // Throws InputError listing the known ids.
  const Operation& get(const std::string& id) const;
  std::vector<std::string> ids() const;

 private:
  std::map<std::string, Operation> ops_;
};

}  // namespace mtls::agent
