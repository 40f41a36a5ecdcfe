// lint.hpp: `pki lint`, the check a security engineer runs on the one client certificate they are
// about to distribute to every device: one finding per property (PASS/WARN/FAIL), each property
// judged on its own so that a certificate broken in one way fails exactly that property.
#pragma once

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mtls::pki {

enum class LintStatus { kPass, kWarn, kFail };
std::string_view to_string(LintStatus s);

struct LintFinding {
  std::string property;  // chain, validity, eku, key-usage, key-match, key-strength,
                         // signature-hash, revocation, intermediate, p12-open
  LintStatus status;
  std::string detail;
};

struct LintInput {
  std::filesystem::path ca;  // trust anchors (and intermediates) the beacons use
  std::optional<std::filesystem::path> cert, key;  // PEM (cert file may carry its chain)
  std::optional<std::filesystem::path> p12;
  std::optional<std::string> password;  // for p12; never printed
  std::optional<std::filesystem::path> crl;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

// Throws InputError when the input cannot be used at all (unreadable, not a certificate, wrong
// PKCS#12 password).
std::vector<LintFinding> lint(const LintInput& in);

// 0 when no FAIL, 1 otherwise.
int lint_exit_code(const std::vector<LintFinding>& findings);
nlohmann::json to_json(const std::vector<LintFinding>& findings);

}  // namespace mtls::pki
