// fuzz_util.hpp: what the fuzz targets share: a scratch folder per process (removed at exit) and
// writing an input to a file there (the harness reads scenario, credential and report *files*).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace mtls::fuzz {

class Scratch {
 public:
  Scratch() {
    char tmpl[] = "/tmp/mtls-fuzz-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path write(const std::string& name, const uint8_t* data, size_t size) const {
    const auto p = dir_ / name;
    std::ofstream(p, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return p;
  }

 private:
  std::filesystem::path dir_;
};

// One per process, torn down at exit (libFuzzer calls the target from one thread).
inline const Scratch& scratch() {
  static const Scratch s;
  return s;
}

}  // namespace mtls::fuzz
