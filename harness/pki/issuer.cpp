// issuer.cpp: see issuer.hpp.
#include "pki/issuer.hpp"

#include <botan/chacha_rng.h>
#include <botan/ecdsa.h>
#include <botan/hash.h>
#include <botan/rsa.h>
#include <botan/system_rng.h>
#include <botan/x509_ca.h>

namespace mtls::pki {

std::unique_ptr<Botan::RandomNumberGenerator> make_rng(const std::optional<std::uint64_t>& seed) {
  if (!seed) return std::make_unique<Botan::System_RNG>();
  auto h = Botan::HashFunction::create_or_throw("SHA-256");
  h->update("mtls-harness pki seed " + std::to_string(*seed));
  return std::make_unique<Botan::ChaCha_RNG>(h->final());
}

Botan::X509_Cert_Options options(const std::string& cn, Clock::time_point not_before,
                                 Clock::time_point not_after) {
  Botan::X509_Cert_Options opts;
  opts.common_name = cn;
  opts.organization = "mtls-harness test PKI";
  opts.country = "US";
  opts.start = Botan::X509_Time(not_before);
  opts.end = Botan::X509_Time(not_after);
  return opts;
}

Botan::X509_Cert_Options client_options(const std::string& cn, Clock::time_point nb,
                                        Clock::time_point na, const char* eku) {
  auto opts = options(cn, nb, na);
  opts.constraints = Botan::Key_Constraints::DIGITAL_SIGNATURE;
  opts.add_ex_constraint(eku);
  return opts;
}

std::string password_from(Botan::RandomNumberGenerator& rng) {
  static constexpr char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  std::string pw;
  for (int i = 0; i < 24; ++i) pw += kAlphabet[rng.next_byte() % (sizeof kAlphabet - 1)];
  return pw;
}

std::unique_ptr<Botan::Private_Key> Issuer::key_of(KeyType t) const {
  if (t == KeyType::kRsa2048) return std::make_unique<Botan::RSA_PrivateKey>(rng_, 2048);
  return std::make_unique<Botan::ECDSA_PrivateKey>(rng_, Botan::EC_Group("secp256r1"));
}

std::unique_ptr<Botan::Private_Key> Issuer::rsa1024() const {
  return std::make_unique<Botan::RSA_PrivateKey>(rng_, 1024);
}

Issued Issuer::self_signed(Botan::X509_Cert_Options opts,
                           std::unique_ptr<Botan::Private_Key> key) const {
  auto cert = Botan::X509::create_self_signed_cert(opts, *key, kHash, rng_);
  return {std::move(cert), std::move(key)};
}

Issued Issuer::root(const std::string& cn, Clock::time_point now) const {
  auto opts = options(cn, now - 365 * kDay, now + 3650 * kDay);
  opts.CA_key(1);
  return self_signed(opts, key());
}

Issued Issuer::sign(const Issued& ca, Botan::X509_Cert_Options opts,
                    std::unique_ptr<Botan::Private_Key> key) const {
  auto req = Botan::X509::create_cert_req(opts, *key, kHash, rng_);
  Botan::X509_CA signer(ca.cert, *ca.key, kHash, rng_);
  auto cert = signer.sign_request(req, rng_, opts.start, opts.end);
  return {std::move(cert), std::move(key)};
}

Issued Issuer::intermediate(const Issued& root, const std::string& cn,
                            Clock::time_point now) const {
  auto opts = options(cn, now - 365 * kDay, now + 1825 * kDay);
  opts.CA_key(0);
  return sign(root, opts, key());
}

}  // namespace mtls::pki
