// plan_test.cpp: the check matrix (engine/plan.*) without sockets, table-driven: a scenario and a
// PKI manifest give exactly these checks (id, expectation, client, control, skip); bad pairings are
// input errors naming the file; sharding keeps every check once with its control; a beacon's doors
// aim each check at the right URL and TLS name.
#include <gtest/gtest.h>

#include <set>

#include "core/files.hpp"
#include "engine/plan.hpp"
#include "test_util.hpp"

namespace mtls::engine {
namespace {

// A manifest in memory: no files are read (no certificate: nothing to preload).
pki::Manifest manifest() {
  pki::Manifest m;
  m.server_ca = "/nonexistent/server-ca.pem";
  auto add = [&](const std::string& name, Expectation require, Expectation require_crl,
                 std::optional<std::string> defect) {
    m.credentials[name] = {.name = name,
                           .defect = defect,
                           .description = "a device with " + name,
                           .expected = {{"require", require}, {"require_crl", require_crl}}};
  };
  const auto kAcc = Expectation::kAccepted;
  const auto kRej = Expectation::kRejected;
  add("valid", kAcc, kAcc, std::nullopt);
  add("none", kRej, kRej, "no-certificate");
  add("expired", kRej, kRej, "validity");
  add("revoked", kAcc, kRej, "revocation");
  add("weak-key", kRej, kRej, "key-strength");
  return m;
}

const Prepared& prepared() {
  static const Prepared p;  // the built-in catalogue, entry paths and request variants
  return p;
}

Scenario scenario(const test::TempDir& dir, const std::string& yaml) {
  const auto file = dir.path() / "plan.yaml";
  write_file_atomic(file, yaml);
  return load_scenario(file, prepared().catalogue.ids());
}

// A check as the tables below write it: "id EXPECTATION client [control=<id>] [skip]".
std::string describe(const std::vector<Check>& plan, const Check& ch) {
  static const char* kClients[] = {"curl", "side-door", "botan"};
  std::string s = ch.record.check_id + " " + std::string(to_string(*ch.record.expected)) + " " +
                  kClients[static_cast<int>(ch.client)];
  if (ch.control) s += " control=" + plan[*ch.control].record.check_id;
  if (ch.skip) s += " skip";
  return s;
}

// Every scenario below starts so (each case gives its policy and control credential, or the
// defaults: revocation off, control "valid").
constexpr const char* kHeader = R"(name: plan
description: a plan test
)";

struct PlanCase {
  const char* name;
  const char* yaml;  // after kHeader
  std::vector<std::string> want;
};

class Plan : public ::testing::TestWithParam<PlanCase> {};

TEST_P(Plan, ScenarioExpandsToExactlyTheseChecks) {
  test::TempDir dir;
  const Scenario sc = scenario(dir, std::string(kHeader) + GetParam().yaml);
  const auto plan = plan_checks(sc, manifest(), prepared());
  std::vector<std::string> got;
  for (const auto& ch : plan) got.push_back(describe(plan, ch));
  EXPECT_EQ(got, GetParam().want);
  for (const auto& ch : plan) {  // every check presents its own credential, named in its id
    EXPECT_EQ(ch.options.check_id, ch.record.check_id);
    EXPECT_EQ(ch.record.scenario, sc.id);
    EXPECT_EQ(ch.options.entry.path, ch.record.entry_path);
  }
}

const std::string kA = "beacon-a/download-policy/";

INSTANTIATE_TEST_SUITE_P(
    Matrix, Plan,
    ::testing::Values(
        PlanCase{"FrontDoorOnly",
                 R"(policy: {client_certificate: required}
beacons: [{name: beacon-a, url: "https://beacon-a.example:8443"}]
credentials: [valid, none]
operations: [download-policy]
entry_paths: [https]
)",
                 {kA + "valid/https ACCEPTED curl",
                  kA + "none/https REJECTED curl control=" + kA + "valid/https"}},
        PlanCase{"AllCredentialsControlFirstRevocationDemanded",
                 R"(beacons: [{name: beacon-a, url: "https://beacon-a.example:8443"}]
policy: {client_certificate: required, revocation: crl}
credentials: all
operations: [download-policy]
entry_paths: [https]
)",
                 {kA + "valid/https ACCEPTED curl",
                  kA + "expired/https REJECTED curl control=" + kA + "valid/https",
                  kA + "none/https REJECTED curl control=" + kA + "valid/https",
                  kA + "revoked/https REJECTED curl control=" + kA + "valid/https",
                  kA + "weak-key/https REJECTED botan control=" + kA + "valid/https"}},
        PlanCase{"RevokedIsAcceptedWithoutRevocationPolicy",
                 R"(policy: {client_certificate: required}
beacons: [{name: beacon-a, url: "https://beacon-a.example:8443"}]
credentials: [valid, revoked]
operations: [download-policy]
entry_paths: [https]
)",
                 {kA + "valid/https ACCEPTED curl", kA + "revoked/https ACCEPTED curl"}},
        PlanCase{
            "SideDoorsWithSideDoorCredentials",
            R"(policy: {client_certificate: required}
beacons: [{name: beacon-a, url: "https://beacon-a.example:8443",
            tls_names: [Other.Example]}]
credentials: [valid]
operations: [download-policy]
entry_paths: [https, plain-http, sni, renegotiation]
side_door_credentials: [none, weak-key]
)",
            {kA + "valid/https ACCEPTED curl",
             kA + "none/plain-http REJECTED curl control=" + kA + "valid/https",
             kA + "weak-key/plain-http REJECTED curl control=" + kA + "valid/https skip",
             kA + "none/sni:other.example REJECTED curl control=" + kA + "valid/https",
             kA + "weak-key/sni:other.example REJECTED curl control=" + kA + "valid/https skip",
             kA + "none/sni:mtls-harness-unknown-name.invalid REJECTED curl control=" + kA +
                 "valid/https",
             kA + "weak-key/sni:mtls-harness-unknown-name.invalid REJECTED curl control=" + kA +
                 "valid/https skip",
             kA + "none/renegotiation REJECTED side-door control=" + kA + "valid/https",
             kA + "weak-key/renegotiation REJECTED side-door control=" + kA + "valid/https skip"}},
        PlanCase{
            "BoundaryControlIsItsOwnFirstCheck",
            R"(policy: {client_certificate: required}
beacons: [{name: beacon-a, url: "https://beacon-a.example:8443"},
          {name: beacon-b, url: "https://beacon-b.example:8443"}]
credentials: [valid]
operations: [download-policy]
entry_paths: [https]
boundary: {failover: [beacon-b, beacon-a], operations: [upload-status], credentials: [none]}
)",
            {kA + "valid/https ACCEPTED curl", "beacon-b/download-policy/valid/https ACCEPTED curl",
             "boundary/upload-status/valid/https ACCEPTED curl",
             "boundary/upload-status/none/https REJECTED curl "
             "control=boundary/upload-status/valid/https"}}),
    [](const auto& info) { return std::string(info.param.name); });

struct BadPlanCase {
  const char* name;
  const char* yaml;
  const char* must_mention;
};

class BadPlan : public ::testing::TestWithParam<BadPlanCase> {};

TEST_P(BadPlan, IsAnInputErrorNamingTheScenarioFile) {
  test::TempDir dir;
  const Scenario sc = scenario(dir, std::string(kHeader) + GetParam().yaml);
  try {
    plan_checks(sc, manifest(), prepared());
    FAIL() << "planned without error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(sc.file.string()), std::string::npos) << what;
    EXPECT_NE(what.find(GetParam().must_mention), std::string::npos) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Pairings, BadPlan,
    ::testing::Values(BadPlanCase{"ControlNotAccepted", R"(policy: {client_certificate: required}
beacons: [{name: a, url: "https://a.example"}]
control_credential: expired
credentials: [expired]
operations: [download-policy]
entry_paths: [https]
)",
                                  "cannot be a positive control"},
                      BadPlanCase{"SideDoorCredentialAccepted",
                                  R"(policy: {client_certificate: required}
beacons: [{name: a, url: "https://a.example"}]
credentials: [valid]
operations: [download-policy]
entry_paths: [https, plain-http]
side_door_credentials: [revoked]
)",
                                  "cannot test a side door"},
                      BadPlanCase{"UnknownCredential", R"(policy: {client_certificate: required}
beacons: [{name: a, url: "https://a.example"}]
credentials: [valid, stolen]
operations: [download-policy]
entry_paths: [https]
)",
                                  "stolen"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PlanShards, EveryCheckRunsInExactlyOneShardWithItsControl) {
  test::TempDir dir;
  const Scenario sc = scenario(dir, std::string(kHeader) + R"(policy: {client_certificate: required}
beacons:
  - {name: beacon-a, url: "https://beacon-a.example:8443"}
  - {name: beacon-b, url: "https://beacon-b.example:8443"}
credentials: all
operations: all
entry_paths: [https, plain-http, tls-downgrade]
)");
  const auto whole = plan_checks(sc, manifest(), prepared());
  std::multiset<std::string> owned;
  for (unsigned shard = 1; shard <= 3; ++shard) {
    auto part = plan_checks(sc, manifest(), prepared());
    keep_shard(part, sc.id, shard, 3);
    for (const auto& ch : part) {
      if (!ch.record.shard_copy) owned.insert(ch.record.check_id);
      if (ch.control) {  // the control is in the same shard, and is what it was
        ASSERT_LT(*ch.control, part.size());
        EXPECT_EQ(part[*ch.control].record.expected, Expectation::kAccepted);
        EXPECT_EQ(part[*ch.control].record.beacon, ch.record.beacon);
        EXPECT_EQ(part[*ch.control].record.operation, ch.record.operation);
      }
    }
  }
  std::multiset<std::string> all;
  for (const auto& ch : whole) all.insert(ch.record.check_id);
  EXPECT_EQ(owned, all);
}

// The listeners line of a running simulated beacon: a TLS front door, an open TLS listener and a
// plain one.
const nlohmann::json kListeners = nlohmann::json::parse(R"([
  {"scheme": "https", "address": "127.0.0.1", "port": 4431, "client_auth": "require"},
  {"scheme": "https", "address": "127.0.0.1", "port": 4432, "client_auth": "ignore"},
  {"scheme": "http", "address": "127.0.0.1", "port": 8080}])");

struct DoorCase {
  const char* entry_path;
  bool simulated;
  std::string want_url, want_sni;
  bool skipped;
};

class Aim : public ::testing::TestWithParam<DoorCase> {};

TEST_P(Aim, CheckGoesThroughItsDoor) {
  BeaconSpec b;
  b.name = "beacon-a";
  std::string url = "https://beacon-a.example:8443";
  if (GetParam().simulated) {
    b.simulated = YAML::Load("{virtual_hosts: [{name: open.example, client_auth: ignore}]}");
    url = "https://127.0.0.1:4431";
  } else {
    b.url = url;
  }
  const Doors d = doors_of(b, url, GetParam().simulated ? &kListeners : nullptr);
  Check ch;
  ch.record.entry_path = GetParam().entry_path;
  aim(ch, d);
  ASSERT_EQ(ch.beacons.size(), 1u);
  EXPECT_EQ(ch.beacons.front().url, GetParam().want_url);
  EXPECT_EQ(ch.options.entry.sni_name, GetParam().want_sni);
  EXPECT_EQ(ch.skip.has_value(), GetParam().skipped) << ch.skip.value_or("");
}

INSTANTIATE_TEST_SUITE_P(
    Doors, Aim,
    ::testing::Values(
        DoorCase{"https", true, "https://127.0.0.1:4431", "", false},
        DoorCase{"plain-http", true, "http://127.0.0.1:8080", "", false},
        DoorCase{"sni-host-mismatch", true, "https://127.0.0.1:4431", "open.example", false},
        DoorCase{"resumption-cross-listener", true, "https://127.0.0.1:4431", "", false},
        DoorCase{"no-sni", true, "https://127.0.0.1:4431", "", true},  // already by address
        DoorCase{"plain-http", false, "http://beacon-a.example", "", false},
        DoorCase{"sni-host-mismatch", false, "https://beacon-a.example:8443",
                 "mtls-harness-unknown-name.invalid", false},
        DoorCase{"resumption-cross-listener", false, "https://beacon-a.example:8443", "", true},
        DoorCase{"no-sni", false, "https://beacon-a.example:8443", "", true},  // address unknown
        DoorCase{"sni:other.example", false, "https://beacon-a.example:8443", "other.example",
                 false}),
    [](const auto& info) {
      std::string n = std::string(info.param.entry_path) + (info.param.simulated ? "_sim" : "_ext");
      for (char& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

TEST(Aim, ResumptionFromTheOpenListenerOfASimulatedBeacon) {
  BeaconSpec b;
  b.name = "beacon-a";
  b.simulated = YAML::Load("{}");
  const Doors d = doors_of(b, "https://127.0.0.1:4431", &kListeners);
  EXPECT_EQ(d.resume_from, "https://127.0.0.1:4432");
  EXPECT_EQ(d.plain_url, "http://127.0.0.1:8080");
}

}  // namespace
}  // namespace mtls::engine
