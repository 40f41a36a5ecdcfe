// openssl_crypto_test.cpp: the beacon's OpenSSL crypto (beacon/openssl_crypto.*) must give the
// same accept/reject as Botan on every input, good and bad: signatures made by either library
// verify in the other; a flipped, truncated, extended or foreign signature, another key, another
// curve, another message are refused by both; what it does not support (a padding, a key that does
// not fit it, IEEE 1363 ECDSA) is nullopt, never a guess. Certificate signatures: every
// certificate of a test PKI (both key types) against its issuer's key and against a stranger's.
#include <botan/ecdsa.h>
#include <botan/pkix_types.h>
#include <botan/pubkey.h>
#include <botan/rsa.h>
#include <botan/system_rng.h>
#include <botan/x509_key.h>
#include <gtest/gtest.h>

#include "beacon/openssl_crypto.hpp"
#include "pki/manifest.hpp"
#include "pki/pem.hpp"
#include "pki/pki.hpp"
#include "test_util.hpp"

namespace mtls::beacon {
namespace {

bool botan_verifies(const Botan::Public_Key& key, const std::string& emsa, bool der,
                    const std::vector<uint8_t>& msg, const std::vector<uint8_t>& sig) {
  try {
    Botan::PK_Verifier v(key, emsa, der ? Botan::DER_SEQUENCE : Botan::IEEE_1363);
    return v.verify_message(msg, sig);
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<uint8_t> botan_sign(const Botan::Private_Key& key, const std::string& emsa, bool der,
                                const std::vector<uint8_t>& msg) {
  Botan::System_RNG rng;
  Botan::PK_Signer s(key, rng, emsa, der ? Botan::DER_SEQUENCE : Botan::IEEE_1363);
  return s.sign_message(msg, rng);
}

struct KeyCase {
  const char* name;
  const char* emsa;
  std::function<std::unique_ptr<Botan::Private_Key>(Botan::RandomNumberGenerator&)> make;
};

class Signatures : public ::testing::TestWithParam<KeyCase> {};

TEST_P(Signatures, SameVerdictAsBotanOnGoodAndBadInputs) {
  Botan::System_RNG rng;
  const auto key = GetParam().make(rng);
  const auto other = GetParam().make(rng);  // same type, another key
  const auto p384 = std::make_unique<Botan::ECDSA_PrivateKey>(rng, Botan::EC_Group("secp384r1"));
  const std::string emsa = GetParam().emsa;
  const bool der = emsa.starts_with("EMSA1");  // ECDSA in TLS is DER; RSA has one format
  const std::vector<uint8_t> msg(300, 0x5a);
  OpensslCrypto ossl;

  const auto ours = ossl.sign(*key, emsa, der, msg);
  ASSERT_TRUE(ours.has_value());
  EXPECT_TRUE(botan_verifies(*key, emsa, der, msg, *ours)) << "Botan refuses OpenSSL's signature";
  const auto theirs = botan_sign(*key, emsa, der, msg);

  std::vector<std::pair<std::string, std::vector<uint8_t>>> sigs = {{"ours", *ours},
                                                                    {"botan's", theirs}};
  auto bad = theirs;
  bad.back() ^= 0x01;
  sigs.push_back({"last byte flipped", bad});
  bad = theirs;
  bad[bad.size() / 2] ^= 0x80;
  sigs.push_back({"middle byte flipped", bad});
  sigs.push_back({"truncated", {theirs.begin(), theirs.end() - 1}});
  auto longer = theirs;
  longer.push_back(0);
  sigs.push_back({"a byte appended", longer});
  sigs.push_back({"empty", {}});
  sigs.push_back({"another key's", botan_sign(*other, emsa, der, msg)});
  auto other_msg = msg;
  other_msg[0] ^= 1;
  sigs.push_back({"another message's", botan_sign(*key, emsa, der, other_msg)});

  for (const auto& [what, sig] : sigs) {
    const auto got = ossl.verify(*key, emsa, der, msg, sig);
    ASSERT_TRUE(got.has_value()) << what;
    EXPECT_EQ(*got, botan_verifies(*key, emsa, der, msg, sig)) << what;
  }
  EXPECT_TRUE(*ossl.verify(*key, emsa, der, msg, *ours));
  EXPECT_FALSE(*ossl.verify(*other, emsa, der, msg, theirs));  // the wrong key
  if (std::string(GetParam().emsa).starts_with("EMSA1")) {     // another curve
    const auto got = ossl.verify(*p384, emsa, true, msg, theirs);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, botan_verifies(*p384, emsa, true, msg, theirs));
    EXPECT_FALSE(*got);
    // IEEE 1363 (r || s) is Botan's to check.
    EXPECT_FALSE(ossl.verify(*key, emsa, false, msg, theirs).has_value());
    EXPECT_FALSE(ossl.sign(*key, emsa, false, msg).has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Keys, Signatures,
    ::testing::Values(
        KeyCase{"EcdsaP256Sha256", "EMSA1(SHA-256)",
                [](Botan::RandomNumberGenerator& r) -> std::unique_ptr<Botan::Private_Key> {
                  return std::make_unique<Botan::ECDSA_PrivateKey>(r, Botan::EC_Group("secp256r1"));
                }},
        KeyCase{"EcdsaP384Sha384", "EMSA1(SHA-384)",
                [](Botan::RandomNumberGenerator& r) -> std::unique_ptr<Botan::Private_Key> {
                  return std::make_unique<Botan::ECDSA_PrivateKey>(r, Botan::EC_Group("secp384r1"));
                }},
        KeyCase{"RsaPkcs1Sha256", "EMSA3(SHA-256)",
                [](Botan::RandomNumberGenerator& r) -> std::unique_ptr<Botan::Private_Key> {
                  return std::make_unique<Botan::RSA_PrivateKey>(r, 2048);
                }},
        KeyCase{"RsaPssSha256", "PSSR(SHA-256,MGF1,32)",
                [](Botan::RandomNumberGenerator& r) -> std::unique_ptr<Botan::Private_Key> {
                  return std::make_unique<Botan::RSA_PrivateKey>(r, 2048);
                }}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(OpensslCrypto, WhatItDoesNotSupportIsBotans) {
  Botan::System_RNG rng;
  const Botan::ECDSA_PrivateKey ec(rng, Botan::EC_Group("secp256r1"));
  const Botan::RSA_PrivateKey rsa(rng, 2048);
  const std::vector<uint8_t> msg(32, 1), sig(64, 2);
  OpensslCrypto ossl;
  EXPECT_FALSE(ossl.verify(ec, "EMSA3(SHA-256)", true, msg, sig).has_value());  // key misfit
  EXPECT_FALSE(ossl.verify(rsa, "EMSA1(SHA-256)", true, msg, sig).has_value());
  EXPECT_FALSE(ossl.verify(ec, "EMSA1(SHA-3(256))", true, msg, sig).has_value());
  EXPECT_FALSE(ossl.verify(rsa, "PSSR(SHA-256,MGF1,20)", true, msg, sig).has_value());
  EXPECT_FALSE(ossl.sign(rsa, "Raw", true, msg).has_value());
}

class CertificateSignatures : public ::testing::TestWithParam<pki::KeyType> {};

TEST_P(CertificateSignatures, SameVerdictAsBotanForEveryCertificateOfATestPki) {
  test::TempDir dir;
  pki::init({.out = dir.path() / "pki", .key_type = GetParam()});
  const auto m = pki::load_manifest(dir.path() / "pki");
  std::vector<Botan::X509_Certificate> issuers;
  for (const auto& f :
       {"ca/client-root.pem", "ca/client-issuing.pem", "ca/server-ca.pem", "ca/other-ca.pem"})
    issuers.push_back(pki::load_certificates(dir.path() / "pki" / f).front());
  OpensslCrypto ossl;
  std::size_t verified = 0, compared = 0;
  for (const auto& [name, cred] : m.credentials) {
    if (!cred.cert) continue;
    for (const auto& cert : pki::load_certificates(*cred.cert))
      for (const auto& issuer : issuers) {  // its own issuer, and strangers
        const auto got = ossl.verify_certificate(cert, issuer.subject_public_key_info());
        if (!got) continue;  // not supported: Botan decides (never the case here)
        const bool botan = cert.verify_signature(*issuer.load_subject_public_key()) ==
                           Botan::Certificate_Status_Code::VERIFIED;
        EXPECT_EQ(*got, botan) << name << " by " << issuer.subject_dn().to_string();
        ++compared;
        verified += *got;
      }
  }
  EXPECT_GT(compared, 40u);
  EXPECT_GT(verified, 10u);  // the good ones verify (or the comparison proves little)
  // A tampered body: the signature no longer covers it.
  const auto leaf = pki::load_certificates(*m.credential("valid").cert);
  auto spki = leaf[1].subject_public_key_info();
  EXPECT_TRUE(*ossl.verify_certificate(leaf[0], spki));
  spki[spki.size() - 3] ^= 0x01;  // another (invalid or different) issuer key
  const auto got = ossl.verify_certificate(leaf[0], spki);
  EXPECT_TRUE(!got.has_value() || !*got);
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, CertificateSignatures,
                         ::testing::Values(pki::KeyType::kEcdsaP256, pki::KeyType::kRsa2048),
                         [](const auto& info) {
                           return info.param == pki::KeyType::kRsa2048 ? std::string("Rsa2048")
                                                                       : std::string("EcdsaP256");
                         });

}  // namespace
}  // namespace mtls::beacon
