// manifest.cpp: see manifest.hpp. Every error names the manifest file and the field.
#include "pki/manifest.hpp"

#include <nlohmann/json.hpp>

#include "core/files.hpp"

namespace mtls::pki {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

class Reader {
 public:
  explicit Reader(fs::path dir) : dir_(std::move(dir)), file_(dir_ / kManifestName) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw InputError(file_.string() + ": field '" + field + "': " + what);
  }

  const json& member(const json& obj, const std::string& key, const std::string& field) const {
    if (!obj.is_object() || !obj.contains(key)) fail(field, "missing");
    return obj.at(key);
  }

  std::string str(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = member(obj, key, field);
    if (!v.is_string()) fail(field, "must be a string");
    return v.get<std::string>();
  }

  // A relative path inside the PKI folder that must exist; returned absolute.
  fs::path file(const json& obj, const std::string& key, const std::string& field) const {
    fs::path rel = str(obj, key, field);
    if (rel.is_absolute() || rel.lexically_normal().string().starts_with(".."))
      fail(field, "must be a path inside the PKI folder");
    fs::path p = fs::absolute(dir_ / rel);
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) fail(field, "file " + p.string() + " does not exist");
    return p;
  }

  const fs::path& path() const { return file_; }

 private:
  fs::path dir_;
  fs::path file_;
};

}  // namespace

const BeaconIdentity& Manifest::beacon(const std::string& name) const {
  auto it = beacons.find(name);
  if (it == beacons.end())
    throw InputError((dir / kManifestName).string() + ": no beacon identity named '" + name + "'");
  return it->second;
}

const Credential& Manifest::credential(const std::string& name) const {
  auto it = credentials.find(name);
  if (it == credentials.end())
    throw InputError((dir / kManifestName).string() + ": no credential named '" + name + "'");
  return it->second;
}

Manifest load_manifest(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw InputError("PKI folder " + dir.string() + " does not exist (create it with 'pki init')");
  Reader r(dir);
  json j;
  try {
    j = json::parse(read_file(r.path()));
  } catch (const json::parse_error& e) {
    throw InputError(r.path().string() + ": not valid JSON (" + e.what() + ")");
  }
  const json& fmt = r.member(j, "format", "format");
  if (!fmt.is_number_integer() || fmt.get<int>() != kManifestFormat)
    r.fail("format",
           "unsupported manifest format (expected " + std::to_string(kManifestFormat) + ")");

  Manifest m;
  m.dir = fs::absolute(dir);
  m.key_type = r.str(j, "key_type", "key_type");
  if (j.contains("trust_model")) m.trust_model = r.str(j, "trust_model", "trust_model");
  if (m.trust_model != "ca" && m.trust_model != "pinned-self-signed")
    r.fail("trust_model", "must be ca or pinned-self-signed");
  const json& trust = r.member(j, "trust", "trust");
  m.client_ca = r.file(trust, "client_ca_roots", "trust.client_ca_roots");
  m.client_ca_bundle = r.file(trust, "client_ca_bundle", "trust.client_ca_bundle");
  m.client_crls = r.file(trust, "client_crls", "trust.client_crls");
  m.server_ca = r.file(trust, "server_ca_bundle", "trust.server_ca_bundle");

  const json& beacons = r.member(j, "beacons", "beacons");
  if (!beacons.is_object()) r.fail("beacons", "must be an object");
  for (const auto& [name, b] : beacons.items()) {
    std::string f = "beacons." + name;
    BeaconIdentity id{name, r.file(b, "cert", f + ".cert"), r.file(b, "key", f + ".key"), {}};
    for (const auto& n : r.member(b, "names", f + ".names")) {
      if (!n.is_string()) r.fail(f + ".names", "must be a list of strings");
      id.names.push_back(n.get<std::string>());
    }
    m.beacons.emplace(name, std::move(id));
  }

  const json& creds = r.member(j, "credentials", "credentials");
  if (!creds.is_object()) r.fail("credentials", "must be an object");
  for (const auto& [name, c] : creds.items()) {
    std::string f = "credentials." + name;
    Credential cred;
    cred.name = name;
    if (!r.member(c, "cert", f + ".cert").is_null()) cred.cert = r.file(c, "cert", f + ".cert");
    if (!r.member(c, "key", f + ".key").is_null()) cred.key = r.file(c, "key", f + ".key");
    if (cred.cert.has_value() != cred.key.has_value())
      r.fail(f, "a certificate needs its key and a key its certificate");
    if (c.contains("p12") && !c["p12"].is_null()) cred.p12 = r.file(c, "p12", f + ".p12");
    if (c.contains("password_file") && !c["password_file"].is_null())
      cred.p12_password_file = r.file(c, "password_file", f + ".password_file");
    if (c.contains("defect") && !c["defect"].is_null())
      cred.defect = r.str(c, "defect", f + ".defect");
    if (c.contains("description") && c["description"].is_string())
      cred.description = c["description"].get<std::string>();
    const json& exp = r.member(c, "expected", f + ".expected");
    if (!exp.is_object()) r.fail(f + ".expected", "must be an object");
    for (const auto& [policy, v] : exp.items()) {
      auto e = v.is_string() ? expectation_from_string(v.get<std::string>()) : std::nullopt;
      if (!e) r.fail(f + ".expected." + policy, "must be ACCEPTED or REJECTED");
      cred.expected[policy] = *e;
    }
    m.credentials.emplace(name, std::move(cred));
  }
  return m;
}

}  // namespace mtls::pki
