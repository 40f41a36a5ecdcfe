// audit.hpp: `mtls-harness audit`, the fleet readiness audit before the switch: for every device
// certificate of a fleet (files or folders of PEM, PEM bundles, DER and PKCS#12), would a beacon
// that requires client certificates accept it now, and at a later date; why not (the lint
// properties: chain, validity, eku, key-usage, key-strength, signature-hash, revocation); days
// left; and for the fleet: counts by reason, issuer and expiry month, duplicates (one certificate
// on many devices: one expiry locks them all out on the same day), and who would be locked out.
//
// The decision is what OpenSSL's X509_verify_cert (nginx, Apache, HAProxy) decides with the
// beacons' trust (--ca: CA certificates or pinned self-signed leaves; --crl), purpose sslclient and
// security level 2, at the given time (validate.*: the same rules, e2e-tested against `openssl
// verify`, without OpenSSL 3.0's per-certificate locking); each distinct certificate is validated
// once, on every core.
#pragma once

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mtls::audit {

struct AuditOptions {
  std::vector<std::filesystem::path> paths;  // files or folders (recursive)
  std::filesystem::path ca;                  // the beacons' trust for client authentication
  std::vector<std::filesystem::path> crls;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  std::optional<std::chrono::system_clock::time_point> at;  // the planned switch / a later date
  std::optional<std::string> p12_password;                  // for .p12/.pfx files; never printed
  int expiry_warning_days = 60;
  // Beacon access logs written in `request`/`optional` mode (access_log.hpp), in one format.
  std::vector<std::filesystem::path> access_logs;
  std::string log_format = "nginx";
  unsigned threads = 0;  // 0: the cores
};

// The audit document: metadata, summary, fleet figures and one entry per device certificate.
// Throws InputError naming the file for unreadable input (a PKCS#12 without a password, a file
// that holds no certificate).
nlohmann::json run_audit(const AuditOptions& options);

// 0: every device would be accepted (now and at --at) and every logged client had a valid
// certificate; 1: someone would be locked out.
int exit_code(const nlohmann::json& doc);

// The reports: audit.json, audit.md, audit.html (an expiry chart), junit.xml, audit.csv.
void write_reports(const std::filesystem::path& dir, const nlohmann::json& doc);

}  // namespace mtls::audit
