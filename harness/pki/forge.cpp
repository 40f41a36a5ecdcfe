// forge.cpp: see forge.hpp.
#include "pki/forge.hpp"

#include <botan/auto_rng.h>
#include <botan/ecdsa.h>
#include <botan/pkcs8.h>
#include <botan/pubkey.h>
#include <botan/x509_ca.h>
#include <botan/x509_ext.h>
#include <botan/x509_key.h>

#include <chrono>
#include <memory>

#include "core/files.hpp"
#include "pki/pem.hpp"

namespace mtls::pki {
namespace fs = std::filesystem;
namespace {

struct Made {
  Botan::X509_Certificate cert;
  std::unique_ptr<Botan::Private_Key> key;
};

std::unique_ptr<Botan::Private_Key> new_key(Botan::RandomNumberGenerator& rng) {
  return std::make_unique<Botan::ECDSA_PrivateKey>(rng, Botan::EC_Group("secp256r1"));
}

Botan::X509_Certificate make(const Botan::Private_Key& signer_key,
                             Botan::RandomNumberGenerator& rng, const std::vector<uint8_t>& spki,
                             const Botan::X509_DN& issuer, const Botan::X509_DN& subject,
                             const Botan::Extensions& ext, const Botan::BigInt* serial) {
  Botan::AlgorithmIdentifier algo;
  const std::unique_ptr<Botan::PK_Signer> signer(
      Botan::choose_sig_format(signer_key, rng, "SHA-256", algo));
  const auto now = std::chrono::system_clock::now();
  const Botan::X509_Time nb(now - std::chrono::hours(24)), na(now + std::chrono::hours(24 * 30));
  if (serial)
    return Botan::X509_CA::make_cert(signer.get(), rng, *serial, algo, spki, nb, na, issuer,
                                     subject, ext);
  return Botan::X509_CA::make_cert(signer.get(), rng, algo, spki, nb, na, issuer, subject, ext);
}

// A self-signed CA named like the device certificate's issuer.
Made look_alike_ca(const Botan::X509_Certificate& device, Botan::RandomNumberGenerator& rng) {
  auto key = new_key(rng);
  Botan::Extensions ext;
  ext.add(new Botan::Cert_Extension::Basic_Constraints(true, 0), true);
  ext.add(new Botan::Cert_Extension::Key_Usage(static_cast<Botan::Key_Constraints>(
              Botan::Key_Constraints::KEY_CERT_SIGN | Botan::Key_Constraints::CRL_SIGN)),
          true);
  ext.add(new Botan::Cert_Extension::Subject_Key_ID(key->public_key_bits(), "SHA-256"));
  auto cert = make(*key, rng, Botan::X509::BER_encode(*key), device.issuer_dn(), device.issuer_dn(),
                   ext, nullptr);
  return {std::move(cert), std::move(key)};
}

// A leaf copying the device's names and usages, signed by the look-alike CA.
Made look_alike_leaf(const Botan::X509_Certificate& device, const Made& ca, bool same_serial,
                     Botan::RandomNumberGenerator& rng) {
  auto key = new_key(rng);
  Botan::Extensions ext;
  ext.add(new Botan::Cert_Extension::Basic_Constraints(false), true);
  if (device.constraints() != Botan::Key_Constraints::NO_CONSTRAINTS)
    ext.add(new Botan::Cert_Extension::Key_Usage(device.constraints()), true);
  if (!device.extended_key_usage().empty())
    ext.add(new Botan::Cert_Extension::Extended_Key_Usage(device.extended_key_usage()));
  if (device.subject_alt_name().has_items())
    ext.add(new Botan::Cert_Extension::Subject_Alternative_Name(device.subject_alt_name()));
  ext.add(new Botan::Cert_Extension::Authority_Key_ID(ca.cert.subject_key_id()));
  ext.add(new Botan::Cert_Extension::Subject_Key_ID(key->public_key_bits(), "SHA-256"));
  const Botan::BigInt serial = Botan::BigInt::decode(device.serial_number());
  auto cert = make(*ca.key, rng, Botan::X509::BER_encode(*key), ca.cert.subject_dn(),
                   device.subject_dn(), ext, same_serial ? &serial : nullptr);
  return {std::move(cert), std::move(key)};
}

}  // namespace

Botan::X509_Certificate first_certificate(const fs::path& pem) {
  const auto certs = load_certificates(pem);  // names the file when it cannot
  if (certs.empty()) throw InputError(pem.string() + ": no certificate in this file");
  return certs.front();
}

std::vector<ForgedCredential> forge_identity(const Botan::X509_Certificate& device,
                                             const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError(dir.string() + ": cannot create (" + ec.message() + ")");
  Botan::AutoSeeded_RNG rng;
  const Made ca = look_alike_ca(device, rng);
  std::vector<ForgedCredential> out;
  for (const bool same_serial : {false, true}) {
    const Made leaf = look_alike_leaf(device, ca, same_serial, rng);
    ForgedCredential f;
    f.name = same_serial ? "forged-serial" : "forged-issuer";
    f.description = same_serial
                        ? "the device's subject, names and serial number, issued by a look-alike "
                          "CA named like the device's issuer"
                        : "the device's subject and names, issued by a look-alike CA named like "
                          "the device's issuer";
    f.cert = dir / (f.name + ".pem");
    f.key = dir / (f.name + ".key");
    write_file_atomic(f.cert, leaf.cert.PEM_encode() + ca.cert.PEM_encode());
    write_file_atomic(f.key, Botan::PKCS8::PEM_encode(*leaf.key), 0600);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace mtls::pki
