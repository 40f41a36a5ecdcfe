// pki_test.cpp: `pki init` writes two separate hierarchies whose certificates validate for exactly
// the purpose they were made for, keys private to their owner, and a manifest that finds them.
#include <botan/x509path.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/files.hpp"
#include "pki/manifest.hpp"
#include "pki/pem.hpp"
#include "pki/pki.hpp"
#include "test_util.hpp"

namespace mtls::pki {
namespace {

Botan::Path_Validation_Result validate(const std::filesystem::path& leaf,
                                       const std::filesystem::path& ca, Botan::Usage_Type usage,
                                       const std::string& host = "") {
  Botan::Certificate_Store_In_Memory store;
  for (const auto& c : load_certificates(ca)) store.add_certificate(c);
  Botan::Path_Validation_Restrictions restrictions(false, 110);
  return Botan::x509_path_validate(load_certificates(leaf), restrictions, store, host, usage);
}

class PkiTest : public ::testing::TestWithParam<KeyType> {
 protected:
  void SetUp() override {
    init({.out = dir.path() / "pki", .key_type = GetParam(), .force = false});
    m = load_manifest(dir.path() / "pki");
  }
  test::TempDir dir;
  Manifest m;
};

TEST_P(PkiTest, ValidClientCertChainsToTheClientCaForClientAuth) {
  const auto& valid = m.credential("valid");
  ASSERT_TRUE(valid.cert && valid.key);
  auto r = validate(*valid.cert, m.client_ca, Botan::Usage_Type::TLS_CLIENT_AUTH);
  EXPECT_TRUE(r.successful_validation()) << r.result_string();
}

TEST_P(PkiTest, ClientCertIsNotTrustedByTheServerCa) {
  auto r = validate(*m.credential("valid").cert, m.server_ca, Botan::Usage_Type::TLS_CLIENT_AUTH);
  EXPECT_FALSE(r.successful_validation());
}

TEST_P(PkiTest, BeaconCertsValidateForLocalhostAndLoopback) {
  ASSERT_GE(m.beacons.size(), 2u);
  for (const auto& [name, b] : m.beacons) {
    for (const char* host : {"localhost", "127.0.0.1"}) {
      auto r = validate(b.cert, m.server_ca, Botan::Usage_Type::TLS_SERVER_AUTH, host);
      EXPECT_TRUE(r.successful_validation()) << name << " " << host << ": " << r.result_string();
    }
    auto wrong = validate(b.cert, m.server_ca, Botan::Usage_Type::TLS_SERVER_AUTH, "example.org");
    EXPECT_FALSE(wrong.successful_validation()) << name;
    EXPECT_FALSE(validate(b.cert, m.client_ca, Botan::Usage_Type::TLS_SERVER_AUTH, "localhost")
                     .successful_validation());
  }
}

TEST_P(PkiTest, KeysMatchTheirCertificatesAndAreMode0600) {
  auto check = [](const std::filesystem::path& cert, const std::filesystem::path& key) {
    auto k = load_private_key(key);
    auto c = load_certificates(cert).front();
    EXPECT_EQ(k->subject_public_key(), c.load_subject_public_key()->subject_public_key()) << key;
    struct stat st {};
    ASSERT_EQ(::stat(key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << key;
  };
  check(*m.credential("valid").cert, *m.credential("valid").key);
  for (const auto& [_, b] : m.beacons) check(b.cert, b.key);
}

TEST_P(PkiTest, KeyTypeIsTheOneAskedFor) {
  EXPECT_EQ(m.key_type, to_string(GetParam()));
  const std::string algo = load_private_key(*m.credential("valid").key)->algo_name();
  EXPECT_EQ(algo, GetParam() == KeyType::kRsa2048 ? "RSA" : "ECDSA");
}

TEST_P(PkiTest, ManifestStatesExpectationsForNoneAndValid) {
  EXPECT_EQ(m.credential("valid").expected.at("require"), Expectation::kAccepted);
  EXPECT_EQ(m.credential("none").expected.at("require"), Expectation::kRejected);
  EXPECT_FALSE(m.credential("none").cert.has_value());
  EXPECT_THROW(m.credential("nonexistent"), InputError);
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, PkiTest,
                         ::testing::Values(KeyType::kEcdsaP256, KeyType::kRsa2048),
                         [](const auto& info) {
                           return info.param == KeyType::kRsa2048 ? "rsa2048" : "p256";
                         });

TEST(PkiInit, RefusesANonEmptyFolderWithoutForce) {
  test::TempDir dir;
  write_file_atomic(dir.path() / "keep.txt", "user data");
  EXPECT_THROW(init({.out = dir.path(), .key_type = KeyType::kEcdsaP256, .force = false}),
               InputError);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / kManifestName));
  EXPECT_NO_THROW(init({.out = dir.path(), .key_type = KeyType::kEcdsaP256, .force = true}));
  EXPECT_EQ(read_file(dir.path() / "keep.txt"), "user data");
}

TEST(Manifest, ErrorsNameTheFileAndField) {
  test::TempDir dir;
  EXPECT_THROW(load_manifest(dir.path() / "missing"), InputError);
  write_file_atomic(dir.path() / kManifestName, "{\"format\": 1, \"key_type\": \"x\"}");
  try {
    load_manifest(dir.path());
    FAIL() << "no exception";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("manifest.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'trust'"), std::string::npos) << msg;
  }
  write_file_atomic(dir.path() / kManifestName, "not json");
  EXPECT_THROW(load_manifest(dir.path()), InputError);
}

TEST(Pem, GarbageIsAnInputErrorThatDoesNotEchoTheKey) {
  test::TempDir dir;
  const auto key = dir.path() / "bad.key";
  write_file_atomic(key,
                    "-----BEGIN PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END PRIVATE KEY-----\n");
  try {
    load_private_key(key);
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).find("TOPSECRET"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("bad.key"), std::string::npos);
  }
  write_file_atomic(dir.path() / "c.pem", "hello");
  EXPECT_THROW(load_certificates(dir.path() / "c.pem"), InputError);
}

}  // namespace
}  // namespace mtls::pki
