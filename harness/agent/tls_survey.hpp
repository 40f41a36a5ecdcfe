// tls_survey.hpp: one handshake without a client certificate, to learn what a beacon's port shows
// anyone: the names in its certificate (the other TLS names the `sni` door tries), the address it
// answers on (the `no-sni` door), and whether it asks for a client certificate and from which CAs
// (the CertificateRequest's list, as testssl.sh reports it). Sends no HTTP request.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mtls::agent {

struct TlsSurvey {
  bool connected = false;  // TCP connected (the handshake itself may still have been refused)
  bool handshake_completed = false;
  std::string error;                           // why not, when it failed
  std::string address;                         // the IP address the name led to
  std::vector<std::string> certificate_names;  // the server certificate's DNS names (SAN, CN)
  std::optional<std::string> tls_version;
  bool client_certificate_requested = false;
  // "none" (not asked for), "requested" (asked for, but the TLS connection stays up without one:
  // any enforcement is the HTTP layer's, as nginx's `on`) or "required" (TLS refused without one:
  // in the handshake, or right after it in TLS 1.3)
  std::string client_auth = "none";
  std::vector<std::string> acceptable_client_cas;  // CertificateRequest CA names (RFC 2253)
  // The server certificate the beacon presented: the SHA-256 fingerprint of its DER (hex; what
  // `openssl x509 -noout -fingerprint -sha256` prints, there upper-case with colons), its subject
  // and issuer.
  std::string certificate_sha256, certificate_subject, certificate_issuer;
};

// The issuers' names (RFC 2253, as the CertificateRequest list is printed) of every certificate in
// a PEM file: the CAs a device with this chain needs a beacon to name. Empty when unreadable.
std::vector<std::string> issuer_names(const std::filesystem::path& pem);

// The subjects (RFC 2253) of the system's public roots (Debian's ca-certificates bundle), to tell
// a client CA list that admits certificates of public CAs. Empty when the bundle is missing.
std::vector<std::string> public_root_names();

// `url`: an https base URL; `resolve`: curl-style HOST:PORT:ADDR overrides.
TlsSurvey survey_tls(const std::string& url, const std::vector<std::string>& resolve,
                     const std::string& source_address, std::chrono::milliseconds timeout);

}  // namespace mtls::agent
