// tls_config.cpp: see tls_config.hpp.
#include "beacon/tls_config.hpp"

#include "core/files.hpp"
#include "pki/pem.hpp"

namespace mtls::beacon {

std::optional<ClientAuth> client_auth_from_string(std::string_view s) {
  if (s == "ignore") return ClientAuth::kIgnore;
  if (s == "request") return ClientAuth::kRequest;
  if (s == "require") return ClientAuth::kRequire;
  return std::nullopt;
}

std::string_view to_string(ClientAuth c) {
  switch (c) {
    case ClientAuth::kIgnore:
      return "ignore";
    case ClientAuth::kRequest:
      return "request";
    case ClientAuth::kRequire:
      return "require";
  }
  return "require";
}

BeaconCredentials::BeaconCredentials(const std::filesystem::path& server_chain,
                                     const std::filesystem::path& server_key,
                                     const std::filesystem::path& client_ca, ClientAuth mode)
    : mode_(mode),
      chain_(pki::load_certificates(server_chain)),
      key_(pki::load_private_key(server_key)) {
  chain_algo_ = chain_.front().load_subject_public_key()->algo_name();
  if (key_->algo_name() != chain_algo_ ||
      key_->subject_public_key() != chain_.front().load_subject_public_key()->subject_public_key())
    throw InputError(server_key.string() + ": private key does not match certificate " +
                     server_chain.string());
  for (const auto& ca : pki::load_certificates(client_ca)) client_cas_.add_certificate(ca);
}

std::vector<Botan::Certificate_Store*> BeaconCredentials::trusted_certificate_authorities(
    const std::string& type, const std::string&) {
  // Returning stores here is what makes Botan send a CertificateRequest.
  if (type == "tls-server" && mode_ != ClientAuth::kIgnore) return {&client_cas_};
  return {};
}

std::vector<Botan::X509_Certificate> BeaconCredentials::cert_chain(
    const std::vector<std::string>& cert_key_types, const std::string& type, const std::string&) {
  if (type != "tls-server") return {};
  for (const auto& t : cert_key_types)
    if (t == chain_algo_) return chain_;
  return {};
}

Botan::Private_Key* BeaconCredentials::private_key_for(const Botan::X509_Certificate& cert,
                                                       const std::string& type,
                                                       const std::string&) {
  if (type == "tls-server" && cert == chain_.front()) return key_.get();
  return nullptr;
}

}  // namespace mtls::beacon
