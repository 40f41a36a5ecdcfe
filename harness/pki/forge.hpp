// forge.hpp: credentials that copy the distributed certificate's names but not its signature, for
// the probe's "trusts names, not signatures" check: a fresh self-signed CA whose subject is the
// device certificate's issuer name, issuing a leaf that copies the device's subject, SANs,
// key usage and extended key usage (and, in the second one, its serial number too). A beacon that
// checks the chain's signatures refuses both; one that admits a certificate by its issuer or
// subject name lets them in.
#pragma once

#include <botan/x509cert.h>

#include <filesystem>
#include <string>
#include <vector>

namespace mtls::pki {

struct ForgedCredential {
  std::string name;  // "forged-issuer", "forged-serial"
  std::string description;
  std::filesystem::path cert;  // PEM: the forged leaf, then the forged CA (as a device sends)
  std::filesystem::path key;   // PKCS#8 PEM, mode 0600
};

// Writes both into `dir` (created). `device` is the distributed certificate (its leaf).
std::vector<ForgedCredential> forge_identity(const Botan::X509_Certificate& device,
                                             const std::filesystem::path& dir);

// The leaf of a PEM file (the first certificate); throws InputError naming the file.
Botan::X509_Certificate first_certificate(const std::filesystem::path& pem);

}  // namespace mtls::pki
