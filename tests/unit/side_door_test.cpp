// side_door_test.cpp: the pieces the side-door probes stand on: URL rewriting, the hand-driven
// HTTP response reader, the entry-path catalogue and side-door verdicts.
#include <gtest/gtest.h>

#include "agent/raw_http.hpp"
#include "agent/url.hpp"
#include "core/files.hpp"
#include "engine/entry_paths.hpp"
#include "engine/verdict.hpp"
#include "test_util.hpp"

namespace mtls {
namespace {

TEST(Url, PartsAndAuthority) {
  auto u = agent::parse_url("https://beacon.example:8443/ManageSoftDL/x?y");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "beacon.example");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/ManageSoftDL/x?y");
  EXPECT_FALSE(u->host_is_ip());
  auto v6 = agent::parse_url("https://[::1]:9/");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_TRUE(v6->host_is_ip());
  EXPECT_EQ(v6->authority(), "[::1]:9");
  EXPECT_EQ(agent::parse_url("http://h")->port, 80);
  EXPECT_EQ(agent::parse_url("https://h")->port, 443);
  for (const char* bad : {"ftp://h", "https://", "https://h:0", "https://h:70000", "https://h:x",
                          "h:443", "https://[::1"})
    EXPECT_FALSE(agent::parse_url(bad)) << bad;
}

std::string digest_of(const std::string& s) {
  return sha256_hex(s);
}

TEST(ResponseReader, ContentLengthIsExactEvenFedByteByByte) {
  const std::string body = "<policy/>";
  const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n" + body + "EXTRA";
  agent::ResponseReader r(false);
  for (char c : wire) r.feed(std::string_view(&c, 1));
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.body_head(), body);
  EXPECT_EQ(r.sha256_hex(), digest_of(body));
}

TEST(ResponseReader, ChunkedBodyIsDecoded) {
  agent::ResponseReader r(false);
  r.feed(
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: "
      "chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n");
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.status(), 201);
  EXPECT_EQ(r.body_head(), "abcdefg");
}

TEST(ResponseReader, HeadAndCloseDelimited) {
  agent::ResponseReader head(true);
  head.feed("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
  EXPECT_TRUE(head.done());
  agent::ResponseReader until_close(false);
  until_close.feed("HTTP/1.0 200 OK\r\n\r\nabc");
  EXPECT_FALSE(until_close.done());
  until_close.close();
  EXPECT_TRUE(until_close.done());
  EXPECT_EQ(until_close.body_head(), "abc");
  agent::ResponseReader garbage(false);
  garbage.feed("\x16\x03\x01 not http\r\n\r\n");
  EXPECT_TRUE(garbage.malformed());
  EXPECT_FALSE(garbage.status());
}

TEST(EntryPaths, TheCatalogueDescribesEveryPathTheAgentKnows) {
  const auto paths = engine::EntryPaths::load_default();
  for (const auto& name : agent::entry_path_names()) {
    const auto& info = paths.get(name);
    EXPECT_FALSE(info.closed.empty()) << name;
    EXPECT_EQ(std::count(info.closed.begin(), info.closed.end(), Outcome::kAccepted), 0) << name;
    if (name != "https") {
      EXPECT_FALSE(info.advisories.empty()) << name;
    }
  }
  EXPECT_EQ(engine::EntryPaths::fill("{beacon} via {name}", "b1", "open.x"), "b1 via open.x");
}

TEST(EntryPaths, AnAcceptedClosedOutcomeIsRefused) {
  test::TempDir dir;
  const auto file = dir.path() / "paths.yaml";
  write_file_atomic(file, "https: {description: d, closed: [ACCEPTED]}\n");
  EXPECT_THROW(engine::EntryPaths::load(file), InputError);
}

TEST(Verdict, SideDoorsJudgeByTheirClosedOutcomes) {
  const std::vector<Outcome> plain = {Outcome::kUnreachable, Outcome::kRejectedHttp};
  // a closed cleartext port is a closed door, when the front door's control got in
  EXPECT_EQ(
      engine::judge_negative({Outcome::kUnreachable}, engine::Answer{Outcome::kAccepted}, &plain)
          .verdict,
      Verdict::kPass);
  // the same outcome on the front door proves nothing
  EXPECT_EQ(
      engine::judge_negative({Outcome::kUnreachable}, engine::Answer{Outcome::kAccepted}).verdict,
      Verdict::kInconclusive);
  EXPECT_EQ(
      engine::judge_negative({Outcome::kUnreachable}, engine::Answer{Outcome::kUnreachable}, &plain)
          .verdict,
      Verdict::kInconclusive);
  EXPECT_EQ(engine::judge_negative({Outcome::kAccepted}, engine::Answer{Outcome::kAccepted}, &plain)
                .severity,
            Severity::kExposure);
}

}  // namespace
}  // namespace mtls
