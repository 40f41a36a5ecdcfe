// scenario_test.cpp: scenario files load, and every mistake is reported with file, line and field.
#include <gtest/gtest.h>

#include "agent/catalogue.hpp"
#include "core/files.hpp"
#include "core/home.hpp"
#include "engine/scenario.hpp"
#include "test_util.hpp"

namespace mtls::engine {
namespace {

TEST(Scenario, TheDefaultSuiteLoads) {
  auto files = find_scenarios({});
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    Scenario s = load_scenario(f, agent::Catalogue::load_default().ids());
    EXPECT_FALSE(s.beacons.empty()) << f;
    // "credentials: all" is expanded by the engine from the PKI manifest.
    EXPECT_TRUE(s.all_credentials || std::find(s.credentials.begin(), s.credentials.end(),
                                               s.control_credential) != s.credentials.end());
  }
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* must_mention;
  int line;  // 0: no line expected
};

class BadScenario : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadScenario, IsAnInputErrorNamingFileLineAndField) {
  test::TempDir dir;
  const auto file = dir.path() / "bad.yaml";
  write_file_atomic(file, GetParam().yaml);
  try {
    load_scenario(file, {"p", "download-policy"});
    FAIL() << "loaded without error";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.yaml"), std::string::npos) << msg;
    EXPECT_NE(msg.find(GetParam().must_mention), std::string::npos) << msg;
    if (GetParam().line > 0) {
      EXPECT_NE(msg.find("bad.yaml:" + std::to_string(GetParam().line) + ":"), std::string::npos)
          << msg;
    }
  }
}

constexpr const char* kGoodTail =
    "policy: {client_certificate: required}\n"
    "credentials: [valid, none]\n"
    "operations: [download-policy]\n"
    "entry_paths: [https]\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, BadScenario,
    ::testing::Values(
        BadCase{"no_name", "beacons: [{name: a, simulated: {}}]\n", "'name'", 0},
        BadCase{"bad_client_auth",
                "name: x\nbeacons:\n  - name: a\n    simulated:\n      client_auth: sometimes\n",
                "client_auth", 5},
        BadCase{"unknown_revocation",
                "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {revocation: maybe}\n",
                "policy.revocation", 3},
        BadCase{"empty_credentials",
                "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {}\ncredentials: []\n",
                "credentials", 4},
        BadCase{"duplicate_credential",
                "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {}\n"
                "credentials: [valid, valid]\noperations: [p]\nentry_paths: [https]\n",
                "listed twice", 4},
        BadCase{"control_missing",
                "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {}\n"
                "credentials: [none]\noperations: [p]\nentry_paths: [https]\n",
                "control credential", 4},
        BadCase{"unknown_entry_path",
                "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {}\n"
                "credentials: [valid]\noperations: [p]\nentry_paths: [telnet]\n",
                "entry_paths", 6},
        BadCase{"not_yaml", "name: [unclosed\n", "not valid YAML", 0},
        BadCase{"beacon_without_kind", "name: x\nbeacons:\n  - name: a\n", "needs 'simulated'", 3},
        BadCase{"external_not_https", "name: x\nbeacons:\n  - {name: a, url: http://x}\n",
                "https://", 3},
        BadCase{"unknown_top_key", "name: x\ncolour: blue\n", "unknown key", 2},
        BadCase{"unknown_policy_key",
                "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {strict: true}\n",
                "policy.strict", 3},
        BadCase{"unknown_operation",
                "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {}\n"
                "credentials: [valid]\noperations: [fly]\nentry_paths: [https]\n",
                "'fly' is not known", 5},
        BadCase{
            "boundary_of_one",
            "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {}\ncredentials: [valid]\n"
            "operations: [p]\nentry_paths: [https]\nboundary: {failover: [a], operations: [p]}\n",
            "two or more", 7},
        BadCase{"finding_for_unknown_beacon",
                "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {}\ncredentials: [valid]\n"
                "operations: [p]\nentry_paths: [https]\n"
                "expect_findings: [{severity: EXPOSURE, beacon: z, credential: none}]\n",
                "not a beacon", 7},
        BadCase{"side_doors_without_front_door",
                "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {}\n"
                "credentials: [valid]\noperations: [p]\nentry_paths: [plain-http]\n",
                "must include https", 6},
        BadCase{"plain_http_url_not_http",
                "name: x\nbeacons:\n  - {name: a, url: 'https://x', plain_http_url: 'https://x'}\n",
                "plain_http_url", 3},
        BadCase{"finding_through_unlisted_path",
                "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {}\ncredentials: [valid]\n"
                "operations: [p]\nentry_paths: [https]\n"
                "expect_findings: [{severity: EXPOSURE, beacon: a, credential: none, "
                "entry_path: renegotiation}]\n",
                "entry_path", 7}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Scenario, AllOperationsExpandFromTheCatalogue) {
  test::TempDir dir;
  write_file_atomic(dir.path() / "a.yaml",
                    "name: a\nbeacons: [{name: b, url: \"https://127.0.0.1:1\"}]\npolicy: {}\n"
                    "credentials: all\noperations: all\nentry_paths: [https]\n");
  const auto ids = agent::Catalogue::load_default().ids();
  Scenario s = load_scenario(dir.path() / "a.yaml", ids);
  EXPECT_EQ(s.operations, ids);
  EXPECT_TRUE(s.all_credentials);
  EXPECT_EQ(*s.beacons[0].url, "https://127.0.0.1:1");
}

TEST(Scenario, MissingPathsAreInputErrors) {
  test::TempDir dir;
  EXPECT_THROW(find_scenarios({dir.path() / "nope.yaml"}), InputError);
  EXPECT_THROW(find_scenarios({dir.path()}), InputError);  // folder without scenarios
  write_file_atomic(dir.path() / "b.yaml", std::string("name: b\n") + kGoodTail);
  write_file_atomic(dir.path() / "a.yaml", std::string("name: a\n") + kGoodTail);
  auto files = find_scenarios({dir.path()});
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].filename(), "a.yaml");  // sorted: runs are reproducible
}

}  // namespace
}  // namespace mtls::engine
