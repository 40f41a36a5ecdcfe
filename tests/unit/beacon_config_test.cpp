// beacon_config_test.cpp: the beacon's YAML config, its upload store and its synthetic content,
// tested without sockets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "beacon/config.hpp"
#include "beacon/content.hpp"
#include "beacon/upload.hpp"
#include "core/files.hpp"
#include "test_util.hpp"

namespace mtls::beacon {
namespace {

TEST(BeaconConfig, ReadsEveryKnob) {
  test::TempDir dir;
  write_file_atomic(dir.path() / "b.yaml", R"(
name: beacon-b
pki: pki
store: store
uploads: {extensions: [.ndi], max_bytes: 1234}
threads: 3
timeouts: {handshake_ms: 100, idle_ms: 200}
max_connections: 7
latency_ms: 50
failure: {rate: 0.25, mode: reset}
listeners:
  - name: mtls
    listen: 127.0.0.1:0
    client_auth: ignore
    reject: http:403
    revocation: crl
    min_tls: "1.1"
    folders: [{prefix: /ManageSoftRL/, client_auth: require}]
    virtual_hosts: [{name: open.example, client_auth: ignore}]
    session_cache: shared
    trust_resumed_sessions: true
    check_host: false
  - name: side-door
    tls: false
)");
  const BeaconConfig c = load_beacon_config(dir.path() / "b.yaml");
  EXPECT_EQ(c.name, "beacon-b");
  EXPECT_EQ(c.pki_dir, dir.path() / "pki");  // relative to the file
  EXPECT_EQ(*c.store_dir, dir.path() / "store");
  EXPECT_EQ(c.upload_extensions, std::vector<std::string>{".ndi"});
  EXPECT_EQ(c.upload_max_bytes, 1234u);
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.handshake_timeout.count(), 100);
  EXPECT_EQ(c.idle_timeout.count(), 200);
  EXPECT_EQ(c.max_connections, 7u);
  EXPECT_EQ(c.latency.count(), 50);
  EXPECT_DOUBLE_EQ(c.failure_rate, 0.25);
  EXPECT_EQ(c.failure, "reset");
  ASSERT_EQ(c.listeners.size(), 2u);
  const auto& l = c.listeners[0];
  EXPECT_EQ(l.client_auth, ClientAuth::kIgnore);
  EXPECT_EQ(l.reject, RejectMode::kHttp403);
  EXPECT_TRUE(l.crl);
  EXPECT_EQ(l.min_tls, "1.1");
  ASSERT_EQ(l.folders.size(), 1u);
  EXPECT_EQ(l.folders[0].client_auth, ClientAuth::kRequire);
  ASSERT_EQ(l.virtual_hosts.size(), 1u);
  EXPECT_EQ(l.session_cache, "shared");
  EXPECT_TRUE(l.trust_resumed_sessions);
  EXPECT_FALSE(l.check_host);
  EXPECT_FALSE(c.listeners[1].tls);
  EXPECT_EQ(c.listeners[1].client_auth, ClientAuth::kIgnore);  // a plain listener's default
}

TEST(BeaconConfig, RejectModeNamesRoundTrip) {
  for (auto m : {RejectMode::kAlertHandshakeFailure, RejectMode::kAlertCertificateRequired,
                 RejectMode::kAlertAccessDenied, RejectMode::kAlertBadCertificate,
                 RejectMode::kClose, RejectMode::kHttp403, RejectMode::kHttp400})
    EXPECT_EQ(reject_mode_from_string(to_string(m)), m);
  EXPECT_FALSE(reject_mode_from_string("alert:nope").has_value());
  EXPECT_TRUE(rejects_in_handshake(RejectMode::kAlertAccessDenied));
  EXPECT_FALSE(rejects_in_handshake(RejectMode::kHttp400));
}

TEST(BeaconConfig, MistakesNameFileLineAndField) {
  test::TempDir dir;
  const std::pair<const char*, const char*> cases[] = {
      {"listeners:\n  - name: a\n    min_tls: \"0.9\"\n", "b.yaml:3: field 'listeners[0].min_tls'"},
      {"listeners:\n  - name: a\n    folders: [{prefix: ManageSoftRL}]\n", "prefix"},
      {"threads: many\nlisteners:\n  - name: a\n", "b.yaml:1: field 'threads'"},
      {"listeners:\n  - listen: x\n", "'listeners[0].name'"},
  };
  for (const auto& [text, want] : cases) {
    write_file_atomic(dir.path() / "b.yaml", text);
    try {
      load_beacon_config(dir.path() / "b.yaml");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  }
}

TEST(UploadStore, StoresWholeWithDigestAndRefusesTheRest) {
  test::TempDir dir;
  UploadStore store(dir.path() / "s", {".ndi", ".ndi.gz"}, 10);
  auto ok = store.put("/ManageSoftRL/Inv/dev.ndi.gz", "0123456789");
  ASSERT_EQ(ok.status, 201u);
  EXPECT_EQ(nlohmann::json::parse(ok.body)["sha256"], sha256_hex("0123456789"));
  EXPECT_EQ(read_file(dir.path() / "s/Inv/dev.ndi.gz"), "0123456789");
  EXPECT_EQ(store.put("/ManageSoftRL/big.ndi", "01234567890").status, 413u);
  EXPECT_EQ(store.put("/ManageSoftRL/x.exe", "1").status, 415u);
  for (const char* bad : {"/ManageSoftRL/../x.ndi", "/ManageSoftRL/.hidden.ndi",
                          "/ManageSoftRL//x.ndi", "/ManageSoftRL/a/./x.ndi"})
    EXPECT_EQ(store.put(bad, "1").status, 400u) << bad;
  EXPECT_EQ(store.put("/elsewhere/x.ndi", "1").status, 404u);
  int files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path() / "s"))
    files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(UploadStore, RefusesToWriteThroughASymlink) {
  test::TempDir dir;
  UploadStore store(dir.path() / "s", {".ndi"}, 100);
  std::filesystem::create_directories(dir.path() / "outside");
  std::filesystem::create_directory_symlink(dir.path() / "outside", dir.path() / "s" / "Inv");
  std::filesystem::create_symlink(dir.path() / "outside" / "t.ndi", dir.path() / "s" / "f.ndi");
  EXPECT_EQ(store.put("/ManageSoftRL/Inv/dev.ndi", "x").status, 403u);
  EXPECT_EQ(store.put("/ManageSoftRL/f.ndi", "x").status, 403u);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "outside"));
  EXPECT_EQ(store.put("/ManageSoftRL/Other/dev.ndi", "x").status, 201u);  // the rest still works
}

TEST(ContentStore, SynthesisesDeclaredFilesDeterministicallyAndListsDigests) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "ManageSoftDL/Policies");
  write_file_atomic(dir.path() / "ManageSoftDL/Policies/default.npl", "<Policy/>");
  write_file_atomic(dir.path() / "synthetic.yaml",
                    "files:\n  - {path: ManageSoftDL/Upgrade/p.pkg, size: 100000, seed: s1}\n");
  ContentStore a(dir.path()), b(dir.path());
  auto pkg = a.handle("GET", "/ManageSoftDL/Upgrade/p.pkg");
  ASSERT_EQ(pkg.status, 200u);
  EXPECT_EQ(pkg.body.size(), 100000u);
  EXPECT_EQ(pkg.body, b.handle("GET", "/ManageSoftDL/Upgrade/p.pkg").body);
  EXPECT_EQ(a.digest("ManageSoftDL/Upgrade/p.pkg"), sha256_hex(pkg.body));
  const std::string sums = a.handle("GET", "/ManageSoftDL/SHA256SUMS").body;
  EXPECT_NE(sums.find(sha256_hex(pkg.body) + "  Upgrade/p.pkg\n"), std::string::npos) << sums;
  EXPECT_NE(sums.find(sha256_hex("<Policy/>") + "  Policies/default.npl\n"), std::string::npos)
      << sums;
  write_file_atomic(dir.path() / "synthetic.yaml", "files:\n  - {path: ../escape.pkg, size: 10}\n");
  EXPECT_THROW(ContentStore{dir.path()}, InputError);
}

}  // namespace
}  // namespace mtls::beacon
