// manifest.hpp: reads a PKI folder's manifest.json. Everything else (beacon, engine, reports) finds
// PKI files through it; nothing hard-codes file names.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/outcome.hpp"

namespace mtls::pki {

// The property a credential breaks (Credential::defect), named as `pki lint` names its checks;
// compared by these names across modules (plan, findings, audit), never by hand-typed strings.
namespace defect {
inline constexpr const char* kNoCertificate = "no-certificate";
inline constexpr const char* kChain = "chain";
inline constexpr const char* kValidity = "validity";
inline constexpr const char* kEku = "eku";
inline constexpr const char* kRevocation = "revocation";
inline constexpr const char* kKeyMatch = "key-match";
inline constexpr const char* kKeyStrength = "key-strength";
inline constexpr const char* kIntermediate = "intermediate";
inline constexpr const char* kForgedIdentity = "forged-identity";
}  // namespace defect

inline constexpr const char* kManifestName = "manifest.json";
inline constexpr int kManifestFormat = 1;

// A beacon server identity issued by the server CA.
struct BeaconIdentity {
  std::string name;
  std::filesystem::path cert;  // leaf PEM (absolute)
  std::filesystem::path key;   // PKCS#8 PEM (absolute)
  std::vector<std::string> names;
};

// A client credential variant; `none` has no files, `valid-p12` has a PKCS#12 file instead.
struct Credential {
  std::string name;
  std::optional<std::filesystem::path> cert;  // PEM, leaf first, then the chain it ships with
  std::optional<std::filesystem::path> key;   // PKCS#8 PEM
  std::optional<std::filesystem::path> p12;
  std::optional<std::filesystem::path> p12_password_file;
  std::optional<std::string> defect;  // the lint property it breaks; nullopt for valid ones
  std::string description;
  // Expected result against a beacon policy ("require", "require_crl").
  std::map<std::string, Expectation> expected;
};

struct Manifest {
  std::filesystem::path dir;
  std::string key_type;
  std::string trust_model = "ca";          // or "pinned-self-signed" (pki.hpp TrustModel)
  std::filesystem::path client_ca;         // roots beacons trust for client authentication
  std::filesystem::path client_ca_bundle;  // root + issuing intermediate
  std::filesystem::path client_crls;       // CRLs of the client hierarchy (PEM)
  std::filesystem::path server_ca;         // bundle agents trust for beacons
  std::map<std::string, BeaconIdentity> beacons;
  std::map<std::string, Credential> credentials;

  // Throws InputError naming the folder and the missing name.
  const BeaconIdentity& beacon(const std::string& name) const;
  const Credential& credential(const std::string& name) const;
};

// Loads <dir>/manifest.json; throws InputError naming the file and field on any problem, and
// checks that every file it names exists.
Manifest load_manifest(const std::filesystem::path& dir);

}  // namespace mtls::pki
