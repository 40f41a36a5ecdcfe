// content.hpp: what the simulated beacon serves under /ManageSoftDL/: the files of a content
// folder, the synthetic files its synthetic.yaml declares (large packages kept out of git,
// generated deterministically at start), and ManageSoftDL/SHA256SUMS, the digest manifest of all
// of them. Pure request -> response mapping, no sockets, so it can be unit-tested and fuzzed.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
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
  // `root` holds ManageSoftDL/... (and optionally synthetic.yaml); throws InputError when it is
  // not a readable folder or synthetic.yaml is wrong.
  explicit ContentStore(std::filesystem::path root);

  // For HEAD the body is filled too: the connection sends its length and drops it.
  Response handle(std::string_view method, std::string_view target) const;

  const std::filesystem::path& root() const { return root_; }

  // SHA-256 of a served file, path relative to the content folder ("ManageSoftDL/...").
  std::optional<std::string> digest(const std::string& relative) const;

 private:
  Response download(std::string_view relative) const;

  std::filesystem::path root_;
  std::map<std::string, std::shared_ptr<const std::string>> synthetic_;  // "ManageSoftDL/..."
  std::map<std::string, std::string> digests_;                           // same keys, all files
  std::string sha256sums_;
};

}  // namespace mtls::beacon
