// catalogue_test.cpp: the operation catalogue loads, fills in device names, gzips payloads for
// real, and names file, line and field for every mistake.
#include <botan/compression.h>
#include <gtest/gtest.h>

#include "agent/catalogue.hpp"
#include "core/files.hpp"
#include "test_util.hpp"

namespace mtls::agent {
namespace {

TEST(Catalogue, TheDefaultCatalogueHasDesignMdsOperations) {
  const Catalogue c = Catalogue::load_default();
  for (const char* id : {"download-policy", "download-schedule", "download-upgrade",
                         "upload-status", "upload-discovery", "upload-inventory", "select-beacon"})
    EXPECT_NO_THROW(c.get(id)) << id;
  EXPECT_EQ(c.get("download-schedule").requests.size(), 2u);
  EXPECT_TRUE(c.get("download-upgrade").requests.front().digest_from_sums);
  try {
    c.get("download-everything");
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("download-policy"), std::string::npos) << e.what();
  }
}

TEST(Catalogue, DeviceNamesAndGzipPayloads) {
  const Catalogue c = Catalogue::load_default();
  const RequestSpec& inv = c.get("upload-inventory").requests.front();
  EXPECT_EQ(inv.path_for("dev-1"), "/ManageSoftRL/Inventories/dev-1.ndi.gz");
  ASSERT_TRUE(inv.gzip);
  const std::string body = inv.body_for("dev-1");
  ASSERT_GE(body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(body[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(body[1]), 0x8b);
  std::unique_ptr<Botan::Decompression_Algorithm> z(Botan::make_decompressor("gzip"));
  Botan::secure_vector<uint8_t> buf(body.begin(), body.end());
  z->start();
  z->finish(buf);
  const std::string plain(buf.begin(), buf.end());
  EXPECT_EQ(plain, with_device(*inv.payload, "dev-1"));
  EXPECT_NE(plain.find("Device=\"dev-1\""), std::string::npos);
  EXPECT_EQ(plain.find("{device}"), std::string::npos);
  EXPECT_EQ(with_device("{device}/{device}", "d"), "d/d");
}

TEST(Catalogue, MistakesNameFileLineAndField) {
  test::TempDir dir;
  write_file_atomic(dir.path() / "p.txt", "x");
  const std::pair<const char*, const char*> cases[] = {
      {"operations:\n  a:\n    requests:\n      - {method: PUT, path: /x}\n",
       "a.requests[0].payload"},
      {"operations:\n  a:\n    requests:\n      - {method: GET, path: /x, payload: p.txt}\n",
       "only a PUT"},
      {"operations:\n  a:\n    requests:\n      - {method: POST, path: /x}\n",
       "ops.yaml:4: field 'operations.a.requests[0].method'"},
      {"operations:\n  a:\n    requests:\n      - {method: GET, path: x}\n", "must start with '/'"},
      {"operations:\n  a:\n    requests:\n      - {method: GET, path: /x, digest: md5}\n",
       "digest"},
      {"operations:\n  a:\n    requests: []\n", "a.requests"},
      {"operations:\n  a:\n    requests:\n      - {method: PUT, path: /x, payload: missing.txt}\n",
       "missing.txt"},
  };
  for (const auto& [text, want] : cases) {
    write_file_atomic(dir.path() / "ops.yaml", text);
    try {
      Catalogue::load(dir.path() / "ops.yaml");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace mtls::agent
