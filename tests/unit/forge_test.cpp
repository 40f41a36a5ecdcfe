// forge_test.cpp: the probe's look-alikes of the distributed certificate copy its names and
// usages (and, for one, its serial) but are not trusted by the client CA: only a beacon that
// trusts names would let them in.
#include <botan/x509path.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "pki/forge.hpp"
#include "pki/manifest.hpp"
#include "pki/pem.hpp"
#include "pki/pki.hpp"
#include "test_util.hpp"

namespace mtls::pki {
namespace {

TEST(Forge, LookAlikesCopyTheNamesButNotTheTrust) {
  test::TempDir dir;
  init({.out = dir.path() / "pki", .key_type = KeyType::kEcdsaP256});
  const Manifest m = load_manifest(dir.path() / "pki");
  const Botan::X509_Certificate device = first_certificate(*m.credential("valid").cert);
  const auto forged = forge_identity(device, dir.path() / "forged");
  ASSERT_EQ(forged.size(), 2u);
  Botan::Certificate_Store_In_Memory roots;
  for (const auto& c : load_certificates(m.client_ca)) roots.add_certificate(c);
  for (const auto& f : forged) {
    const auto chain = load_certificates(f.cert);
    ASSERT_EQ(chain.size(), 2u) << f.name;
    const auto& leaf = chain[0];
    EXPECT_EQ(leaf.subject_dn(), device.subject_dn()) << f.name;
    EXPECT_EQ(leaf.issuer_dn(), device.issuer_dn()) << f.name;
    EXPECT_EQ(chain[1].subject_dn(), device.issuer_dn()) << f.name;
    EXPECT_EQ(leaf.extended_key_usage(), device.extended_key_usage()) << f.name;
    EXPECT_EQ(leaf.constraints(), device.constraints()) << f.name;
    EXPECT_EQ(leaf.serial_number() == device.serial_number(), f.name == "forged-serial") << f.name;
    EXPECT_NE(leaf.subject_public_key_bits(), device.subject_public_key_bits()) << f.name;
    const auto r = Botan::x509_path_validate(chain, Botan::Path_Validation_Restrictions(), roots,
                                             "", Botan::Usage_Type::TLS_CLIENT_AUTH);
    EXPECT_FALSE(r.successful_validation()) << f.name << " is trusted by the client CA";
    struct stat st {};
    ASSERT_EQ(::stat(f.key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f.name;
  }
}

}  // namespace
}  // namespace mtls::pki
