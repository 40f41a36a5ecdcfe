// issuer.hpp: how the test PKI issues certificates: keys of one type, PKCS#10 requests signed by a
// CA with explicit validity dates, every random byte from one RNG (seeded from --seed for a
// reproducible PKI). Internal to the pki library.
#pragma once

#include <botan/pk_keys.h>
#include <botan/rng.h>
#include <botan/x509cert.h>
#include <botan/x509self.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "pki/pki.hpp"

namespace mtls::pki {

using Clock = std::chrono::system_clock;
inline constexpr const char* kHash = "SHA-256";
inline constexpr auto kDay = std::chrono::hours(24);

// An issued certificate together with its key.
struct Issued {
  Botan::X509_Certificate cert;
  std::unique_ptr<Botan::Private_Key> key;
};

// The system RNG, or a ChaCha RNG seeded from `seed`.
std::unique_ptr<Botan::RandomNumberGenerator> make_rng(const std::optional<std::uint64_t>& seed);

// Subject (CN, O, C) and validity of a certificate to issue.
Botan::X509_Cert_Options options(const std::string& cn, Clock::time_point not_before,
                                 Clock::time_point not_after);

// A device certificate's options: digitalSignature and one extended key usage.
Botan::X509_Cert_Options client_options(const std::string& cn, Clock::time_point nb,
                                        Clock::time_point na, const char* eku = "PKIX.ClientAuth");

// A PKCS#12 password of 24 unambiguous letters and digits.
std::string password_from(Botan::RandomNumberGenerator& rng);

// Issues certificates with one key type and one RNG.
class Issuer {
 public:
  Issuer(KeyType type, Botan::RandomNumberGenerator& rng) : type_(type), rng_(rng) {}

  std::unique_ptr<Botan::Private_Key> key() const { return key_of(type_); }
  std::unique_ptr<Botan::Private_Key> key_of(KeyType t) const;
  std::unique_ptr<Botan::Private_Key> rsa1024() const;

  Issued self_signed(Botan::X509_Cert_Options opts, std::unique_ptr<Botan::Private_Key> key) const;
  // A root CA: basicConstraints CA:TRUE, pathlen 1; keyCertSign + cRLSign.
  Issued root(const std::string& cn, Clock::time_point now) const;
  Issued sign(const Issued& ca, Botan::X509_Cert_Options opts,
              std::unique_ptr<Botan::Private_Key> key) const;
  Issued intermediate(const Issued& root, const std::string& cn, Clock::time_point now) const;

  Botan::RandomNumberGenerator& rng() const { return rng_; }

 private:
  KeyType type_;
  Botan::RandomNumberGenerator& rng_;
};

}  // namespace mtls::pki
