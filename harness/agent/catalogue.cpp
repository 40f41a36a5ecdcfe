// catalogue.cpp: see catalogue.hpp.
#include "agent/catalogue.hpp"

#include "core/yaml_file.hpp"

#include "core/files.hpp"
#include "core/home.hpp"

namespace mtls::agent {
namespace fs = std::filesystem;

std::string Operation::path_for(const std::string& device) const {
  std::string p = path_template;
  for (std::size_t at; (at = p.find("{device}")) != std::string::npos;) p.replace(at, 8, device);
  return p;
}

namespace {

std::string field(const YAML::Node& node, const fs::path& file, const std::string& where,
                  const std::string& key, bool required) {
  const YAML::Node v = node[key];
  if (!v) {
    if (required)
      throw InputError(file.string() + ":" + std::to_string(node.Mark().line + 1) + ": " + where +
                       ": field '" + key + "' is missing");
    return {};
  }
  if (!v.IsScalar())
    throw InputError(file.string() + ":" + std::to_string(v.Mark().line + 1) + ": " + where +
                     ": field '" + key + "' must be a string");
  return v.as<std::string>();
}

}  // namespace

Catalogue Catalogue::load(const fs::path& file) {
  const YAML::Node root = load_yaml_file(file);
  const YAML::Node ops = root["operations"];
  if (!ops || !ops.IsMap()) throw InputError(file.string() + ": 'operations' must be a mapping");
  Catalogue c;
  for (const auto& entry : ops) {
    Operation op;
    op.id = entry.first.as<std::string>();
    const std::string where = "operations." + op.id;
    if (!entry.second.IsMap())
      throw InputError(file.string() + ": " + where + " must be a mapping");
    op.description = field(entry.second, file, where, "description", false);
    op.method = field(entry.second, file, where, "method", true);
    op.path_template = field(entry.second, file, where, "path", true);
    if (auto content = field(entry.second, file, where, "content", false); !content.empty())
      op.content = content;
    if (auto format = field(entry.second, file, where, "format", false); !format.empty())
      op.format = format;
    if (op.method != "GET" && op.method != "HEAD")
      throw InputError(file.string() + ": " + where + ".method: '" + op.method +
                       "' is not supported yet (GET, HEAD)");
    if (!op.path_template.starts_with("/"))
      throw InputError(file.string() + ": " + where + ".path: must start with '/'");
    if (op.format != "xml" && op.format != "any")
      throw InputError(file.string() + ": " + where + ".format: must be xml or any");
    c.ops_.emplace(op.id, std::move(op));
  }
  return c;
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

std::vector<std::string> Catalogue::ids() const {
  std::vector<std::string> out;
  for (const auto& [k, _] : ops_) out.push_back(k);
  return out;
}

}  // namespace mtls::agent
