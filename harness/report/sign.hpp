// sign.hpp: who produced a report. `report sign --key KEY` signs a report's integrity digest (the
// SHA-256 checksum over its results, findings and summary) with an Ed25519 or ECDSA private key
// and stores the signature in report.json ("signature", outside what the digest covers);
// `report verify --pub PUB` checks it with the public key the auditor was given.
//
// What is signed: the 64 ASCII characters of the digest (lower-case hex), nothing else, so that
// OpenSSL can check it too: Ed25519 over those bytes (`openssl pkeyutl -verify -rawin`), ECDSA
// with SHA-256 as a DER signature (`openssl dgst -sha256 -verify`).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace mtls::report {

// The "signature" block for `doc` (its integrity digest must be present): algorithm, the
// public key (PEM) and its SHA-256 (of the DER SubjectPublicKeyInfo), the signed digest and the
// signature (base64). Throws InputError naming the key file (never its contents) for a key that
// is not an unencrypted PKCS#8 Ed25519 or ECDSA key.
nlohmann::json sign(const nlohmann::json& doc, const std::filesystem::path& private_key);

// 0: the report carries a signature made by the key in `public_key` (PEM public key or
// certificate) over its recorded digest; 1: it does not (no signature, another key, a bad
// signature). `detail` says which. The digest itself is checked by verify() in report.hpp.
int verify_signature(const nlohmann::json& doc, const std::filesystem::path& public_key,
                     std::string* detail);

}  // namespace mtls::report
