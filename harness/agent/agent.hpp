// agent.hpp: the simulated inventory agent. One operation against one beacon over libcurl
// (OpenSSL backend), with every structured signal kept as evidence and classified into an outcome.
// Settings are named after the real agent's preferences they mirror.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "agent/catalogue.hpp"
#include "core/result.hpp"

namespace mtls::agent {

// curl_global_init / curl_global_cleanup for the life of the program (create one in main).
class CurlGlobal {
 public:
  CurlGlobal();
  ~CurlGlobal();
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

struct AgentOptions {
  std::string beacon_url;                     // https://host:port (no path)
  std::filesystem::path ca_file;              // SSLCACertificateFile
  std::optional<std::filesystem::path> cert;  // client certificate (PEM)
  std::optional<std::filesystem::path> key;   // its private key (PEM, unencrypted)
  std::string credential_name;                // label for the result ("valid", "none", ...)
  std::string device = "device-0001";
  bool check_server_certificate = true;  // CheckServerCertificate
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{30000};
  std::optional<std::string> expect_sha256;  // digest of the expected payload, when known
};

// Throws InputError for options that make no request possible (bad URL, unreadable CA file).
// Everything the beacon or the credential does is reported in the record, never thrown.
ResultRecord run_operation(const Operation& op, const AgentOptions& options);

}  // namespace mtls::agent
