// pem.cpp: see pem.hpp.
#include "pki/pem.hpp"

#include <botan/data_src.h>
#include <botan/pkcs8.h>

#include <string>

#include "core/files.hpp"

namespace mtls::pki {
namespace fs = std::filesystem;

namespace {

// Every "-----BEGIN <label>-----" block of `text`, parsed as T. Errors name the file and block.
template <typename T>
std::vector<T> pem_objects(const fs::path& path, const std::string& text, const std::string& label,
                           const std::string& what) {
  const std::string begin = "-----BEGIN " + label + "-----",
                    end_marker = "-----END " + label + "-----";
  std::vector<T> out;
  std::size_t pos = 0;
  while ((pos = text.find(begin, pos)) != std::string::npos) {
    std::size_t end = text.find(end_marker, pos);
    if (end == std::string::npos)
      throw InputError(path.string() + ": truncated PEM " + what + " (no END line)");
    end += end_marker.size();
    try {
      Botan::DataSource_Memory src(text.substr(pos, end - pos));
      out.emplace_back(src);
    } catch (const std::exception& e) {
      throw InputError(path.string() + ": " + what + " #" + std::to_string(out.size() + 1) +
                       " does not parse (" + e.what() + ")");
    }
    pos = end;
  }
  return out;
}

}  // namespace

std::vector<Botan::X509_Certificate> load_certificates(const fs::path& path) {
  const std::string text = read_file(path);
  auto certs = pem_objects<Botan::X509_Certificate>(path, text, "CERTIFICATE", "certificate");
  if (certs.empty()) {
    if (!text.empty() && static_cast<unsigned char>(text[0]) == 0x30)
      throw InputError(path.string() +
                       ": this is DER, not PEM (agents read PEM; convert with: openssl x509 "
                       "-inform der -in " +
                       path.string() + " -out " + path.string() + ".pem)");
    throw InputError(path.string() + ": no PEM certificate in this file");
  }
  return certs;
}

std::vector<Botan::X509_Certificate> load_trust_certificates(const fs::path& path) {
  const std::string text = read_file(path);
  auto certs = pem_objects<Botan::X509_Certificate>(path, text, "CERTIFICATE", "certificate");
  if (!certs.empty()) return certs;
  if (text.empty())
    throw InputError(path.string() + ": empty file (expected PEM or DER certificates)");
  try {  // one DER certificate
    Botan::DataSource_Memory src(text);
    certs.emplace_back(src);
  } catch (const std::exception&) {
    throw InputError(path.string() + ": no certificate in this file (expected PEM or DER)");
  }
  return certs;
}

std::vector<Botan::X509_CRL> load_crls(const fs::path& path) {
  const std::string text = read_file(path);
  auto crls = pem_objects<Botan::X509_CRL>(path, text, "X509 CRL", "CRL");
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
