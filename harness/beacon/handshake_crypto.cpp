// handshake_crypto.cpp: see handshake_crypto.hpp.
#include "beacon/handshake_crypto.hpp"

#include <botan/oids.h>
#include <botan/tls_alert.h>
#include <botan/tls_exceptn.h>
#include <botan/x509_ext.h>

namespace mtls::beacon {

std::vector<uint8_t> SignerPool::sign(const Botan::Private_Key& key, const std::string& emsa,
                                      Botan::Signature_Format format,
                                      const std::vector<uint8_t>& msg) {
  const Slot slot{&key, emsa, format};
  std::unique_ptr<Botan::PK_Signer> signer;
  {
    std::lock_guard lock(mu_);
    auto& idle = idle_[slot];
    if (!idle.empty()) {
      signer = std::move(idle.back());
      idle.pop_back();
    }
  }
  if (!signer) signer = std::make_unique<Botan::PK_Signer>(key, rng_, emsa, format);
  auto sig = signer->sign_message(msg, rng_);
  std::lock_guard lock(mu_);
  auto& idle = idle_[slot];
  if (idle.size() < kMaxIdle) idle.push_back(std::move(signer));
  return sig;
}

namespace {

using Botan::Certificate_Status_Code;
using Path = std::vector<std::shared_ptr<const Botan::X509_Certificate>>;

}  // namespace

ClientChainValidator::ClientChainValidator(Botan::Certificate_Store& store, OpensslCrypto* fast)
    : store_(store), fast_(fast) {
  for (const auto& dn : store.all_subjects()) {
    for (const auto& cert : store.find_all_certs(dn, {})) {
      if (!cert->is_self_signed()) continue;
      std::unique_ptr<Botan::Public_Key> key;
      try {
        key = cert->load_subject_public_key();
      } catch (const std::exception&) {
        continue;  // not an anchor the quick path can use: Botan decides for chains ending here
      }
      const auto self = cert->verify_signature(*key);
      const auto strength = key->estimated_strength();
      anchors_.push_back({cert, std::move(key), self, strength});
    }
  }
}

const ClientChainValidator::Anchor* ClientChainValidator::anchor_for(
    const Botan::X509_Certificate& cert) const {
  for (const auto& a : anchors_)
    if (a.cert.get() == &cert || *a.cert == cert) return &a;
  return nullptr;
}

std::pair<Certificate_Status_Code, std::size_t> ClientChainValidator::check_signature(
    const Botan::X509_Certificate& cert, const Botan::X509_Certificate& issuer,
    const Botan::Public_Key* anchor_key) const {
  if (fast_ != nullptr) {
    const std::vector<uint8_t>& spki = issuer.subject_public_key_info();
    std::optional<std::size_t> strength;
    if (anchor_key != nullptr) {
      strength = anchor_key->estimated_strength();
    } else {
      std::lock_guard lock(strength_mu_);
      if (auto it = strengths_.find(spki); it != strengths_.end()) strength = it->second;
    }
    if (strength) {
      if (const auto ok = fast_->verify_certificate(cert, spki))
        return {*ok ? Certificate_Status_Code::VERIFIED : Certificate_Status_Code::SIGNATURE_ERROR,
                *strength};
    }
  }
  std::unique_ptr<Botan::Public_Key> decoded;
  const Botan::Public_Key& key =
      anchor_key != nullptr ? *anchor_key : *(decoded = issuer.load_subject_public_key());
  const std::size_t strength = key.estimated_strength();
  if (fast_ != nullptr && anchor_key == nullptr) {  // next time, OpenSSL checks it
    std::lock_guard lock(strength_mu_);
    if (strengths_.size() >= 256) strengths_.clear();
    strengths_[issuer.subject_public_key_info()] = strength;
  }
  return {cert.verify_signature(key), strength};
}

bool ClientChainValidator::quick_accepts(const std::vector<Botan::X509_Certificate>& chain,
                                         const Botan::Path_Validation_Restrictions& restrictions,
                                         Botan::Usage_Type usage,
                                         std::chrono::system_clock::time_point when) const {
  if (chain.empty()) return false;
  Path path;
  Path extras;
  for (std::size_t i = 1; i < chain.size(); ++i)
    extras.push_back(std::make_shared<const Botan::X509_Certificate>(chain[i]));
  const auto leaf = std::make_shared<const Botan::X509_Certificate>(chain[0]);
  if (Botan::PKIX::build_certificate_path(path, {&store_}, leaf, extras) !=
          Certificate_Status_Code::OK ||
      path.size() < 2)
    return false;
  const Anchor* anchor = anchor_for(*path.back());
  if (anchor == nullptr) return false;

  const std::size_t n = path.size();
  Botan::CertificatePathStatusCodes status(n);
  const Botan::X509_Time now(when);

  // The end entity: the usage asked for, and no certificate-signing key outside a CA.
  if (!path[0]->allowed_usage(usage)) status[0].insert(Certificate_Status_Code::INVALID_USAGE);
  if (!path[0]->is_CA_cert() && path[0]->has_constraints(Botan::KEY_CERT_SIGN))
    status[0].insert(Certificate_Status_Code::INVALID_USAGE);

  for (std::size_t i = 0; i < n; ++i) {
    const bool at_anchor = i + 1 == n;
    const Botan::X509_Certificate& cert = *path[i];
    const Botan::X509_Certificate& issuer = at_anchor ? cert : *path[i + 1];
    auto& s = status[i];

    if (cert.issuer_dn() != issuer.subject_dn())
      s.insert(Certificate_Status_Code::CHAIN_NAME_MISMATCH);
    if (cert.is_serial_negative()) s.insert(Certificate_Status_Code::CERT_SERIAL_NEGATIVE);
    for (const auto& [oid, value] : cert.subject_dn().dn_info()) {
      const std::size_t bound = Botan::X509_DN::lookup_ub(oid);
      if (bound > 0 && value.size() > bound) s.insert(Certificate_Status_Code::DN_TOO_LONG);
    }
    if (now < cert.not_before()) s.insert(Certificate_Status_Code::CERT_NOT_YET_VALID);
    if (now > cert.not_after()) s.insert(Certificate_Status_Code::CERT_HAS_EXPIRED);
    if (!issuer.is_CA_cert()) s.insert(Certificate_Status_Code::CA_CERT_NOT_FOR_CERT_ISSUER);

    if (Botan::OIDS::oid2str_or_empty(cert.signature_algorithm().get_oid()).empty()) {
      s.insert(Certificate_Status_Code::SIGNATURE_ALGO_UNKNOWN);
    } else {
      Certificate_Status_Code signature;
      std::size_t strength;
      if (at_anchor) {  // verified once, when the store was loaded
        signature = anchor->self_signature;
        strength = anchor->strength;
      } else {  // the issuer's key: the anchor's, decoded at load, or the chain's
        std::tie(signature, strength) =
            check_signature(cert, issuer, i + 2 == n ? anchor->key.get() : nullptr);
      }
      if (signature != Certificate_Status_Code::VERIFIED) s.insert(signature);
      if (strength < restrictions.minimum_key_strength())
        s.insert(Certificate_Status_Code::SIGNATURE_METHOD_TOO_WEAK);
      const auto& hashes = restrictions.trusted_hashes();
      if (!at_anchor && !hashes.empty() && hashes.count(cert.hash_used_for_signature()) == 0)
        s.insert(Certificate_Status_Code::UNTRUSTED_HASH);
    }

    const Botan::Extensions extensions = cert.v3_extensions();
    const auto list = extensions.extensions();
    if (cert.x509_version() < 3 && !list.empty())
      s.insert(Certificate_Status_Code::EXT_IN_V1_V2_CERT);
    for (const auto& entry : list) entry.first->validate(cert, issuer, path, status, i);
    if (list.size() != extensions.get_extension_oids().size())
      s.insert(Certificate_Status_Code::DUPLICATE_CERT_EXTENSION);
  }

  // Path length, from the anchor down: each CA that is not self-issued uses up one step, and a
  // pathLenConstraint can only shorten what is left.
  std::size_t remaining = n;
  for (std::size_t i = n - 1; i > 0; --i) {
    const Botan::X509_Certificate& ca = *path[i];
    if (ca.subject_dn() != ca.issuer_dn()) {
      if (remaining == 0)
        status[i].insert(Certificate_Status_Code::CERT_CHAIN_TOO_LONG);
      else
        --remaining;
    }
    if (ca.path_limit() != Botan::Cert_Extension::NO_CERT_PATH_LIMIT && ca.path_limit() < remaining)
      remaining = ca.path_limit();
  }

  const auto crl = Botan::PKIX::check_crl(path, {&store_}, when);
  Botan::PKIX::merge_revocation_status(status, crl, {},
                                       restrictions.require_revocation_information(),
                                       restrictions.ocsp_all_intermediates());
  return Botan::Path_Validation_Result(status, std::move(path)).successful_validation();
}

std::optional<std::string> ClientChainValidator::pinned_verdict(
    const Botan::X509_Certificate& leaf, const Botan::Path_Validation_Restrictions& restrictions,
    Botan::Usage_Type usage, std::chrono::system_clock::time_point when) const {
  const Anchor* a = anchor_for(leaf);
  if (a == nullptr || leaf.is_CA_cert()) return std::nullopt;
  const Botan::X509_Time now(when);
  if (a->self_signature != Certificate_Status_Code::OK &&
      a->self_signature != Certificate_Status_Code::VERIFIED)
    return "pinned certificate: its self-signature does not verify";
  if (now < leaf.not_before()) return "pinned certificate: not yet valid";
  if (now > leaf.not_after()) return "pinned certificate: expired";
  if (!leaf.allowed_usage(usage)) return "pinned certificate: not for this usage (EKU/key usage)";
  if (a->strength < restrictions.minimum_key_strength()) return "pinned certificate: key too weak";
  if (restrictions.require_revocation_information()) {
    const auto crl = store_.find_crl_for(leaf);
    if (!crl) return "pinned certificate: no CRL from its issuer (revocation required)";
    if (crl->is_revoked(leaf)) return "pinned certificate: revoked";
  }
  return std::string();
}

void ClientChainValidator::verify(
    const std::vector<Botan::X509_Certificate>& chain,
    const std::vector<std::shared_ptr<const Botan::OCSP::Response>>& ocsp, Botan::Usage_Type usage,
    const std::string& hostname, const Botan::TLS::Policy& policy) const {
  if (chain.empty()) throw Botan::Invalid_Argument("Certificate chain was empty");
  const Botan::Path_Validation_Restrictions restrictions(policy.require_cert_revocation_info(),
                                                         policy.minimum_signature_strength());
  const auto now = std::chrono::system_clock::now();
  if (const auto pinned = pinned_verdict(chain.front(), restrictions, usage, now)) {
    if (pinned->empty()) return;  // trusted directly
    throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::BAD_CERTIFICATE,
                                    "Certificate validation failure: " + *pinned);
  }
  bool quick = false;
  if (usage == Botan::Usage_Type::TLS_CLIENT_AUTH && ocsp.empty()) {
    try {
      quick = quick_accepts(chain, restrictions, usage, now);
    } catch (const std::exception&) {
      quick = false;  // e.g. an undecodable key: Botan decides, and says why
    }
  }
  if (quick) return;
  const auto result = Botan::x509_path_validate(
      chain, restrictions, {&store_}, usage == Botan::Usage_Type::TLS_SERVER_AUTH ? hostname : "",
      usage, now, std::chrono::milliseconds(0), ocsp);
  if (!result.successful_validation())
    throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::BAD_CERTIFICATE,
                                    "Certificate validation failure: " + result.result_string());
}

}  // namespace mtls::beacon
