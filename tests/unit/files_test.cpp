// files_test.cpp: atomic writes leave the whole file or nothing, with the requested mode.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/files.hpp"
#include "test_util.hpp"

namespace mtls {
namespace {

TEST(Files, AtomicWriteWritesAllWithModeAndNoTempLeft) {
  test::TempDir dir;
  const auto p = dir.path() / "k.pem";
  write_file_atomic(p, "secret-ish", 0600);
  EXPECT_EQ(read_file(p), "secret-ish");
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(Files, AtomicWriteReplacesExisting) {
  test::TempDir dir;
  const auto p = dir.path() / "f";
  write_file_atomic(p, "one");
  write_file_atomic(p, "two");
  EXPECT_EQ(read_file(p), "two");
}

TEST(Files, AtomicWriteIntoMissingFolderThrowsAndLeavesNothing) {
  test::TempDir dir;
  EXPECT_THROW(write_file_atomic(dir.path() / "no/such/f", "x"), HarnessError);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "no"));
}

TEST(Files, ReadErrorsNameThePath) {
  test::TempDir dir;
  try {
    read_file(dir.path() / "missing.pem");
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos);
  }
  EXPECT_THROW(read_file(dir.path()), InputError);
}

TEST(Files, Sha256OfKnownVector) {
  // FIPS 180-2 test vector "abc".
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace mtls
