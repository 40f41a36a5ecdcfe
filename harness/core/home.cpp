// home.cpp: see home.hpp.
#include "core/home.hpp"

#include <cstdlib>

namespace mtls {

std::filesystem::path harness_home() {
  if (const char* env = std::getenv("MTLS_HARNESS_HOME"); env != nullptr && *env != '\0')
    return env;
  return MTLS_HARNESS_HOME;
}
std::filesystem::path fixtures_dir() {
  return harness_home() / "fixtures";
}
std::filesystem::path scenarios_dir() {
  return harness_home() / "scenarios";
}
std::string harness_version() {
  return MTLS_HARNESS_VERSION;
}

}  // namespace mtls
