// run_meta.cpp: see run_meta.hpp.
#include "engine/run_meta.hpp"

#include <botan/pkix_types.h>
#include <pwd.h>
#include <unistd.h>

#include <chrono>

#include "core/files.hpp"
#include "core/home.hpp"
#include "core/process.hpp"
#include "core/timefmt.hpp"
#include "pki/pem.hpp"

namespace mtls::engine {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The commit of the scenarios and fixtures in use (the project home), or null outside a checkout.
json git_commit() {
  try {
    ChildProcess git({"/usr/bin/git", "-C", harness_home().string(), "rev-parse", "HEAD"},
                     "/dev/null");
    bool timed_out = false;
    auto line = git.read_line(std::chrono::seconds(5), &timed_out);
    if (git.stop() == "exit 0" && line && line->size() == 40) return *line;
  } catch (const std::exception&) {
  }
  return nullptr;
}

// Who ran the run, for the report's cover: the login name (not a secret), else the uid.
std::string run_by() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) return pw->pw_name;
  return "uid " + std::to_string(::geteuid());
}

}  // namespace

std::string utc_now() {
  return format_utc(std::chrono::system_clock::now());
}

json certificates_summary(const fs::path& pem) {
  json out = json::array();
  try {
    for (const auto& c : pki::load_certificates(pem))
      out.push_back({{"sha256_fingerprint", pki::fingerprint_sha256(c)},
                     {"subject", c.subject_dn().to_string()},
                     {"issuer", c.issuer_dn().to_string()},
                     {"not_after", c.not_after().readable_string()}});
  } catch (const std::exception&) {
  }
  return out;
}

json run_meta(const RunOptions& o, const Prepared& prep, const pki::Manifest& manifest) {
  json meta = {{"tool", "mtls-harness"},
               {"version", harness_version()},
               {"started", utc_now()},
               {"jobs", o.jobs},
               {"scenarios", json::array()},
               {"pki",
                {{"key_type", manifest.key_type},
                 {"trust_model", manifest.trust_model},
                 {"client_ca_sha256", sha256_file_hex(manifest.client_ca)},
                 {"server_ca_sha256", sha256_file_hex(manifest.server_ca)},
                 {"client_ca_certificates", certificates_summary(manifest.client_ca)},
                 {"server_ca_certificates", certificates_summary(manifest.server_ca)}}},
               {"beacons", json::array()}};
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  meta["host"] = host;
  meta["run_by"] = run_by();
  meta["vantage"] = o.vantage.empty() ? json(nullptr) : json(o.vantage);
  meta["source_address"] = o.source_address.empty() ? json(nullptr) : json(o.source_address);
  meta["shard"] = {{"index", o.shard_index}, {"count", o.shard_count}};
  meta["git_commit"] = git_commit();
  if (!prep.survey.is_null()) meta["tls_survey"] = prep.survey;
  return meta;
}

json scenario_meta(const Scenario& sc, const RunPki& pk) {
  return {{"id", sc.id},
          {"file", sc.file.string()},
          {"sha256", sha256_file_hex(sc.file)},
          {"description", sc.description},
          {"policy",
           {{"client_certificate", "required"},
            {"revocation", sc.revocation},
            {"trust_model", sc.trust_model},
            {"control_credential", sc.control_credential}}},
          // declares deliberate misconfigurations it must catch
          {"self_test", sc.expected_findings.has_value() && !sc.expected_findings->empty()},
          {"client_trust_certificates", certificates_summary(pk.manifest.client_ca)}};
}

}  // namespace mtls::engine
