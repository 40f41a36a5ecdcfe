// yaml_file.hpp: loads a YAML file; a syntax error becomes an InputError naming file and line.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>

namespace mtls {

YAML::Node load_yaml_file(const std::filesystem::path& file);

}  // namespace mtls
