// openssl_crypto.cpp: see openssl_crypto.hpp.
#include "beacon/openssl_crypto.hpp"

// ECDSA goes through OpenSSL's EC_KEY functions: in OpenSSL 3.0 they skip the provider look-ups
// (and their locks) that EVP does on every operation, which cost more than a P-256 verification.
#define OPENSSL_API_COMPAT 0x10100000L
#include <botan/hash.h>
#include <botan/oids.h>
#include <botan/pkcs8.h>
#include <botan/x509_key.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>

#include "core/free_with.hpp"

namespace mtls::beacon {

namespace {

using Pkey = std::unique_ptr<EVP_PKEY, FreeWith<EVP_PKEY_free>>;
using EcKey = std::unique_ptr<EC_KEY, FreeWith<EC_KEY_free>>;
using EcSig = std::unique_ptr<ECDSA_SIG, FreeWith<ECDSA_SIG_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, FreeWith<EVP_MD_CTX_free>>;

constexpr std::size_t kMaxPublicKeys = 256;  // distinct client and CA keys kept converted

// A Botan padding name ("EMSA1(SHA-256)", "EMSA3(SHA-256)", "PSSR(SHA-256,MGF1,32)") as OpenSSL
// parameters; nullopt for anything else.
struct Padding {
  enum Kind { kEcdsa, kPkcs1, kPss } kind;
  const EVP_MD* md;
  std::string hash;  // Botan's name of the digest
};

const EVP_MD* digest_named(const std::string& name) {
  if (name == "SHA-256") return EVP_sha256();
  if (name == "SHA-384") return EVP_sha384();
  if (name == "SHA-512") return EVP_sha512();
  if (name == "SHA-224") return EVP_sha224();
  if (name == "SHA-1" || name == "SHA-160") return EVP_sha1();
  return nullptr;
}

std::optional<Padding> padding_of(const std::string& emsa) {
  const auto open = emsa.find('(');
  if (open == std::string::npos || emsa.back() != ')') return std::nullopt;
  const std::string scheme = emsa.substr(0, open);
  const std::string args = emsa.substr(open + 1, emsa.size() - open - 2);
  const std::string hash = args.substr(0, args.find(','));
  const EVP_MD* md = digest_named(hash);
  if (md == nullptr) return std::nullopt;
  if (scheme == "EMSA1" && hash == args) return Padding{Padding::kEcdsa, md, hash};
  if ((scheme == "EMSA3" || scheme == "EMSA_PKCS1") && hash == args)
    return Padding{Padding::kPkcs1, md, hash};
  // PSS with MGF1 of the same hash and a salt as long as the digest: what TLS 1.2 uses.
  if (scheme == "PSSR" || scheme == "EMSA4") {
    const std::string salt = std::to_string(EVP_MD_get_size(md));
    if (args == hash || args == hash + ",MGF1," + salt) return Padding{Padding::kPss, md, hash};
  }
  return std::nullopt;
}

bool key_fits(EVP_PKEY* key, Padding::Kind kind) {
  const int id = EVP_PKEY_get_base_id(key);
  return kind == Padding::kEcdsa ? id == EVP_PKEY_EC : id == EVP_PKEY_RSA;
}

// Sets RSA padding on a signing or verifying context.
bool set_padding(EVP_PKEY_CTX* pctx, const Padding& p) {
  if (p.kind == Padding::kEcdsa) return true;
  if (p.kind == Padding::kPkcs1) return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, p.md) > 0;
}

std::vector<uint8_t> digest_of(const Padding& p, const uint8_t* msg, std::size_t len) {
  const auto h = Botan::HashFunction::create_or_throw(p.hash);
  h->update(msg, len);
  const auto d = h->final();
  return {d.begin(), d.end()};
}

// ECDSA on the EC_KEY path: the signature must be DER exactly (what EVP insists on too: another
// encoding of the same numbers, or trailing bytes, is refused).
bool ecdsa_verify(EC_KEY* key, const Padding& p, const uint8_t* msg, std::size_t msg_len,
                  const uint8_t* sig, std::size_t sig_len) {
  const unsigned char* q = sig;
  EcSig s(d2i_ECDSA_SIG(nullptr, &q, static_cast<long>(sig_len)));
  if (!s || q != sig + sig_len) return ERR_clear_error(), false;
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(s.get(), &der);
  const bool canonical =
      der_len == static_cast<int>(sig_len) && std::equal(sig, sig + sig_len, der);
  OPENSSL_free(der);
  if (!canonical) return false;
  const auto digest = digest_of(p, msg, msg_len);
  const bool ok =
      ECDSA_do_verify(digest.data(), static_cast<int>(digest.size()), s.get(), key) == 1;
  ERR_clear_error();
  return ok;
}

bool verify_with(EVP_PKEY* key, const Padding& p, const uint8_t* msg, std::size_t msg_len,
                 const uint8_t* sig, std::size_t sig_len) {
  MdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, p.md, nullptr, key) > 0 &&
                  set_padding(pctx, p) &&
                  EVP_DigestVerify(ctx.get(), sig, sig_len, msg, msg_len) == 1;
  ERR_clear_error();  // a bad signature leaves errors on this thread's queue
  return ok;
}

// A key as OpenSSL holds it: EVP for every algorithm, and EC_KEY for ECDSA.
struct OsslKey {
  Pkey evp;
  EcKey ec;  // null unless an EC key
};

std::shared_ptr<const OsslKey> keep(Pkey evp) {
  if (!evp) return nullptr;
  auto k = std::make_shared<OsslKey>();
  if (EVP_PKEY_get_base_id(evp.get()) == EVP_PKEY_EC) k->ec.reset(EVP_PKEY_get1_EC_KEY(evp.get()));
  k->evp = std::move(evp);
  ERR_clear_error();
  return k;
}

}  // namespace

struct OpensslCrypto::Impl {
  std::mutex mu;
  // The beacon's own keys (they live as long as the beacon), and public keys by their
  // SubjectPublicKeyInfo DER (bounded: emptied when full).
  std::map<const Botan::Private_Key*, std::shared_ptr<const OsslKey>> private_keys;
  std::map<std::vector<uint8_t>, std::shared_ptr<const OsslKey>> public_keys;

  // Null when OpenSSL refuses the key.
  std::shared_ptr<const OsslKey> private_key(const Botan::Private_Key& key) {
    std::lock_guard lock(mu);
    auto it = private_keys.find(&key);
    if (it == private_keys.end()) {
      const Botan::secure_vector<uint8_t> der = Botan::PKCS8::BER_encode(key);
      const unsigned char* p = der.data();
      Pkey evp(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
      ERR_clear_error();
      it = private_keys.emplace(&key, keep(std::move(evp))).first;
    }
    return it->second;
  }

  std::shared_ptr<const OsslKey> public_key(const std::vector<uint8_t>& spki) {
    std::lock_guard lock(mu);
    auto it = public_keys.find(spki);
    if (it == public_keys.end()) {
      if (public_keys.size() >= kMaxPublicKeys) public_keys.clear();
      const unsigned char* p = spki.data();
      Pkey evp(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
      ERR_clear_error();
      if (evp && p != spki.data() + spki.size()) evp.reset();  // trailing bytes: not DER
      it = public_keys.emplace(spki, keep(std::move(evp))).first;
    }
    return it->second;
  }
};

namespace {

bool verify_key(const OsslKey& key, const Padding& p, const uint8_t* msg, std::size_t msg_len,
                const uint8_t* sig, std::size_t sig_len) {
  if (p.kind == Padding::kEcdsa && key.ec)
    return ecdsa_verify(key.ec.get(), p, msg, msg_len, sig, sig_len);
  return verify_with(key.evp.get(), p, msg, msg_len, sig, sig_len);
}

}  // namespace

OpensslCrypto::OpensslCrypto() : impl_(std::make_unique<Impl>()) {}
OpensslCrypto::~OpensslCrypto() = default;

std::optional<std::vector<uint8_t>> OpensslCrypto::sign(const Botan::Private_Key& key,
                                                        const std::string& emsa, bool der,
                                                        const std::vector<uint8_t>& msg) {
  const auto p = padding_of(emsa);
  if (!p || (p->kind == Padding::kEcdsa && !der)) return std::nullopt;
  const auto k = impl_->private_key(key);
  if (!k || !key_fits(k->evp.get(), p->kind)) return std::nullopt;
  std::vector<uint8_t> sig;
  bool ok = false;
  if (p->kind == Padding::kEcdsa && k->ec) {
    const auto digest = digest_of(*p, msg.data(), msg.size());
    EcSig s(ECDSA_do_sign(digest.data(), static_cast<int>(digest.size()), k->ec.get()));
    unsigned char* out = nullptr;
    const int len = s ? i2d_ECDSA_SIG(s.get(), &out) : -1;
    if (len > 0) sig.assign(out, out + len), ok = true;
    OPENSSL_free(out);
  } else {
    MdCtx ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    std::size_t len = 0;
    ok = ctx && EVP_DigestSignInit(ctx.get(), &pctx, p->md, nullptr, k->evp.get()) > 0 &&
         set_padding(pctx, *p) &&
         EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size()) > 0;
    if (ok) {
      sig.resize(len);
      ok = EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) > 0;
      sig.resize(len);
    }
  }
  ERR_clear_error();
  if (!ok) return std::nullopt;  // Botan signs instead
  return sig;
}

std::optional<bool> OpensslCrypto::verify(const Botan::Public_Key& key, const std::string& emsa,
                                          bool der, const std::vector<uint8_t>& msg,
                                          const std::vector<uint8_t>& sig) {
  const auto p = padding_of(emsa);
  if (!p || (p->kind == Padding::kEcdsa && !der)) return std::nullopt;
  const auto k = impl_->public_key(Botan::X509::BER_encode(key));
  if (!k || !key_fits(k->evp.get(), p->kind)) return std::nullopt;
  return verify_key(*k, *p, msg.data(), msg.size(), sig.data(), sig.size());
}

std::optional<bool> OpensslCrypto::verify_certificate(const Botan::X509_Certificate& cert,
                                                      const std::vector<uint8_t>& issuer_spki) {
  // "ECDSA/EMSA1(SHA-256)", "RSA/EMSA3(SHA-256)"; RSA-PSS ("RSA/EMSA4" with parameters in the
  // AlgorithmIdentifier) and anything else are Botan's.
  const std::string name = Botan::OIDS::oid2str_or_empty(cert.signature_algorithm().get_oid());
  const auto slash = name.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const std::string algo = name.substr(0, slash);
  const auto p = padding_of(name.substr(slash + 1));
  if (!p || p->kind == Padding::kPss || (algo == "ECDSA") != (p->kind == Padding::kEcdsa) ||
      (algo != "ECDSA" && algo != "RSA"))
    return std::nullopt;
  const auto k = impl_->public_key(issuer_spki);
  if (!k || !key_fits(k->evp.get(), p->kind)) return std::nullopt;
  const std::vector<uint8_t> body = cert.tbs_data();  // the TBSCertificate, DER
  const std::vector<uint8_t>& sig = cert.signature();
  return verify_key(*k, *p, body.data(), body.size(), sig.data(), sig.size());
}

}  // namespace mtls::beacon
