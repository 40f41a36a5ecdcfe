// content_test.cpp: the beacon's request routing: downloads served byte-exact, per-device policy,
// path traversal and bad methods refused with 4xx.
#include <gtest/gtest.h>

#include "beacon/content.hpp"
#include "core/files.hpp"
#include "test_util.hpp"

namespace mtls::beacon {
namespace {

class ContentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir.path() / "ManageSoftDL/Policies");
    std::filesystem::create_directories(dir.path() / "ManageSoftDL/Schedules");
    write_file_atomic(dir.path() / "ManageSoftDL/Policies/default.npl", "<Policy default/>");
    write_file_atomic(dir.path() / "ManageSoftDL/Policies/dev-7.npl", "<Policy dev7/>");
    write_file_atomic(dir.path() / "ManageSoftDL/Schedules/s.osd", "<osd/>");
    write_file_atomic(dir.path() / "secret.txt", "outside the download folder");
  }
  test::TempDir dir;
};

TEST_F(ContentTest, ServesAFileByteExact) {
  ContentStore store(dir.path());
  auto r = store.handle("GET", "/ManageSoftDL/Schedules/s.osd");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, read_file(dir.path() / "ManageSoftDL/Schedules/s.osd"));
  EXPECT_EQ(r.content_type, "application/xml");
}

TEST_F(ContentTest, DeviceWithItsOwnPolicyGetsIt) {
  ContentStore store(dir.path());
  EXPECT_EQ(store.handle("GET", "/ManageSoftDL/Policies/dev-7.npl").body,
            read_file(dir.path() / "ManageSoftDL/Policies/dev-7.npl"));
}

TEST_F(ContentTest, OtherDevicesGetTheDefaultPolicy) {
  ContentStore store(dir.path());
  auto r = store.handle("GET", "/ManageSoftDL/Policies/any-device.npl?x=1");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, read_file(dir.path() / "ManageSoftDL/Policies/default.npl"));
}

TEST_F(ContentTest, MissingNonPolicyFileIs404) {
  ContentStore store(dir.path());
  EXPECT_EQ(store.handle("GET", "/ManageSoftDL/Schedules/none.osd").status, 404u);
  EXPECT_EQ(store.handle("GET", "/elsewhere").status, 404u);
}

TEST_F(ContentTest, TraversalAndOddPathsAre400) {
  ContentStore store(dir.path());
  for (const char* t :
       {"/ManageSoftDL/../secret.txt", "/ManageSoftDL/Policies/../../secret.txt",
        "/ManageSoftDL/%2e%2e/secret.txt", "/ManageSoftDL//Policies/dev-7.npl",
        "/ManageSoftDL/./Policies/dev-7.npl", "/ManageSoftDL/Policies\\dev-7.npl"}) {
    auto r = store.handle("GET", t);
    EXPECT_EQ(r.status, 400u) << t;
    EXPECT_EQ(r.body.find("outside"), std::string::npos) << t;
  }
}

TEST_F(ContentTest, OtherMethodsAre405) {
  ContentStore store(dir.path());
  for (const char* m : {"POST", "DELETE", "PROPFIND", "OPTIONS"})
    EXPECT_EQ(store.handle(m, "/ManageSoftDL/Policies/dev-7.npl").status, 405u) << m;
  EXPECT_EQ(store.handle("HEAD", "/ManageSoftDL/Policies/dev-7.npl").status, 200u);
}

TEST_F(ContentTest, MissingContentFolderIsAnInputError) {
  EXPECT_THROW(ContentStore(dir.path() / "nope"), InputError);
}

}  // namespace
}  // namespace mtls::beacon
