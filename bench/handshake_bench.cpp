// handshake_bench.cpp: what one TLS 1.2 handshake costs the beacon's server side, in memory (no
// sockets), with the beacon's own Botan configuration (ConnectionCredentials, BeaconPolicy, its
// signer pool and client chain validator; the "/botan-default" variants use Botan's own signing
// and path validation instead): server-only vs mutual TLS, full vs resumed, ECDSA P-256 vs
// RSA-2048, with and without CRL checks. Server CPU per handshake (process CPU time spent inside
// the server's Botan calls) is the figure. BM_Primitive measures each public-key operation the
// server side of one handshake needs and BM_CryptoLowerBound all of them per iteration; the summary
// printed at the end gives each handshake's ratio to that bound and the mTLS / server-only ratio,
// all from the same run.
#include <benchmark/benchmark.h>
#include <botan/certstor.h>
#include <botan/curve25519.h>
#include <botan/ecdsa.h>
#include <botan/pubkey.h>
#include <botan/rsa.h>
#include <botan/system_rng.h>
#include <botan/tls_client.h>
#include <botan/tls_server.h>
#include <botan/tls_session_manager.h>
#include <botan/x509path.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "beacon/handshake_crypto.hpp"
#include "beacon/openssl_crypto.hpp"
#include "beacon/tls_config.hpp"
#include "pki/manifest.hpp"
#include "pki/pem.hpp"
#include "pki/pki.hpp"

namespace {

namespace fs = std::filesystem;
using mtls::pki::KeyType;

// Process CPU time, not thread CPU time: Botan 2 computes the two halves of an RSA private-key
// operation (CRT) on two threads (std::async), so the calling thread's clock misses one half.
// Nothing else runs while it is read: the client side is driven from the same thread.
double process_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

// One test PKI per key type, made once for the whole benchmark run (in a temporary folder).
struct Pki {
  fs::path dir;
  mtls::pki::Manifest m;
};
const Pki& pki_for(KeyType t) {
  static std::map<KeyType, Pki> made;
  auto it = made.find(t);
  if (it != made.end()) return it->second;
  std::string tmpl = (fs::temp_directory_path() / "mtls-hs-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  mtls::pki::init({.out = fs::path(tmpl) / "pki", .key_type = t});
  return made.emplace(t, Pki{tmpl, mtls::pki::load_manifest(fs::path(tmpl) / "pki")}).first->second;
}

class ClientCreds : public Botan::Credentials_Manager {
 public:
  ClientCreds(const mtls::pki::Manifest& m, bool mutual)
      : chain_(mutual ? mtls::pki::load_certificates(*m.credential("valid").cert)
                      : std::vector<Botan::X509_Certificate>{}),
        key_(mutual ? mtls::pki::load_private_key(*m.credential("valid").key) : nullptr) {
    for (const auto& c : mtls::pki::load_certificates(m.server_ca)) trust_.add_certificate(c);
  }
  std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(
      const std::string&, const std::string&) override {
    return {&trust_};
  }
  std::vector<Botan::X509_Certificate> cert_chain(const std::vector<std::string>& types,
                                                  const std::string& type,
                                                  const std::string&) override {
    if (type != "tls-client" || chain_.empty()) return {};
    for (const auto& t : types)
      if (t == key_->algo_name()) return chain_;
    return {};
  }
  Botan::Private_Key* private_key_for(const Botan::X509_Certificate&, const std::string&,
                                      const std::string&) override {
    return key_.get();
  }

 private:
  Botan::Certificate_Store_In_Memory trust_;
  std::vector<Botan::X509_Certificate> chain_;
  std::unique_ptr<Botan::Private_Key> key_;
};

// The agent's side: TLS 1.2, no revocation data demanded for the beacon's certificate.
struct ClientPolicy : Botan::TLS::Policy {
  bool require_cert_revocation_info() const override { return false; }
};

// Collects what one side emits; counts the server's CPU time in its own calls.
struct Pipe : Botan::TLS::Callbacks {
  std::vector<uint8_t> out;
  bool client_cert_seen = false;
  void tls_emit_data(const uint8_t d[], size_t n) override { out.insert(out.end(), d, d + n); }
  void tls_record_received(uint64_t, const uint8_t[], size_t) override {}
  void tls_alert(Botan::TLS::Alert) override {}
  bool tls_session_established(const Botan::TLS::Session& s) override {
    client_cert_seen = !s.peer_certs().empty();
    return true;
  }
};

// The server's side: the beacon's own signer pool and client chain validator
// (beacon/handshake_crypto.hpp), or Botan's defaults when `botan_default` is set; with `ossl`, the
// beacon's OpenSSL crypto (crypto: openssl) signs and verifies as in the beacon.
struct ServerPipe : Pipe {
  mtls::beacon::SignerPool* signers = nullptr;
  const mtls::beacon::ClientChainValidator* validator = nullptr;
  mtls::beacon::OpensslCrypto* ossl = nullptr;
  std::vector<uint8_t> tls_sign_message(const Botan::Private_Key& key,
                                        Botan::RandomNumberGenerator& rng, const std::string& emsa,
                                        Botan::Signature_Format format,
                                        const std::vector<uint8_t>& msg) override {
    if (ossl != nullptr)
      if (auto sig = ossl->sign(key, emsa, format == Botan::DER_SEQUENCE, msg))
        return *std::move(sig);
    if (signers == nullptr) return Pipe::tls_sign_message(key, rng, emsa, format, msg);
    return signers->sign(key, emsa, format, msg);
  }
  bool tls_verify_message(const Botan::Public_Key& key, const std::string& emsa,
                          Botan::Signature_Format format, const std::vector<uint8_t>& msg,
                          const std::vector<uint8_t>& sig) override {
    if (ossl != nullptr)
      if (const auto ok = ossl->verify(key, emsa, format == Botan::DER_SEQUENCE, msg, sig))
        return *ok;
    return Pipe::tls_verify_message(key, emsa, format, msg, sig);
  }
  void tls_verify_cert_chain(const std::vector<Botan::X509_Certificate>& chain,
                             const std::vector<std::shared_ptr<const Botan::OCSP::Response>>& ocsp,
                             const std::vector<Botan::Certificate_Store*>& trusted,
                             Botan::Usage_Type usage, const std::string& hostname,
                             const Botan::TLS::Policy& policy) override {
    if (validator == nullptr)
      return Pipe::tls_verify_cert_chain(chain, ocsp, trusted, usage, hostname, policy);
    validator->verify(chain, ocsp, usage, hostname, policy);
  }
};

struct Setup {
  KeyType type;
  bool mutual, resumed, crl;
  bool botan_default = false;  // Botan's own signing and path validation, for comparison
  bool openssl = false;        // the beacon's crypto: openssl (its default)
};

void BM_Handshake(benchmark::State& state, Setup s) {
  const Pki& p = pki_for(s.type);
  Botan::System_RNG rng;
  const mtls::beacon::ServerIdentity id(p.m.beacon("beacon-a").cert, p.m.beacon("beacon-a").key);
  auto trust = mtls::beacon::client_trust_store(
      p.m.client_ca, s.crl ? std::optional(p.m.client_crls) : std::nullopt);
  const Botan::SymmetricKey ticket_key(rng, 32);
  mtls::beacon::ConnectionCredentials server_creds(id, trust.get(), ticket_key,
                                                   [&](const std::string&) { return s.mutual; });
  const mtls::beacon::BeaconPolicy server_policy("1.2", s.crl, false);
  mtls::beacon::SignerPool signers;
  mtls::beacon::OpensslCrypto ossl;
  const mtls::beacon::ClientChainValidator validator(*trust, s.openssl ? &ossl : nullptr);
  ClientCreds client_creds(p.m, s.mutual);
  const ClientPolicy client_policy;
  Botan::TLS::Session_Manager_In_Memory server_sessions(rng), client_sessions(rng);
  double server_us = 0;
  std::size_t handshakes = 0;
  auto one = [&](bool measure) {
    Botan::TLS::Session_Manager_In_Memory fresh(rng);
    ServerPipe sp;
    Pipe cp;
    if (!s.botan_default) {
      sp.signers = &signers;
      sp.validator = &validator;
    }
    if (s.openssl) sp.ossl = &ossl;
    Botan::TLS::Server server(sp, server_sessions, server_creds, server_policy, rng);
    Botan::TLS::Client client(
        cp, s.resumed ? static_cast<Botan::TLS::Session_Manager&>(client_sessions) : fresh,
        client_creds, client_policy, rng, Botan::TLS::Server_Information("localhost", 443),
        Botan::TLS::Protocol_Version::TLS_V12);
    for (int round = 0; round < 20 && !(client.is_active() && server.is_active()); ++round) {
      if (!cp.out.empty()) {
        std::vector<uint8_t> in;
        in.swap(cp.out);
        const double t0 = process_cpu_us();
        server.received_data(in.data(), in.size());
        if (measure) server_us += process_cpu_us() - t0;
      }
      if (!sp.out.empty()) {
        std::vector<uint8_t> in;
        in.swap(sp.out);
        client.received_data(in.data(), in.size());
      }
    }
    if (!(client.is_active() && server.is_active()) || sp.client_cert_seen != s.mutual)
      throw std::runtime_error("the in-memory handshake did not complete as configured");
  };
  if (s.resumed || s.openssl) one(false);  // the session to resume; OpenSSL's keys converted
  for (auto _ : state) {
    one(true);
    ++handshakes;
  }
  state.counters["server_cpu_us"] = server_us / static_cast<double>(handshakes);
}

// The public-key operations of the server side of one TLS 1.2 ECDHE handshake, each on its own:
// sign the ServerKeyExchange (with a signer made beforehand); X25519 key generation + agreement;
// for mTLS, decode the client's key and verify its CertificateVerify; and the chain's signatures:
// decode the issuing CA's key and verify the leaf, verify the issuing CA with the root's key
// (decoded beforehand: the root is the server's own trust anchor, loaded once). The root's
// self-signature is not part of it.
// TLS 1.2 carries ECDSA signatures DER-encoded; RSA has one format.
Botan::Signature_Format format_of(KeyType t) {
  return t == KeyType::kRsa2048 ? Botan::IEEE_1363 : Botan::DER_SEQUENCE;
}

class Primitives {
 public:
  // `ossl`: the same operations as the beacon does them with crypto: openssl (X25519 stays
  // Botan's); its keys converted once, as in the beacon.
  explicit Primitives(KeyType type, bool ossl = false)
      : use_ossl_(ossl),
        p_(pki_for(type)),
        padding_(type == KeyType::kRsa2048 ? "EMSA_PKCS1(SHA-256)" : "EMSA1(SHA-256)"),
        server_key_(mtls::pki::load_private_key(p_.m.beacon("beacon-a").key)),
        signer_(*server_key_, rng_, padding_, format_of(type)),
        chain_(mtls::pki::load_certificates(*p_.m.credential("valid").cert)),
        root_key_(mtls::pki::load_certificates(p_.m.client_ca).front().load_subject_public_key()),
        msg_(100, 0x42),
        peer_(rng_) {
    auto client_key = mtls::pki::load_private_key(*p_.m.credential("valid").key);
    Botan::PK_Signer client_signer(*client_key, rng_, padding_, format_of(type));
    client_sig_ = client_signer.sign_message(msg_, rng_);
    if (use_ossl_) {  // warm the key caches, as a running beacon's are
      sign();
      certificate_verify();
      chain_signatures();
    }
  }
  void sign() {
    if (use_ossl_)
      benchmark::DoNotOptimize(ossl_.sign(*server_key_, padding_, der(), msg_));
    else
      benchmark::DoNotOptimize(signer_.sign_message(msg_, rng_));
  }
  void key_exchange() {
    Botan::Curve25519_PrivateKey eph(rng_);
    benchmark::DoNotOptimize(eph.agree(peer_.public_value().data(), peer_.public_value().size()));
  }
  // The client's key arrives with its certificate: decoding it and setting up a verifier for
  // it is part of every handshake, as for the issuing CA's key below.
  void certificate_verify() {
    if (use_ossl_) {  // Botan decodes the key from the Certificate message; OpenSSL verifies
      const auto pub = chain_.front().load_subject_public_key();
      benchmark::DoNotOptimize(ossl_.verify(*pub, padding_, der(), msg_, client_sig_));
      return;
    }
    const auto pub = chain_.front().load_subject_public_key();
    Botan::PK_Verifier verifier(*pub, padding_, der() ? Botan::DER_SEQUENCE : Botan::IEEE_1363);
    benchmark::DoNotOptimize(verifier.verify_message(msg_, client_sig_));
  }
  void chain_signatures() {
    if (use_ossl_) {
      benchmark::DoNotOptimize(
          ossl_.verify_certificate(chain_[0], chain_[1].subject_public_key_info()));
      benchmark::DoNotOptimize(ossl_.verify_certificate(chain_[1], root_spki_));
      return;
    }
    benchmark::DoNotOptimize(chain_[0].check_signature(*chain_[1].load_subject_public_key()));
    benchmark::DoNotOptimize(chain_[1].check_signature(*root_key_));
  }

 private:
  bool der() const { return padding_.starts_with("EMSA1"); }

  bool use_ossl_;
  mtls::beacon::OpensslCrypto ossl_;
  const Pki& p_;
  Botan::System_RNG rng_;
  std::string padding_;
  std::unique_ptr<Botan::Private_Key> server_key_;
  Botan::PK_Signer signer_;
  std::vector<Botan::X509_Certificate> chain_;
  std::unique_ptr<Botan::Public_Key> root_key_;
  std::vector<uint8_t> root_spki_ =
      mtls::pki::load_certificates(p_.m.client_ca).front().subject_public_key_info();
  std::vector<uint8_t> msg_, client_sig_;
  Botan::Curve25519_PrivateKey peer_;
};

// The crypto lower bound: all of a handshake's operations above, per iteration.
void BM_CryptoLowerBound(benchmark::State& state, Setup s) {
  Primitives ops(s.type, s.openssl);
  for (auto _ : state) {
    ops.sign();
    ops.key_exchange();
    if (s.mutual) {
      ops.certificate_verify();
      ops.chain_signatures();
    }
  }
}

// One operation alone, for the breakdown printed in the summary.
void BM_Primitive(benchmark::State& state, KeyType type, void (Primitives::*op)(), bool ossl) {
  Primitives ops(type, ossl);
  for (auto _ : state) (ops.*op)();
}

// Prints, after the usual table, each handshake's server CPU against the lower bound and the
// mTLS / server-only ratio, from this run's figures.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      const std::string name = r.benchmark_name();
      if (name.starts_with("BM_Handshake")) {
        auto it = r.counters.find("server_cpu_us");
        if (it != r.counters.end()) server_us_[base(name)] = it->second.value;
      } else if (name.starts_with("BM_CryptoLowerBound")) {
        bound_us_[base(name)] = r.GetAdjustedCPUTime();  // time unit: microseconds
      } else if (name.starts_with("BM_Primitive/")) {
        primitive_us_[base(name).substr(std::string("BM_Primitive/").size())] =
            r.GetAdjustedCPUTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    if (!primitive_us_.empty()) {
      std::printf("\nthe server's public-key operations (us), same run:\n");
      for (const auto& [name, us] : primitive_us_)
        std::printf("  %-34s %8.1f us\n", name.c_str(), us);
    }
    std::printf("\nserver CPU per handshake (us) vs the crypto lower bound, same run:\n");
    for (const auto& [name, us] : server_us_) {
      const std::string key = name.substr(name.find('/') + 1);
      const std::string bound_key =
          key.substr(0, key.find("/full")).substr(0, key.find("/resumed"));
      std::string lb = bound_key;
      if (auto pos = lb.find("/crl"); pos != std::string::npos) lb.erase(pos);
      if (key.ends_with("/openssl")) lb += "/openssl";  // against OpenSSL's own lower bound
      auto b = bound_us_.find("BM_CryptoLowerBound/" + lb);
      std::printf("  %-34s %8.1f us", key.c_str(), us);
      if (b != bound_us_.end() && key.find("/full") != std::string::npos)
        std::printf("   lower bound %7.1f us   ratio %.2fx", b->second, us / b->second);
      const std::string other = key.find("/mtls") != std::string::npos
                                    ? replace(key, "/mtls", "/server-only")
                                    : std::string();
      if (!other.empty() && server_us_.count("BM_Handshake/" + other))
        std::printf("   mTLS / server-only %.2fx", us / server_us_["BM_Handshake/" + other]);
      const std::string suffix = "/botan-default";
      if (name.ends_with(suffix)) {
        auto ours = server_us_.find(name.substr(0, name.size() - suffix.size()));
        if (ours != server_us_.end())
          std::printf("   beacon's / Botan's default %.2fx", ours->second / us);
      }
      std::printf("\n");
    }
  }

 private:
  // The name without the aggregate and the "/process_time" suffixes.
  static std::string base(std::string n) {
    if (const auto agg = n.find("_median"); agg != std::string::npos) n.erase(agg);
    if (const auto pt = n.find("/process_time"); pt != std::string::npos) n.erase(pt);
    return n;
  }
  static std::string replace(std::string s, const std::string& from, const std::string& to) {
    s.replace(s.find(from), from.size(), to);
    return s;
  }
  std::map<std::string, double> server_us_, bound_us_, primitive_us_;
};

// Every figure is process CPU time in microseconds (see process_cpu_us).
void in_process_us(benchmark::internal::Benchmark* b) {
  b->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
}

void register_all() {
  for (auto [t, tname] :
       {std::pair{KeyType::kEcdsaP256, "p256"}, std::pair{KeyType::kRsa2048, "rsa2048"}}) {
    for (bool mutual : {false, true}) {
      const std::string mode = mutual ? "mtls" : "server-only";
      in_process_us(benchmark::RegisterBenchmark(
          ("BM_CryptoLowerBound/" + std::string(tname) + "/" + mode).c_str(), BM_CryptoLowerBound,
          Setup{t, mutual, false, false}));
      in_process_us(benchmark::RegisterBenchmark(
          ("BM_CryptoLowerBound/" + std::string(tname) + "/" + mode + "/openssl").c_str(),
          BM_CryptoLowerBound, Setup{t, mutual, false, false, false, true}));
      if (!mutual) {
        for (auto [op, oname] :
             {std::pair{&Primitives::sign, "sign"}, std::pair{&Primitives::key_exchange, "x25519"},
              std::pair{&Primitives::certificate_verify, "certificate-verify"},
              std::pair{&Primitives::chain_signatures, "chain-signatures"}})
          for (bool ossl : {false, true})
            in_process_us(benchmark::RegisterBenchmark(
                ("BM_Primitive/" + std::string(tname) + "/" + oname + (ossl ? "/openssl" : ""))
                    .c_str(),
                BM_Primitive, t, op, ossl));
      }
      for (bool resumed : {false, true})
        for (bool crl : mutual ? std::vector<bool>{false, true} : std::vector<bool>{false}) {
          const std::string n = "BM_Handshake/" + std::string(tname) + "/" + mode +
                                (crl ? "/crl" : "") + (resumed ? "/resumed" : "/full");
          in_process_us(benchmark::RegisterBenchmark(n.c_str(), BM_Handshake,
                                                     Setup{t, mutual, resumed, crl}));
          if (!resumed && !crl) {  // Botan's default signing and validation; the beacon on OpenSSL
            in_process_us(benchmark::RegisterBenchmark((n + "/botan-default").c_str(), BM_Handshake,
                                                       Setup{t, mutual, false, false, true}));
            in_process_us(
                benchmark::RegisterBenchmark((n + "/openssl").c_str(), BM_Handshake,
                                             Setup{t, mutual, false, false, false, true}));
          }
        }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
