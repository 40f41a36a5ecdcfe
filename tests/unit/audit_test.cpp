// audit_test.cpp: the fleet audit's pieces without processes: the validator's reasons for every
// credential of both trust models (table-driven; the e2e suite compares it with `openssl
// verify`), and the access-log readers on sample lines of each format.
#include <gtest/gtest.h>

#include <fstream>

#include "audit/access_log.hpp"
#include "audit/validate.hpp"
#include "core/files.hpp"
#include "pki/manifest.hpp"
#include "pki/pem.hpp"
#include "pki/pki.hpp"
#include "test_util.hpp"

namespace mtls::audit {
namespace {

struct Fleet {
  test::TempDir dir;
  pki::Manifest ca, pinned;
  Fleet() {
    pki::init({.out = dir.path() / "ca"});
    pki::InitOptions p{.out = dir.path() / "pinned"};
    p.trust_model = pki::TrustModel::kPinnedSelfSigned;
    pki::init(p);
    ca = pki::load_manifest(dir.path() / "ca");
    pinned = pki::load_manifest(dir.path() / "pinned");
  }
};

const Fleet& fleet() {
  static const Fleet f;
  return f;
}

// The properties refusing `credential`, as "a,b" ("" when accepted).
std::string reasons_for(const pki::Manifest& m, const std::string& credential, bool crls) {
  std::vector<Botan::X509_CRL> crl_list;
  if (crls) crl_list = pki::load_crls(m.client_crls);
  const Validator v(pki::load_certificates(m.client_ca), crl_list);
  auto certs = pki::load_certificates(*m.credential(credential).cert);
  const auto leaf = certs.front();
  certs.erase(certs.begin());
  std::string out;
  for (const auto& r : v.reasons(leaf, certs, std::chrono::system_clock::now()))
    out += (out.empty() ? "" : ",") + r["property"].get<std::string>();
  return out;
}

struct Case {
  const char* model;
  const char* credential;
  bool crls;
  const char* want;
};

class Reasons : public ::testing::TestWithParam<Case> {};

TEST_P(Reasons, AreTheBrokenProperties) {
  const auto& c = GetParam();
  const auto& m = std::string(c.model) == "ca" ? fleet().ca : fleet().pinned;
  EXPECT_EQ(reasons_for(m, c.credential, c.crls), c.want) << c.model << " " << c.credential;
}

INSTANTIATE_TEST_SUITE_P(
    Audit, Reasons,
    ::testing::Values(
        Case{"ca", "valid", false, ""}, Case{"ca", "valid", true, ""},
        Case{"ca", "expired", false, "validity"}, Case{"ca", "not-yet-valid", false, "validity"},
        Case{"ca", "wrong-eku", false, "eku"}, Case{"ca", "weak-key", false, "key-strength"},
        Case{"ca", "untrusted-ca", false, "chain"}, Case{"ca", "self-signed", false, "chain"},
        Case{"ca", "server-ca-issued", false, "chain"},
        Case{"ca", "missing-intermediate", false, "chain"}, Case{"ca", "revoked", false, ""},
        Case{"ca", "revoked", true, "revocation"}, Case{"pinned", "valid", false, ""},
        Case{"pinned", "same-subject", false, "chain"},
        Case{"pinned", "same-serial", false, "chain"},
        Case{"pinned", "expired", false, "chain,validity"},
        Case{"pinned", "valid-next", false, "chain"}),
    [](const auto& info) {
      std::string n = std::string(info.param.model) + "_" + info.param.credential +
                      (info.param.crls ? "_crl" : "");
      for (auto& ch : n)
        if (ch == '-') ch = '_';
      return n;
    });

std::filesystem::path write(const test::TempDir& d, const std::string& name,
                            const std::string& text) {
  const auto p = d.path() / name;
  std::ofstream(p) << text;
  return p;
}

TEST(AccessLog, NginxAndApacheLinesAsDocumented) {
  test::TempDir d;
  const auto f = write(d, "a.log",
                       "10.0.0.1 [2026-11-27T10:00:00+00:00] \"GET /x HTTP/1.1\" 200 \"agent/1\" "
                       "\"beacon\" SUCCESS \"0A\" \"CN=dev\"\n"
                       "10.0.0.2 [2026-11-27T10:00:01+00:00] \"GET /x HTTP/1.1\" 400 \"agent/2\" "
                       "\"beacon\" FAILED:self-signed certificate \"0B\" \"CN=x\"\n"
                       "10.0.0.3 [2026-11-27T10:00:02+0000] \"GET /x HTTP/1.1\" 200 \"-\" \"-\" "
                       "GENEROUS \"-\" \"-\"\n");
  const auto r = read_access_log(f, "nginx");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].verify, "SUCCESS");
  EXPECT_EQ(r[1].verify, "FAILED:self-signed certificate");
  EXPECT_EQ(r[1].user_agent, "agent/2");
  EXPECT_EQ(r[2].verify, "FAILED:GENEROUS");
  EXPECT_EQ(r[2].user_agent, "");
  const auto audit = access_log_audit({f}, "apache");
  EXPECT_EQ(audit["clients_without_a_valid_certificate"].size(), 2u);
  EXPECT_EQ(audit["addresses_with_a_valid_certificate"], 1);
}

TEST(AccessLog, IisNeedsItsFieldsAndOtherLinesAreRefused) {
  test::TempDir d;
  const auto ok = write(d, "u.log",
                        "#Fields: date time c-ip cs(User-Agent) cs-host CERT_SUBJECT "
                        "CERT_SERIALNUMBER\n2026-11-27 10:00:00 10.1.1.1 A+B h - -\n");
  const auto r = read_access_log(ok, "iis");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].verify, "NONE");
  EXPECT_EQ(r[0].user_agent, "A B");
  EXPECT_THROW(
      read_access_log(write(d, "n.log", "#Fields: date c-ip\n2026-11-27 10.1.1.1\n"), "iis"),
      InputError);
  EXPECT_THROW(read_access_log(write(d, "c.log", "127.0.0.1 - - [x] \"GET /\" 200 1\n"), "nginx"),
               InputError);
  EXPECT_THROW(read_access_log(ok, "squid"), InputError);
}

}  // namespace
}  // namespace mtls::audit
