// pki.hpp: `pki init`, the test PKI generator (Botan 2 X.509 API). It writes what an enterprise
// has: a client CA (root + issuing intermediate) that beacons trust for client authentication, a
// separate server CA that issues the beacon certificates and that agents trust, an "other" CA
// nobody trusts, every client credential variant a device might hold, a CRL, and manifest.json
// describing every file. With --seed and --now the output is byte-identical run to run.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/timefmt.hpp"

namespace mtls::pki {

enum class KeyType { kEcdsaP256, kRsa2048 };

// "ecdsa-p256", "rsa-2048". "ed25519" is refused by the caller with the reason (see pki.cpp).
std::optional<KeyType> key_type_from_string(std::string_view s);
std::string_view to_string(KeyType k);

// Why --key-type ed25519 is refused (one line, for the CLI).
std::string ed25519_refusal();

// How beacons trust the distributed client certificate. kCa: a client CA hierarchy issues it and
// beacons trust the CA. kPinnedSelfSigned: the vendor's model: one self-signed clientAuth
// certificate, distributed to every device (PEM and PKCS#12) and trusted directly by the beacons.
enum class TrustModel { kCa, kPinnedSelfSigned };
std::optional<TrustModel> trust_model_from_string(
    std::string_view s);  // "ca", "pinned-self-signed"
std::string_view to_string(TrustModel t);

struct InitOptions {
  std::filesystem::path out;
  KeyType key_type = KeyType::kEcdsaP256;
  bool force = false;                 // allow writing into an existing non-empty folder
  std::optional<std::uint64_t> seed;  // deterministic keys, serials, salts and password
  std::optional<std::chrono::system_clock::time_point> now;  // the PKI's "now"
  std::optional<std::string> p12_password;  // else a generated one, written 0600 beside the .p12
  TrustModel trust_model = TrustModel::kCa;
};

// Writes the PKI into options.out. Throws InputError for unusable options (non-empty folder).
// Private keys and the PKCS#12 password file are written with mode 0600 and never logged.
void init(const InitOptions& options);

}  // namespace mtls::pki
