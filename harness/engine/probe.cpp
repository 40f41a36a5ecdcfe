// probe.cpp: see probe.hpp.
#include "engine/probe.hpp"

#include <curl/curl.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <ostream>
#include <regex>
#include <set>
#include <thread>

#include "agent/tls_survey.hpp"
#include "agent/transfer.hpp"
#include "agent/url.hpp"
#include "core/files.hpp"
#include "core/timefmt.hpp"
#include "engine/prepared.hpp"
#include "pki/forge.hpp"
#include "pki/p12.hpp"

namespace mtls::engine {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::vector<std::string> kNegatives = {"none", "self-signed", "untrusted-ca"};

std::string slug(const std::string& path) {
  std::string out;
  for (char c : path) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_';
    if (keep)
      out += c;
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "root" : out;
}

std::string scenario_yaml(const Scenario& sc, const ProbeOptions& p) {
  YAML::Emitter y;
  y << YAML::Comment(
      "what `mtls-harness probe` ran (generated; the credential files are not named)");
  y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << sc.name;
  y << YAML::Key << "beacons" << YAML::Value << YAML::BeginSeq;
  for (const auto& b : sc.beacons) {
    y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << b.name << YAML::Key << "url"
      << YAML::Value << *b.url;
    if (b.open_server_name)
      y << YAML::Key << "open_server_name" << YAML::Value << *b.open_server_name;
    if (b.resume_from) y << YAML::Key << "resume_from" << YAML::Value << *b.resume_from;
    if (!b.tls_names.empty())
      y << YAML::Key << "tls_names" << YAML::Value << YAML::Flow << b.tls_names;
    if (b.address) y << YAML::Key << "address" << YAML::Value << *b.address;
    if (b.plain_http_url) y << YAML::Key << "plain_http_url" << YAML::Value << *b.plain_http_url;
    y << YAML::EndMap;
  }
  y << YAML::EndSeq;
  y << YAML::Key << "credentials" << YAML::Value << YAML::Flow << sc.credentials;
  y << YAML::Key << "operations" << YAML::Value << YAML::Flow << sc.operations;
  y << YAML::Key << "paths" << YAML::Value << YAML::Flow << p.paths;
  y << YAML::Key << "allow_writes" << YAML::Value << p.allow_writes;
  y << YAML::Key << "entry_paths" << YAML::Value << YAML::Flow << sc.entry_paths;
  y << YAML::Key << "rate_per_second" << YAML::Value << p.rate;
  y << YAML::EndMap;
  return std::string(y.c_str()) + "\n";
}

}  // namespace

std::vector<std::string> read_target_list(const fs::path& file) {
  std::vector<std::string> out;
  std::istringstream in(read_file(file));
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    line.erase(0, line.find_first_not_of(" \t\r"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (line.empty() || line.starts_with("#")) continue;
    const auto u = agent::parse_url(line);
    if (!u || u->scheme != "https")
      throw InputError(file.string() + ":" + std::to_string(n) + ": '" + line +
                       "' is not an https:// beacon URL");
    out.push_back(line);
  }
  if (out.empty()) throw InputError(file.string() + ": no beacon URL in this list");
  return out;
}

// One handshake without a certificate per target, before any check: the names its certificate
// holds (tried by the `sni` door), its address (the `no-sni` door) and what it asks of clients.
namespace {

// A private temporary folder for the forged credentials (keys 0600), removed with it. In a dry
// run nothing is written: the credentials are only named.
class ForgedFolder {
 public:
  explicit ForgedFolder(bool dry_run) : dry_run_(dry_run) {
    if (dry_run) return;
    std::string tmpl = (fs::temp_directory_path() / "mtls-probe-forged-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw HarnessError("cannot make a temporary folder in " + fs::temp_directory_path().string());
    dir_ = tmpl;
  }
  ForgedFolder(const ForgedFolder&) = delete;
  ForgedFolder& operator=(const ForgedFolder&) = delete;
  ~ForgedFolder() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::vector<pki::ForgedCredential> make(const agent::ClientCredential& device) const {
    if (dry_run_)
      return {
          {"forged-issuer", "a look-alike of the device certificate (its issuer's name)", {}, {}},
          {"forged-serial", "a look-alike of the device certificate (names and serial)", {}, {}}};
    try {
      const Botan::X509_Certificate leaf =
          device.cert ? pki::first_certificate(*device.cert)
                      : pki::open_pkcs12(*device.p12, device.p12_password).chain.at(0);
      return pki::forge_identity(leaf, dir_);
    } catch (const std::exception&) {
      return {};  // an unreadable credential: the control check says so (CLIENT_CREDENTIAL_ERROR)
    }
  }

 private:
  bool dry_run_;
  fs::path dir_;
};

// A client CA list (the CertificateRequest's) naming public roots, or CAs the distributed
// certificate's chain does not need: every certificate those CAs issue may get in. A WARN finding
// per beacon, with the names.
nlohmann::json ca_list_findings(const json& surveys, const std::string& scenario,
                                const agent::ClientCredential& device) {
  json out = json::array();
  if (!surveys.is_array() || !device.cert) return out;
  const auto needed = agent::issuer_names(*device.cert);
  if (needed.empty()) return out;
  const auto roots = agent::public_root_names();
  auto has = [](const std::vector<std::string>& v, const std::string& n) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  for (const auto& s : surveys) {
    std::vector<std::string> public_cas, unneeded;
    for (const auto& n : s["acceptable_client_cas"]) {
      const std::string name = n.get<std::string>();
      if (has(roots, name))
        public_cas.push_back(name);
      else if (!has(needed, name))
        unneeded.push_back(name);
    }
    if (public_cas.empty() && unneeded.empty()) continue;
    const std::string beacon = s["beacon"];
    std::vector<std::string> names = public_cas;
    names.insert(names.end(), unneeded.begin(), unneeded.end());
    out.push_back(
        {{"severity", "WARN"},
         {"kind", "client-ca-list"},
         {"scenario", scenario},
         {"beacon", beacon},
         {"credential", "valid"},
         {"entry_path", "https"},
         {"operations", json::array()},
         {"check_ids", json::array()},
         {"title", beacon + " asks for client certificates from " + std::to_string(names.size()) +
                       " CA(s) the distributed certificate does not need (" +
                       std::to_string(public_cas.size()) +
                       " of them public roots): any client certificate from these CAs may get in"},
         {"ca_names", names},
         {"public_roots", public_cas},
         {"remediation",
          "trust only the CA that issues the distributed certificate for client "
          "authentication on " +
              beacon +
              " (nginx ssl_client_certificate, Apache SSLCACertificateFile, HAProxy "
              "ca-file), never a system bundle"},
         {"advisories", {"CWE-295 (improper certificate validation)"}},
         {"expected", false}});
  }
  return out;
}

// A folder the device may list (a directory listing): the first file it links to, so that the
// checks have content to compare instead of a folder the device itself gets 403/404 for. One GET
// with the distributed credential; nothing when the beacon serves no listing.
std::optional<std::string> file_from_listing(const std::string& target, const std::string& folder,
                                             const ProbeOptions& p, const std::string& source,
                                             int depth = 2) {
  agent::AgentOptions o;
  o.trust = p.trust;
  o.credential = p.credential;
  o.resolve = p.resolve;
  o.source_address = source;
  const agent::RequestSpec spec{.method = "GET", .path_template = folder};
  std::string base = target;
  while (base.ends_with("/")) base.pop_back();
  const auto timeout = std::chrono::milliseconds(static_cast<long>(p.timeout_s * 1000));
  agent::Transfer t(o, spec, base + folder, "", std::nullopt, timeout);
  const agent::RequestResult r = t.finish(curl_easy_perform(t.handle()));
  if (r.classification.outcome != Outcome::kAccepted) return std::nullopt;
  static const std::regex href(R"(href\s*=\s*["']([^"'#?]+)["'])", std::regex::icase);
  std::optional<std::string> subfolder;
  for (std::sregex_iterator it(r.body.begin(), r.body.end(), href), end; it != end; ++it) {
    std::string link = (*it)[1].str();
    if (link.starts_with(folder)) link = link.substr(folder.size());
    if (link.empty() || link.starts_with("/") || link.starts_with(".") ||
        link.find("://") != std::string::npos ||
        link.find_first_of(" \t\r\n\\") != std::string::npos)
      continue;
    if (!link.ends_with("/")) return folder + link;
    if (!subfolder) subfolder = folder + link;
  }
  // Only folders here: one level down (the listing of the first one).
  if (subfolder && depth > 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(1000.0 / p.rate)));
    return file_from_listing(target, *subfolder, p, source, depth - 1);
  }
  return std::nullopt;
}

void survey(BeaconSpec& b, Prepared& prep, const std::vector<std::string>& resolve,
            const std::string& source) {
  const agent::TlsSurvey t = agent::survey_tls(*b.url, resolve, source, std::chrono::seconds(10));
  for (const auto& n : t.certificate_names) b.tls_names.push_back(n);
  if (!t.address.empty()) b.address = t.address;
  if (prep.survey.is_null()) prep.survey = json::array();
  prep.survey.push_back({{"beacon", b.name},
                         {"url", *b.url},
                         {"connected", t.connected},
                         {"handshake_completed", t.handshake_completed},
                         {"error", t.error.empty() ? json(nullptr) : json(t.error)},
                         {"address", t.address.empty() ? json(nullptr) : json(t.address)},
                         {"tls_version", t.tls_version ? json(*t.tls_version) : json(nullptr)},
                         {"certificate_names", t.certificate_names},
                         {"client_certificate_requested", t.client_certificate_requested},
                         {"client_auth", t.client_auth},
                         {"acceptable_client_cas", t.acceptable_client_cas},
                         {"certificate_sha256", t.certificate_sha256},
                         {"certificate_subject", t.certificate_subject},
                         {"certificate_issuer", t.certificate_issuer}});
}

// Every probe option checked before anything is sent: one-line errors naming the flag.
void validate(const ProbeOptions& p) {
  if (p.targets.empty())
    throw InputError("probe: give the beacons to probe (--target URL, or --targets FILE)");
  std::set<std::string> names;
  for (const auto& t : p.targets) {
    const auto u = agent::parse_url(t);
    if (!u || u->scheme != "https")
      throw InputError("--target " + t +
                       ": not an https:// URL (plain HTTP is tried as a side door of each "
                       "https target)");
    if (!names.insert(u->authority()).second)
      throw InputError("--target " + t + ": " + u->authority() + " is listed twice");
  }
  if (!(p.rate > 0.0 && p.rate <= 100.0))
    throw InputError("--rate " + std::to_string(p.rate) +
                     ": must be above 0 and at most 100 per second");
  for (const auto& path : p.paths)
    if (!path.starts_with("/") || path.find_first_of(" \t\r\n") != std::string::npos)
      throw InputError("--path " + path + ": must be a URL path starting with '/'");
  if (p.allow_writes && (!p.upload_path.starts_with("/") ||
                         p.upload_path.find_first_of(" \t\r\n") != std::string::npos))
    throw InputError("--upload-path " + p.upload_path + ": must be a URL path starting with '/'");
  if (!(p.timeout_s >= 1.0 && p.timeout_s <= 600.0))
    throw InputError("--timeout " + std::to_string(p.timeout_s) + ": must be 1..600 seconds");
  if (p.plain_http_port < 1 || p.plain_http_port > 65535)
    throw InputError("--plain-http-port " + std::to_string(p.plain_http_port) +
                     ": must be 1..65535");
  if (!p.resume_from.empty()) {
    const auto u = agent::parse_url(p.resume_from);
    if (!u || u->scheme != "https")
      throw InputError("--resume-from " + p.resume_from + ": not an https:// URL");
  }
  for (const auto& entry : p.resolve)
    if (const std::string why = agent::resolve_entry_problem(entry); !why.empty())
      throw InputError("--resolve " + entry + ": " + why);
  for (const auto& name : p.open_names)
    if (name.empty() || name.find_first_of(" \t\r\n/:@") != std::string::npos)
      throw InputError("--open-name '" + name + "': not a DNS name");
  agent::AgentOptions check;
  check.trust = p.trust;
  check.credential = p.credential;
  std::vector<agent::BeaconChoice> choices;
  for (const auto& t : p.targets) choices.push_back({t, 1});
  agent::validate(check, choices);  // CA, credential files: one-line errors naming them
  if (!p.credential.cert && !p.credential.p12)
    throw InputError(
        "probe: give the distributed client credential (--cert/--key or --p12): it is "
        "the positive control every refusal is judged against");
}

// Look-alikes of the distributed certificate (its names, not its signature) as credentials no
// beacon may accept.
void add_forged(Prepared& prep, Scenario& sc, const ForgedFolder& forged, const ProbeOptions& p) {
  for (const auto& f : forged.make(p.credential)) {
    pki::Credential c;
    c.name = f.name;
    c.cert = f.cert;
    c.key = f.key;
    c.defect = pki::defect::kForgedIdentity;
    c.description = f.description;
    c.expected = {{"require", Expectation::kRejected}, {"require_crl", Expectation::kRejected}};
    prep.extra_credentials[f.name] = c;
    agent::ClientCredential ac;
    ac.name = f.name;
    ac.cert = f.cert;
    ac.key = f.key;
    if (!p.dry_run) agent::preload(ac);
    prep.credentials[f.name] = ac;
    sc.credentials.push_back(f.name);
  }
}

// The dry run: what the probe would send, check by check, and nothing sent.
void print_dry_run(std::ostream& plan_out, const nlohmann::json& plan, const Scenario& sc,
                   const ProbeOptions& p) {
  std::size_t run = 0;
  for (const auto& c : plan) run += c["skipped"].is_null();
  plan_out << "probe plan (dry run: nothing is sent): " << p.targets.size() << " beacon(s), "
           << sc.operations.size() << " operation(s), " << plan.size() << " checks ("
           << plan.size() - run << " skipped), about " << run << " request(s) at most " << p.rate
           << "/s (about " << static_cast<long>(std::ceil(run / p.rate)) << " s)"
           << (p.allow_writes ? "; uploads ALLOWED: " + p.upload_path
                              : "; GET only (no upload without --allow-writes)")
           << "\n";
  for (const auto& t : p.targets) {
    const auto u = agent::parse_url(t);
    plan_out << "  beacon " << u->authority() << ": front door " << t << ", plain-http http://"
             << agent::Url{"http", u->host, p.plain_http_port, ""}.authority()
             << ", other TLS names: no SNI, the names in its certificate (read when the probe "
                "runs), "
             << kUnknownTlsName;
    for (const auto& n : p.open_names) plan_out << ", " << n;
    plan_out << ", resume from "
             << (p.resume_from.empty() ? "(none given: --resume-from)" : p.resume_from) << "\n";
  }
  for (const auto& c : plan)
    plan_out << "  " << c["check_id"].get<std::string>() << "  expect "
             << c["expected"].get<std::string>()
             << (c["skipped"].is_null() ? "" : "  SKIPPED: " + c["skipped"].get<std::string>())
             << "\n";
}

// The probe's operations: a GET of each --path (and of a file a listed folder offers the device),
// and with --allow-writes a tiny test upload. Returns the GET operations' ids.
std::vector<std::string> add_operations(Prepared& prep, Scenario& sc, const RunOptions& o,
                                        const ProbeOptions& p, std::ostream& plan_out,
                                        std::chrono::milliseconds pace,
                                        std::chrono::steady_clock::time_point& next_connection) {
  std::vector<std::string> paths = p.paths;
  if (!p.dry_run)
    for (const auto& folder : p.paths) {
      if (!folder.ends_with("/")) continue;
      std::this_thread::sleep_until(next_connection);
      const auto file = file_from_listing(p.targets.front(), folder, p, o.source_address);
      next_connection = std::chrono::steady_clock::now() + pace;
      if (file && std::find(paths.begin(), paths.end(), *file) == paths.end()) {
        plan_out << "probe: " << folder << " lists files for the device: " << *file
                 << " is probed too\n";
        paths.push_back(*file);
      }
    }
  std::vector<std::string> gets;
  for (const auto& path : paths) {
    std::string id = "get-" + slug(path);
    while (std::find(gets.begin(), gets.end(), id) != gets.end()) id += "-";
    prep.catalogue.add({.id = id,
                        .description = "GET " + path,
                        .requests = {{.method = "GET", .path_template = path, .format = "any"}}});
    gets.push_back(id);
  }
  sc.operations = gets;
  if (p.allow_writes) {
    prep.catalogue.add(
        {.id = "upload-test",
         .description = "PUT a tiny test file at " + p.upload_path,
         .requests = {{.method = "PUT",
                       .path_template = p.upload_path,
                       .payload = "mtls-harness probe: a test upload, safe to delete (" +
                                  format_utc(std::chrono::system_clock::now()) +
                                  ", check {check})\n"}}});
    sc.operations.push_back("upload-test");
  }
  return gets;
}

}  // namespace

RunResult probe(const RunOptions& o, const ProbeOptions& p, std::ostream& plan_out) {
  validate(p);
  Prepared prep;  // the built-in catalogue and entry paths
  prep.trust = p.trust;
  prep.resolve = p.resolve;
  prep.source_address = o.source_address;
  prep.vantage = o.vantage;
  prep.timeout = std::chrono::milliseconds(static_cast<long>(p.timeout_s * 1000));
  // The plain-HTTP door of a name given by --resolve resolves the same way.
  for (const auto& t : p.targets) {
    const auto u = agent::parse_url(t);
    if (const auto addr = agent::resolved_address(p.resolve, u->host, u->port);
        addr && !agent::resolved_address(p.resolve, u->host, p.plain_http_port))
      prep.resolve.push_back(u->host + ":" + std::to_string(p.plain_http_port) + ":" + *addr);
  }
  Scenario sc;
  sc.name = "probe";
  sc.id = "probe/" + std::to_string(p.targets.size()) + "-beacons";
  sc.control_credential = "valid";
  sc.credentials = {"valid"};
  sc.credentials.insert(sc.credentials.end(), kNegatives.begin(), kNegatives.end());
  sc.entry_paths = agent::entry_path_names();
  sc.side_door_credentials = {"none"};
  // The surveys and the listing look-ups are connections too: they keep to the rate, and so does
  // the first check after them.
  const auto pace = std::chrono::milliseconds(static_cast<long>(std::ceil(1000.0 / p.rate)));
  auto next_connection = std::chrono::steady_clock::now();
  const std::vector<std::string> gets =
      add_operations(prep, sc, o, p, plan_out, pace, next_connection);
  for (const auto& t : p.targets) {
    BeaconSpec b;
    b.name = agent::parse_url(t)->authority();
    b.url = t;
    if (!p.open_names.empty()) b.open_server_name = p.open_names.front();
    b.tls_names = p.open_names;
    if (!p.dry_run) {
      std::this_thread::sleep_until(next_connection);
      survey(b, prep, p.resolve, o.source_address);
      next_connection = std::chrono::steady_clock::now() + pace;
    }
    if (!p.resume_from.empty()) b.resume_from = p.resume_from;
    b.plain_http_url =
        "http://" +
        agent::Url{"http", agent::parse_url(t)->host, p.plain_http_port, ""}.authority();
    sc.beacons.push_back(std::move(b));
  }
  if (p.targets.size() > 1) {
    BoundarySpec bnd;
    for (const auto& b : sc.beacons) bnd.failover.push_back(b.name);
    bnd.operations = gets;
    bnd.credentials = {"none"};
    sc.boundary = std::move(bnd);
  }
  prep.extra_findings = ca_list_findings(prep.survey, sc.id, p.credential);
  agent::ClientCredential valid = p.credential;
  valid.name = "valid";
  agent::preload(valid);
  prep.credentials["valid"] = valid;
  // Look-alikes of the distributed certificate (its names, not its signature): made for this run
  // in a private temporary folder, removed when the probe ends.
  const ForgedFolder forged(p.dry_run);
  add_forged(prep, sc, forged, p);

  RunOptions ro = o;
  ro.pace = pace;
  if (p.dry_run) {
    sc.file = "(probe)";
    prep.scenarios.push_back(sc);
    print_dry_run(plan_out, plan_prepared(ro, prep), sc, p);
    return {};
  }
  std::this_thread::sleep_until(next_connection);
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw InputError("--out " + o.out.string() + ": cannot create (" + ec.message() + ")");
  sc.file = o.out / "probe-scenario.yaml";
  write_file_atomic(sc.file, scenario_yaml(sc, p));
  prep.scenarios.push_back(std::move(sc));
  return run_prepared(ro, prep);
}

}  // namespace mtls::engine
