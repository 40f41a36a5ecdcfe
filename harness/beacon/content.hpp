// content.hpp: what the simulated beacon answers to a decrypted HTTP request: downloads under
// /ManageSoftDL/ from a content folder. Pure request -> response mapping, no sockets, so it can
// be unit-tested and fuzzed. Uploads (/ManageSoftRL/) arrive with the beacon issue.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace mtls::beacon {

struct Response {
  unsigned status = 500;
  std::string content_type = "text/plain";
  std::string body;
};

inline constexpr std::string_view kDownloadPrefix = "/ManageSoftDL/";

class ContentStore {
 public:
  // `root` holds ManageSoftDL/...; throws InputError when it is not a readable folder.
  explicit ContentStore(std::filesystem::path root);

  // For HEAD the body is filled too: the connection sends its length and drops it.
  Response handle(std::string_view method, std::string_view target) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  Response download(std::string_view relative) const;

  std::filesystem::path root_;
};

}  // namespace mtls::beacon
