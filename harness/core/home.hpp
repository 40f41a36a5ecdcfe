// home.hpp: where mtls-harness finds its data (fixtures/, scenarios/), and its version string.
#pragma once

#include <filesystem>
#include <string>

namespace mtls {

// The project home: $MTLS_HARNESS_HOME if set, else the source tree the binary was built from.
std::filesystem::path harness_home();
std::filesystem::path fixtures_dir();   // <home>/fixtures
std::filesystem::path scenarios_dir();  // <home>/scenarios
std::string harness_version();

}  // namespace mtls
