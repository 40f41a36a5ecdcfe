// yaml_file.cpp: see yaml_file.hpp.
#include "core/yaml_file.hpp"

#include "core/files.hpp"

namespace mtls {

YAML::Node load_yaml_file(const std::filesystem::path& file) {
  try {
    return YAML::Load(read_file(file));
  } catch (const YAML::Exception& e) {
    throw InputError(file.string() + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML (" +
                     e.msg + ")");
  }
}

}  // namespace mtls
