// content.cpp: see content.hpp.
#include "beacon/content.hpp"

#include <botan/chacha_rng.h>
#include <botan/hash.h>

#include <system_error>

#include "beacon/upload.hpp"
#include "core/files.hpp"
#include "core/yaml_file.hpp"

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
  if (const fs::path spec = root_ / "synthetic.yaml"; fs::exists(spec, ec)) {
    const YamlFields y(spec);
    const YAML::Node files = load_yaml_file(spec)["files"];
    if (!files || !files.IsSequence()) y.fail(files, "files", "must be a list");
    for (std::size_t i = 0; i < files.size(); ++i) {
      const std::string f = "files[" + std::to_string(i) + "]";
      const std::string path = y.str(files[i], "path", f + ".path", "", true);
      if (!path.starts_with("ManageSoftDL/") || !safe_relative_path(path))
        y.fail(files[i], f + ".path", "must be a plain path under ManageSoftDL/");
      const std::uint64_t size = y.unsigned_int(files[i], "size", f + ".size", 0);
      if (size == 0 || size > (1ull << 30))
        y.fail(files[i], f + ".size", "must be 1 byte to 1 GiB");
      const std::string seed = y.str(files[i], "seed", f + ".seed", path);
      auto h = Botan::HashFunction::create_or_throw("SHA-256");
      h->update(seed);
      Botan::ChaCha_RNG stream(h->final());
      auto bytes = std::make_shared<std::string>(size, '\0');
      stream.randomize(reinterpret_cast<uint8_t*>(bytes->data()), bytes->size());
      synthetic_[path] = std::move(bytes);
    }
  }
  // The digest manifest: every file under ManageSoftDL/, real or synthetic, computed once.
  for (const auto& e : fs::recursive_directory_iterator(root_ / "ManageSoftDL", ec))
    if (e.is_regular_file())
      digests_[fs::relative(e.path(), root_).string()] = sha256_file_hex(e.path());
  for (const auto& [path, bytes] : synthetic_) digests_[path] = sha256_hex(*bytes);
  digests_.erase("ManageSoftDL/SHA256SUMS");
  for (const auto& [path, digest] : digests_)
    sha256sums_ += digest + "  " + path.substr(std::string("ManageSoftDL/").size()) + "\n";
}

std::optional<std::string> ContentStore::digest(const std::string& relative) const {
  auto it = digests_.find(relative);
  if (it == digests_.end()) return std::nullopt;
  return it->second;
}

Response ContentStore::handle(std::string_view method, std::string_view target) const {
  std::string_view path = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") return text(405, "method not allowed");
  if (!path.starts_with(kDownloadPrefix)) return text(404, "not found");
  std::string_view rel = path.substr(kDownloadPrefix.size());
  if (rel.empty()) return text(200, "ManageSoftDL");  // the folder itself: what agents ping
  if (!safe_relative_path(rel)) return text(400, "bad path");
  return download(rel);
}

Response ContentStore::download(std::string_view relative) const {
  if (relative == "SHA256SUMS") return Response{200, "text/plain", sha256sums_};
  if (auto it = synthetic_.find("ManageSoftDL/" + std::string(relative)); it != synthetic_.end())
    return Response{200, "application/octet-stream", *it->second};
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
