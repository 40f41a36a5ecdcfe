// pem.cpp: see pem.hpp.
#include "pki/pem.hpp"

#include <botan/data_src.h>
#include <botan/pkcs8.h>

#include <string>

#include "core/files.hpp"

namespace mtls::pki {
namespace fs = std::filesystem;

std::vector<Botan::X509_Certificate> load_certificates(const fs::path& path) {
  const std::string text = read_file(path);
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::vector<Botan::X509_Certificate> certs;
  std::size_t pos = 0;
  while ((pos = text.find(kBegin, pos)) != std::string::npos) {
    std::size_t end = text.find(kEnd, pos);
    if (end == std::string::npos)
      throw InputError(path.string() + ": truncated PEM certificate (no END line)");
    end += kEnd.size();
    try {
      Botan::DataSource_Memory src(text.substr(pos, end - pos));
      certs.emplace_back(src);
    } catch (const std::exception& e) {
      throw InputError(path.string() + ": certificate #" + std::to_string(certs.size() + 1) +
                       " does not parse (" + e.what() + ")");
    }
    pos = end;
  }
  if (certs.empty()) {
    if (!text.empty() && static_cast<unsigned char>(text[0]) == 0x30)
      throw InputError(
          path.string() +
          ": this is DER, not PEM (agents read PEM; convert with: openssl x509 -inform der -in " +
          path.string() + " -out " + path.string() + ".pem)");
    throw InputError(path.string() + ": no PEM certificate in this file");
  }
  return certs;
}

std::vector<Botan::X509_CRL> load_crls(const fs::path& path) {
  const std::string text = read_file(path);
  static constexpr std::string_view kBegin = "-----BEGIN X509 CRL-----";
  static constexpr std::string_view kEnd = "-----END X509 CRL-----";
  std::vector<Botan::X509_CRL> crls;
  std::size_t pos = 0;
  while ((pos = text.find(kBegin, pos)) != std::string::npos) {
    std::size_t end = text.find(kEnd, pos);
    if (end == std::string::npos)
      throw InputError(path.string() + ": truncated PEM CRL (no END line)");
    end += kEnd.size();
    try {
      Botan::DataSource_Memory src(text.substr(pos, end - pos));
      crls.emplace_back(src);
    } catch (const std::exception& e) {
      throw InputError(path.string() + ": CRL #" + std::to_string(crls.size() + 1) +
                       " does not parse (" + e.what() + ")");
    }
    pos = end;
  }
  if (crls.empty()) {
    try {  // a single DER CRL is common too
      Botan::DataSource_Memory src(text);
      crls.emplace_back(src);
    } catch (const std::exception&) {
      throw InputError(path.string() + ": no CRL (PEM or DER) in this file");
    }
  }
  return crls;
}

std::unique_ptr<Botan::Private_Key> load_private_key(const fs::path& path) {
  const std::string data = read_file(path);
  try {
    Botan::DataSource_Memory src(data);
    return Botan::PKCS8::load_key(src);
  } catch (const std::exception&) {
    // Botan's message may quote parts of the input; say only what and where.
    throw InputError(path.string() + ": not an unencrypted PKCS#8 private key (PEM or DER)");
  }
}

std::string fingerprint_sha256(const Botan::X509_Certificate& cert) {
  const auto der = cert.BER_encode();
  return sha256_hex(std::string_view(reinterpret_cast<const char*>(der.data()), der.size()));
}

}  // namespace mtls::pki
