// lint.cpp: see lint.hpp. Each property is judged in isolation: the chain at a time inside the
// leaf's own validity window (so an expired certificate fails "validity", not "chain"), without
// revocation (that is "revocation"), for any usage (EKU is "eku").
#include "pki/lint.hpp"
#include "pki/manifest.hpp"

#include <botan/certstor.h>
#include <botan/hex.h>
#include <botan/oids.h>
#include <botan/pkix_types.h>
#include <botan/x509path.h>

#include <algorithm>

#include "core/files.hpp"
#include "pki/p12.hpp"
#include "pki/pem.hpp"
#include "pki/pki.hpp"

namespace mtls::pki {
namespace {

using Clock = std::chrono::system_clock;
using Certs = std::vector<Botan::X509_Certificate>;

LintFinding pass(const char* p, std::string d) {
  return {p, LintStatus::kPass, std::move(d)};
}
LintFinding warn(const char* p, std::string d) {
  return {p, LintStatus::kWarn, std::move(d)};
}
LintFinding fail(const char* p, std::string d) {
  return {p, LintStatus::kFail, std::move(d)};
}

std::string cn(const Botan::X509_DN& dn) {
  const std::string c = dn.get_first_attribute("X520.CommonName");
  return c.empty() ? dn.to_string() : "CN=" + c;
}

bool self_signed(const Botan::X509_Certificate& c) {
  return c.subject_dn() == c.issuer_dn();
}

const Botan::X509_Certificate* find_subject(const Certs& certs, const Botan::X509_DN& dn) {
  for (const auto& c : certs)
    if (c.subject_dn() == dn) return &c;
  return nullptr;
}

long days_between(Clock::time_point a, Clock::time_point b) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::hours>(b - a).count() / 24);
}

LintFinding check_chain(const Certs& presented, const Certs& anchors, Clock::time_point now) {
  const auto& leaf = presented.front();
  // A self-signed certificate that is itself in the CA file is a trust anchor: trusted directly
  // (pinned), as OpenSSL (`openssl verify -CAfile cert.pem cert.pem`), nginx, Apache and IIS
  // treat it. Its own signature must still verify.
  if (self_signed(leaf) && std::find(anchors.begin(), anchors.end(), leaf) != anchors.end()) {
    const auto key = leaf.load_subject_public_key();
    if (leaf.check_signature(*key))
      return pass("chain", "trusted directly (pinned): the CA file holds this very certificate (" +
                               cn(leaf.subject_dn()) + ")");
    return fail("chain", "pinned in the CA file, but its self-signature does not verify");
  }
  // Judge the chain at a time the leaf itself is valid, so that dates are "validity"'s business.
  Clock::time_point at = now;
  const auto nb = leaf.not_before().to_std_timepoint(), na = leaf.not_after().to_std_timepoint();
  if (at < nb) at = nb + std::chrono::seconds(1);
  if (at > na) at = na - std::chrono::seconds(1);
  Botan::Certificate_Store_In_Memory store;
  for (const auto& c : anchors) store.add_certificate(c);
  // Key strength and revocation are separate properties: do not let them fail the chain.
  Botan::Path_Validation_Restrictions restrictions(false, 80);
  auto r = Botan::x509_path_validate(presented, restrictions, {&store}, "",
                                     Botan::Usage_Type::UNSPECIFIED, at);
  if (r.successful_validation()) {
    std::string path;
    for (const auto& c : r.cert_path()) path += (path.empty() ? "" : " <- ") + cn(c->subject_dn());
    return pass("chain", "chains to the CA file: " + path);
  }
  // Name the missing link: walk issuers through what was presented and the CA file.
  Certs pool = presented;
  pool.insert(pool.end(), anchors.begin(), anchors.end());
  const Botan::X509_Certificate* cur = &leaf;
  for (int depth = 0; depth < 10 && !self_signed(*cur); ++depth) {
    const auto* issuer = find_subject(pool, cur->issuer_dn());
    if (issuer == nullptr)
      return fail("chain", "missing link: no certificate for " + cn(cur->issuer_dn()) +
                               " (issuer of " + cn(cur->subject_dn()) +
                               ") in the credential or the CA file");
    cur = issuer;
  }
  if (self_signed(*cur) && find_subject(anchors, cur->subject_dn()) == nullptr)
    return fail("chain", "ends at " + cn(cur->subject_dn()) +
                             ", a self-signed certificate the CA file does not hold");
  return fail("chain", "does not validate against the CA file: " + r.result_string());
}

LintFinding check_validity(const Botan::X509_Certificate& leaf, Clock::time_point now) {
  const auto nb = leaf.not_before().to_std_timepoint(), na = leaf.not_after().to_std_timepoint();
  if (now < nb)
    return fail("validity", "not valid before " + format_utc(nb) + " (in " +
                                std::to_string(days_between(now, nb)) + " days)");
  if (now > na)
    return fail("validity", "expired on " + format_utc(na) + " (" +
                                std::to_string(days_between(na, now)) + " days ago)");
  const long left = days_between(now, na);
  const std::string d =
      "valid until " + format_utc(na) + " (" + std::to_string(left) + " days left)";
  return left < 30 ? warn("validity", d + ": renew and redistribute before it expires")
                   : pass("validity", d);
}

LintFinding check_eku(const Botan::X509_Certificate& leaf) {
  const auto ekus = leaf.extended_key_usage();
  if (ekus.empty())
    return warn("eku",
                "no extendedKeyUsage: most stacks accept it for client auth, strict ones refuse "
                "it; add clientAuth");
  const Botan::OID client_auth = Botan::OID::from_string("PKIX.ClientAuth");
  std::string names;
  for (const auto& oid : ekus) {
    if (oid == client_auth) return pass("eku", "extendedKeyUsage includes clientAuth");
    names += (names.empty() ? "" : ", ") + oid.to_formatted_string();
  }
  return fail("eku", "extendedKeyUsage lacks clientAuth (has: " + names + ")");
}

LintFinding check_key_usage(const Botan::X509_Certificate& leaf) {
  const auto ku = leaf.constraints();
  if (ku == Botan::Key_Constraints::NO_CONSTRAINTS)
    return pass("key-usage", "no keyUsage extension (any usage)");
  if (ku & Botan::Key_Constraints::DIGITAL_SIGNATURE)
    return pass("key-usage", "keyUsage permits digitalSignature");
  return fail(
      "key-usage",
      "keyUsage does not permit digitalSignature (needed to sign the TLS CertificateVerify)");
}

LintFinding check_key_match(const Botan::X509_Certificate& leaf, const Botan::Private_Key& key) {
  if (key.subject_public_key() == leaf.load_subject_public_key()->subject_public_key())
    return pass(defect::kKeyMatch, "the private key belongs to the certificate");
  return fail(defect::kKeyMatch, "the private key does not belong to this certificate");
}

LintFinding check_key_strength(const Botan::X509_Certificate& leaf) {
  const auto pub = leaf.load_subject_public_key();
  const std::string algo = pub->algo_name();
  const std::size_t bits = pub->key_length();
  const std::string d = algo + " " + std::to_string(bits) + "-bit key";
  if ((algo == "RSA" && bits < 2048) || (algo == "ECDSA" && bits < 256) || algo == "DSA")
    return fail(defect::kKeyStrength,
                d + ": below the 112-bit security floor (RSA >= 2048, ECDSA >= P-256)");
  return pass(defect::kKeyStrength, d);
}

LintFinding check_signature_hash(const Botan::X509_Certificate& leaf) {
  const std::string sig = Botan::OIDS::oid2str_or_empty(leaf.signature_algorithm().get_oid());
  const std::string name = sig.empty() ? leaf.signature_algorithm().get_oid().to_string() : sig;
  if (name.find("SHA-1)") != std::string::npos || name.find("MD5") != std::string::npos ||
      name.find("SHA-160") != std::string::npos)
    return fail("signature-hash", "signed with " + name + ": a broken hash");
  return pass("signature-hash", "signed with " + name);
}

LintFinding check_revocation(const Certs& presented, const Certs& anchors,
                             const std::filesystem::path& crl_file, Clock::time_point now) {
  const auto& leaf = presented.front();
  Certs pool = presented;
  pool.insert(pool.end(), anchors.begin(), anchors.end());
  for (const auto& crl : load_crls(crl_file)) {
    if (crl.issuer_dn() != leaf.issuer_dn()) continue;
    const auto* issuer = find_subject(pool, crl.issuer_dn());
    if (issuer == nullptr)
      return warn("revocation", "the CRL's issuer " + cn(crl.issuer_dn()) +
                                    " is not available to verify its signature");
    if (!crl.check_signature(*issuer->load_subject_public_key()))
      return fail("revocation", "the CRL from " + cn(crl.issuer_dn()) + " has a bad signature");
    if (crl.is_revoked(leaf))
      return fail("revocation", "serial " + Botan::hex_encode(leaf.serial_number(), false) +
                                    " is revoked by the CRL of " + cn(crl.issuer_dn()));
    const auto next = crl.next_update().to_std_timepoint();
    if (next < now)
      return warn("revocation",
                  "not listed, but the CRL is stale (next update was " + format_utc(next) + ")");
    return pass("revocation", "not listed in the CRL of " + cn(crl.issuer_dn()) + " (next update " +
                                  format_utc(next) + ")");
  }
  return warn("revocation", "no CRL in " + crl_file.string() +
                                " is from the certificate's issuer " + cn(leaf.issuer_dn()));
}

LintFinding check_intermediate(const Certs& presented, const Certs& anchors) {
  const auto& leaf = presented.front();
  if (self_signed(leaf)) return pass("intermediate", "self-signed: no intermediate involved");
  const Certs extras(presented.begin() + 1, presented.end());
  if (find_subject(extras, leaf.issuer_dn()) != nullptr)
    return pass("intermediate", "the credential carries its issuer " + cn(leaf.issuer_dn()));
  const auto* in_ca = find_subject(anchors, leaf.issuer_dn());
  if (in_ca == nullptr)
    return warn("intermediate",
                "issuer " + cn(leaf.issuer_dn()) +
                    " is neither in the credential nor in the CA file: cannot tell");
  if (self_signed(*in_ca))
    return pass("intermediate", "issued directly by the root " + cn(leaf.issuer_dn()));
  return fail(
      "intermediate",
      "the credential does not carry the intermediate " + cn(leaf.issuer_dn()) +
          ": agents send only what the file holds, and beacons that trust only the root refuse it");
}

}  // namespace

std::string_view to_string(LintStatus s) {
  return s == LintStatus::kPass ? "PASS" : s == LintStatus::kWarn ? "WARN" : "FAIL";
}

std::vector<LintFinding> lint(const LintInput& in) {
  const Certs anchors = load_certificates(in.ca);
  Certs presented;
  std::unique_ptr<Botan::Private_Key> key;
  std::vector<LintFinding> out;
  if (in.p12) {
    if (!in.password)
      throw InputError("--p12 needs a password (--password-env VAR or --password-file FILE)");
    Pkcs12Contents p12 = open_pkcs12(*in.p12, *in.password);
    presented = std::move(p12.chain);
    key = std::move(p12.key);
  } else {
    if (!in.cert || !in.key) throw InputError("give --cert and --key, or --p12");
    presented = load_certificates(*in.cert);
    key = load_private_key(*in.key);
  }
  const auto& leaf = presented.front();
  out.push_back(check_chain(presented, anchors, in.now));
  out.push_back(check_validity(leaf, in.now));
  out.push_back(check_eku(leaf));
  out.push_back(check_key_usage(leaf));
  out.push_back(check_key_match(leaf, *key));
  out.push_back(check_key_strength(leaf));
  out.push_back(check_signature_hash(leaf));
  if (in.crl) out.push_back(check_revocation(presented, anchors, *in.crl, in.now));
  out.push_back(check_intermediate(presented, anchors));
  if (in.p12)
    out.push_back(pass("p12-open", "opens with the given password: 1 key, " +
                                       std::to_string(presented.size()) + " certificate(s)"));
  return out;
}

int lint_exit_code(const std::vector<LintFinding>& findings) {
  return std::any_of(findings.begin(), findings.end(),
                     [](const auto& f) { return f.status == LintStatus::kFail; })
             ? 1
             : 0;
}

nlohmann::json to_json(const std::vector<LintFinding>& findings) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& f : findings)
    arr.push_back({{"property", f.property},
                   {"status", std::string(to_string(f.status))},
                   {"detail", f.detail}});
  return arr;
}

}  // namespace mtls::pki
