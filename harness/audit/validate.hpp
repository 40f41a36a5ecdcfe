// validate.hpp: would a beacon that requires client certificates accept this device certificate
// at a given time? The rules OpenSSL's X509_verify_cert applies for a TLS server (purpose
// sslclient, security level 2), written on Botan so that a fleet of 100,000 certificates is
// decided on every core without OpenSSL 3.0's per-certificate locks, with every reason at once:
//  - chain: a path from the leaf through the certificates its file ships to a trust anchor; each
//    signature verifies with its issuer's key; issuers are CAs (basicConstraints, keyCertSign)
//    within their validity; a self-signed certificate is trusted only if it is an anchor. A
//    pinned leaf (a self-signed end-entity certificate that is itself an anchor) is trusted as is.
//  - validity: the leaf's notBefore/notAfter; eku: clientAuth (or no EKU); key-usage:
//    digitalSignature (or no key usage); key-strength: 112 bits or more (RSA 2048, P-256);
//    signature-hash: not MD5 or SHA-1 below the anchor;
//  - revocation (when CRLs are given): a CRL from the leaf's issuer, signed by it, current, that
//    does not list the leaf.
// Issuer keys are decoded once; CA signatures are checked once per (certificate, issuer) pair.
#pragma once

#include <botan/pk_keys.h>
#include <botan/x509_crl.h>
#include <botan/x509cert.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace mtls::audit {

class Validator {
 public:
  Validator(std::vector<Botan::X509_Certificate> anchors, std::vector<Botan::X509_CRL> crls);

  // Every reason to refuse {property, detail} (empty: accepted). Thread-safe.
  nlohmann::json reasons(const Botan::X509_Certificate& leaf,
                         const std::vector<Botan::X509_Certificate>& chain,
                         std::chrono::system_clock::time_point when) const;

 private:
  const Botan::Public_Key* key_of(const Botan::X509_Certificate& cert) const;
  bool signed_by(const Botan::X509_Certificate& cert, const Botan::X509_Certificate& issuer,
                 bool cache) const;
  void chain_reasons(const Botan::X509_Certificate& leaf,
                     const std::vector<Botan::X509_Certificate>& chain, const Botan::X509_Time& at,
                     nlohmann::json& out) const;
  void revocation_reasons(const Botan::X509_Certificate& leaf,
                          const std::vector<Botan::X509_Certificate>& chain,
                          const Botan::X509_Time& at, nlohmann::json& out) const;

  struct IssuerKey {
    std::shared_ptr<Botan::Public_Key> key;
    std::shared_ptr<void> ec;  // OpenSSL's EC_KEY for P-256 issuers: the fast ECDSA path
  };
  const IssuerKey* issuer_key(const Botan::X509_Certificate& cert) const;

  std::vector<Botan::X509_Certificate> anchors_;
  std::vector<Botan::X509_CRL> crls_;
  mutable std::shared_mutex mu_;  // the caches below: read by every thread, written rarely
  mutable std::map<std::string, IssuerKey> keys_;   // by fingerprint
  mutable std::map<std::string, bool> signatures_;  // "cert fp|issuer fp" -> verified
};

}  // namespace mtls::audit
