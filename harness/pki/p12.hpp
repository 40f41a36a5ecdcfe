// p12.hpp: PKCS#12 export and import through OpenSSL's libcrypto (Botan 2 has no PKCS#12).
// Export is deterministic: every salt and IV comes from the caller's RNG. Encryption is what
// `openssl pkcs12` (3.x) and Windows (10 1709+ / Server 2019+) accept: the key bag is PBES2 with
// PBKDF2-HMAC-SHA256 and AES-256-CBC, the MAC is HMAC-SHA256; certificates are not encrypted.
#pragma once

#include <botan/pk_keys.h>
#include <botan/rng.h>
#include <botan/x509cert.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace mtls::pki {

// DER of a PKCS#12 file holding `key` and `chain` (leaf first).
std::vector<uint8_t> make_pkcs12(const Botan::Private_Key& key,
                                 const std::vector<Botan::X509_Certificate>& chain,
                                 const std::string& password, const std::string& friendly_name,
                                 Botan::RandomNumberGenerator& rng);

struct Pkcs12Contents {
  std::unique_ptr<Botan::Private_Key> key;
  std::vector<Botan::X509_Certificate> chain;  // leaf first, then the other certificates
};

// Opens a .p12/.pfx. Throws InputError naming the file (never the password) when it cannot be
// read, is not PKCS#12, or the password is wrong.
Pkcs12Contents open_pkcs12(const std::filesystem::path& file, const std::string& password);

}  // namespace mtls::pki
