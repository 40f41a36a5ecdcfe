// request_variant_test.cpp: each path spelling, the variant catalogue's rules (every variant of
// fixtures/request_variants.yaml loads; bad entries name the field), and header placeholders.
#include <gtest/gtest.h>

#include <fstream>

#include "agent/request_variant.hpp"
#include "core/files.hpp"
#include "test_util.hpp"

namespace mtls::agent {
namespace {

struct SpellRow {
  const char* spell;
  const char* want;
};

class Spellings : public ::testing::TestWithParam<SpellRow> {};

TEST_P(Spellings, RespellTheSameResource) {
  EXPECT_EQ(respell("/ManageSoftDL/Policies/d.npl", GetParam().spell), GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, Spellings,
    ::testing::Values(SpellRow{"upper-case", "/MANAGESOFTDL/POLICIES/D.NPL"},
                      SpellRow{"lower-case", "/managesoftdl/policies/d.npl"},
                      SpellRow{"percent-encoded-letter", "/%4DanageSoftDL/Policies/d.npl"},
                      SpellRow{"percent-encoded-slash", "/ManageSoftDL%2FPolicies%2Fd.npl"},
                      SpellRow{"double-slash", "//ManageSoftDL/Policies/d.npl"},
                      SpellRow{"dot-segment", "/./ManageSoftDL/Policies/d.npl"},
                      SpellRow{"dotdot-segment", "/mtls-harness-x/../ManageSoftDL/Policies/d.npl"},
                      SpellRow{"trailing-dot", "/ManageSoftDL./Policies/d.npl"},
                      SpellRow{"semicolon-parameter", "/ManageSoftDL;mtls-harness/Policies/d.npl"},
                      SpellRow{"backslash", "/ManageSoftDL\\Policies\\d.npl"}),
    [](const ::testing::TestParamInfo<SpellRow>& i) {
      std::string n = i.param.spell;
      for (char& c : n)
        if (c == '-') c = '_';
      return n;
    });

TEST(Spellings, EveryKnownSpellingIsTestedAndUnknownOnesThrow) {
  EXPECT_EQ(spellings().size(), 10u);
  EXPECT_THROW(respell("/a", "rot13"), HarnessError);
}

TEST(RequestVariants, TheCatalogueLoadsAndAppliesByMethod) {
  const RequestVariants v = RequestVariants::load_default();
  const auto gets = v.for_door("path", {"GET"});
  const auto puts = v.for_door("path", {"PUT"});
  EXPECT_EQ(gets.size(), spellings().size());  // every spelling, for downloads
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(puts.front()->method, "POST");
  EXPECT_TRUE(v.for_door("path", {"GET", "PUT"}).empty());  // none re-spells both
  EXPECT_GE(v.for_door("header", {"GET", "PUT"}).size(), 5u);
  ASSERT_NE(v.find("path:upper-case"), nullptr);
  EXPECT_EQ(v.find("path:nope"), nullptr);
  EXPECT_EQ(v.find("https"), nullptr);
}

TEST(RequestVariants, BadEntriesNameTheField) {
  const test::TempDir dir;
  const auto bad = [&](const std::string& yaml, const std::string& words) {
    const auto f = dir.path() / "v.yaml";
    std::ofstream(f) << yaml;
    try {
      RequestVariants::load(f);
      ADD_FAILURE() << "accepted: " << yaml;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  bad("path:\n  x: {description: d, spell: rot13, applies_to: [GET]}\n", "path.x.spell");
  bad("path:\n  x: {description: d, applies_to: [GET]}\n", "changes nothing");
  bad("cookie:\n  x: {description: d, spell: upper-case, applies_to: [GET]}\n", "cookie");
  bad("path:\n  x: {description: d, spell: upper-case, applies_to: [DELETE]}\n", "applies_to");
}

TEST(RequestVariants, HeaderPlaceholdersComeFromTheCertificateOrTheHeaderIsDropped) {
  const std::vector<std::pair<std::string, std::string>> h = {
      {"X-SSL-Client-Verify", "SUCCESS"}, {"X-Forwarded-Client-Cert", "Hash={cert_sha256}"}};
  auto filled = fill_headers(h, {{"cert_sha256", "ab12"}});
  ASSERT_EQ(filled.size(), 2u);
  EXPECT_EQ(filled[1].second, "Hash=ab12");
  filled = fill_headers(h, {});
  ASSERT_EQ(filled.size(), 1u);  // no certificate facts: that header is not sent
  EXPECT_EQ(filled[0].first, "X-SSL-Client-Verify");
}

}  // namespace
}  // namespace mtls::agent
