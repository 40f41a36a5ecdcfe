// sign.cpp: see sign.hpp. Botan 2's public-key API; keys are read by pki/pem.hpp's loaders.
#include "report/sign.hpp"

#include <botan/auto_rng.h>
#include <botan/base64.h>
#include <botan/data_src.h>
#include <botan/pubkey.h>
#include <botan/x509_key.h>
#include <botan/x509cert.h>

#include <memory>

#include "core/files.hpp"
#include "pki/pem.hpp"

namespace mtls::report {
using json = nlohmann::json;

namespace {

// Botan's padding name and signature format for the key kinds a report may be signed with.
struct Scheme {
  std::string algorithm, padding;
  Botan::Signature_Format format;
};

std::optional<Scheme> scheme_for(const Botan::Public_Key& key) {
  if (key.algo_name() == "Ed25519") return Scheme{"Ed25519", "Pure", Botan::IEEE_1363};
  if (key.algo_name() == "ECDSA")
    return Scheme{"ECDSA-SHA256", "EMSA1(SHA-256)", Botan::DER_SEQUENCE};
  return std::nullopt;
}

std::string key_sha256(const Botan::Public_Key& key) {
  const auto der = key.subject_public_key();
  return sha256_hex(std::string_view(reinterpret_cast<const char*>(der.data()), der.size()));
}

std::string recorded_digest(const json& doc) {
  if (!doc.contains("integrity") || !doc["integrity"].is_object() ||
      !doc["integrity"].contains("sha256") || !doc["integrity"]["sha256"].is_string())
    throw InputError("the report has no integrity digest to sign");
  return doc["integrity"]["sha256"];
}

std::unique_ptr<Botan::Public_Key> load_public_key(const std::filesystem::path& file) {
  const std::string data = read_file(file);
  try {
    Botan::DataSource_Memory src(data);
    return std::unique_ptr<Botan::Public_Key>(Botan::X509::load_key(src));
  } catch (const std::exception&) {
  }
  try {  // a certificate holding the key
    Botan::DataSource_Memory src(data);
    return Botan::X509_Certificate(src).load_subject_public_key();
  } catch (const std::exception&) {
  }
  throw InputError(file.string() + ": not a PEM public key or certificate");
}

}  // namespace

json sign(const json& doc, const std::filesystem::path& private_key) {
  const std::string digest = recorded_digest(doc);
  std::unique_ptr<Botan::Private_Key> key;
  try {
    key = pki::load_private_key(private_key);
  } catch (const InputError&) {
    throw InputError(private_key.string() +
                     ": not an unencrypted PKCS#8 Ed25519 or ECDSA private key (convert with "
                     "'openssl pkcs8 -topk8 -nocrypt')");
  }
  const auto scheme = scheme_for(*key);
  if (!scheme)
    throw InputError(private_key.string() + ": a " + key->algo_name() +
                     " key; sign reports with an Ed25519 or ECDSA key");
  Botan::AutoSeeded_RNG rng;
  Botan::PK_Signer signer(*key, rng, scheme->padding, scheme->format);
  const auto sig =
      signer.sign_message(reinterpret_cast<const uint8_t*>(digest.data()), digest.size(), rng);
  return {{"algorithm", scheme->algorithm},
          {"signed", "the 64 characters of integrity.sha256"},
          {"signed_digest", digest},
          {"public_key_sha256", key_sha256(*key)},
          {"public_key_pem", Botan::X509::PEM_encode(*key)},
          {"signature_base64", Botan::base64_encode(sig)}};
}

int verify_signature(const json& doc, const std::filesystem::path& public_key,
                     std::string* detail) {
  const auto key = load_public_key(public_key);
  auto no = [&](const std::string& why) {
    if (detail) *detail = why;
    return 1;
  };
  if (!doc.contains("signature") || !doc["signature"].is_object())
    return no("the report is not signed");
  const json& s = doc["signature"];
  const auto scheme = scheme_for(*key);
  if (!scheme) return no(public_key.string() + " is a " + key->algo_name() + " key");
  if (s.value("algorithm", "") != scheme->algorithm)
    return no("signed with " + s.value("algorithm", "?") + ", the key is " + scheme->algorithm);
  if (s.value("public_key_sha256", "") != key_sha256(*key))
    return no("signed by another key (SHA-256 " + s.value("public_key_sha256", "?") + ")");
  std::string digest;
  try {
    digest = recorded_digest(doc);
  } catch (const InputError& e) {
    return no(e.what());
  }
  if (s.value("signed_digest", "") != digest)
    return no("the signature is over another digest than the report's");
  Botan::secure_vector<uint8_t> sig;
  try {
    sig = Botan::base64_decode(s.value("signature_base64", ""));
  } catch (const std::exception&) {
    return no("the signature is not base64");
  }
  Botan::PK_Verifier verifier(*key, scheme->padding, scheme->format);
  const bool ok = verifier.verify_message(reinterpret_cast<const uint8_t*>(digest.data()),
                                          digest.size(), sig.data(), sig.size());
  if (!ok) return no("the signature does not verify with " + public_key.string());
  if (detail) *detail = scheme->algorithm + " signature by key SHA-256 " + key_sha256(*key);
  return 0;
}

}  // namespace mtls::report
