// request_variant.hpp: other ways a client without a certificate may ask for the same resource,
// as the `path:<name>` and `header:<name>` doors try them: the path spelled otherwise (letter
// case, percent-encoding, doubled slashes, dot segments, trailing dots, ';' parameters,
// backslashes), another method (POST where PUT is expected), or headers a TLS terminator is meant
// to set (X-SSL-Client-Verify: SUCCESS...). The variants themselves are data
// (fixtures/request_variants.yaml); the spellings are the closed set below.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mtls::agent {

struct RequestVariant {
  std::string door;  // "path" or "header"
  std::string name;  // "upper-case"
  std::string description;
  std::string spell;   // a spelling of the path (spellings()), empty: the path as it is
  std::string method;  // replaces the request's method, empty: the same
  std::vector<std::pair<std::string, std::string>> headers;  // added, placeholders filled
  std::vector<std::string> applies_to;                       // the methods it re-spells
};

// The known spellings, in catalogue order.
const std::vector<std::string>& spellings();

// `path` ("/ManageSoftDL/Policies/x.npl") spelled as `spell` says; throws HarnessError for an
// unknown spelling (the catalogue loader refuses those first).
std::string respell(const std::string& path, const std::string& spell);

// The variant catalogue: fixtures/request_variants.yaml.
class RequestVariants {
 public:
  // Throws InputError naming the file, line and field.
  static RequestVariants load(const std::filesystem::path& file);
  static RequestVariants load_default();
  // The variants of a door ("path" or "header") that apply to every request method of `methods`.
  std::vector<const RequestVariant*> for_door(const std::string& door,
                                              const std::vector<std::string>& methods) const;
  // "path:upper-case" -> its variant; nullptr when not a variant door.
  const RequestVariant* find(const std::string& entry_path) const;

 private:
  static RequestVariants load_fields(const std::filesystem::path& file);
  std::vector<RequestVariant> variants_;
};

// Fills "{cert_subject}", "{cert_sha256}", "{cert_der_base64}" and "{cert_pem_escaped}" in header
// values from the device's certificate (public data only: never its key). A value whose
// placeholder cannot be filled (no PEM certificate) drops its header.
std::vector<std::pair<std::string, std::string>> fill_headers(
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::map<std::string, std::string>& certificate_facts);

// The facts above, read from a PEM certificate file (empty when it cannot be read).
std::map<std::string, std::string> certificate_facts(const std::filesystem::path& pem);

}  // namespace mtls::agent
