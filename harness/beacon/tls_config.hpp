// tls_config.hpp: the beacon's Botan TLS pieces. Loaded once (no per-handshake parsing): the
// server identity (chain + key) and, per listener, the client trust store (client CA roots, plus
// the CRLs when revocation is checked) and policy. Per connection, a light Credentials_Manager
// decides whether this handshake sends a CertificateRequest (listener, SNI virtual host, or a
// folder being renegotiated for).
#pragma once

#include <botan/certstor.h>
#include <botan/credentials_manager.h>
#include <botan/symkey.h>
#include <botan/tls_policy.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace mtls::beacon {

// How a listener (or a folder, or a virtual host) treats client certificates.
enum class ClientAuth {
  kIgnore,   // no CertificateRequest
  kRequest,  // CertificateRequest; a client without a certificate is let in
  kRequire,  // CertificateRequest; a client without a valid one is refused
};

std::optional<ClientAuth> client_auth_from_string(std::string_view s);
std::string_view to_string(ClientAuth c);

// The beacon's server certificate chain and key. Throws InputError naming the file.
struct ServerIdentity {
  ServerIdentity(const std::filesystem::path& chain_file, const std::filesystem::path& key_file);
  std::vector<Botan::X509_Certificate> chain;
  std::string algo;
  std::unique_ptr<Botan::Private_Key> key;
};

// The client CA roots a listener trusts, with the CRLs when it checks revocation.
std::unique_ptr<Botan::Certificate_Store_In_Memory> client_trust_store(
    const std::filesystem::path& roots, const std::optional<std::filesystem::path>& crls);

class ConnectionCredentials : public Botan::Credentials_Manager {
 public:
  // `wants_certificate(sni)` says whether this handshake asks for a client certificate.
  ConnectionCredentials(const ServerIdentity& id, Botan::Certificate_Store* trust,
                        const Botan::SymmetricKey& ticket_key,
                        std::function<bool(const std::string&)> wants_certificate)
      : id_(id), trust_(trust), ticket_key_(ticket_key), wants_(std::move(wants_certificate)) {}

  std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(
      const std::string& type, const std::string& context) override;
  std::vector<Botan::X509_Certificate> cert_chain(const std::vector<std::string>& cert_key_types,
                                                  const std::string& type,
                                                  const std::string& context) override;
  Botan::Private_Key* private_key_for(const Botan::X509_Certificate& cert, const std::string& type,
                                      const std::string& context) override;
  Botan::SymmetricKey psk(const std::string& type, const std::string& context,
                          const std::string& identity) override;

 private:
  const ServerIdentity& id_;
  Botan::Certificate_Store* trust_;
  const Botan::SymmetricKey& ticket_key_;
  std::function<bool(const std::string&)> wants_;
};

class BeaconPolicy : public Botan::TLS::Policy {
 public:
  // min_tls: "1.0", "1.1" or "1.2"; crl: demand revocation data for client chains;
  // renegotiation: accept the renegotiation handshakes per-folder client auth needs.
  BeaconPolicy(std::string_view min_tls, bool crl, bool renegotiation)
      : tls10_(min_tls == "1.0"), tls11_(min_tls != "1.2"), crl_(crl), reneg_(renegotiation) {}
  // The beacon enforces "require" itself (so that the alert is configurable).
  bool require_client_certificate_authentication() const override { return false; }
  bool require_cert_revocation_info() const override { return crl_; }
  bool allow_tls10() const override { return tls10_; }
  bool allow_tls11() const override { return tls11_; }
  bool allow_tls12() const override { return true; }
  bool allow_dtls10() const override { return false; }
  bool allow_dtls12() const override { return false; }
  // Botan asks this for server-initiated renegotiation too.
  bool allow_client_initiated_renegotiation() const override { return reneg_; }
  // TLS 1.0/1.1 have no AEAD suites: a legacy listener also offers AES-CBC with HMAC-SHA1.
  std::vector<std::string> allowed_ciphers() const override {
    auto c = Botan::TLS::Policy::allowed_ciphers();
    if (tls11_) c.insert(c.end(), {"AES-256", "AES-128"});
    return c;
  }
  std::vector<std::string> allowed_macs() const override {
    auto m = Botan::TLS::Policy::allowed_macs();
    if (tls11_) m.push_back("SHA-1");
    return m;
  }

 private:
  bool tls10_, tls11_, crl_, reneg_;
};

}  // namespace mtls::beacon
