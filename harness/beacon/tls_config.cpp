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

ServerIdentity::ServerIdentity(const std::filesystem::path& chain_file,
                               const std::filesystem::path& key_file)
    : chain(pki::load_certificates(chain_file)), key(pki::load_private_key(key_file)) {
  algo = chain.front().load_subject_public_key()->algo_name();
  if (key->algo_name() != algo ||
      key->subject_public_key() != chain.front().load_subject_public_key()->subject_public_key())
    throw InputError(key_file.string() + ": private key does not match certificate " +
                     chain_file.string());
}

std::unique_ptr<Botan::Certificate_Store_In_Memory> client_trust_store(
    const std::filesystem::path& roots, const std::optional<std::filesystem::path>& crls) {
  auto store = std::make_unique<Botan::Certificate_Store_In_Memory>();
  for (const auto& ca : pki::load_trust_certificates(roots)) store->add_certificate(ca);
  if (crls)
    for (const auto& crl : pki::load_crls(*crls)) store->add_crl(crl);
  return store;
}

std::vector<Botan::Certificate_Store*> ConnectionCredentials::trusted_certificate_authorities(
    const std::string& type, const std::string& context) {
  // Returning a store is what makes Botan send a CertificateRequest.
  if (type == "tls-server" && wants_(context)) return {trust_};
  return {};
}

std::vector<Botan::X509_Certificate> ConnectionCredentials::cert_chain(
    const std::vector<std::string>& cert_key_types, const std::string& type, const std::string&) {
  if (type != "tls-server") return {};
  for (const auto& t : cert_key_types)
    if (t == id_.algo) return id_.chain;
  return {};
}

Botan::Private_Key* ConnectionCredentials::private_key_for(const Botan::X509_Certificate& cert,
                                                           const std::string& type,
                                                           const std::string&) {
  if (type == "tls-server" && cert == id_.chain.front()) return id_.key.get();
  return nullptr;
}

Botan::SymmetricKey ConnectionCredentials::psk(const std::string& type, const std::string& context,
                                               const std::string&) {
  if (type == "tls-server" && context == "session-ticket") return ticket_key_;
  return Botan::SymmetricKey();
}

}  // namespace mtls::beacon
