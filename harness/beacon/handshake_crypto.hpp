// handshake_crypto.hpp: the beacon's share of each handshake's public-key work, without two
// repeats Botan 2 makes by default on every handshake:
//  - SignerPool: the beacon's own signer (the RSA blinding factor, the ECDSA blinding set-up) is
//    made once and reused, instead of once per handshake. For RSA-2048 the blinding set-up (a
//    modular inversion) costs more than the signature itself.
//  - ClientChainValidator: validates a client's chain as Botan's x509_path_validate does, except
//    that the trust anchor is taken as given (RFC 5280 section 6.1 makes it an input of path
//    validation; OpenSSL does not check it either unless asked, X509_V_FLAG_CHECK_SS_SIGNATURE):
//    its self-signature is verified and its public key decoded once, when the store is loaded,
//    not on every handshake. When this quick path does not accept a chain, Botan's own
//    x509_path_validate decides, so every rejection, and the reason logged for it, is Botan's.
#pragma once

#include <botan/certstor.h>
#include <botan/ocsp.h>
#include <botan/pk_keys.h>
#include <botan/pubkey.h>
#include <botan/system_rng.h>
#include <botan/tls_policy.h>
#include <botan/x509path.h>

#include "beacon/openssl_crypto.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace mtls::beacon {

// Signers for the beacon's own keys, kept between handshakes. Thread-safe: a signer is taken out
// of the pool for one signature and put back. The keys must outlive the pool.
class SignerPool {
 public:
  std::vector<uint8_t> sign(const Botan::Private_Key& key, const std::string& emsa,
                            Botan::Signature_Format format, const std::vector<uint8_t>& msg);

 private:
  using Slot = std::tuple<const Botan::Private_Key*, std::string, Botan::Signature_Format>;
  static constexpr std::size_t kMaxIdle = 8;  // per key: more than the beacon has threads
  std::mutex mu_;
  std::map<Slot, std::vector<std::unique_ptr<Botan::PK_Signer>>> idle_;
  Botan::System_RNG rng_;  // the signers' blinding refreshes draw from it; thread-safe
};

// Client chain validation against one trust store (which must outlive it and not change).
class ClientChainValidator {
 public:
  // `fast`: checks the chain's signatures on OpenSSL where it supports them (null: Botan's).
  explicit ClientChainValidator(Botan::Certificate_Store& store, OpensslCrypto* fast = nullptr);

  // What Botan's TLS::Callbacks::tls_verify_cert_chain does, with the quick path first: throws
  // TLS_Exception(BAD_CERTIFICATE, "Certificate validation failure: <Botan's reason>").
  void verify(const std::vector<Botan::X509_Certificate>& chain,
              const std::vector<std::shared_ptr<const Botan::OCSP::Response>>& ocsp,
              Botan::Usage_Type usage, const std::string& hostname,
              const Botan::TLS::Policy& policy) const;

  // The quick path alone: true when it accepts the chain at `when`; false means "let Botan
  // decide" (it never rejects on its own). Public for the differential tests.
  bool quick_accepts(const std::vector<Botan::X509_Certificate>& chain,
                     const Botan::Path_Validation_Restrictions& restrictions,
                     Botan::Usage_Type usage, std::chrono::system_clock::time_point when) const;

  std::size_t anchors() const { return anchors_.size(); }

  // A pinned leaf: a self-signed end-entity certificate (not a CA) that is itself in the trust
  // store, trusted directly as OpenSSL does. Empty when `leaf` is not pinned (Botan decides);
  // otherwise "" to accept, or the reason to refuse (validity, usage, key strength, revocation).
  std::optional<std::string> pinned_verdict(const Botan::X509_Certificate& leaf,
                                            const Botan::Path_Validation_Restrictions& restrictions,
                                            Botan::Usage_Type usage,
                                            std::chrono::system_clock::time_point when) const;

 private:
  struct Anchor {
    std::shared_ptr<const Botan::X509_Certificate> cert;
    std::unique_ptr<Botan::Public_Key> key;
    Botan::Certificate_Status_Code self_signature;  // checked once, at load
    std::size_t strength;
  };
  const Anchor* anchor_for(const Botan::X509_Certificate& cert) const;

  // The signature check of `cert` by `issuer` (its key decoded now unless `anchor_key`), and the
  // issuer key's estimated strength.
  std::pair<Botan::Certificate_Status_Code, std::size_t> check_signature(
      const Botan::X509_Certificate& cert, const Botan::X509_Certificate& issuer,
      const Botan::Public_Key* anchor_key) const;

  Botan::Certificate_Store& store_;
  std::vector<Anchor> anchors_;
  OpensslCrypto* fast_;
  mutable std::mutex strength_mu_;  // issuer keys' strengths, by SubjectPublicKeyInfo
  mutable std::map<std::vector<uint8_t>, std::size_t> strengths_;
};

}  // namespace mtls::beacon
