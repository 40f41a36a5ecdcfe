// beacon_agent_test.cpp: the simulated beacon (in-process, loopback, port 0) against the simulated
// agent: each outcome the slice can produce is produced for real, and the beacon's log agrees.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/agent.hpp"
#include "agent/device.hpp"
#include "agent/fleet.hpp"
#include "beacon/beacon.hpp"
#include "core/files.hpp"
#include "core/home.hpp"
#include "pki/manifest.hpp"
#include "pki/pki.hpp"
#include "test_util.hpp"

namespace mtls {
namespace {

class BeaconAgent : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<test::TempDir>();
    pki::init({.out = dir_->path() / "pki", .key_type = pki::KeyType::kEcdsaP256, .force = false});
  }
  static void TearDownTestSuite() { dir_.reset(); }

  void SetUp() override { manifest = pki::load_manifest(dir_->path() / "pki"); }

  std::unique_ptr<beacon::Beacon> start(beacon::ClientAuth mode, const std::string& log_name) {
    beacon::BeaconConfig cfg;
    cfg.pki_dir = dir_->path() / "pki";
    beacon::ListenerConfig l;
    l.client_auth = mode;
    cfg.listeners = {l};
    cfg.content_dir = fixtures_dir() / "content";
    cfg.log_file = dir_->path() / log_name;
    cfg.ready_file = dir_->path() / (log_name + ".ready");
    auto b = std::make_unique<beacon::Beacon>(cfg);
    b->start();
    return b;
  }

  agent::AgentOptions options(const std::string& credential) {
    agent::AgentOptions o;
    o.trust.ca_file = manifest.server_ca;
    const auto& c = manifest.credential(credential);
    o.credential.cert = c.cert;
    o.credential.key = c.key;
    o.credential.name = credential;
    const std::string content = *op().requests.front().content;
    o.known_digests[content] = sha256_file_hex(fixtures_dir() / "content" / content);
    return o;
  }

  static std::string url(const beacon::Beacon& b) {
    return "https://127.0.0.1:" + std::to_string(b.port());
  }

  ResultRecord run(const beacon::Beacon& b, const agent::AgentOptions& o) {
    return agent::run_operation(op(), url(b), o);
  }

  const agent::Operation& op() { return catalogue.get("download-policy"); }

  // The beacon's connection record for a client port (after the beacon stopped and drained).
  nlohmann::json connection_record(const std::string& log_name, long port) {
    std::istringstream in(read_file(dir_->path() / log_name));
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line);
      if (j["event"] == "connection" && j["peer_port"] == port) return j;
    }
    return nullptr;
  }

  static inline std::unique_ptr<test::TempDir> dir_;
  pki::Manifest manifest;
  agent::Catalogue catalogue = agent::Catalogue::load_default();
  agent::CurlGlobal curl;
};

TEST_F(BeaconAgent, ValidCertificateIsAcceptedWithVerifiedPayload) {
  auto b = start(beacon::ClientAuth::kRequire, "valid.log");
  auto r = run(*b, options("valid"));
  EXPECT_EQ(to_string(r.outcome), "ACCEPTED") << r.reason << " " << r.evidence.curl_error;
  EXPECT_EQ(r.evidence.http_status, 200);
  EXPECT_EQ(r.evidence.payload_check, "sha256");
  EXPECT_EQ(r.evidence.payload_verified, true);
  EXPECT_TRUE(r.evidence.handshake_completed);
  ASSERT_TRUE(r.evidence.local_port.has_value());
  b->stop();
  auto rec = connection_record("valid.log", *r.evidence.local_port);
  ASSERT_FALSE(rec.is_null());
  EXPECT_EQ(rec["client_cert_verification"], "ok");
  EXPECT_EQ(rec["requests"], 1);
  EXPECT_FALSE(rec["client_cert"].is_null());
}

TEST_F(BeaconAgent, NoCertificateIsRejectedInTheHandshakeWithTheAlertTheBeaconSent) {
  auto b = start(beacon::ClientAuth::kRequire, "none.log");
  auto r = run(*b, options("none"));
  EXPECT_EQ(to_string(r.outcome), "REJECTED_HANDSHAKE") << r.reason;
  ASSERT_TRUE(r.evidence.tls_alert.has_value());
  EXPECT_FALSE(r.evidence.handshake_completed);
  EXPECT_EQ(r.evidence.bytes_received, 0);
  b->stop();
  auto rec = connection_record("none.log", *r.evidence.local_port);
  ASSERT_FALSE(rec.is_null());
  EXPECT_EQ(rec["alert_sent"], *r.evidence.tls_alert);  // both sides tell the same story
  EXPECT_EQ(rec["client_cert_verification"], "absent");
  EXPECT_EQ(rec["requests"], 0);
}

TEST_F(BeaconAgent, IgnoreModeLetsADeviceWithoutCertificateIn) {
  auto b = start(beacon::ClientAuth::kIgnore, "ignore.log");
  auto r = run(*b, options("none"));
  EXPECT_EQ(to_string(r.outcome), "ACCEPTED") << r.reason;
}

TEST_F(BeaconAgent, RequestModeLetsADeviceWithoutCertificateInAndTheValidOneToo) {
  auto b = start(beacon::ClientAuth::kRequest, "request.log");
  EXPECT_EQ(to_string(run(*b, options("none")).outcome), "ACCEPTED");
  EXPECT_EQ(to_string(run(*b, options("valid")).outcome), "ACCEPTED");
}

TEST_F(BeaconAgent, AgentThatDoesNotTrustTheBeaconSaysSo) {
  auto b = start(beacon::ClientAuth::kRequire, "untrusted.log");
  auto o = options("valid");
  o.trust.ca_file = manifest.client_ca;  // the wrong hierarchy
  auto r = run(*b, o);
  EXPECT_EQ(to_string(r.outcome), "SERVER_UNTRUSTED") << r.reason;
}

TEST_F(BeaconAgent, MismatchedKeyIsAClientCredentialError) {
  auto b = start(beacon::ClientAuth::kRequire, "mismatch.log");
  auto o = options("valid");
  o.credential.key = manifest.beacon("beacon-a").key;
  auto r = run(*b, o);
  EXPECT_EQ(to_string(r.outcome), "CLIENT_CREDENTIAL_ERROR") << r.reason;
}

TEST_F(BeaconAgent, WrongDigestIsNotAccepted) {
  auto b = start(beacon::ClientAuth::kRequire, "digest.log");
  auto o = options("valid");
  o.known_digests.begin()->second = std::string(64, '0');
  auto r = run(*b, o);
  EXPECT_EQ(to_string(r.outcome), "PROTOCOL_ERROR") << r.reason;
  EXPECT_EQ(r.evidence.payload_verified, false);
}

TEST_F(BeaconAgent, NothingListeningIsUnreachable) {
  std::uint16_t port;
  {
    auto b = start(beacon::ClientAuth::kRequire, "gone.log");
    port = b->port();
  }  // stopped and closed: nothing listens there now
  auto r = agent::run_operation(op(), "https://127.0.0.1:" + std::to_string(port), options("none"));
  EXPECT_EQ(to_string(r.outcome), "UNREACHABLE") << r.reason;
}

TEST_F(BeaconAgent, BusyPortIsAnInputError) {
  auto a = start(beacon::ClientAuth::kRequire, "busy.log");
  beacon::BeaconConfig cfg;
  cfg.pki_dir = dir_->path() / "pki";
  cfg.content_dir = fixtures_dir() / "content";
  cfg.listeners = {beacon::ListenerConfig{}};
  cfg.listeners[0].listen = "127.0.0.1:" + std::to_string(a->port());
  try {
    beacon::Beacon second(cfg);
    FAIL() << "second beacon bound a busy port";
  } catch (const InputError& e) {
    // The library names the field; the CLI maps it to --listen.
    EXPECT_NE(std::string(e.what()).find("listeners[0].listen"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(std::to_string(a->port())), std::string::npos) << e.what();
  }
}

TEST_F(BeaconAgent, BadListenAndMissingPkiAreInputErrors) {
  beacon::BeaconConfig cfg;
  cfg.pki_dir = dir_->path() / "pki";
  cfg.content_dir = fixtures_dir() / "content";
  cfg.listeners = {beacon::ListenerConfig{}};
  for (const char* listen : {"127.0.0.1", "127.0.0.1:99999", "nohost:1", "[::1"}) {
    cfg.listeners[0].listen = listen;
    EXPECT_THROW(beacon::Beacon{cfg}, InputError) << listen;
  }
  cfg.listeners[0].listen = "127.0.0.1:0";
  cfg.pki_dir = dir_->path() / "no-pki";
  EXPECT_THROW(beacon::Beacon{cfg}, InputError);
}

}  // namespace
}  // namespace mtls

namespace mtls {
namespace {

// Many devices at once against a beacon on 4 threads: valid uploads and downloads mixed with
// devices without a certificate, and a shared session cache. The beacon's shared state (session
// cache, upload store, log, counters) under real concurrency; the TSan build runs this.
TEST_F(BeaconAgent, ConcurrentFleetWithMixedCredentials) {
  beacon::BeaconConfig cfg;
  cfg.pki_dir = dir_->path() / "pki";
  beacon::ListenerConfig l;
  l.client_auth = beacon::ClientAuth::kRequire;
  l.session_cache = "shared";
  cfg.listeners = {l};
  cfg.threads = 4;
  cfg.content_dir = fixtures_dir() / "content";
  cfg.store_dir = dir_->path() / "concurrent-store";
  cfg.log_file = dir_->path() / "concurrent.log";
  auto b = std::make_unique<beacon::Beacon>(cfg);
  b->start();
  const auto& upload = catalogue.get("upload-inventory");
  std::vector<std::unique_ptr<agent::Device>> devices;
  constexpr int kDevices = 60;
  for (int i = 0; i < kDevices; ++i) {
    agent::AgentOptions o = options(i % 3 == 0 ? "none" : "valid");
    o.device = "device-" + std::to_string(1000 + i);
    devices.push_back(std::make_unique<agent::Device>(agent::DevicePlan{
        .operations = {&op(), &upload}, .beacons = {{url(*b), 1}}, .options = o}));
  }
  agent::drive(devices, 24);
  int accepted = 0, rejected = 0;
  for (int i = 0; i < kDevices; ++i)
    for (const auto& r : devices[i]->results()) {
      if (i % 3 == 0) {
        EXPECT_TRUE(is_rejection(r.outcome)) << r.check_id << " " << to_string(r.outcome);
        ++rejected;
      } else {
        EXPECT_EQ(r.outcome, Outcome::kAccepted) << r.check_id << " " << r.reason;
        ++accepted;
      }
    }
  b.reset();  // drain and stop
  EXPECT_EQ(accepted, 2 * (kDevices - kDevices / 3));
  EXPECT_EQ(rejected, 2 * (kDevices / 3));
  std::size_t stored = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(*cfg.store_dir))
    stored += e.is_regular_file();
  EXPECT_EQ(stored, static_cast<std::size_t>(kDevices - kDevices / 3));  // refused devices: nothing
}

}  // namespace
}  // namespace mtls
