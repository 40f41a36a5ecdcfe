// audit.cpp: see audit.hpp. Reading the fleet (inventory, on every core), deciding each distinct
// certificate once (validate.*), and the fleet figures. The renderers are in report.cpp.
#include "audit/audit.hpp"

#include <botan/data_src.h>
#include <botan/hex.h>
#include <botan/pkix_types.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "audit/access_log.hpp"
#include "audit/validate.hpp"
#include "core/files.hpp"
#include "core/free_with.hpp"
#include "core/home.hpp"
#include "core/timefmt.hpp"
#include "pki/pem.hpp"

namespace mtls::audit {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::system_clock;

namespace {

// One device certificate as found: where, and the chain its file ships with it.
struct Device {
  std::string source;  // file, or file#n in a bundle
  Botan::X509_Certificate cert;
  std::vector<Botan::X509_Certificate> chain;
  std::string fingerprint;  // SHA-256 of the DER, hex
};

std::string fingerprint(const Botan::X509_Certificate& c) {
  return pki::fingerprint_sha256(c);
}

// Every certificate of `data`: PEM blocks (one or a bundle), else one DER certificate; none when
// the file holds no certificate (a key, a note).
std::vector<Botan::X509_Certificate> certificates_in(const std::string& data) {
  std::vector<Botan::X509_Certificate> out;
  const std::string begin = "-----BEGIN CERTIFICATE-----", end = "-----END CERTIFICATE-----";
  for (std::size_t pos = data.find(begin); pos != std::string::npos; pos = data.find(begin, pos)) {
    const std::size_t stop = data.find(end, pos);
    if (stop == std::string::npos) break;
    Botan::DataSource_Memory src(data.substr(pos, stop + end.size() - pos));
    out.emplace_back(src);
    pos = stop + end.size();
  }
  if (!out.empty() || data.find("-----BEGIN") != std::string::npos) return out;
  try {
    Botan::DataSource_Memory src(data);
    out.emplace_back(src);
  } catch (const std::exception&) {
  }
  return out;
}

// A PKCS#12 file's certificates (OpenSSL opens it; the key is dropped at once).
std::vector<Botan::X509_Certificate> pkcs12_certificates(const fs::path& file,
                                                         const std::string& data,
                                                         const AuditOptions& o) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  PKCS12* p12 = d2i_PKCS12(nullptr, &p, static_cast<long>(data.size()));
  ERR_clear_error();
  if (p12 == nullptr) return {};
  if (!o.p12_password) {
    PKCS12_free(p12);
    throw InputError(
        file.string() +
        ": PKCS#12 needs a password (--p12-password-env VAR or --p12-password-file F)");
  }
  EVP_PKEY* key = nullptr;
  X509* leaf = nullptr;
  STACK_OF(X509)* ca = nullptr;
  const int ok = PKCS12_parse(p12, o.p12_password->c_str(), &key, &leaf, &ca);
  PKCS12_free(p12);
  EVP_PKEY_free(key);  // the audit looks at certificates only
  ERR_clear_error();
  if (ok != 1) throw InputError(file.string() + ": the PKCS#12 does not open with that password");
  std::vector<std::unique_ptr<X509, FreeWith<X509_free>>> all;
  if (leaf) all.emplace_back(leaf);
  for (int i = 0; ca && i < sk_X509_num(ca); ++i) all.emplace_back(sk_X509_value(ca, i));
  sk_X509_free(ca);
  std::vector<Botan::X509_Certificate> out;
  for (const auto& x : all) {
    unsigned char* der = nullptr;
    const int n = i2d_X509(x.get(), &der);
    if (n > 0) out.emplace_back(std::vector<uint8_t>(der, der + n));
    OPENSSL_free(der);
  }
  return out;
}

std::vector<Botan::X509_Certificate> read_certificates(const fs::path& file,
                                                       const AuditOptions& o) {
  const std::string data = read_file(file);
  auto certs = certificates_in(data);
  if (certs.empty() && data.find("-----BEGIN") == std::string::npos)
    certs = pkcs12_certificates(file, data, o);
  return certs;
}

std::vector<fs::path> files_of(const AuditOptions& o, std::vector<std::string>& given_files) {
  std::vector<fs::path> out;
  for (const auto& p : o.paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> found;
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::end(it);
           it.increment(ec))
        if (it->is_regular_file(ec)) found.push_back(it->path());
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec)) {
      out.push_back(p);
      given_files.push_back(p.string());
    } else {
      throw InputError(p.string() + ": no such file or folder");
    }
  }
  return out;
}

// Runs work(i) for i in [0, n) on `threads` threads.
void parallel(std::size_t n, unsigned threads, const std::function<void(std::size_t)>& work) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (std::size_t i; (i = next++) < n;) work(i);
    });
  for (auto& t : pool) t.join();
}

// Every device of the fleet, read on every core. A file named on the command line must hold a
// certificate; files in folders without one (keys, notes) are counted as skipped.
std::vector<Device> inventory(const AuditOptions& o, unsigned threads, json& skipped) {
  std::vector<std::string> given;
  const auto files = files_of(o, given);
  std::vector<std::vector<Device>> per_file(files.size());
  std::vector<std::string> errors(files.size());
  parallel(files.size(), threads, [&](std::size_t i) {
    try {
      const auto certs = read_certificates(files[i], o);
      std::vector<Botan::X509_Certificate> chain, leaves;
      for (const auto& c : certs) (c.is_CA_cert() ? chain : leaves).push_back(c);
      for (std::size_t k = 0; k < leaves.size(); ++k)
        per_file[i].push_back(
            {files[i].string() + (leaves.size() > 1 ? "#" + std::to_string(k + 1) : ""), leaves[k],
             chain, fingerprint(leaves[k])});
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  });
  std::vector<Device> out;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (!errors[i].empty()) throw InputError(errors[i]);
    if (per_file[i].empty()) {
      if (std::find(given.begin(), given.end(), files[i].string()) != given.end())
        throw InputError(files[i].string() +
                         ": no device certificate in this file (PEM, DER or PKCS#12)");
      skipped.push_back(files[i].string());
    }
    for (auto& d : per_file[i]) out.push_back(std::move(d));
  }
  return out;
}

Validator trust_of(const AuditOptions& o) {
  std::vector<Botan::X509_Certificate> anchors = certificates_in(read_file(o.ca));
  if (anchors.empty())
    throw InputError(o.ca.string() + ": no certificate (PEM or DER) in this file");
  std::vector<Botan::X509_CRL> crls;
  for (const auto& f : o.crls)
    for (auto& c : pki::load_crls(f)) crls.push_back(std::move(c));
  return Validator(std::move(anchors), std::move(crls));
}

json describe(const Device& d, const AuditOptions& o) {
  const auto not_after = d.cert.not_after().to_std_timepoint();
  const auto days = std::chrono::duration_cast<std::chrono::hours>(not_after - o.now).count() / 24;
  return {{"subject", d.cert.subject_dn().to_string()},
          {"issuer", d.cert.issuer_dn().to_string()},
          {"serial", Botan::hex_encode(d.cert.serial_number())},
          {"sha256", d.fingerprint},
          {"not_before", format_utc(d.cert.not_before().to_std_timepoint())},
          {"not_after", format_utc(not_after)},
          {"days_left", days}};
}

}  // namespace

json run_audit(const AuditOptions& o) {
  const unsigned threads =
      o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  if (o.paths.empty() && o.access_logs.empty())
    throw InputError("give device certificates (PATH...) and/or --access-log FILE");
  if (!o.paths.empty() && o.ca.empty())
    throw InputError("--ca is required to judge device certificates (the beacons' client trust)");
  json logs = nullptr;
  if (!o.access_logs.empty()) logs = access_log_audit(o.access_logs, o.log_format);
  const Validator validator = o.paths.empty() ? Validator({}, {}) : trust_of(o);
  json skipped = json::array();
  const auto started = std::chrono::steady_clock::now();
  const std::vector<Device> devices =
      o.paths.empty() ? std::vector<Device>{} : inventory(o, threads, skipped);
  if (!o.paths.empty() && devices.empty())
    throw InputError("no device certificate in the given paths (PEM, DER or PKCS#12 files)");
  // Each distinct certificate (with the chain its file ships) is decided once.
  std::map<std::string, std::size_t> first_of;
  std::vector<std::size_t> distinct, decision_of(devices.size());  // device -> its decision
  for (std::size_t i = 0; i < devices.size(); ++i) {
    std::string key = devices[i].fingerprint;
    for (const auto& c : devices[i].chain) key += "|" + fingerprint(c);
    const auto [it, added] = first_of.emplace(key, distinct.size());
    if (added) distinct.push_back(i);
    decision_of[i] = it->second;
  }
  const double inventory_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::vector<json> decided(distinct.size());
  parallel(distinct.size(), threads, [&](std::size_t k) {
    const Device& d = devices[distinct[k]];
    json r = describe(d, o);
    r["reasons_now"] = validator.reasons(d.cert, d.chain, o.now);
    if (o.at) r["reasons_at"] = validator.reasons(d.cert, d.chain, *o.at);
    decided[k] = std::move(r);
  });
  const double decided_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::map<std::string, int> copies;
  for (const auto& d : devices) ++copies[d.fingerprint];

  json entries = json::array();
  std::map<std::string, int> by_reason, by_issuer, by_month;
  int accepted_now = 0, locked_now = 0, locked_at = 0, expiring = 0;
  json locked_out = json::array();
  for (std::size_t i = 0; i < devices.size(); ++i) {
    json e = decided[decision_of[i]];
    e["device"] = devices[i].source;
    e["copies"] = copies[devices[i].fingerprint];
    e["accepted_now"] = e["reasons_now"].empty();
    if (o.at) e["accepted_at"] = e["reasons_at"].empty();
    accepted_now += e["accepted_now"].get<bool>();
    const bool locked = !e["accepted_now"].get<bool>() || (o.at && !e["accepted_at"].get<bool>());
    locked_now += !e["accepted_now"].get<bool>();
    locked_at += o.at && !e["accepted_at"].get<bool>();
    if (locked) locked_out.push_back(devices[i].source);
    for (const auto& r : e["reasons_now"]) ++by_reason[r["property"].get<std::string>()];
    ++by_issuer[e["issuer"].get<std::string>()];
    ++by_month[e["not_after"].get<std::string>().substr(0, 7)];
    expiring +=
        e["accepted_now"].get<bool>() && e["days_left"].get<long long>() < o.expiry_warning_days;
    entries.push_back(std::move(e));
  }
  json duplicates = json::array();
  for (const auto& copy : copies) {
    const std::string& fp = copy.first;  // (clang 14 cannot capture a structured binding)
    const int n = copy.second;
    if (n < 2) continue;
    const auto it = std::find_if(entries.begin(), entries.end(),
                                 [&fp](const json& e) { return e["sha256"] == fp; });
    duplicates.push_back(
        {{"sha256", fp},
         {"devices", n},
         {"subject", (*it)["subject"]},
         {"not_after", (*it)["not_after"]},
         {"note", "one certificate on " + std::to_string(n) +
                      " devices: all of them lose access together on " +
                      (*it)["not_after"].get<std::string>() + " unless it is replaced before"}});
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  json meta = {{"tool", "mtls-harness audit"},
               {"version", harness_version()},
               {"now", format_utc(o.now)},
               {"at", o.at ? json(format_utc(*o.at)) : json(nullptr)},
               {"ca", o.ca.string()},
               {"ca_sha256", o.ca.empty() ? json(nullptr) : json(sha256_file_hex(o.ca))},
               {"crls", json::array()},
               {"expiry_warning_days", o.expiry_warning_days},
               {"threads", threads},
               {"seconds", seconds},
               {"seconds_reading", inventory_s},
               {"seconds_deciding", decided_s - inventory_s},
               {"skipped_files", skipped}};
  for (const auto& c : o.crls) meta["crls"].push_back(c.string());
  json summary = {{"devices", devices.size()},
                  {"distinct_certificates", distinct.size()},
                  {"accepted_now", accepted_now},
                  {"locked_out_now", locked_now},
                  {"locked_out_at", o.at ? json(locked_at) : json(nullptr)},
                  {"expiring_within_warning", expiring},
                  {"by_reason", by_reason},
                  {"by_issuer", by_issuer},
                  {"by_expiry_month", by_month},
                  {"duplicates", duplicates},
                  {"locked_out", locked_out}};
  json doc = {{"audit_format", 1}, {"metadata", meta}, {"summary", summary}, {"devices", entries}};
  if (!logs.is_null()) {
    doc["access_logs"] = logs;
    doc["summary"]["clients_without_a_valid_certificate"] =
        logs["clients_without_a_valid_certificate"].size();
  }
  doc["summary"]["exit_code"] = exit_code(doc);
  return doc;
}

int exit_code(const json& doc) {
  const bool clients = doc.contains("access_logs") &&
                       !doc["access_logs"]["clients_without_a_valid_certificate"].empty();
  return doc["summary"]["locked_out"].empty() && !clients ? 0 : 1;
}

}  // namespace mtls::audit
