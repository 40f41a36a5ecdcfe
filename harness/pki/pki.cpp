// pki.cpp: see pki.hpp. Certificates are issued the way an enterprise PKI does it: keys and
// extensions travel in a PKCS#10 request, the CA signs it with explicit validity dates. Every
// random byte (keys, serials, signature nonces, PKCS#12 salts, the password) comes from one RNG,
// seeded from --seed when given, so a seeded run is reproducible byte for byte.
#include "pki/pki.hpp"

#include <botan/ber_dec.h>
#include <botan/chacha_rng.h>
#include <botan/der_enc.h>
#include <botan/ecdsa.h>
#include <botan/hash.h>
#include <botan/hex.h>
#include <botan/pkcs8.h>
#include <botan/pubkey.h>
#include <botan/rsa.h>
#include <botan/system_rng.h>
#include <botan/x509_ca.h>
#include <botan/x509_ext.h>
#include <botan/x509_key.h>
#include <botan/x509self.h>

#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/files.hpp"
#include "core/home.hpp"
#include "core/timefmt.hpp"
#include "pki/issuer.hpp"
#include "pki/manifest.hpp"
#include "pki/p12.hpp"
#include "pki/pem.hpp"

namespace mtls::pki {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::optional<KeyType> key_type_from_string(std::string_view s) {
  if (s == "ecdsa-p256") return KeyType::kEcdsaP256;
  if (s == "rsa-2048") return KeyType::kRsa2048;
  return std::nullopt;
}

std::string_view to_string(KeyType k) {
  return k == KeyType::kEcdsaP256 ? "ecdsa-p256" : "rsa-2048";
}

std::optional<TrustModel> trust_model_from_string(std::string_view s) {
  if (s == "ca") return TrustModel::kCa;
  if (s == "pinned-self-signed") return TrustModel::kPinnedSelfSigned;
  return std::nullopt;
}

std::string_view to_string(TrustModel t) {
  return t == TrustModel::kCa ? "ca" : "pinned-self-signed";
}

std::string ed25519_refusal() {
  return "--key-type ed25519: Botan 2's TLS stack (the simulated beacon) has no TLS 1.2 "
         "ciphersuite for Ed25519 certificates (it answers handshake_failure: \"Can't agree on a "
         "ciphersuite\"); use ecdsa-p256 or rsa-2048";
}

namespace {

constexpr auto kCrlLifetime = std::chrono::seconds(30 * 24 * 3600);

// Writes files and collects the manifest's "files" entries.
class Writer {
 public:
  explicit Writer(fs::path root) : root_(std::move(root)) {}

  std::string certs(const std::string& rel, const std::vector<Botan::X509_Certificate>& chain,
                    const std::string& role) {
    std::string pem;
    for (const auto& c : chain) pem += c.PEM_encode();
    write(rel, pem, 0644);
    const auto& c = chain.front();
    files_.push_back({{"path", rel},
                      {"role", role},
                      {"kind", "certificate"},
                      {"format", "pem"},
                      {"chain_length", chain.size()},
                      {"subject", c.subject_dn().to_string()},
                      {"issuer", c.issuer_dn().to_string()},
                      {"serial", Botan::hex_encode(c.serial_number(), false)},
                      {"not_before", format_utc(c.not_before().to_std_timepoint())},
                      {"not_after", format_utc(c.not_after().to_std_timepoint())},
                      {"sha256", fingerprint_sha256(c)}});
    return rel;
  }

  std::string cert_der(const std::string& rel, const Botan::X509_Certificate& c,
                       const std::string& role) {
    const auto der = c.BER_encode();
    write(rel, std::string(der.begin(), der.end()), 0644);
    files_.push_back({{"path", rel},
                      {"role", role},
                      {"kind", "certificate"},
                      {"format", "der"},
                      {"subject", c.subject_dn().to_string()},
                      {"sha256", fingerprint_sha256(c)}});
    return rel;
  }

  std::string key(const std::string& rel, const Botan::Private_Key& k, const std::string& role,
                  bool der = false) {
    if (der) {
      const auto bytes = Botan::PKCS8::BER_encode(k);
      write(rel, std::string(bytes.begin(), bytes.end()), 0600);
    } else {
      write(rel, Botan::PKCS8::PEM_encode(k), 0600);
    }
    files_.push_back({{"path", rel},
                      {"role", role},
                      {"kind", "private_key"},
                      {"format", der ? "der" : "pem"},
                      {"algorithm", k.algo_name()},
                      {"bits", k.key_length()}});
    return rel;
  }

  std::string crls(const std::string& rel, const std::vector<Botan::X509_CRL>& list,
                   const std::string& role) {
    std::string pem;
    json described = json::array();
    for (const auto& crl : list) {
      pem += crl.PEM_encode();
      json revoked = json::array();
      for (const auto& e : crl.get_revoked())
        revoked.push_back(Botan::hex_encode(e.serial_number(), false));
      described.push_back({{"issuer", crl.issuer_dn().to_string()},
                           {"this_update", format_utc(crl.this_update().to_std_timepoint())},
                           {"next_update", format_utc(crl.next_update().to_std_timepoint())},
                           {"revoked_serials", revoked}});
    }
    write(rel, pem, 0644);
    files_.push_back(
        {{"path", rel}, {"role", role}, {"kind", "crl"}, {"format", "pem"}, {"crls", described}});
    return rel;
  }

  std::string blob(const std::string& rel, const std::vector<uint8_t>& data,
                   const std::string& role, const std::string& kind, unsigned mode) {
    write(rel, std::string(data.begin(), data.end()), mode);
    files_.push_back({{"path", rel},
                      {"role", role},
                      {"kind", kind},
                      {"sha256", sha256_hex(std::string_view(
                                     reinterpret_cast<const char*>(data.data()), data.size()))}});
    return rel;
  }

  std::string secret(const std::string& rel, const std::string& text, const std::string& role) {
    write(rel, text + "\n", 0600);
    files_.push_back({{"path", rel}, {"role", role}, {"kind", "secret"}});
    return rel;
  }

  const json& files() const { return files_; }

 private:
  void write(const std::string& rel, const std::string& data, unsigned mode) {
    fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    write_file_atomic(p, data, mode);
  }

  fs::path root_;
  json files_ = json::array();
};

void check_out_dir(const InitOptions& o) {
  std::error_code ec;
  if (fs::exists(o.out, ec)) {
    if (!fs::is_directory(o.out, ec))
      throw InputError("--out " + o.out.string() + ": exists and is not a folder");
    if (!fs::is_empty(o.out, ec) && !o.force)
      throw InputError("--out " + o.out.string() +
                       ": folder is not empty (use --force to write into it)");
  }
  fs::create_directories(o.out, ec);
  if (ec) throw InputError("--out " + o.out.string() + ": cannot create (" + ec.message() + ")");
}

// What a beacon that requires a valid client certificate must do with a credential whose only
// defect is `defect` (null: none), without ("require") and with ("require_crl") revocation checks.
json expectations(const json& defect) {
  auto name = [](Expectation e) { return std::string(to_string(e)); };
  if (defect.is_null())
    return {{"require", name(Expectation::kAccepted)},
            {"require_crl", name(Expectation::kAccepted)}};
  if (defect == "revocation")
    return {{"require", name(Expectation::kAccepted)},
            {"require_crl", name(Expectation::kRejected)}};
  return {{"require", name(Expectation::kRejected)}, {"require_crl", name(Expectation::kRejected)}};
}

// A CRL entry revoked at `when`. Botan's CRL_Entry(cert, reason) stamps the wall clock, which
// would make --now runs differ; so the entry is re-encoded with the given time and decoded back.
Botan::CRL_Entry revocation_entry(const Botan::X509_Certificate& cert, Botan::CRL_Code reason,
                                  Clock::time_point when) {
  const Botan::CRL_Entry stamped(cert, reason);
  std::vector<uint8_t> der;
  Botan::DER_Encoder(der)
      .start_cons(Botan::SEQUENCE)
      .encode(Botan::BigInt::decode(stamped.serial_number()))
      .encode(Botan::X509_Time(when))
      .start_cons(Botan::SEQUENCE)
      .encode(stamped.extensions())
      .end_cons()
      .end_cons();
  Botan::CRL_Entry entry;
  Botan::BER_Decoder(der).decode(entry).verify_end();
  return entry;
}

// A self-signed clientAuth certificate with `model`'s subject, signed by `key`: the same serial
// when `serial` is given (a look-alike of the pinned certificate), validity [nb, na].
Botan::X509_Certificate self_signed_like(const Botan::X509_Certificate& model,
                                         const Botan::Private_Key& key, const Botan::BigInt* serial,
                                         Clock::time_point nb, Clock::time_point na,
                                         Botan::RandomNumberGenerator& rng) {
  Botan::Extensions ext;
  ext.add(new Botan::Cert_Extension::Basic_Constraints(false), true);
  ext.add(new Botan::Cert_Extension::Key_Usage(Botan::Key_Constraints::DIGITAL_SIGNATURE), true);
  ext.add(new Botan::Cert_Extension::Extended_Key_Usage(model.extended_key_usage()));
  ext.add(new Botan::Cert_Extension::Subject_Key_ID(key.public_key_bits(), "SHA-256"));
  Botan::AlgorithmIdentifier algo;
  const std::unique_ptr<Botan::PK_Signer> signer(Botan::choose_sig_format(key, rng, kHash, algo));
  const auto spki = Botan::X509::BER_encode(key);
  if (serial)
    return Botan::X509_CA::make_cert(signer.get(), rng, *serial, algo, spki, Botan::X509_Time(nb),
                                     Botan::X509_Time(na), model.subject_dn(), model.subject_dn(),
                                     ext);
  return Botan::X509_CA::make_cert(signer.get(), rng, algo, spki, Botan::X509_Time(nb),
                                   Botan::X509_Time(na), model.subject_dn(), model.subject_dn(),
                                   ext);
}

// The vendor's model: the distributed credential is one self-signed clientAuth certificate that
// beacons trust directly; the negative credentials attack exactly that (same subject, same
// serial, the right certificate with another key, expired and not-yet-valid copies) besides the
// classes every model has. Returns the credentials; the pinned certificate's file is their
// "valid" cert.
json pinned_credentials(Writer& w, const Issuer& is, const Issued& other_ca,
                        const Issued& server_ca, Clock::time_point now, const InitOptions& o,
                        const std::function<json(const json&)>& expect) {
  Botan::RandomNumberGenerator& rng = is.rng();
  json creds = json::object();
  auto add = [&](const std::string& name, const std::vector<Botan::X509_Certificate>& chain,
                 const Botan::Private_Key& key, json defect, const std::string& description) {
    creds[name] = {{"cert", w.certs("clients/" + name + ".pem", chain, "client-cert")},
                   {"key", w.key("clients/" + name + ".key", key, "client-key")},
                   {"defect", defect},
                   {"description", description},
                   {"expected", expect(defect)}};
  };
  const auto nb = now - kDay, na = now + 365 * kDay;
  creds["none"] = {{"cert", nullptr},
                   {"key", nullptr},
                   {"defect", "no-certificate"},
                   {"description", "no client certificate at all"},
                   {"expected", expect("no-certificate")}};
  const Issued valid = is.self_signed(client_options("device-fleet-client", nb, na), is.key());
  add("valid", {valid.cert}, *valid.key, nullptr,
      "the distributed client certificate: self-signed, clientAuth, trusted directly (pinned) by "
      "the beacons");
  creds["valid"]["der"] = {
      {"cert", w.cert_der("clients/valid.cert.der", valid.cert, "client-cert-der")},
      {"key", w.key("clients/valid.key.der", *valid.key, "client-key-der", true)}};
  const std::string password = o.p12_password.value_or(password_from(rng));
  const auto p12 =
      make_pkcs12(*valid.key, {valid.cert}, password, "mtls-harness device client", rng);
  creds["valid-p12"] = {
      {"cert", nullptr},
      {"key", nullptr},
      {"p12", w.blob("clients/valid.p12", p12, "client-p12", "pkcs12", 0600)},
      {"defect", nullptr},
      {"description", "the pinned certificate and its key exported as PKCS#12"},
      {"expected", expect(nullptr)},
      {"password_file", o.p12_password ? json(nullptr)
                                       : json(w.secret("clients/valid.p12.password", password,
                                                       "client-p12-password"))}};
  const Issued next =
      is.self_signed(client_options("device-fleet-client-next", nb, na + 365 * kDay), is.key());
  add("valid-next", {next.cert}, *next.key, "chain",
      "the next distributed certificate (a rotation): self-signed, clientAuth, not yet trusted");
  const auto other = is.key();
  add("same-subject", {self_signed_like(valid.cert, *other, nullptr, nb, na, rng)}, *other, "chain",
      "self-signed with the pinned certificate's subject, another key");
  const auto other2 = is.key();
  const Botan::BigInt serial = Botan::BigInt::decode(valid.cert.serial_number());
  add("same-serial", {self_signed_like(valid.cert, *other2, &serial, nb, na, rng)}, *other2,
      "chain", "self-signed with the pinned certificate's subject and serial, another key");
  const auto stolen = is.key();
  add("wrong-key", {valid.cert}, *stolen, "key-match",
      "the pinned certificate shipped with another private key");
  add("expired",
      {self_signed_like(valid.cert, *valid.key, nullptr, now - 400 * kDay, now - 35 * kDay, rng)},
      *valid.key, "validity",
      "a copy of the pinned certificate (same key) that expired 35 days ago");
  add("not-yet-valid",
      {self_signed_like(valid.cert, *valid.key, nullptr, now + 30 * kDay, now + 400 * kDay, rng)},
      *valid.key, "validity", "a copy of the pinned certificate (same key) valid from 30 days on");
  const Issued untrusted =
      is.sign(other_ca, client_options("device-untrusted-ca", nb, na), is.key());
  add("untrusted-ca", {untrusted.cert}, *untrusted.key, "chain",
      "clientAuth, issued by a CA no beacon trusts");
  const Issued self = is.self_signed(client_options("device-self-signed", nb, na), is.key());
  add("self-signed", {self.cert}, *self.key, "chain", "another self-signed clientAuth certificate");
  const Issued weak = is.self_signed(client_options("device-fleet-client", nb, na), is.rsa1024());
  add("weak-key", {weak.cert}, *weak.key, "key-strength",
      "self-signed with the pinned subject and an RSA-1024 key");
  const Issued server_issued =
      is.sign(server_ca, client_options("device-server-ca-issued", nb, na), is.key());
  add("server-ca-issued", {server_issued.cert}, *server_issued.key, "chain",
      "clientAuth, issued by the server CA: trusted on the machine, but not for client "
      "authentication");
  return creds;
}

// The client CAs' CRLs: the issuing CA's lists `revoked` (when given); the root's (empty) covers
// the intermediate. Returns the file's path in the PKI.
std::string write_client_crls(Writer& w, const Issuer& is, const Issued& root,
                              const Issued& issuing,
                              const std::optional<Botan::X509_Certificate>& revoked,
                              Clock::time_point now) {
  Botan::RandomNumberGenerator& rng = is.rng();
  Botan::X509_CA issuing_signer(issuing.cert, *issuing.key, kHash, rng);
  std::vector<Botan::CRL_Entry> entries;
  if (revoked) entries.push_back(revocation_entry(*revoked, Botan::CRL_Code::KEY_COMPROMISE, now));
  Botan::X509_CRL issuing_crl = issuing_signer.update_crl(
      issuing_signer.new_crl(rng, now, kCrlLifetime), entries, rng, now, kCrlLifetime);
  Botan::X509_CA root_signer(root.cert, *root.key, kHash, rng);
  Botan::X509_CRL root_crl = root_signer.new_crl(rng, now, kCrlLifetime);
  return w.crls("ca/client-crls.pem", {issuing_crl, root_crl}, "client-crls");
}

void write_manifest(const InitOptions& o, Clock::time_point now, const Writer& w,
                    const json& beacons, const json& creds, const json& client_ca_roots,
                    const json& client_ca_bundle, const std::string& client_crls) {
  json manifest = {
      {"format", kManifestFormat},
      {"generator", "mtls-harness " + harness_version()},
      {"created", format_utc(now)},
      {"key_type", to_string(o.key_type)},
      {"trust_model", to_string(o.trust_model)},
      {"seed", o.seed ? json(*o.seed) : json(nullptr)},
      {"trust",
       {{"client_ca_roots", client_ca_roots},
        {"client_ca_bundle", client_ca_bundle},
        {"client_crls", client_crls},
        {"server_ca_bundle", "ca/server-ca.pem"},
        {"server_crl", "ca/server-crl.pem"},
        {"untrusted_ca", "ca/other-ca.pem"}}},
      {"beacons", beacons},
      {"credentials", creds},
      {"files", w.files()},
  };
  write_file_atomic(o.out / kManifestName, manifest.dump(2) + "\n");
}

}  // namespace

namespace {

// The beacons' certificates, issued by the server CA (beacon-revoked listed in its CRL, which
// agents that check revocation must honour). Returns the manifest's "beacons" block.
json issue_beacons(Writer& w, const Issuer& is, const Issued& server_ca, Clock::time_point now) {
  json beacons = json::object();
  std::optional<Botan::X509_Certificate> revoked_beacon;
  for (const std::string name : {"beacon-a", "beacon-b", "beacon-revoked"}) {
    const std::string domain = name + ".mtls-harness.test";
    const std::vector<std::string> names = {"localhost", "127.0.0.1", domain, "mtls." + domain,
                                            "open." + domain};
    auto opts = options(name, now - kDay, now + 365 * kDay);
    opts.dns = "localhost";
    opts.more_dns = {domain, "mtls." + domain, "open." + domain};
    opts.ip = "127.0.0.1";
    opts.constraints = Botan::Key_Constraints::DIGITAL_SIGNATURE;
    opts.add_ex_constraint("PKIX.ServerAuth");
    const Issued leaf = is.sign(server_ca, opts, is.key());
    const bool revoked = name == "beacon-revoked";  // listed in the server CA's CRL
    if (revoked) revoked_beacon = leaf.cert;
    beacons[name] = {{"cert", w.certs("beacons/" + name + ".pem", {leaf.cert}, "beacon-cert")},
                     {"key", w.key("beacons/" + name + ".key", *leaf.key, "beacon-key")},
                     {"names", names},
                     {"revoked", revoked}};
  }
  // The server CA's CRL: agents that check revocation must refuse beacon-revoked.
  Botan::X509_CA server_signer(server_ca.cert, *server_ca.key, kHash, is.rng());
  w.crls("ca/server-crl.pem",
         {server_signer.update_crl(
             server_signer.new_crl(is.rng(), now, kCrlLifetime),
             {revocation_entry(*revoked_beacon, Botan::CRL_Code::KEY_COMPROMISE, now)}, is.rng(),
             now, kCrlLifetime)},
         "server-crl");
  return beacons;
}

// The client credentials of the CA model: the distributed certificate (PEM, DER and PKCS#12)
// and one device per way a certificate can be wrong. Returns the manifest's "credentials" block;
// `revoked` gets the certificate the issuing CA's CRL lists.
json issue_ca_credentials(Writer& w, const Issuer& is, const Issued& client_issuing,
                          const Issued& server_ca, const Issued& other_ca, Clock::time_point now,
                          const InitOptions& o,
                          std::optional<Botan::X509_Certificate>& revoked_cert) {
  Botan::RandomNumberGenerator& rng = is.rng();
  json creds = json::object();
  auto add = [&](const std::string& name, const Issued& leaf,
                 std::vector<Botan::X509_Certificate> extra, const Botan::Private_Key& key_file,
                 json defect, const std::string& description) {
    std::vector<Botan::X509_Certificate> chain = {leaf.cert};
    chain.insert(chain.end(), extra.begin(), extra.end());
    creds[name] = {{"cert", w.certs("clients/" + name + ".pem", chain, "client-cert")},
                   {"key", w.key("clients/" + name + ".key", key_file, "client-key")},
                   {"defect", defect},
                   {"description", description},
                   {"expected", expectations(defect)}};
  };
  const auto nb = now - kDay, na = now + 365 * kDay;
  const std::vector<Botan::X509_Certificate> with_issuing = {client_issuing.cert};

  creds["none"] = {{"cert", nullptr},
                   {"key", nullptr},
                   {"defect", "no-certificate"},
                   {"description", "no client certificate at all"},
                   {"expected", expectations("no-certificate")}};

  const Issued valid =
      is.sign(client_issuing, client_options("device-fleet-client", nb, na), is.key());
  add("valid", valid, with_issuing, *valid.key, nullptr,
      "the distributed client certificate: clientAuth, issued by the client issuing CA, with its "
      "chain");
  creds["valid"]["der"] = {
      {"cert", w.cert_der("clients/valid.cert.der", valid.cert, "client-cert-der")},
      {"key", w.key("clients/valid.key.der", *valid.key, "client-key-der", true)}};

  // valid-p12: the same certificate and key as PKCS#12, as Windows agents install it.
  const std::string password = o.p12_password.value_or(password_from(rng));
  const auto p12 = make_pkcs12(*valid.key, {valid.cert, client_issuing.cert}, password,
                               "mtls-harness device client", rng);
  json p12_cred = {{"cert", nullptr},
                   {"key", nullptr},
                   {"p12", w.blob("clients/valid.p12", p12, "client-p12", "pkcs12", 0600)},
                   {"defect", nullptr},
                   {"description", "the valid certificate, key and chain exported as PKCS#12"},
                   {"expected", expectations(nullptr)}};
  if (o.p12_password)
    p12_cred["password_file"] = nullptr;  // the caller knows where its password is
  else
    p12_cred["password_file"] =
        w.secret("clients/valid.p12.password", password, "client-p12-password");
  creds["valid-p12"] = p12_cred;

  const Issued expired =
      is.sign(client_issuing, client_options("device-expired", now - 400 * kDay, now - 35 * kDay),
              is.key());
  add("expired", expired, with_issuing, *expired.key, "validity", "expired 35 days ago");

  const Issued future =
      is.sign(client_issuing,
              client_options("device-not-yet-valid", now + 30 * kDay, now + 400 * kDay), is.key());
  add("not-yet-valid", future, with_issuing, *future.key, "validity",
      "valid only from 30 days from now");

  const Issued untrusted =
      is.sign(other_ca, client_options("device-untrusted-ca", nb, na), is.key());
  add("untrusted-ca", untrusted, {}, *untrusted.key, "chain",
      "clientAuth, issued by a CA no beacon trusts");

  const Issued self = is.self_signed(client_options("device-self-signed", nb, na), is.key());
  add("self-signed", self, {}, *self.key, "chain", "a self-signed clientAuth certificate");

  const Issued wrong_eku = is.sign(
      client_issuing, client_options("device-wrong-eku", nb, na, "PKIX.ServerAuth"), is.key());
  add("wrong-eku", wrong_eku, with_issuing, *wrong_eku.key, "eku",
      "EKU serverAuth only, no clientAuth");

  const Issued revoked =
      is.sign(client_issuing, client_options("device-revoked", nb, na), is.key());
  add("revoked", revoked, with_issuing, *revoked.key, "revocation",
      "valid chain, but listed in the issuing CA's CRL");

  const Issued wrong_key =
      is.sign(client_issuing, client_options("device-wrong-key", nb, na), is.key());
  const auto other_key = is.key();
  add("wrong-key", wrong_key, with_issuing, *other_key, "key-match",
      "a valid certificate shipped with another device's private key");

  const Issued orphan =
      is.sign(client_issuing, client_options("device-missing-intermediate", nb, na), is.key());
  add("missing-intermediate", orphan, {}, *orphan.key, "intermediate",
      "issued by the issuing CA but shipped without it");

  const Issued weak =
      is.sign(client_issuing, client_options("device-weak-key", nb, na), is.rsa1024());
  add("weak-key", weak, with_issuing, *weak.key, "key-strength", "an RSA-1024 key");

  const Issued server_issued =
      is.sign(server_ca, client_options("device-server-ca-issued", nb, na), is.key());
  add("server-ca-issued", server_issued, {}, *server_issued.key, "chain",
      "clientAuth, issued by the server CA: trusted on the machine, but not for client "
      "authentication");
  revoked_cert = revoked.cert;
  return creds;
}

}  // namespace

void init(const InitOptions& o) {
  check_out_dir(o);
  auto rng_holder = make_rng(o.seed);
  Botan::RandomNumberGenerator& rng = *rng_holder;
  const Clock::time_point now = o.now.value_or(Clock::now());
  const Issuer is(o.key_type, rng);
  Writer w(o.out);

  // --- the hierarchies -----------------------------------------------------------------------
  const Issued client_root = is.root("mtls-harness Client Root CA", now);
  const Issued client_issuing = is.intermediate(client_root, "mtls-harness Client Issuing CA", now);
  const Issued server_ca = is.root("mtls-harness Server CA", now);
  const Issued other_ca = is.root("Unrelated Other CA", now);
  w.certs("ca/client-root.pem", {client_root.cert}, "client-root-ca");
  w.key("ca/client-root.key", *client_root.key, "client-root-ca-key");
  w.certs("ca/client-issuing.pem", {client_issuing.cert}, "client-issuing-ca");
  w.key("ca/client-issuing.key", *client_issuing.key, "client-issuing-ca-key");
  w.certs("ca/client-ca-bundle.pem", {client_issuing.cert, client_root.cert}, "client-ca-bundle");
  w.certs("ca/server-ca.pem", {server_ca.cert}, "server-ca");
  w.key("ca/server-ca.key", *server_ca.key, "server-ca-key");
  w.certs("ca/other-ca.pem", {other_ca.cert}, "untrusted-ca");
  w.key("ca/other-ca.key", *other_ca.key, "untrusted-ca-key");

  const json beacons = issue_beacons(w, is, server_ca, now);

  // --- client credentials ----------------------------------------------------------------------
  if (o.trust_model == TrustModel::kPinnedSelfSigned) {
    const json creds = pinned_credentials(w, is, other_ca, server_ca, now, o,
                                          [](const json& d) { return expectations(d); });
    write_manifest(o, now, w, beacons, creds, creds["valid"]["cert"], creds["valid"]["cert"],
                   write_client_crls(w, is, client_root, client_issuing, std::nullopt, now));
    return;
  }
  std::optional<Botan::X509_Certificate> revoked;
  const json creds =
      issue_ca_credentials(w, is, client_issuing, server_ca, other_ca, now, o, revoked);
  write_manifest(o, now, w, beacons, creds, "ca/client-root.pem", "ca/client-ca-bundle.pem",
                 write_client_crls(w, is, client_root, client_issuing, revoked, now));
}

}  // namespace mtls::pki
