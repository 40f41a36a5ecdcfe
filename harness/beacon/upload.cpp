// upload.cpp: see upload.hpp.
#include "beacon/upload.hpp"

#include <nlohmann/json.hpp>

#include "core/files.hpp"

namespace mtls::beacon {
namespace fs = std::filesystem;

UploadStore::UploadStore(fs::path root, std::vector<std::string> extensions,
                         std::uint64_t max_bytes)
    : root_(std::move(root)), extensions_(std::move(extensions)), max_bytes_(max_bytes) {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec || !fs::is_directory(root_, ec))
    throw InputError("upload store " + root_.string() + ": cannot create (" + ec.message() + ")");
}

Response UploadStore::put(std::string_view target, std::string_view body) const {
  auto text = [](unsigned status, std::string msg) {
    return Response{status, "text/plain", msg + "\n"};
  };
  std::string_view path = target.substr(0, target.find('?'));
  if (!path.starts_with(kUploadPrefix)) return text(404, "not found");
  const std::string rel(path.substr(kUploadPrefix.size()));
  if (!safe_relative_path(rel)) return text(400, "bad path");
  bool allowed = false;
  for (const auto& ext : extensions_) allowed = allowed || rel.ends_with(ext);
  if (!allowed) return text(415, "file type not accepted by this beacon");
  if (body.size() > max_bytes_) return text(413, "upload too large");
  const fs::path dest = root_ / rel;
  std::error_code ec;
  // A symlink inside the store (planted, or left by someone) could carry a write outside it: no
  // component below the store's root may be one, nor the file itself.
  fs::path at = root_;
  for (const auto& part : fs::path(rel)) {
    at /= part;
    if (fs::is_symlink(fs::symlink_status(at, ec)))
      return text(403, "the upload store refuses to write through a symbolic link");
  }
  fs::create_directories(dest.parent_path(), ec);
  try {
    write_file_atomic(dest, body);  // temp file in the same folder, fsync, rename
  } catch (const std::exception&) {
    return text(500, "could not store the upload");
  }
  const std::string digest = sha256_hex(body);
  nlohmann::json j = {{"stored", rel}, {"bytes", body.size()}, {"sha256", digest}};
  return Response{201, "application/json", j.dump() + "\n"};
}

bool safe_relative_path(std::string_view rel) {
  if (rel.empty()) return false;
  std::size_t start = 0;
  while (start <= rel.size()) {
    std::size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string_view seg = rel.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == ".." || seg.starts_with(".")) return false;
    for (char c : seg) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
      if (!ok) return false;
    }
    start = end + 1;
  }
  return true;
}

}  // namespace mtls::beacon
