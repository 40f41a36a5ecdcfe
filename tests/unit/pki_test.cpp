// pki_test.cpp: `pki init` writes two separate hierarchies whose certificates validate for exactly
// the purpose they were made for, keys private to their owner, and a manifest that finds them.
#include <botan/x509path.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <nlohmann/json.hpp>
#include "core/files.hpp"
#include "pki/lint.hpp"
#include "pki/manifest.hpp"
#include "pki/p12.hpp"
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
    init({.out = dir.path() / "pki", .key_type = GetParam()});
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

// What each variant was built to break, from the definitions (not from the manifest).
const std::map<std::string, std::string> kBreaks = {
    {"expired", "validity"},      {"not-yet-valid", "validity"},
    {"untrusted-ca", "chain"},    {"self-signed", "chain"},
    {"wrong-eku", "eku"},         {"revoked", "revocation"},
    {"wrong-key", "key-match"},   {"missing-intermediate", "intermediate"},
    {"weak-key", "key-strength"}, {"server-ca-issued", "chain"}};

TEST_P(PkiTest, EveryVariantFailsExactlyThePropertyItBreaks) {
  for (const auto& [name, property] : kBreaks) {
    const auto& c = m.credential(name);
    ASSERT_TRUE(c.cert && c.key) << name;
    auto findings =
        lint({.ca = m.client_ca_bundle, .cert = c.cert, .key = c.key, .crl = m.client_crls});
    std::vector<std::string> failed;
    for (const auto& f : findings)
      if (f.status == LintStatus::kFail) failed.push_back(f.property);
    EXPECT_EQ(failed, std::vector<std::string>{property}) << name;
    EXPECT_EQ(lint_exit_code(findings), 1) << name;
    EXPECT_EQ(c.defect, property) << name << ": the manifest names another defect";
  }
}

TEST_P(PkiTest, ValidAndValidP12PassEveryProperty) {
  const auto& v = m.credential("valid");
  auto findings =
      lint({.ca = m.client_ca_bundle, .cert = v.cert, .key = v.key, .crl = m.client_crls});
  const auto& p = m.credential("valid-p12");
  ASSERT_TRUE(p.p12 && p.p12_password_file);
  std::string pw = read_file(*p.p12_password_file);
  pw = pw.substr(0, pw.find('\n'));
  auto p12_findings =
      lint({.ca = m.client_ca_bundle, .p12 = p.p12, .password = pw, .crl = m.client_crls});
  for (const auto* set : {&findings, &p12_findings})
    for (const auto& f : *set)
      EXPECT_EQ(f.status, LintStatus::kPass) << f.property << ": " << f.detail;
  EXPECT_EQ(findings.size() + 1, p12_findings.size());  // + p12-open
  EXPECT_EQ(p12_findings.back().property, "p12-open");
}

TEST_P(PkiTest, Pkcs12HoldsTheValidKeyAndChain) {
  const auto& p = m.credential("valid-p12");
  std::string pw = read_file(*p.p12_password_file);
  pw = pw.substr(0, pw.find('\n'));
  auto contents = open_pkcs12(*p.p12, pw);
  const auto valid_chain = load_certificates(*m.credential("valid").cert);
  ASSERT_EQ(contents.chain.size(), valid_chain.size());
  EXPECT_EQ(contents.chain.front(), valid_chain.front());
  EXPECT_EQ(contents.key->private_key_bits(),
            load_private_key(*m.credential("valid").key)->private_key_bits());
  try {
    open_pkcs12(*p.p12, "not-" + pw);
    FAIL() << "opened with a wrong password";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).find(pw), std::string::npos) << "the password leaked";
  }
}

TEST_P(PkiTest, CrlListsExactlyTheRevokedCertificateAndIsFresh) {
  const auto crls = load_crls(m.client_crls);
  const auto revoked = load_certificates(*m.credential("revoked").cert).front();
  const auto valid = load_certificates(*m.credential("valid").cert).front();
  int listing = 0;
  for (const auto& crl : crls) {
    EXPECT_GT(crl.next_update().to_std_timepoint(), std::chrono::system_clock::now());
    if (crl.is_revoked(revoked)) ++listing;
    EXPECT_FALSE(crl.is_revoked(valid));
  }
  EXPECT_EQ(listing, 1);
  EXPECT_EQ(crls.size(), 2u);  // the issuing CA's and the root's (covering the intermediate)
}

TEST_P(PkiTest, ManifestFingerprintsMatchTheFiles) {
  auto j = nlohmann::json::parse(read_file(dir.path() / "pki" / kManifestName));
  int certs = 0;
  for (const auto& f : j["files"]) {
    const auto path = dir.path() / "pki" / f["path"].get<std::string>();
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    if (f["kind"] == "certificate" && f["format"] == "pem") {
      EXPECT_EQ(f["sha256"], fingerprint_sha256(load_certificates(path).front())) << path;
      ++certs;
    }
  }
  EXPECT_GE(certs, 15);
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, PkiTest,
                         ::testing::Values(KeyType::kEcdsaP256, KeyType::kRsa2048),
                         [](const auto& info) {
                           return info.param == KeyType::kRsa2048 ? "rsa2048" : "p256";
                         });

TEST(PkiInit, SameSeedAndNowGiveByteIdenticalOutput) {
  test::TempDir dir;
  const auto now = parse_utc("2026-01-01T00:00:00Z", "--now");
  for (const char* sub : {"a", "b"})
    init({.out = dir.path() / sub, .key_type = KeyType::kEcdsaP256, .seed = 42, .now = now});
  init({.out = dir.path() / "c", .key_type = KeyType::kEcdsaP256, .seed = 43, .now = now});
  int compared = 0, differing_from_c = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path() / "a")) {
    if (!e.is_regular_file()) continue;
    const auto rel = std::filesystem::relative(e.path(), dir.path() / "a");
    EXPECT_EQ(read_file(e.path()), read_file(dir.path() / "b" / rel)) << rel;
    if (read_file(e.path()) != read_file(dir.path() / "c" / rel)) ++differing_from_c;
    ++compared;
  }
  EXPECT_GE(compared, 35);
  EXPECT_GT(differing_from_c, compared / 2) << "another seed must give other keys";
}

TEST(PkiInit, GivenP12PasswordIsUsedAndNotWritten) {
  test::TempDir dir;
  init({.out = dir.path(), .key_type = KeyType::kEcdsaP256, .p12_password = "correct horse"});
  const Manifest m = load_manifest(dir.path());
  EXPECT_FALSE(m.credential("valid-p12").p12_password_file.has_value());
  EXPECT_NO_THROW(open_pkcs12(*m.credential("valid-p12").p12, "correct horse"));
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path()))
    if (e.is_regular_file()) {
      EXPECT_EQ(read_file(e.path()).find("correct horse"), std::string::npos) << e.path();
    }
}

TEST(PkiInit, TimesParseStrictly) {
  EXPECT_EQ(format_utc(parse_utc("2026-01-31T12:00:00Z", "--now")), "2026-01-31T12:00:00Z");
  for (const char* bad : {"2026-01-31", "yesterday", "2026-01-31T12:00:00", "2026-13-01T00:00:00Z"})
    EXPECT_THROW(parse_utc(bad, "--now"), InputError) << bad;
}

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

TEST(Pem, DerGivenAsPemIsNamedAsSuch) {
  test::TempDir dir;
  init({.out = dir.path() / "pki", .key_type = KeyType::kEcdsaP256});
  const auto j = nlohmann::json::parse(read_file(dir.path() / "pki" / kManifestName));
  const auto& der = j["credentials"]["valid"]["der"];
  const auto pki = dir.path() / "pki";
  try {
    load_certificates(pki / der["cert"].get<std::string>());
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("DER"), std::string::npos) << e.what();
  }
  // The DER exports are the valid credential: same certificate, same key.
  const Manifest m = load_manifest(pki);
  EXPECT_EQ(Botan::X509_Certificate((pki / der["cert"].get<std::string>()).string()),
            load_certificates(*m.credential("valid").cert).front());
  EXPECT_EQ(load_private_key(pki / der["key"].get<std::string>())->private_key_bits(),
            load_private_key(*m.credential("valid").key)->private_key_bits());
}

TEST(Lint, UnusableInputIsAnInputError) {
  test::TempDir dir;
  init({.out = dir.path() / "pki", .key_type = KeyType::kEcdsaP256});
  const Manifest m = load_manifest(dir.path() / "pki");
  write_file_atomic(dir.path() / "garbage.pem",
                    "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
  EXPECT_THROW(lint({.ca = m.client_ca_bundle,
                     .cert = dir.path() / "garbage.pem",
                     .key = m.credential("valid").key}),
               InputError);
  EXPECT_THROW(lint({.ca = dir.path() / "missing.pem",
                     .cert = m.credential("valid").cert,
                     .key = m.credential("valid").key}),
               InputError);
  EXPECT_THROW(
      lint({.ca = m.client_ca_bundle, .p12 = m.credential("valid-p12").p12, .password = "wrong"}),
      InputError);
  EXPECT_THROW(lint({.ca = m.client_ca_bundle, .p12 = m.credential("valid-p12").p12}),
               InputError);  // no password
  EXPECT_THROW(lint({.ca = m.client_ca_bundle, .cert = m.credential("valid").cert}),
               InputError);  // no key
}

TEST(Lint, ValidityWarnsInTheLastThirtyDays) {
  test::TempDir dir;
  init({.out = dir.path() / "pki", .key_type = KeyType::kEcdsaP256});
  const Manifest m = load_manifest(dir.path() / "pki");
  const auto leaf = load_certificates(*m.credential("valid").cert).front();
  const auto near_end = leaf.not_after().to_std_timepoint() - std::chrono::hours(24 * 10);
  auto findings = lint({.ca = m.client_ca_bundle,
                        .cert = m.credential("valid").cert,
                        .key = m.credential("valid").key,
                        .now = near_end});
  for (const auto& f : findings)
    EXPECT_EQ(f.status, f.property == "validity" ? LintStatus::kWarn : LintStatus::kPass)
        << f.property;
  EXPECT_EQ(lint_exit_code(findings), 0);
}

}  // namespace
}  // namespace mtls::pki
