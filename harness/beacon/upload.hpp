// upload.hpp: the beacon's upload store (PUT under /ManageSoftRL/). An upload is stored completely
// or not at all: written to a temporary file in the store, fsynced, then renamed into place. Only
// configured extensions are accepted, up to a size limit. Pure file logic, no sockets.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "beacon/content.hpp"

namespace mtls::beacon {

inline constexpr std::string_view kUploadPrefix = "/ManageSoftRL/";

class UploadStore {
 public:
  // `root` is created if missing; throws InputError when it cannot be.
  UploadStore(std::filesystem::path root, std::vector<std::string> extensions,
              std::uint64_t max_bytes);

  // `target` is the request target (/ManageSoftRL/...). 201 with the SHA-256 (JSON body) when
  // stored; 400 bad path, 413 too large, 415 extension not allowed, 500 the disk failed.
  Response put(std::string_view target, std::string_view body) const;

  std::uint64_t max_bytes() const { return max_bytes_; }
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
  std::vector<std::string> extensions_;
  std::uint64_t max_bytes_;
};

// A relative path of segments [A-Za-z0-9._-], none "." or "..", no empty segment.
bool safe_relative_path(std::string_view rel);

}  // namespace mtls::beacon
