// commands.cpp: the helpers the command files share (see commands.hpp).
#include "cli/commands.hpp"

#include <cstdlib>

#include "core/files.hpp"

namespace mtls::cli {
namespace fs = std::filesystem;
// A secret from an environment variable or a file (first line), never from argv.
std::optional<std::string> read_secret(const std::string& env_flag, const std::string& env_name,
                                       const std::string& file_flag, const fs::path& file) {
  if (!env_name.empty() && !file.empty())
    throw mtls::InputError(env_flag + " and " + file_flag + " are exclusive");
  if (!env_name.empty()) {
    const char* v = std::getenv(env_name.c_str());
    if (v == nullptr)
      throw mtls::InputError(env_flag + " " + env_name + ": that environment variable is not set");
    return std::string(v);
  }
  if (!file.empty()) {
    std::string s = mtls::read_file(file);
    s = s.substr(0, s.find_first_of("\r\n"));
    return s;
  }
  return std::nullopt;
}

std::string p12_password(const std::string& env, const fs::path& file) {
  auto pw = read_secret("--p12-password-env", env, "--p12-password-file", file);
  if (!pw) throw mtls::InputError("--p12 needs --p12-password-env VAR or --p12-password-file FILE");
  return *pw;
}

}  // namespace mtls::cli
