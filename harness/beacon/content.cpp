// content.cpp: see content.hpp.
#include "beacon/content.hpp"

#include <system_error>

#include "beacon/upload.hpp"
#include "core/files.hpp"

namespace mtls::beacon {
namespace fs = std::filesystem;

namespace {

Response text(unsigned status, std::string body) {
  return Response{status, "text/plain", std::move(body) + "\n"};
}

std::string content_type_for(const fs::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".npl" || ext == ".osd" || ext == ".xml") return "application/xml";
  return "application/octet-stream";
}

}  // namespace

ContentStore::ContentStore(fs::path root) : root_(std::move(root)) {
  std::error_code ec;
  if (!fs::is_directory(root_, ec))
    throw InputError("content folder " + root_.string() + " does not exist or is not a folder");
}

Response ContentStore::handle(std::string_view method, std::string_view target) const {
  std::string_view path = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") return text(405, "method not allowed");
  if (!path.starts_with(kDownloadPrefix)) return text(404, "not found");
  std::string_view rel = path.substr(kDownloadPrefix.size());
  if (!safe_relative_path(rel)) return text(400, "bad path");
  return download(rel);
}

Response ContentStore::download(std::string_view relative) const {
  fs::path file = root_ / "ManageSoftDL" / fs::path(relative);
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    // Real beacons generate each device's policy; we serve Policies/default.npl for any device
    // whose own <device>.npl is not in the content folder.
    fs::path rel(relative);
    if (rel.parent_path() == "Policies" && rel.extension() == ".npl")
      file = root_ / "ManageSoftDL" / "Policies" / "default.npl";
    if (!fs::is_regular_file(file, ec)) return text(404, "not found");
  }
  Response r{200, content_type_for(file), {}};
  try {
    r.body = read_file(file);
  } catch (const InputError&) {
    return text(500, "content unreadable");
  }
  return r;
}

}  // namespace mtls::beacon
