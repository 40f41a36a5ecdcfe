// pki.cpp: see pki.hpp. Certificates are issued the way an enterprise PKI does it: keys and
// extensions travel in a PKCS#10 request, the CA signs it with explicit validity dates.
#include "pki/pki.hpp"

#include <botan/ecdsa.h>
#include <botan/hex.h>
#include <botan/pkcs8.h>
#include <botan/rsa.h>
#include <botan/system_rng.h>
#include <botan/x509_ca.h>
#include <botan/x509self.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/files.hpp"
#include "core/home.hpp"
#include "pki/manifest.hpp"
#include "pki/pem.hpp"

namespace mtls::pki {
namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;
using json = nlohmann::json;

std::optional<KeyType> key_type_from_string(std::string_view s) {
  if (s == "ecdsa-p256") return KeyType::kEcdsaP256;
  if (s == "rsa-2048") return KeyType::kRsa2048;
  return std::nullopt;
}

std::string_view to_string(KeyType k) {
  return k == KeyType::kEcdsaP256 ? "ecdsa-p256" : "rsa-2048";
}

namespace {

constexpr const char* kHash = "SHA-256";
constexpr auto kDay = std::chrono::hours(24);

std::string iso8601(Clock::time_point tp) {
  std::time_t t = Clock::to_time_t(tp);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::unique_ptr<Botan::Private_Key> make_key(KeyType type, Botan::RandomNumberGenerator& rng) {
  if (type == KeyType::kRsa2048) return std::make_unique<Botan::RSA_PrivateKey>(rng, 2048);
  return std::make_unique<Botan::ECDSA_PrivateKey>(rng, Botan::EC_Group("secp256r1"));
}

// An issued certificate together with its key.
struct Issued {
  Botan::X509_Certificate cert;
  std::unique_ptr<Botan::Private_Key> key;
};

Botan::X509_Cert_Options base_options(const std::string& cn) {
  Botan::X509_Cert_Options opts;
  opts.common_name = cn;
  opts.organization = "mtls-harness test PKI";
  opts.country = "US";
  return opts;
}

Issued make_root_ca(const std::string& cn, KeyType type, Clock::time_point now,
                    Botan::RandomNumberGenerator& rng) {
  auto key = make_key(type, rng);
  auto opts = base_options(cn);
  opts.CA_key(1);  // basicConstraints CA:TRUE; keyCertSign + cRLSign
  opts.start = Botan::X509_Time(now - kDay);
  opts.end = Botan::X509_Time(now + 3650 * kDay);
  auto cert = Botan::X509::create_self_signed_cert(opts, *key, kHash, rng);
  return {std::move(cert), std::move(key)};
}

Issued issue_leaf(const Issued& ca, Botan::X509_Cert_Options opts, KeyType type,
                  Clock::time_point not_before, Clock::time_point not_after,
                  Botan::RandomNumberGenerator& rng) {
  auto key = make_key(type, rng);
  opts.constraints = Botan::Key_Constraints::DIGITAL_SIGNATURE;
  auto req = Botan::X509::create_cert_req(opts, *key, kHash, rng);
  Botan::X509_CA signer(ca.cert, *ca.key, kHash, rng);
  auto cert =
      signer.sign_request(req, rng, Botan::X509_Time(not_before), Botan::X509_Time(not_after));
  return {std::move(cert), std::move(key)};
}

// Writes files and collects the manifest's "files" entries.
class Writer {
 public:
  explicit Writer(fs::path root) : root_(std::move(root)) {}

  std::string cert(const std::string& rel, const Botan::X509_Certificate& c,
                   const std::string& role) {
    write(rel, c.PEM_encode(), 0644);
    files_.push_back({
        {"path", rel},
        {"role", role},
        {"kind", "certificate"},
        {"subject", c.subject_dn().to_string()},
        {"issuer", c.issuer_dn().to_string()},
        {"serial", Botan::hex_encode(c.serial_number(), false)},
        {"not_before", iso8601(c.not_before().to_std_timepoint())},
        {"not_after", iso8601(c.not_after().to_std_timepoint())},
        {"sha256", fingerprint_sha256(c)},
    });
    return rel;
  }

  std::string key(const std::string& rel, const Botan::Private_Key& k, const std::string& role) {
    write(rel, Botan::PKCS8::PEM_encode(k), 0600);
    files_.push_back({{"path", rel},
                      {"role", role},
                      {"kind", "private_key"},
                      {"algorithm", k.algo_name()},
                      {"bits", k.key_length()}});
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

json expect_both(Expectation e) {
  return {{"require", to_string(e)}, {"require_crl", to_string(e)}};
}

}  // namespace

void init(const InitOptions& o) {
  check_out_dir(o);
  Botan::System_RNG rng;
  const auto now = Clock::now();
  Writer w(o.out);

  Issued client_ca = make_root_ca("mtls-harness Client CA", o.key_type, now, rng);
  Issued server_ca = make_root_ca("mtls-harness Server CA", o.key_type, now, rng);
  w.cert("ca/client-ca.pem", client_ca.cert, "client-ca");
  w.key("ca/client-ca.key", *client_ca.key, "client-ca-key");
  w.cert("ca/server-ca.pem", server_ca.cert, "server-ca");
  w.key("ca/server-ca.key", *server_ca.key, "server-ca-key");

  json beacons = json::object();
  for (const std::string name : {"beacon-a", "beacon-b"}) {
    auto opts = base_options(name);
    opts.dns = "localhost";
    opts.more_dns = {name + ".mtls-harness.test"};
    opts.ip = "127.0.0.1";
    opts.add_ex_constraint("PKIX.ServerAuth");
    Issued leaf = issue_leaf(server_ca, opts, o.key_type, now - kDay, now + 365 * kDay, rng);
    beacons[name] = {
        {"cert", w.cert("beacons/" + name + ".pem", leaf.cert, "beacon-cert")},
        {"key", w.key("beacons/" + name + ".key", *leaf.key, "beacon-key")},
        {"names", {"localhost", "127.0.0.1", name + ".mtls-harness.test"}},
    };
  }

  json credentials = json::object();
  credentials["none"] = {{"cert", nullptr},
                         {"key", nullptr},
                         {"description", "no client certificate at all"},
                         {"expected", expect_both(Expectation::kRejected)}};
  {
    auto opts = base_options("device-fleet-client");
    opts.add_ex_constraint("PKIX.ClientAuth");
    Issued valid = issue_leaf(client_ca, opts, o.key_type, now - kDay, now + 365 * kDay, rng);
    credentials["valid"] = {
        {"cert", w.cert("clients/valid.pem", valid.cert, "client-cert")},
        {"key", w.key("clients/valid.key", *valid.key, "client-key")},
        {"description", "the distributed client certificate (clientAuth, issued by the client CA)"},
        {"expected", expect_both(Expectation::kAccepted)}};
  }

  json manifest = {
      {"format", kManifestFormat},
      {"generator", "mtls-harness " + harness_version()},
      {"created", iso8601(now)},
      {"key_type", to_string(o.key_type)},
      {"trust",
       {{"client_ca_bundle", "ca/client-ca.pem"}, {"server_ca_bundle", "ca/server-ca.pem"}}},
      {"beacons", beacons},
      {"credentials", credentials},
      {"files", w.files()},
  };
  write_file_atomic(o.out / kManifestName, manifest.dump(2) + "\n");
}

}  // namespace mtls::pki
