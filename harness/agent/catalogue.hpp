// catalogue.hpp: the operation catalogue (fixtures/operations.yaml): what each agent operation
// sends, in which order, and how each answer is verified.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mtls::agent {

struct RequestSpec {
  std::string method;                  // GET, HEAD or PUT
  std::string path_template;           // contains {device}
  std::optional<std::string> content;  // GET: file under fixtures/content/ (our beacons' digest)
  bool digest_from_sums = false;       // GET: expected digest from the beacon's SHA256SUMS
  std::string format = "any";          // GET: "xml" or "any" when no digest is known
  std::optional<std::string> payload;  // PUT: the payload template's contents ({device} in it)
  bool gzip = false;                   // PUT: gzip the payload

  std::string path_for(const std::string& device) const;
  // The bytes a PUT sends for `device` (template filled in, gzipped if asked). "{check}" in the
  // payload becomes `check`: a probe's test upload names its check, so that reading it back tells
  // which check stored it.
  std::string body_for(const std::string& device, const std::string& check = "") const;
};

struct Operation {
  std::string id;
  std::string description;
  std::vector<RequestSpec> requests;
  // How often a device does it per day (each time a new TLS connection): `bench --plan`'s
  // default fleet model. 0 when the catalogue does not say.
  double per_day = 0;
};

class Catalogue {
 public:
  // Throws InputError naming the file, line and field. Payload files are read here, relative to
  // `fixtures` (default: the file's folder).
  static Catalogue load(const std::filesystem::path& file);
  static Catalogue load_default();  // fixtures/operations.yaml

  // Throws InputError listing the known ids.
  const Operation& get(const std::string& id) const;
  std::vector<std::string> ids() const;
  // Adds (or replaces) an operation: `probe` builds its GETs and its test upload this way.
  void add(Operation op);

 private:
  static Catalogue load_fields(const std::filesystem::path& file);
  std::map<std::string, Operation> ops_;
};

// Replaces every "{device}" in `text`.
std::string with_device(std::string text, const std::string& device);

}  // namespace mtls::agent
