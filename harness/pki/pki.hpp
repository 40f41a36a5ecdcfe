// pki.hpp: `pki init`, the test PKI generator (Botan 2 X.509 API). It writes a client CA that
// beacons trust for client authentication, a separate server CA that issues beacon certificates
// and that agents trust, the client credentials, and manifest.json describing every file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace mtls::pki {

enum class KeyType { kEcdsaP256, kRsa2048 };

std::optional<KeyType> key_type_from_string(std::string_view s);
std::string_view to_string(KeyType k);

struct InitOptions {
  std::filesystem::path out;
  KeyType key_type = KeyType::kEcdsaP256;
  bool force = false;  // allow writing into an existing non-empty folder
};

// Writes the PKI into options.out. Throws InputError for unusable options (non-empty folder).
// Private keys are written with mode 0600 and never logged.
void init(const InitOptions& options);

}  // namespace mtls::pki
