// request_variant.cpp: see request_variant.hpp.
#include "agent/request_variant.hpp"

#include <botan/base64.h>
#include <botan/hex.h>
#include <botan/pkix_types.h>
#include <botan/x509cert.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/files.hpp"
#include "core/home.hpp"
#include "core/yaml_file.hpp"

namespace mtls::agent {
namespace {

// The first path segment's end (the position of the '/' after it, or the path's end).
std::size_t first_segment_end(const std::string& path) {
  const std::size_t e = path.find('/', 1);
  return e == std::string::npos ? path.size() : e;
}

std::string percent(unsigned char c) {
  char buf[4];
  std::snprintf(buf, sizeof buf, "%%%02X", c);
  return buf;
}

}  // namespace

const std::vector<std::string>& spellings() {
  static const std::vector<std::string> s = {
      "upper-case",          "lower-case",  "percent-encoded-letter", "percent-encoded-slash",
      "double-slash",        "dot-segment", "dotdot-segment",         "trailing-dot",
      "semicolon-parameter", "backslash"};
  return s;
}

std::string respell(const std::string& path, const std::string& spell) {
  std::string p = path.empty() ? "/" : path;
  const std::size_t seg = first_segment_end(p);
  if (spell == "upper-case" || spell == "lower-case") {
    for (char& c : p)
      c = static_cast<char>(spell == "upper-case" ? std::toupper(static_cast<unsigned char>(c))
                                                  : std::tolower(static_cast<unsigned char>(c)));
    return p;
  }
  if (spell == "percent-encoded-letter") {  // the first letter of the path, as %XX
    for (std::size_t i = 1; i < p.size(); ++i)
      if (std::isalpha(static_cast<unsigned char>(p[i])))
        return p.substr(0, i) + percent(static_cast<unsigned char>(p[i])) + p.substr(i + 1);
    return p;
  }
  if (spell == "percent-encoded-slash") {  // every '/' after the first segment as %2F
    std::string out = p.substr(0, seg);
    for (std::size_t i = seg; i < p.size(); ++i) out += p[i] == '/' ? "%2F" : std::string(1, p[i]);
    return out;
  }
  if (spell == "double-slash") return "/" + p;
  if (spell == "dot-segment") return "/." + p;
  if (spell == "dotdot-segment") return "/mtls-harness-x/.." + p;
  if (spell == "trailing-dot") return p.substr(0, seg) + "." + p.substr(seg);
  if (spell == "semicolon-parameter") return p.substr(0, seg) + ";mtls-harness" + p.substr(seg);
  if (spell == "backslash") {  // every '/' after the first as '\'
    std::string out = "/";
    for (std::size_t i = 1; i < p.size(); ++i) out += p[i] == '/' ? '\\' : p[i];
    return out;
  }
  throw HarnessError("unknown path spelling '" + spell + "'");
}

RequestVariants RequestVariants::load_fields(const std::filesystem::path& file) {
  const YamlFields y(file);
  const YAML::Node root = load_yaml_file(file);
  if (!root.IsMap())
    throw InputError(file.string() + ": must be a mapping of doors (path, header)");
  RequestVariants out;
  for (const auto& door : root) {
    const std::string d = door.first.as<std::string>();
    y.one_of(door.first, d, d, {"path", "header"});
    if (!door.second.IsMap()) y.fail(door.second, d, "must be a mapping of variants");
    for (const auto& kv : door.second) {
      RequestVariant v;
      v.door = d;
      v.name = kv.first.as<std::string>();
      const std::string f = d + "." + v.name;
      if (v.name.empty() || v.name.find_first_of(" /:") != std::string::npos)
        y.fail(kv.first, f, "a variant name has no spaces, '/' or ':'");
      const YAML::Node n = kv.second;
      if (!n.IsMap()) y.fail(n, f, "must be a mapping");
      v.description = y.str(n, "description", f + ".description", "", true);
      v.spell = y.str(n, "spell", f + ".spell");
      if (!v.spell.empty()) y.one_of(n["spell"], f + ".spell", v.spell, spellings());
      v.method = y.str(n, "method", f + ".method");
      if (!v.method.empty()) y.one_of(n["method"], f + ".method", v.method, {"GET", "PUT", "POST"});
      if (const YAML::Node h = y.map(n, "headers", f + ".headers"); h)
        for (const auto& hv : h)
          v.headers.emplace_back(hv.first.as<std::string>(), hv.second.as<std::string>());
      v.applies_to = y.list(n, "applies_to", f + ".applies_to");
      for (const auto& m : v.applies_to)
        y.one_of(n["applies_to"], f + ".applies_to", m, {"GET", "PUT"});
      if (v.spell.empty() && v.method.empty() && v.headers.empty())
        y.fail(n, f, "changes nothing: give spell, method or headers");
      out.variants_.push_back(std::move(v));
    }
  }
  return out;
}

RequestVariants RequestVariants::load(const std::filesystem::path& file) {
  return guard_yaml(file, [&] { return load_fields(file); });
}

RequestVariants RequestVariants::load_default() {
  return load(fixtures_dir() / "request_variants.yaml");
}

std::vector<const RequestVariant*> RequestVariants::for_door(
    const std::string& door, const std::vector<std::string>& methods) const {
  std::vector<const RequestVariant*> out;
  for (const auto& v : variants_) {
    if (v.door != door) continue;
    const bool all = std::all_of(methods.begin(), methods.end(), [&](const std::string& m) {
      return std::find(v.applies_to.begin(), v.applies_to.end(), m) != v.applies_to.end();
    });
    if (all && !methods.empty()) out.push_back(&v);
  }
  return out;
}

const RequestVariant* RequestVariants::find(const std::string& entry_path) const {
  const auto colon = entry_path.find(':');
  if (colon == std::string::npos) return nullptr;
  const std::string door = entry_path.substr(0, colon), name = entry_path.substr(colon + 1);
  for (const auto& v : variants_)
    if (v.door == door && v.name == name) return &v;
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> fill_headers(
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::map<std::string, std::string>& facts) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : headers) {
    std::string v = value;
    bool complete = true;
    for (std::size_t at = v.find('{'); at != std::string::npos; at = v.find('{', at)) {
      const std::size_t end = v.find('}', at);
      if (end == std::string::npos) break;
      const auto it = facts.find(v.substr(at + 1, end - at - 1));
      if (it == facts.end()) {
        complete = false;
        break;
      }
      v.replace(at, end - at + 1, it->second);
      at += it->second.size();
    }
    if (complete) out.emplace_back(name, v);
  }
  return out;
}

std::map<std::string, std::string> certificate_facts(const std::filesystem::path& pem) {
  std::map<std::string, std::string> out;
  try {
    const Botan::X509_Certificate cert(pem.string());
    const std::vector<uint8_t> der = cert.BER_encode();
    out["cert_subject"] = cert.subject_dn().to_string();
    std::string sha = cert.fingerprint("SHA-256");  // "AB:CD:...": as hex, like Envoy's Hash
    sha.erase(std::remove(sha.begin(), sha.end(), ':'), sha.end());
    for (char& c : sha) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out["cert_sha256"] = sha;
    out["cert_der_base64"] = Botan::base64_encode(der);
    std::string escaped;  // the PEM as nginx's $ssl_client_escaped_cert gives it
    for (char c : cert.PEM_encode()) {
      const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
                        c == '_' || c == '~';
      escaped += keep ? std::string(1, c) : percent(static_cast<unsigned char>(c));
    }
    out["cert_pem_escaped"] = escaped;
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

}  // namespace mtls::agent
