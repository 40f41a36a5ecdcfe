// catalogue.cpp: see catalogue.hpp.
#include "agent/catalogue.hpp"

#include <botan/compression.h>

#include "core/files.hpp"
#include "core/home.hpp"
#include "core/yaml_file.hpp"

namespace mtls::agent {
namespace fs = std::filesystem;

std::string with_device(std::string text, const std::string& device) {
  for (std::size_t at = 0; (at = text.find("{device}", at)) != std::string::npos;
       at += device.size())
    text.replace(at, 8, device);
  return text;
}

std::string RequestSpec::path_for(const std::string& device) const {
  return with_device(path_template, device);
}

std::string RequestSpec::body_for(const std::string& device, const std::string& check) const {
  std::string body = payload ? with_device(*payload, device) : std::string();
  for (std::size_t at = 0; (at = body.find("{check}", at)) != std::string::npos; at += check.size())
    body.replace(at, 7, check);
  if (!gzip) return body;
  std::unique_ptr<Botan::Compression_Algorithm> z(Botan::make_compressor("gzip"));
  if (!z) throw HarnessError("this Botan build has no gzip compression");
  Botan::secure_vector<uint8_t> buf(body.begin(), body.end());
  z->start();
  z->finish(buf);
  return std::string(buf.begin(), buf.end());
}

Catalogue Catalogue::load_fields(const fs::path& file) {
  const YamlFields y(file);
  const YAML::Node root = load_yaml_file(file);
  const YAML::Node ops = y.map(root, "operations", "operations", true);
  Catalogue c;
  for (const auto& entry : ops) {
    Operation op;
    op.id = entry.first.as<std::string>();
    const std::string where = "operations." + op.id;
    if (!entry.second.IsMap()) y.fail(entry.second, where, "must be a mapping");
    op.description = y.str(entry.second, "description", where + ".description");
    op.per_day = y.number(entry.second, "per_day", where + ".per_day", 0.0);
    if (!(op.per_day >= 0 && op.per_day <= 86400))
      y.fail(entry.second["per_day"], where + ".per_day", "must be 0 to 86400 times a day");
    const YAML::Node reqs = entry.second["requests"];
    if (!reqs || !reqs.IsSequence() || reqs.size() == 0)
      y.fail(reqs ? reqs : entry.second, where + ".requests", "must be a non-empty list");
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      const YAML::Node r = reqs[i];
      const std::string f = where + ".requests[" + std::to_string(i) + "]";
      if (!r.IsMap()) y.fail(r, f, "must be a mapping");
      RequestSpec spec;
      spec.method = y.str(r, "method", f + ".method", "", true);
      y.one_of(r["method"], f + ".method", spec.method, {"GET", "HEAD", "PUT"});
      spec.path_template = y.str(r, "path", f + ".path", "", true);
      if (!spec.path_template.starts_with("/"))
        y.fail(r["path"], f + ".path", "must start with '/'");
      if (r["content"]) spec.content = y.str(r, "content", f + ".content");
      const std::string digest = y.str(r, "digest", f + ".digest", "");
      if (!digest.empty()) y.one_of(r["digest"], f + ".digest", digest, {"sha256sums"});
      spec.digest_from_sums = digest == "sha256sums";
      spec.format = y.str(r, "format", f + ".format", "any");
      y.one_of(r["format"] ? r["format"] : r, f + ".format", spec.format, {"xml", "any"});
      spec.gzip = y.boolean(r, "gzip", f + ".gzip", false);
      if (r["payload"]) {
        const fs::path payload = file.parent_path() / y.str(r, "payload", f + ".payload");
        spec.payload = read_file(payload);
      }
      if (spec.method == "PUT" && !spec.payload) y.fail(r, f + ".payload", "a PUT needs a payload");
      if (spec.method != "PUT" && (spec.payload || spec.gzip))
        y.fail(r, f + ".payload", "only a PUT sends a payload");
      op.requests.push_back(std::move(spec));
    }
    c.ops_.emplace(op.id, std::move(op));
  }
  return c;
}

Catalogue Catalogue::load(const fs::path& file) {
  return guard_yaml(file, [&] { return load_fields(file); });
}

Catalogue Catalogue::load_default() {
  return load(fixtures_dir() / "operations.yaml");
}

const Operation& Catalogue::get(const std::string& id) const {
  auto it = ops_.find(id);
  if (it != ops_.end()) return it->second;
  std::string known;
  for (const auto& [k, _] : ops_) known += (known.empty() ? "" : ", ") + k;
  throw InputError("unknown operation '" + id + "' (known: " + known + ")");
}

void Catalogue::add(Operation op) {
  if (op.id.empty() || op.id.find('/') != std::string::npos || op.requests.empty())
    throw InputError("operation '" + op.id + "': needs an id without '/' and a request");
  const std::string id = op.id;
  ops_[id] = std::move(op);
}

std::vector<std::string> Catalogue::ids() const {
  std::vector<std::string> out;
  for (const auto& [k, _] : ops_) out.push_back(k);
  return out;
}

}  // namespace mtls::agent
