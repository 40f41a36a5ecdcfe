// p12.cpp: see p12.hpp.
#include "pki/p12.hpp"

#include <botan/data_src.h>
#include <botan/hash.h>
#include <botan/pkcs8.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "core/files.hpp"
#include "core/free_with.hpp"

namespace mtls::pki {
namespace {

constexpr int kKeyIterations = 10000;  // PBKDF2 rounds for the key bag
constexpr int kMacIterations = 10000;
constexpr int kSaltBytes = 16;

using X509Ptr = std::unique_ptr<X509, FreeWith<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, FreeWith<EVP_PKEY_free>>;
using P8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, FreeWith<PKCS8_PRIV_KEY_INFO_free>>;
using BagPtr = std::unique_ptr<PKCS12_SAFEBAG, FreeWith<PKCS12_SAFEBAG_free>>;
using P12Ptr = std::unique_ptr<PKCS12, FreeWith<PKCS12_free>>;
using P7Ptr = std::unique_ptr<PKCS7, FreeWith<PKCS7_free>>;
using AlgorPtr = std::unique_ptr<X509_ALGOR, FreeWith<X509_ALGOR_free>>;

struct BagStackFree {
  void operator()(STACK_OF(PKCS12_SAFEBAG) * s) const {
    sk_PKCS12_SAFEBAG_pop_free(s, PKCS12_SAFEBAG_free);
  }
};
struct P7StackFree {
  void operator()(STACK_OF(PKCS7) * s) const { sk_PKCS7_pop_free(s, PKCS7_free); }
};
struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};

[[noreturn]] void openssl_failure(const char* what) {
  ERR_clear_error();
  throw HarnessError(std::string("PKCS#12 export: ") + what + " failed");
}

X509Ptr to_openssl(const Botan::X509_Certificate& cert) {
  const std::vector<uint8_t> der = cert.BER_encode();
  const unsigned char* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x) openssl_failure("d2i_X509");
  return x;
}

Botan::X509_Certificate to_botan(X509* x) {
  int len = i2d_X509(x, nullptr);
  std::vector<uint8_t> der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  i2d_X509(x, &p);
  return Botan::X509_Certificate(der);
}

PKCS7* pack(std::vector<BagPtr> bags) {
  std::unique_ptr<STACK_OF(PKCS12_SAFEBAG), BagStackFree> stack(sk_PKCS12_SAFEBAG_new_null());
  for (auto& b : bags)
    if (sk_PKCS12_SAFEBAG_push(stack.get(), b.get()) > 0) b.release();
  PKCS7* p7 = PKCS12_pack_p7data(stack.get());  // serialises the bags; the stack is ours to free
  if (p7 == nullptr) openssl_failure("PKCS12_pack_p7data");
  return p7;
}

}  // namespace

std::vector<uint8_t> make_pkcs12(const Botan::Private_Key& key,
                                 const std::vector<Botan::X509_Certificate>& chain,
                                 const std::string& password, const std::string& friendly_name,
                                 Botan::RandomNumberGenerator& rng) {
  if (chain.empty()) throw HarnessError("PKCS#12 export: no certificate");
  const int passlen = static_cast<int>(password.size());

  // localKeyID links the key to its certificate: SHA-1 of the certificate, as OpenSSL does.
  auto sha1 = Botan::HashFunction::create_or_throw("SHA-1");
  sha1->update(chain.front().BER_encode());
  Botan::secure_vector<uint8_t> key_id = sha1->final();

  // The key bag: PKCS#8 shrouded with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), salt and IV ours.
  const Botan::secure_vector<uint8_t> p8der = Botan::PKCS8::BER_encode(key);
  const unsigned char* pp = p8der.data();
  P8Ptr p8(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &pp, static_cast<long>(p8der.size())));
  if (!p8) openssl_failure("d2i_PKCS8_PRIV_KEY_INFO");
  unsigned char salt[kSaltBytes], iv[16], mac_salt[kSaltBytes];
  rng.randomize(salt, sizeof salt);
  rng.randomize(iv, sizeof iv);
  rng.randomize(mac_salt, sizeof mac_salt);
  AlgorPtr pbe(PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), kKeyIterations, salt, kSaltBytes, iv,
                                 NID_hmacWithSHA256));
  if (!pbe) openssl_failure("PKCS5_pbe2_set_iv");
  X509_SIG* shrouded = PKCS8_set0_pbe(password.c_str(), passlen, p8.get(), pbe.get());
  if (shrouded == nullptr) openssl_failure("PKCS8_set0_pbe");
  pbe.release();  // owned by `shrouded` now
  BagPtr key_bag(PKCS12_SAFEBAG_create0_pkcs8(shrouded));
  if (!key_bag) {
    X509_SIG_free(shrouded);
    openssl_failure("PKCS12_SAFEBAG_create0_pkcs8");
  }
  PKCS12_add_localkeyid(key_bag.get(), key_id.data(), static_cast<int>(key_id.size()));
  PKCS12_add_friendlyname_asc(key_bag.get(), friendly_name.c_str(), -1);

  std::vector<BagPtr> cert_bags;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    X509Ptr x = to_openssl(chain[i]);
    BagPtr bag(PKCS12_SAFEBAG_create_cert(x.get()));
    if (!bag) openssl_failure("PKCS12_SAFEBAG_create_cert");
    if (i == 0) {
      PKCS12_add_localkeyid(bag.get(), key_id.data(), static_cast<int>(key_id.size()));
      PKCS12_add_friendlyname_asc(bag.get(), friendly_name.c_str(), -1);
    }
    cert_bags.push_back(std::move(bag));
  }
  std::vector<BagPtr> key_bags;
  key_bags.push_back(std::move(key_bag));

  std::unique_ptr<STACK_OF(PKCS7), P7StackFree> safes(sk_PKCS7_new_null());
  for (PKCS7* p7 : {pack(std::move(cert_bags)), pack(std::move(key_bags))})
    if (sk_PKCS7_push(safes.get(), p7) <= 0) {
      PKCS7_free(p7);
      openssl_failure("sk_PKCS7_push");
    }
  P12Ptr p12(PKCS12_add_safes(safes.get(), 0));
  if (!p12) openssl_failure("PKCS12_add_safes");
  if (PKCS12_set_mac(p12.get(), password.c_str(), passlen, mac_salt, kSaltBytes, kMacIterations,
                     EVP_sha256()) != 1)
    openssl_failure("PKCS12_set_mac");
  int len = i2d_PKCS12(p12.get(), nullptr);
  if (len <= 0) openssl_failure("i2d_PKCS12");
  std::vector<uint8_t> out(static_cast<std::size_t>(len));
  unsigned char* op = out.data();
  i2d_PKCS12(p12.get(), &op);
  return out;
}

Pkcs12Contents open_pkcs12(const std::filesystem::path& file, const std::string& password) {
  const std::string data = read_file(file);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
  P12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(data.size())));
  if (!p12) {
    ERR_clear_error();
    throw InputError(file.string() + ": not a PKCS#12 (.p12/.pfx) file");
  }
  const int passlen = static_cast<int>(password.size());
  if (PKCS12_mac_present(p12.get()) &&
      PKCS12_verify_mac(p12.get(), password.c_str(), passlen) != 1) {
    ERR_clear_error();
    throw InputError(file.string() + ": wrong PKCS#12 password (the file's MAC does not verify)");
  }
  EVP_PKEY* raw_key = nullptr;
  X509* raw_cert = nullptr;
  STACK_OF(X509)* raw_ca = nullptr;
  if (PKCS12_parse(p12.get(), password.c_str(), &raw_key, &raw_cert, &raw_ca) != 1) {
    ERR_clear_error();
    throw InputError(file.string() + ": cannot decrypt the PKCS#12 contents with this password");
  }
  PkeyPtr pkey(raw_key);
  X509Ptr cert(raw_cert);
  std::unique_ptr<STACK_OF(X509), X509StackFree> ca(raw_ca);
  if (!pkey || !cert)
    throw InputError(file.string() + ": the PKCS#12 file holds no key/certificate pair");

  Pkcs12Contents out;
  P8Ptr p8(EVP_PKEY2PKCS8(pkey.get()));
  if (!p8) openssl_failure("EVP_PKEY2PKCS8");
  int len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), nullptr);
  Botan::secure_vector<uint8_t> der(static_cast<std::size_t>(len));
  unsigned char* dp = der.data();
  i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &dp);
  Botan::DataSource_Memory src(der);
  out.key = Botan::PKCS8::load_key(src);
  out.chain.push_back(to_botan(cert.get()));
  for (int i = 0; ca && i < sk_X509_num(ca.get()); ++i)
    out.chain.push_back(to_botan(sk_X509_value(ca.get(), i)));
  return out;
}

}  // namespace mtls::pki
