// openssl_crypto.hpp: the beacon's handshake public-key operations on OpenSSL's libcrypto (EVP for
// RSA; for ECDSA the EC_KEY functions, which in OpenSSL 3.0 skip EVP's per-operation provider
// look-ups), with Botan 2 still the TLS stack. Botan hands every signature of a handshake to
// TLS::Callbacks (tls_sign_message, tls_verify_message) and lets the beacon validate the client's
// chain (tls_verify_cert_chain); OpenSSL 3's P-256 signatures and verifications are several times
// faster than Botan 2's. Keys are converted once (the beacon's own key when first used; public
// keys by their SubjectPublicKeyInfo bytes, a bounded cache) and every EVP object is the caller's
// for one operation. Whatever this class does not support (an algorithm or format it does not
// know) returns nullopt, and the caller uses Botan: the verdict is never guessed. Differentially
// tested against Botan on good and bad inputs (tests/unit/openssl_crypto_test.cpp). Botan 2's
// server does its ECDHE key generation and agreement itself (there is no server-side callback in
// 2.19), so key agreement stays Botan's.
#pragma once

#include <botan/pk_keys.h>
#include <botan/pk_ops_fwd.h>
#include <botan/x509cert.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mtls::beacon {

// Which library does the beacon's handshake public-key operations (beacon setting `crypto`).
enum class CryptoProvider { kBotan, kOpenssl };

class OpensslCrypto {
 public:
  OpensslCrypto();
  ~OpensslCrypto();
  OpensslCrypto(const OpensslCrypto&) = delete;
  OpensslCrypto& operator=(const OpensslCrypto&) = delete;

  // The signature Botan's tls_sign_message asks for (`emsa` as Botan names the padding:
  // "EMSA1(SHA-256)" ECDSA, "EMSA3(SHA-256)" RSA PKCS#1 v1.5, "PSSR(SHA-256,MGF1,32)" RSA-PSS;
  // `der`: DER-encoded ECDSA signature, else IEEE 1363). nullopt: not supported here.
  std::optional<std::vector<uint8_t>> sign(const Botan::Private_Key& key, const std::string& emsa,
                                           bool der, const std::vector<uint8_t>& msg);

  // A handshake signature check (tls_verify_message). nullopt: not supported here.
  std::optional<bool> verify(const Botan::Public_Key& key, const std::string& emsa, bool der,
                             const std::vector<uint8_t>& msg, const std::vector<uint8_t>& sig);

  // Whether `cert`'s signature verifies under the public key in `issuer_spki` (the issuer's
  // SubjectPublicKeyInfo, DER). nullopt: the signature algorithm is not supported here.
  std::optional<bool> verify_certificate(const Botan::X509_Certificate& cert,
                                         const std::vector<uint8_t>& issuer_spki);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtls::beacon
