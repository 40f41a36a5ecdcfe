// files.hpp: error types that map to exit codes, and file helpers (read whole files, atomic
// writes with fsync + rename, SHA-256 digests, an owned file descriptor).
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <unistd.h>

namespace mtls {

// Owns a POSIX file descriptor (closed with its owner).
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Bad input from the user (a file, a flag, a field): the CLI prints it on one line, exit code 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The harness itself could not do its work (a child died, a socket failed): exit code 3.
class HarnessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads a whole file; throws InputError naming the path when it cannot.
std::string read_file(const std::filesystem::path& path);

// Writes `data` to `path` completely or not at all: temp file in the same folder, fsync, rename.
// `mode` is applied to the temp file before any byte is written (0600 for keys).
void write_file_atomic(const std::filesystem::path& path, std::string_view data,
                       unsigned mode = 0644);

// Lower-case hex SHA-256 of bytes, or of a file's contents.
std::string sha256_hex(std::string_view data);
std::string sha256_file_hex(const std::filesystem::path& path);

}  // namespace mtls
