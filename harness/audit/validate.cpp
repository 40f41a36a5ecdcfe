// validate.cpp: see validate.hpp.
#include "audit/validate.hpp"
#include "pki/manifest.hpp"

// OpenSSL's EC_KEY ECDSA verification runs without OpenSSL 3.0's provider look-ups (and their
// locks); it is 4x as fast as Botan 2's for P-256. Only that one function is used from it.
#define OPENSSL_API_COMPAT 0x10100000L
#include <botan/hash.h>
#include <botan/oids.h>
#include <botan/pkix_enums.h>
#include <botan/pkix_types.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <mutex>

#include "pki/pem.hpp"

namespace mtls::audit {
using json = nlohmann::json;

namespace {

void add(json& out, const std::string& property, const std::string& detail) {
  for (const auto& r : out)
    if (r["property"] == property) return;  // one reason per property, the first found
  out.push_back({{"property", property}, {"detail", detail}});
}

std::string cn(const Botan::X509_DN& dn) {
  const auto v = dn.get_first_attribute("CN");
  return v.empty() ? dn.to_string() : v;
}

bool weak_hash(const Botan::X509_Certificate& c) {
  const std::string algo = Botan::OIDS::oid2str_or_empty(c.signature_algorithm().get_oid());
  return algo.find("SHA-1)") != std::string::npos || algo.find("SHA-160") != std::string::npos ||
         algo.find("MD5") != std::string::npos;
}

bool within(const Botan::X509_Certificate& c, const Botan::X509_Time& at) {
  return !(at < c.not_before()) && !(c.not_after() < at);
}

}  // namespace

Validator::Validator(std::vector<Botan::X509_Certificate> anchors,
                     std::vector<Botan::X509_CRL> crls)
    : anchors_(std::move(anchors)), crls_(std::move(crls)) {}

const Validator::IssuerKey* Validator::issuer_key(const Botan::X509_Certificate& cert) const {
  const std::string fp = pki::fingerprint_sha256(cert);
  {
    std::shared_lock lock(mu_);
    if (auto it = keys_.find(fp); it != keys_.end()) return &it->second;
  }
  IssuerKey k;
  try {
    k.key = cert.load_subject_public_key();
  } catch (const std::exception&) {
    return nullptr;
  }
  if (k.key->algo_name() == "ECDSA") {
    const auto spki = cert.subject_public_key_info();
    const unsigned char* p = spki.data();
    if (EC_KEY* ec = d2i_EC_PUBKEY(nullptr, &p, static_cast<long>(spki.size())))
      k.ec = std::shared_ptr<void>(ec, [](void* e) { EC_KEY_free(static_cast<EC_KEY*>(e)); });
  }
  std::unique_lock lock(mu_);
  return &keys_.emplace(fp, std::move(k)).first->second;
}

const Botan::Public_Key* Validator::key_of(const Botan::X509_Certificate& cert) const {
  const IssuerKey* k = issuer_key(cert);
  return k ? k->key.get() : nullptr;
}

namespace {

// ECDSA with SHA-256 checked by OpenSSL's EC_KEY path; nullopt when it does not apply (another
// algorithm: Botan decides).
std::optional<bool> fast_ecdsa_sha256(const Botan::X509_Certificate& cert, void* ec) {
  if (ec == nullptr ||
      Botan::OIDS::oid2str_or_empty(cert.signature_algorithm().get_oid()) != "ECDSA/EMSA1(SHA-256)")
    return std::nullopt;
  const auto tbs = cert.tbs_data();
  const auto digest = Botan::HashFunction::create_or_throw("SHA-256")->process(tbs);
  const auto& sig = cert.signature();
  const unsigned char* p = sig.data();
  ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  if (s == nullptr) return false;
  const int ok =
      ECDSA_do_verify(digest.data(), static_cast<int>(digest.size()), s, static_cast<EC_KEY*>(ec));
  ECDSA_SIG_free(s);
  return ok == 1;
}

}  // namespace

bool Validator::signed_by(const Botan::X509_Certificate& cert,
                          const Botan::X509_Certificate& issuer, bool cache) const {
  const std::string pair =
      cache ? pki::fingerprint_sha256(cert) + "|" + pki::fingerprint_sha256(issuer) : "";
  if (cache) {
    std::shared_lock lock(mu_);
    if (auto it = signatures_.find(pair); it != signatures_.end()) return it->second;
  }
  const IssuerKey* key = issuer_key(issuer);
  bool ok = false;
  if (key != nullptr) {
    const auto fast = fast_ecdsa_sha256(cert, key->ec.get());
    ok = fast ? *fast : cert.check_signature(*key->key);
  }
  if (cache) {
    std::unique_lock lock(mu_);
    signatures_[pair] = ok;
  }
  return ok;
}

void Validator::chain_reasons(const Botan::X509_Certificate& leaf,
                              const std::vector<Botan::X509_Certificate>& chain,
                              const Botan::X509_Time& at, json& out) const {
  auto is_anchor = [&](const Botan::X509_Certificate& c) {
    return std::find(anchors_.begin(), anchors_.end(), c) != anchors_.end();
  };
  if (leaf.is_self_signed()) {
    if (!is_anchor(leaf))
      add(out, "chain", "self-signed certificate (not in the beacons' trust)");
    else if (!signed_by(leaf, leaf, true))
      add(out, "chain", "certificate signature failure");
    return;  // pinned: trusted directly
  }
  const Botan::X509_Certificate* cur = &leaf;
  for (int depth = 0; depth < 8; ++depth) {
    // The issuer: an anchor first (as OpenSSL prefers trusted certificates), then the file's chain.
    const Botan::X509_Certificate* issuer = nullptr;
    bool trusted = false;
    for (const auto* pool : {&anchors_, &chain}) {
      for (const auto& c : *pool)
        if (c.subject_dn() == cur->issuer_dn() &&
            (cur->authority_key_id().empty() || c.subject_key_id().empty() ||
             cur->authority_key_id() == c.subject_key_id())) {
          issuer = &c;
          trusted = pool == &anchors_;
          break;
        }
      if (issuer) break;
    }
    if (issuer == nullptr) {
      add(out, "chain",
          "unable to get issuer certificate (" + cn(cur->issuer_dn()) + ")" +
              (depth > 0 ? " (at chain depth " + std::to_string(depth) + ")" : ""));
      return;
    }
    if (!signed_by(*cur, *issuer, depth > 0)) {
      add(out, "chain",
          "certificate signature failure (at chain depth " + std::to_string(depth) + ")");
      return;
    }
    if (!issuer->is_CA_cert())
      add(out, "chain", "issuer " + cn(issuer->subject_dn()) + " is not a CA");
    if (!within(*issuer, at))
      add(out, "chain",
          "CA certificate " + cn(issuer->subject_dn()) + " is expired or not yet valid");
    if (!trusted && weak_hash(*cur) && depth > 0)
      add(out, "signature-hash", "CA signature uses a weak hash");
    if (trusted) return;
    if (issuer->is_self_signed()) {
      add(out, "chain", "self-signed certificate in certificate chain (not in the beacons' trust)");
      return;
    }
    cur = issuer;
  }
  add(out, "chain", "certificate chain too long");
}

void Validator::revocation_reasons(const Botan::X509_Certificate& leaf,
                                   const std::vector<Botan::X509_Certificate>& chain,
                                   const Botan::X509_Time& at, json& out) const {
  const Botan::X509_Certificate* issuer = nullptr;
  for (const auto* pool : {&anchors_, &chain})
    for (const auto& c : *pool)
      if (!issuer && c.subject_dn() == leaf.issuer_dn()) issuer = &c;
  if (leaf.is_self_signed()) issuer = &leaf;
  const Botan::X509_CRL* crl = nullptr;
  for (const auto& c : crls_)
    if (c.issuer_dn() == leaf.issuer_dn()) crl = &c;
  if (crl == nullptr || issuer == nullptr) {
    add(out, "revocation", "unable to get certificate CRL");
    return;
  }
  const Botan::Public_Key* key = key_of(*issuer);
  if (key == nullptr || !crl->check_signature(*key)) {
    add(out, "revocation", "CRL signature failure");
    return;
  }
  if (crl->next_update().time_is_set() && crl->next_update() < at) {
    add(out, "revocation", "CRL has expired");
    return;
  }
  if (at < crl->this_update()) {
    add(out, "revocation", "CRL is not yet valid");
    return;
  }
  if (crl->is_revoked(leaf)) add(out, "revocation", "certificate revoked");
}

json Validator::reasons(const Botan::X509_Certificate& leaf,
                        const std::vector<Botan::X509_Certificate>& chain,
                        std::chrono::system_clock::time_point when) const {
  json out = json::array();
  const Botan::X509_Time at(when);
  chain_reasons(leaf, chain, at, out);
  if (at < leaf.not_before()) add(out, "validity", "certificate is not yet valid");
  if (leaf.not_after() < at) add(out, "validity", "certificate has expired");
  if (!leaf.allowed_extended_usage("PKIX.ClientAuth") && !leaf.extended_key_usage().empty())
    add(out, "eku", "unsuitable certificate purpose (no clientAuth)");
  if (leaf.constraints() != Botan::Key_Constraints::NO_CONSTRAINTS &&
      !(leaf.constraints() & Botan::Key_Constraints::DIGITAL_SIGNATURE))
    add(out, "key-usage", "key usage does not include digitalSignature");
  std::unique_ptr<Botan::Public_Key> key;  // the leaf's: decoded here, not cached (one use)
  try {
    key = leaf.load_subject_public_key();
  } catch (const std::exception&) {
    add(out, pki::defect::kKeyStrength, "the public key does not decode");
  }
  if (key && key->estimated_strength() < 112)
    add(out, pki::defect::kKeyStrength,
        "EE certificate key too weak (" + key->algo_name() + " " +
            std::to_string(key->key_length()) + " bits)");
  if (!leaf.is_self_signed() && weak_hash(leaf))
    add(out, "signature-hash", "signed with a weak hash (MD5 or SHA-1)");
  if (!crls_.empty()) revocation_reasons(leaf, chain, at, out);
  return out;
}

}  // namespace mtls::audit
