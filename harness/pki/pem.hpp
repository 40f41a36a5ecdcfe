// pem.hpp: loading certificates and private keys from PEM files with errors that name the file
// (and never echo key material).
#pragma once

#include <botan/pk_keys.h>
#include <botan/x509_crl.h>
#include <botan/x509cert.h>

#include <filesystem>
#include <memory>
#include <vector>

namespace mtls::pki {

// Every certificate in a PEM file, in order. Throws InputError if there is none or one is bad.
std::vector<Botan::X509_Certificate> load_certificates(const std::filesystem::path& path);

// Trust anchors as a user hands them over: a PEM file (one or a bundle, CA certificates or a
// pinned leaf) or a single DER certificate. Throws InputError naming the file and what is wrong.
std::vector<Botan::X509_Certificate> load_trust_certificates(const std::filesystem::path& path);

// Every CRL in a file: PEM blocks, or a single DER CRL. Throws InputError naming the file.
std::vector<Botan::X509_CRL> load_crls(const std::filesystem::path& path);

// An unencrypted PKCS#8 private key (PEM or DER). Throws InputError naming the file only.
std::unique_ptr<Botan::Private_Key> load_private_key(const std::filesystem::path& path);

// SHA-256 over the certificate's DER encoding, lower-case hex.
std::string fingerprint_sha256(const Botan::X509_Certificate& cert);

}  // namespace mtls::pki
