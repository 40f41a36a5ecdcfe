// findings_test.cpp: the findings module (engine/findings.*): records -> findings, table-driven,
// self-test matching, the listing order, and the record/finding JSON round trips that let a
// re-rendered report say the same findings as the run.
#include <gtest/gtest.h>

#include "core/files.hpp"
#include "engine/findings.hpp"

namespace mtls::engine {
namespace {

ResultRecord rec(const std::string& beacon, const std::string& op, const std::string& cred,
                 const std::string& path, Verdict v, std::optional<Severity> sev,
                 Expectation expected = Expectation::kRejected) {
  ResultRecord r;
  r.scenario = "sc";
  r.beacon = beacon;
  r.operation = op;
  r.credential = cred;
  r.entry_path = path;
  r.check_id = beacon + "/" + op + "/" + cred + "/" + path;
  r.expected = expected;
  r.verdict = v;
  r.severity = sev;
  r.outcome = v == Verdict::kFail ? Outcome::kAccepted : Outcome::kRejectedHandshake;
  r.defect = cred == "none" ? std::optional<std::string>("no-certificate") : std::nullopt;
  r.credential_description = "a device without " + cred;
  return r;
}

const EntryPaths& doors() {
  static const EntryPaths d = EntryPaths::load_default();
  return d;
}

struct GroupCase {
  const char* name;
  std::vector<ResultRecord> records;
  // Each expected finding as "SEVERITY kind beacon credential entry_path #operations".
  std::vector<std::string> want;
};

std::string describe(const Finding& f) {
  return std::string(to_string(f.severity)) + " " + f.kind + " " + f.beacon + " " + f.credential +
         " " + f.entry_path + " #" + std::to_string(f.operations.size());
}

class Grouping : public ::testing::TestWithParam<GroupCase> {};

TEST_P(Grouping, RecordsBecomeTheseFindings) {
  const auto groups = group_findings(GetParam().records, doors());
  std::vector<std::string> got;
  for (const auto& f : groups) got.push_back(describe(f));
  EXPECT_EQ(got, GetParam().want);
}

const auto kFail = Verdict::kFail;
const auto kPass = Verdict::kPass;
const auto kExp = std::optional<Severity>(Severity::kExposure);
const auto kLock = std::optional<Severity>(Severity::kLockout);

INSTANTIATE_TEST_SUITE_P(
    Findings, Grouping,
    ::testing::Values(
        GroupCase{"nothing_failed", {rec("a", "get", "none", "https", kPass, {})}, {}},
        GroupCase{"two_operations_one_finding",
                  {rec("a", "get", "none", "https", kFail, kExp),
                   rec("a", "put", "none", "https", kFail, kExp)},
                  {"EXPOSURE check a none https #2"}},
        GroupCase{"beacons_apart",
                  {rec("a", "get", "none", "https", kFail, kExp),
                   rec("b", "get", "none", "https", kFail, kExp)},
                  {"EXPOSURE check a none https #1", "EXPOSURE check b none https #1"}},
        GroupCase{"side_door_joins_the_open_front_door",
                  {rec("a", "get", "none", "https", kFail, kExp),
                   rec("a", "get", "none", "plain-http", kFail, kExp)},
                  {"EXPOSURE check a none https #1"}},
        GroupCase{"side_door_alone_is_its_own_finding",
                  {rec("a", "get", "none", "https", kPass, {}),
                   rec("a", "get", "none", "plain-http", kFail, kExp)},
                  {"EXPOSURE check a none plain-http #1"}},
        GroupCase{"lockout",
                  {rec("a", "get", "valid", "https", kFail, kLock, Expectation::kAccepted)},
                  {"LOCKOUT check a valid https #1"}},
        GroupCase{"boundary_leak",
                  {[] {
                    auto r = rec("beacon-b", "get", "none", "https", kFail, kExp);
                    r.check_id = "boundary/get/none/https";
                    return r;
                  }()},
                  {"EXPOSURE boundary-leak beacon-b none https #1"}},
        GroupCase{"revoked_let_in_without_revocation_policy_is_warn",
                  {[] {
                    auto r = rec("a", "get", "revoked", "https", kPass, {}, Expectation::kAccepted);
                    r.outcome = Outcome::kAccepted;
                    r.defect = "revocation";
                    return r;
                  }()},
                  {"WARN check a revoked https #1"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Findings, FoldedSideDoorIsNamedInTheFrontDoorsTitle) {
  const auto g = group_findings({rec("a", "get", "none", "https", kFail, kExp),
                                 rec("a", "get", "none", "plain-http", kFail, kExp)},
                                doors());
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].also_through, std::vector<std::string>{"plain-http"});
  EXPECT_NE(g[0].title.find("open through plain-http"), std::string::npos) << g[0].title;
  EXPECT_EQ(g[0].check_ids.size(), 2u);
  EXPECT_NE(g[0].title.find("a device without none"), std::string::npos) << g[0].title;
}

TEST(Findings, SelfTestMatchesExactlyAndReportsMisses) {
  std::vector<ResultRecord> records = {rec("a", "get", "none", "https", kFail, kExp)};
  auto groups = group_findings(records, doors());
  const auto misses = match_self_test("sc",
                                      {{"EXPOSURE", "check", "a", "none", "https", {"get"}},
                                       {"EXPOSURE", "check", "a", "expired", "https", {"get"}}},
                                      groups, records);
  EXPECT_TRUE(groups[0].expected);
  EXPECT_TRUE(records[0].expected_finding);
  ASSERT_EQ(misses.size(), 1u);
  EXPECT_EQ(misses[0].severity, FindingSeverity::kSelftest);
  EXPECT_EQ(misses[0].credential, "expired");
  // The records now carry the match: grouping them again gives the same expected flag.
  EXPECT_TRUE(group_findings(records, doors())[0].expected);
}

TEST(Findings, SelfTestWithOtherOperationsIsAMiss) {
  std::vector<ResultRecord> records = {rec("a", "get", "none", "https", kFail, kExp)};
  auto groups = group_findings(records, doors());
  EXPECT_EQ(match_self_test("sc", {{"EXPOSURE", "check", "a", "none", "https", {"get", "put"}}},
                            groups, records)
                .size(),
            1u);
  EXPECT_FALSE(groups[0].expected);
}

TEST(Findings, ListingOrderIsBySeverityThenPlace) {
  std::vector<Finding> f(4);
  f[0].severity = FindingSeverity::kWarn;
  f[1].severity = FindingSeverity::kLockout;
  f[2].severity = FindingSeverity::kExposure;
  f[2].beacon = "b";
  f[3].severity = FindingSeverity::kExposure;
  f[3].beacon = "a";
  sort_findings(f);
  EXPECT_EQ(f[0].beacon, "a");
  EXPECT_EQ(f[1].beacon, "b");
  EXPECT_EQ(f[2].severity, FindingSeverity::kLockout);
  EXPECT_EQ(f[3].severity, FindingSeverity::kWarn);
}

TEST(Findings, JsonRoundTripKeepsEveryField) {
  auto g = group_findings({rec("a", "get", "none", "https", kFail, kExp),
                           rec("a", "get", "none", "plain-http", kFail, kExp)},
                          doors());
  g[0].details = {{"ca_names", {"CN=x"}}};
  const auto j = to_json(g[0]);
  EXPECT_EQ(to_json(finding_from_json(j, "t")), j);
  EXPECT_THROW(finding_from_json({{"severity", "SEVERE"}}, "t"), InputError);
}

TEST(Records, JsonRoundTripIsExact) {
  ResultRecord r = rec("a", "get", "none", "sni:x.example", kFail, kExp);
  r.door_name = "x.example";
  r.control_id = "a/get/valid/https";
  r.evidence.curl_code = 0;
  r.evidence.http_status = 200;
  r.evidence.body_sha256 = std::string(64, 'a');
  r.evidence.steps = nlohmann::json::array({{{"method", "GET"}}});
  r.evidence.client = "openssl-side-door";
  const auto j = to_json(r);
  EXPECT_EQ(to_json(record_from_json(j, "t")), j);
  auto bad = j;
  bad["verdict"] = "MAYBE";
  EXPECT_THROW(record_from_json(bad, "t"), InputError);
  bad = j;
  bad["evidence"]["http_status"] = "two hundred";
  EXPECT_THROW(record_from_json(bad, "t"), InputError);
}

}  // namespace
}  // namespace mtls::engine
