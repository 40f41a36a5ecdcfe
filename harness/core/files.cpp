// files.cpp: see files.hpp.
#include "core/files.hpp"

#include <botan/hash.h>
#include <botan/hex.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace mtls {
namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw InputError(path.string() + ": is a folder, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot read (" + std::strerror(errno) + ")");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError(path.string() + ": read error");
  return ss.str();
}

namespace {
[[noreturn]] void fail_write(const fs::path& path, const char* what, int err) {
  throw HarnessError(path.string() + ": " + what + " failed (" + std::strerror(err) + ")");
}
}  // namespace

void write_file_atomic(const fs::path& path, std::string_view data, unsigned mode) {
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  int raw = ::mkstemp(tmpl.data());
  if (raw < 0) fail_write(path, "creating a temporary file", errno);
  Fd fd(raw);
  const fs::path tmp = tmpl;
  auto cleanup_and_fail = [&](const char* what) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail_write(path, what, err);
  };
  if (::fchmod(fd.get(), mode) != 0) cleanup_and_fail("chmod");
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      cleanup_and_fail("write");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) cleanup_and_fail("fsync");
  if (::close(fd.release()) != 0) cleanup_and_fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) cleanup_and_fail("rename");
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY));
  if (dfd.get() >= 0) ::fsync(dfd.get());  // make the rename durable; best effort
}

std::string sha256_hex(std::string_view data) {
  auto h = Botan::HashFunction::create_or_throw("SHA-256");
  h->update(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  return Botan::hex_encode(h->final(), false);
}

std::string sha256_file_hex(const fs::path& path) {
  return sha256_hex(read_file(path));
}

}  // namespace mtls
