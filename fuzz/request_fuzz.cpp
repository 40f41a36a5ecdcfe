// request_fuzz.cpp: the beacon's handling of decrypted request bytes: its own RequestStream
// (HTTP/1.1 parsing with the beacon's limits) fed in two pieces, then routing as the beacon does:
// downloads through ContentStore, uploads through UploadStore. Invariants checked on every
// input: nothing but a 201 changes the store, a 201 stores exactly the body, no temp file or
// symlink is ever left, nothing lands outside the store.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "beacon/content.hpp"
#include "beacon/request_stream.hpp"
#include "beacon/upload.hpp"
#include "core/files.hpp"
#include "core/home.hpp"
#include "fuzz_util.hpp"

namespace fs = std::filesystem;
using namespace mtls;

namespace {

constexpr std::uint64_t kMaxUpload = 64 * 1024;

std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_symlink()) std::abort();  // the store never holds a symlink
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = read_file(e.path());
  }
  return files;
}

const beacon::ContentStore& content() {
  static const beacon::ContentStore store(fixtures_dir() / "content");
  return store;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)content();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path root = fuzz::scratch().dir() / "store";
  fs::remove_all(root);
  const beacon::UploadStore uploads(root, {".ndi", ".ndi.gz", ".disco", ".log"}, kMaxUpload);
  beacon::RequestStream stream(kMaxUpload);
  const std::string all(reinterpret_cast<const char*>(data), size);
  const std::size_t cut = size > 0 ? data[0] % (size + 1) : 0;
  std::string in;
  for (const std::string& piece : {all.substr(0, cut), all.substr(cut)}) {
    in += piece;
    for (;;) {
      auto ev = stream.next(in);
      if (ev.kind == beacon::RequestStream::Event::Kind::kNeedMore) break;
      if (ev.kind == beacon::RequestStream::Event::Kind::kError) {
        if (ev.status != 400 && ev.status != 413) std::abort();
        return 0;  // the beacon answers and closes
      }
      const std::string method(ev.request.method_string()), target(ev.request.target());
      if (target.starts_with(beacon::kUploadPrefix) && method == "PUT") {
        const auto before = snapshot(root);
        const auto r = uploads.put(target, ev.request.body());
        const auto after = snapshot(root);
        if (r.status != 201) {
          if (before != after) std::abort();  // a refused upload leaves nothing behind
        } else {
          int changed = 0;
          for (const auto& [name, bytes] : after) {
            auto it = before.find(name);
            if (it == before.end() || it->second != bytes) {
              ++changed;
              if (bytes != ev.request.body()) std::abort();  // stored exactly what was sent
            }
          }
          if (changed > 1 || (changed == 0 && before.size() != after.size())) std::abort();
        }
      } else {
        const auto r = content().handle(method, target);
        if (r.status < 200 || r.status > 599) std::abort();
      }
    }
  }
  return 0;
}
