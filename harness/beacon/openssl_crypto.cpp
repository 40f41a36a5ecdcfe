// openssl_crypto.cpp: see openssl_crypto.hpp.
#include "beacon/openssl_crypto.hpp"

#include <botan/oids.h>
#include <botan/pkcs8.h>
#include <botan/x509_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

namespace mtls::beacon {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

constexpr std::size_t kMaxPublicKeys = 256;  // distinct client and CA keys kept converted

// A Botan padding name ("EMSA1(SHA-256)", "EMSA3(SHA-256)", "PSSR(SHA-256,MGF1,32)") as OpenSSL
// parameters; nullopt for anything else.
struct Padding {
  enum Kind { kEcdsa, kPkcs1, kPss } kind;
  const EVP_MD* md;
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
  if (scheme == "EMSA1" && hash == args) return Padding{Padding::kEcdsa, md};
  if ((scheme == "EMSA3" || scheme == "EMSA_PKCS1") && hash == args)
    return Padding{Padding::kPkcs1, md};
  // PSS with MGF1 of the same hash and a salt as long as the digest: what TLS 1.2 uses.
  if (scheme == "PSSR" || scheme == "EMSA4") {
    const std::string salt = std::to_string(EVP_MD_get_size(md));
    if (args == hash || args == hash + ",MGF1," + salt) return Padding{Padding::kPss, md};
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

}  // namespace

struct OpensslCrypto::Impl {
  std::mutex mu;
  std::map<const Botan::Private_Key*, Pkey> private_keys;  // the beacon's own (live as long)
  std::map<std::vector<uint8_t>, Pkey> public_keys;        // by SubjectPublicKeyInfo DER

  // A new reference to the converted key (the caller frees it), or null when OpenSSL refuses it.
  Pkey private_key(const Botan::Private_Key& key) {
    std::lock_guard lock(mu);
    auto& slot = private_keys[&key];
    if (!slot) {
      const Botan::secure_vector<uint8_t> der = Botan::PKCS8::BER_encode(key);
      const unsigned char* p = der.data();
      slot.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
      ERR_clear_error();
      if (!slot) return nullptr;
    }
    EVP_PKEY_up_ref(slot.get());
    return Pkey(slot.get());
  }

  Pkey public_key(const std::vector<uint8_t>& spki) {
    std::lock_guard lock(mu);
    auto it = public_keys.find(spki);
    if (it == public_keys.end()) {
      if (public_keys.size() >= kMaxPublicKeys) public_keys.clear();
      const unsigned char* p = spki.data();
      Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
      ERR_clear_error();
      if (!key || p != spki.data() + spki.size()) return nullptr;  // trailing bytes: not DER
      it = public_keys.emplace(spki, std::move(key)).first;
    }
    EVP_PKEY_up_ref(it->second.get());
    return Pkey(it->second.get());
  }
};

OpensslCrypto::OpensslCrypto() : impl_(std::make_unique<Impl>()) {}
OpensslCrypto::~OpensslCrypto() = default;

std::optional<std::vector<uint8_t>> OpensslCrypto::sign(const Botan::Private_Key& key,
                                                        const std::string& emsa, bool der,
                                                        const std::vector<uint8_t>& msg) {
  const auto p = padding_of(emsa);
  if (!p || (p->kind == Padding::kEcdsa && !der)) return std::nullopt;
  Pkey pkey = impl_->private_key(key);
  if (!pkey || !key_fits(pkey.get(), p->kind)) return std::nullopt;
  MdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  std::size_t len = 0;
  std::vector<uint8_t> sig;
  bool ok = ctx && EVP_DigestSignInit(ctx.get(), &pctx, p->md, nullptr, pkey.get()) > 0 &&
            set_padding(pctx, *p) &&
            EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size()) > 0;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) > 0;
    sig.resize(len);
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
  Pkey pkey = impl_->public_key(Botan::X509::BER_encode(key));
  if (!pkey || !key_fits(pkey.get(), p->kind)) return std::nullopt;
  return verify_with(pkey.get(), *p, msg.data(), msg.size(), sig.data(), sig.size());
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
  Pkey pkey = impl_->public_key(issuer_spki);
  if (!pkey || !key_fits(pkey.get(), p->kind)) return std::nullopt;
  const std::vector<uint8_t> body = cert.tbs_data();  // the TBSCertificate, DER
  const std::vector<uint8_t>& sig = cert.signature();
  return verify_with(pkey.get(), *p, body.data(), body.size(), sig.data(), sig.size());
}

}  // namespace mtls::beacon
