// handshake_crypto_test.cpp: the beacon's quick client-chain validation must never accept a chain
// Botan's x509_path_validate rejects (differential: every catalogue credential, both trust
// stores, several points in time, both key types; and hand-made chains that break one rule each),
// must accept the valid one (or it would not be quick), and must reject with Botan's own message.
// The signer pool's signatures must verify, also when several threads sign at once. The quick
// path with OpenSSL checking the signatures (crypto: openssl) must agree with Botan the same way.
#include <botan/ecdsa.h>
#include <botan/pubkey.h>
#include <botan/system_rng.h>
#include <botan/tls_exceptn.h>
#include <botan/x509_ca.h>
#include <botan/x509_ext.h>
#include <botan/x509self.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "beacon/handshake_crypto.hpp"
#include "beacon/tls_config.hpp"
#include "pki/manifest.hpp"
#include "pki/pem.hpp"
#include "pki/pki.hpp"
#include "test_util.hpp"

namespace mtls::beacon {
namespace {

using Clock = std::chrono::system_clock;
constexpr auto kDay = std::chrono::hours(24);

bool botan_accepts(const std::vector<Botan::X509_Certificate>& chain,
                   Botan::Certificate_Store& store, bool crl, Clock::time_point when) {
  const Botan::Path_Validation_Restrictions r(crl, 110);
  return Botan::x509_path_validate(chain, r, {&store}, "", Botan::Usage_Type::TLS_CLIENT_AUTH, when)
      .successful_validation();
}

bool quick_accepts(const ClientChainValidator& v, const std::vector<Botan::X509_Certificate>& chain,
                   bool crl, Clock::time_point when) {
  const Botan::Path_Validation_Restrictions r(crl, 110);
  return v.quick_accepts(chain, r, Botan::Usage_Type::TLS_CLIENT_AUTH, when);
}

class CatalogueDifferential : public ::testing::TestWithParam<pki::KeyType> {};

TEST_P(CatalogueDifferential, QuickPathAgreesWithBotanForEveryCredential) {
  test::TempDir dir;
  const auto now = Clock::now();
  pki::init({.out = dir.path() / "pki", .key_type = GetParam(), .now = now});
  const auto m = pki::load_manifest(dir.path() / "pki");
  std::size_t compared = 0, quick_accepted = 0;
  for (const bool crl : {false, true}) {
    auto store = client_trust_store(m.client_ca, crl ? std::optional(m.client_crls) : std::nullopt);
    const ClientChainValidator v(*store);
    OpensslCrypto ossl;  // the same rules with the chain's signatures checked by OpenSSL
    const ClientChainValidator fast(*store, &ossl);
    ASSERT_EQ(v.anchors(), 1u);
    for (const auto& [name, cred] : m.credentials) {
      if (!cred.cert) continue;
      const auto chain = pki::load_certificates(*cred.cert);
      // Before the leaves start, now, after they end, after the issuing CA ends.
      for (const auto offset : {-400 * kDay, 0 * kDay, 400 * kDay, 6 * 365 * kDay}) {
        const auto when = now + offset;
        SCOPED_TRACE(name + (crl ? " with CRLs" : "") + ", offset " +
                     std::to_string(offset.count() / 24) + " days");
        const bool botan = botan_accepts(chain, *store, crl, when);
        const bool quick = quick_accepts(v, chain, crl, when);
        EXPECT_EQ(quick, botan);
        // Twice: the first time learns the issuer key's strength, the second checks on OpenSSL.
        EXPECT_EQ(quick_accepts(fast, chain, crl, when), botan) << "OpenSSL, first";
        EXPECT_EQ(quick_accepts(fast, chain, crl, when), botan) << "OpenSSL, second";
        ++compared;
        quick_accepted += quick ? 1 : 0;
      }
    }
  }
  EXPECT_GE(compared, 80u);
  EXPECT_GE(quick_accepted, 2u);  // at least the valid credential, now, with and without CRLs
  for (const bool crl : {false, true}) {
    auto store = client_trust_store(m.client_ca, crl ? std::optional(m.client_crls) : std::nullopt);
    EXPECT_TRUE(quick_accepts(ClientChainValidator(*store),
                              pki::load_certificates(*m.credential("valid").cert), crl, now))
        << "the quick path does not take the valid chain" << (crl ? " with CRLs" : "");
  }
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, CatalogueDifferential,
                         ::testing::Values(pki::KeyType::kEcdsaP256, pki::KeyType::kRsa2048));

// Hand-made hierarchies, each breaking one rule of path validation.
class Made {
 public:
  struct Cert {
    Botan::X509_Certificate cert;
    std::shared_ptr<Botan::Private_Key> key;
  };

  Botan::X509_Cert_Options opts(const std::string& cn, int from_days = -1, int to_days = 365) {
    Botan::X509_Cert_Options o;
    o.common_name = cn;
    o.organization = "handshake_crypto_test";
    o.country = "US";
    o.start = Botan::X509_Time(now_ + from_days * kDay);
    o.end = Botan::X509_Time(now_ + to_days * kDay);
    return o;
  }
  std::shared_ptr<Botan::Private_Key> key() {
    return std::make_shared<Botan::ECDSA_PrivateKey>(rng_, Botan::EC_Group("secp256r1"));
  }
  Cert root(const std::string& cn, std::size_t path_limit) {
    auto o = opts(cn, -10, 3650);
    o.CA_key(path_limit);
    auto k = key();
    return {Botan::X509::create_self_signed_cert(o, *k, "SHA-256", rng_), k};
  }
  Cert issue(const Cert& ca, Botan::X509_Cert_Options o, std::shared_ptr<Botan::Private_Key> k) {
    const auto req = Botan::X509::create_cert_req(o, *k, "SHA-256", rng_);
    Botan::X509_CA signer(ca.cert, *ca.key, "SHA-256", rng_);
    return {signer.sign_request(req, rng_, o.start, o.end), k};
  }
  Cert ca(const Cert& parent, const std::string& cn, std::size_t path_limit) {
    auto o = opts(cn, -5, 1825);
    o.CA_key(path_limit);
    return issue(parent, o, key());
  }
  Cert leaf(const Cert& issuer, const std::string& cn, const char* eku = "PKIX.ClientAuth",
            Botan::Key_Constraints usage = Botan::Key_Constraints::DIGITAL_SIGNATURE) {
    auto o = opts(cn);
    o.constraints = usage;
    o.add_ex_constraint(eku);
    return issue(issuer, o, key());
  }

  // A client certificate signed by any key, CA or not (X509_CA refuses a non-CA issuer).
  Cert leaf_signed_by(const Cert& issuer, const std::string& cn) {
    auto k = key();
    Botan::AlgorithmIdentifier sig_algo;
    std::unique_ptr<Botan::PK_Signer> signer(
        Botan::choose_sig_format(*issuer.key, rng_, "SHA-256", sig_algo));
    Botan::Extensions ext;  // Extensions::add takes ownership of a raw pointer in Botan 2
    ext.add(std::make_unique<Botan::Cert_Extension::Basic_Constraints>(false).release());
    ext.add(std::make_unique<Botan::Cert_Extension::Key_Usage>(
                Botan::Key_Constraints::DIGITAL_SIGNATURE)
                .release());
    ext.add(std::make_unique<Botan::Cert_Extension::Extended_Key_Usage>(
                std::vector{Botan::OID::from_string("PKIX.ClientAuth")})
                .release());
    const auto o = opts(cn);
    Botan::X509_DN subject;
    subject.add_attribute("X520.CommonName", cn);
    return {Botan::X509_CA::make_cert(signer.get(), rng_, sig_algo, k->subject_public_key(),
                                      o.start, o.end, issuer.cert.subject_dn(), subject, ext),
            k};
  }

  Clock::time_point now() const { return now_; }

 private:
  Botan::System_RNG rng_;
  Clock::time_point now_ = Clock::now();
};

struct Case {
  std::string what;
  std::vector<Botan::X509_Certificate> chain;
  bool botan_should_accept;
};

TEST(ClientChainValidator, HandMadeChainsAgreeWithBotan) {
  Made mk;
  const auto root = mk.root("Root", 2);
  const auto strict_root = mk.root("Strict Root", 0);  // pathlen 0: no intermediate allowed
  const auto issuing = mk.ca(root, "Issuing", 0);
  const auto under_strict = mk.ca(strict_root, "Issuing under strict", 0);
  const auto not_a_ca = mk.leaf(root, "Not a CA");
  const auto impostor = mk.ca(root, "Issuing", 0);  // same name as `issuing`, another key

  Botan::Certificate_Store_In_Memory store;
  store.add_certificate(root.cert);
  store.add_certificate(strict_root.cert);
  const ClientChainValidator v(store);
  OpensslCrypto ossl;
  const ClientChainValidator fast(store, &ossl);  // crypto: openssl
  ASSERT_EQ(v.anchors(), 2u);

  std::vector<Case> cases = {
      {"leaf issued by the root itself", {mk.leaf(root, "direct").cert}, true},
      {"leaf + issuing CA", {mk.leaf(issuing, "via issuing").cert, issuing.cert}, true},
      {"the same, made by hand", {mk.leaf_signed_by(issuing, "by hand").cert, issuing.cert}, true},
      {"intermediate under a pathlen-0 root",
       {mk.leaf(under_strict, "too deep").cert, under_strict.cert},
       false},
      {"issued by a certificate that is not a CA",
       {mk.leaf_signed_by(not_a_ca, "under a leaf").cert, not_a_ca.cert},
       false},
      {"signed by an impostor of the issuing CA",
       {mk.leaf(impostor, "impostor-signed").cert, issuing.cert},
       false},
      {"serverAuth only",
       {mk.leaf(issuing, "server", "PKIX.ServerAuth").cert, issuing.cert},
       false},
      {"keyCertSign without being a CA",
       {mk.leaf(issuing, "signer", "PKIX.ClientAuth",
                Botan::Key_Constraints(Botan::Key_Constraints::DIGITAL_SIGNATURE |
                                       Botan::Key_Constraints::KEY_CERT_SIGN))
            .cert,
        issuing.cert},
       false},
      {"issuing CA missing", {mk.leaf(issuing, "orphan").cert}, false},
      {"chain in the wrong order", {issuing.cert, mk.leaf(issuing, "reversed").cert}, false},
  };
  auto altered = mk.leaf(issuing, "altered").cert.BER_encode();
  altered[altered.size() - 3] ^= 0x01;  // inside the signature: names and key ids still match
  cases.push_back({"leaf whose signature was altered",
                   {Botan::X509_Certificate(altered), issuing.cert},
                   false});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const bool botan = botan_accepts(c.chain, store, false, mk.now());
    ASSERT_EQ(botan, c.botan_should_accept) << "the case does not test what it says";
    EXPECT_EQ(quick_accepts(v, c.chain, false, mk.now()), botan);
    for (int pass = 0; pass < 2; ++pass)  // learning the issuer key's strength, then OpenSSL
      EXPECT_EQ(quick_accepts(fast, c.chain, false, mk.now()), botan) << "OpenSSL, pass " << pass;
  }
}

// A trust store whose root has a broken self-signature: Botan refuses every chain under it, and
// so must the quick path (which checked that signature once, at load).
TEST(ClientChainValidator, BrokenAnchorSelfSignatureIsNeverTrusted) {
  Made mk;
  const auto root = mk.root("Root", 1);
  const auto leaf = mk.leaf(root, "device");
  auto der = root.cert.BER_encode();
  der[der.size() - 3] ^= 0x01;  // inside the signature BIT STRING
  const Botan::X509_Certificate broken(der);
  Botan::Certificate_Store_In_Memory store;
  store.add_certificate(broken);
  const ClientChainValidator v(store);
  const std::vector<Botan::X509_Certificate> chain{leaf.cert};
  EXPECT_FALSE(botan_accepts(chain, store, false, mk.now()));
  EXPECT_FALSE(quick_accepts(v, chain, false, mk.now()));
}

// verify() rejects with Botan's alert and message, and accepts the valid chain.
TEST(ClientChainValidator, RejectsWithBotansMessage) {
  Made mk;
  const auto root = mk.root("Root", 1);
  const auto good = mk.leaf(root, "good");
  const auto server = mk.leaf(root, "server", "PKIX.ServerAuth");
  Botan::Certificate_Store_In_Memory store;
  store.add_certificate(root.cert);
  const ClientChainValidator v(store);
  struct NoRevocation : Botan::TLS::Policy {
    bool require_cert_revocation_info() const override { return false; }
  } policy;
  EXPECT_NO_THROW(v.verify({good.cert}, {}, Botan::Usage_Type::TLS_CLIENT_AUTH, "", policy));
  try {
    v.verify({server.cert}, {}, Botan::Usage_Type::TLS_CLIENT_AUTH, "", policy);
    FAIL() << "a serverAuth-only certificate was accepted for client authentication";
  } catch (const Botan::TLS::TLS_Exception& e) {
    EXPECT_EQ(e.type(), Botan::TLS::Alert::BAD_CERTIFICATE);
    const auto expected =
        Botan::x509_path_validate(std::vector{server.cert},
                                  Botan::Path_Validation_Restrictions(false, 110), {&store}, "",
                                  Botan::Usage_Type::TLS_CLIENT_AUTH)
            .result_string();
    EXPECT_EQ(std::string(e.what()), "Certificate validation failure: " + expected);
  }
}

TEST(SignerPool, SignaturesVerifyAcrossThreads) {
  Botan::System_RNG rng;
  const Botan::ECDSA_PrivateKey key(rng, Botan::EC_Group("secp256r1"));
  SignerPool pool;
  const std::vector<uint8_t> msg{'h', 'e', 'l', 'l', 'o'};
  std::vector<std::vector<uint8_t>> sigs(4 * 25);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i)
        sigs[t * 25 + i] = pool.sign(key, "EMSA1(SHA-256)", Botan::IEEE_1363, msg);
    });
  for (auto& th : threads) th.join();
  Botan::PK_Verifier verifier(key, "EMSA1(SHA-256)", Botan::IEEE_1363);
  for (const auto& s : sigs) EXPECT_TRUE(verifier.verify_message(msg, s));
  // A reused signer still signs what it is given, not a stale message.
  const std::vector<uint8_t> other{'b', 'y', 'e'};
  EXPECT_FALSE(verifier.verify_message(other, sigs.front()));
  EXPECT_TRUE(
      verifier.verify_message(other, pool.sign(key, "EMSA1(SHA-256)", Botan::IEEE_1363, other)));
}

}  // namespace
}  // namespace mtls::beacon
