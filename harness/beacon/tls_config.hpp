// tls_config.hpp: the beacon's Botan TLS credentials (server chain, client-CA store) and policy
// (client-auth mode, protocol versions, revocation). Loaded once; shared read-only by connections.
#pragma once

#include <botan/certstor.h>
#include <botan/credentials_manager.h>
#include <botan/tls_policy.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace mtls::beacon {

// How a listener treats client certificates.
enum class ClientAuth {
  kIgnore,   // no CertificateRequest
  kRequest,  // CertificateRequest; a client without a certificate is let in
  kRequire,  // CertificateRequest; a client without one gets handshake_failure
};

std::optional<ClientAuth> client_auth_from_string(std::string_view s);
std::string_view to_string(ClientAuth c);

class BeaconCredentials : public Botan::Credentials_Manager {
 public:
  // Throws InputError naming the file when a certificate or key cannot be loaded.
  BeaconCredentials(const std::filesystem::path& server_chain,
                    const std::filesystem::path& server_key, const std::filesystem::path& client_ca,
                    ClientAuth mode);

  std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(
      const std::string& type, const std::string& context) override;
  std::vector<Botan::X509_Certificate> cert_chain(const std::vector<std::string>& cert_key_types,
                                                  const std::string& type,
                                                  const std::string& context) override;
  Botan::Private_Key* private_key_for(const Botan::X509_Certificate& cert, const std::string& type,
                                      const std::string& context) override;

 private:
  ClientAuth mode_;
  std::vector<Botan::X509_Certificate> chain_;
  std::string chain_algo_;
  std::unique_ptr<Botan::Private_Key> key_;
  Botan::Certificate_Store_In_Memory client_cas_;
};

class BeaconPolicy : public Botan::TLS::Policy {
 public:
  explicit BeaconPolicy(ClientAuth mode) : mode_(mode) {}
  bool require_client_certificate_authentication() const override {
    return mode_ == ClientAuth::kRequire;
  }
  // No CRL is loaded yet, so do not demand revocation data (Botan's default would reject all).
  bool require_cert_revocation_info() const override { return false; }
  bool allow_tls10() const override { return false; }
  bool allow_tls11() const override { return false; }
  bool allow_tls12() const override { return true; }
  bool allow_dtls10() const override { return false; }
  bool allow_dtls12() const override { return false; }
  bool allow_client_initiated_renegotiation() const override { return false; }

 private:
  ClientAuth mode_;
};

}  // namespace mtls::beacon
