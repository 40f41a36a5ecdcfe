// scenario_test.cpp: scenario files load, and every mistake is reported with file, line and field.
#include <gtest/gtest.h>

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
    Scenario s = load_scenario(f);
    EXPECT_FALSE(s.beacons.empty()) << f;
    EXPECT_NE(std::find(s.credentials.begin(), s.credentials.end(), s.control_credential),
              s.credentials.end());
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
    load_scenario(file);
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
        BadCase{"external_beacon_not_yet", "name: x\nbeacons:\n  - name: a\n    url: https://x\n",
                "simulated", 3}),
    [](const auto& info) { return std::string(info.param.name); });

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
