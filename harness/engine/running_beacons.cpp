// running_beacons.cpp: see running_beacons.hpp.
#include "engine/running_beacons.hpp"

#include <cmath>
#include <ctime>
#include <sstream>

#include "core/files.hpp"
#include "engine/run_meta.hpp"
#include "pki/pem.hpp"

namespace mtls::engine {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A beacon's evidence log, read once after the beacon stopped, indexed by client port. A port
// can serve several connections in one run (a port the beacon closed first is free again at
// once): the connection a check made is the one that ended closest to when the check finished.
class BeaconLog {
 public:
  explicit BeaconLog(const fs::path& log) {
    std::error_code ec;
    if (!fs::exists(log, ec)) return;
    std::istringstream in(read_file(log));
    for (std::string line; std::getline(in, line);) {
      json rec = json::parse(line, nullptr, false);
      if (rec.is_discarded() || !rec.is_object()) continue;
      const std::string event = rec.value("event", "");
      if (event == "connection") connections_[rec.value("peer_port", -1L)].push_back(rec);
      if (event == "request") requests_[rec.value("connection", -1L)].push_back(rec);
    }
  }

  json evidence(long local_port, std::chrono::system_clock::time_point finished) const {
    const auto it = connections_.find(local_port);
    if (it == connections_.end()) return nullptr;
    const json* best = nullptr;
    double best_gap = 0;
    for (const json& c : it->second) {
      const double gap = std::abs(std::chrono::duration<double>(ended(c) - finished).count());
      if (best == nullptr || gap < best_gap) best = &c, best_gap = gap;
    }
    const auto req = requests_.find(best->value("connection", -2L));
    return {{"connection", *best},
            {"requests", req == requests_.end() ? json::array() : json(req->second)}};
  }

 private:
  // A record's "ts" ("2026-11-26T22:11:18.170Z": when the connection ended).
  static std::chrono::system_clock::time_point ended(const json& rec) {
    const std::string ts = rec.value("ts", "");
    std::tm tm{};
    const char* rest = ::strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    auto t = std::chrono::system_clock::from_time_t(::timegm(&tm));
    if (rest != nullptr && *rest == '.') t += std::chrono::milliseconds(std::atoi(rest + 1));
    return t;
  }

  std::map<long, std::vector<json>> connections_;  // client port -> its connections
  std::map<long, std::vector<json>> requests_;     // connection id -> its requests
};

// The certificates of `credentials` in one PEM file: what a rotation stage's beacon trusts.
fs::path write_trust_bundle(const pki::Manifest& m, const std::vector<std::string>& credentials,
                            const fs::path& file) {
  std::string pem;
  for (const auto& name : credentials) {
    const auto& c = m.credential(name);
    if (!c.cert)
      throw InputError("rotation: credential '" + name + "' has no certificate to trust");
    pem += pki::load_certificates(*c.cert).front().PEM_encode();
  }
  fs::create_directories(file.parent_path());
  write_file_atomic(file, pem);
  return file;
}

// The certificate an external beacon showed probe's survey (null when it did not).
json surveyed_certificate(const json& survey, const std::string& beacon) {
  if (survey.is_array())
    for (const auto& t : survey)
      if (t.value("beacon", "") == beacon && !t.value("certificate_sha256", "").empty())
        return {{"sha256_fingerprint", t["certificate_sha256"]},
                {"subject", t.value("certificate_subject", "")},
                {"issuer", t.value("certificate_issuer", "")}};
  return nullptr;
}

RunningBeacon start_simulated(const BeaconSpec& b, const RunPki& pk, const fs::path& dir,
                              const fs::path& exe) {
  const std::string identity = identity_of(pk.manifest, b.name);
  YAML::Node settings = YAML::Clone(*b.simulated);
  if (!b.trust_credentials.empty())  // a rotation stage: it trusts these certificates
    settings["client_trust"]["ca"] =
        write_trust_bundle(pk.manifest, b.trust_credentials, dir / "trust.pem").string();
  RunningBeacon r;
  r.name = b.name;
  r.process = std::make_unique<BeaconProcess>(
      exe, b.name, beacon_config_yaml(settings, b.name, identity, pk.dir, dir / "store"), dir);
  r.url = r.process->url();
  r.doors = doors_of(b, r.url, &r.process->ready()["listeners"]);
  const auto certs = certificates_summary(pk.manifest.beacons.at(identity).cert);
  r.certificate = certs.empty() ? json(nullptr) : certs.front();
  return r;
}

}  // namespace

RunningBeacons::RunningBeacons(const Scenario& sc, const RunPki& pk, const fs::path& work,
                               const fs::path& exe, const json& survey)
    : sc_(sc) {
  for (const auto& b : sc.beacons) {
    if (b.simulated) {
      beacons_.push_back(start_simulated(b, pk, work / sc.name / b.name, exe));
    } else {
      RunningBeacon r;
      r.name = b.name;
      r.url = *b.url;
      r.doors = doors_of(b, r.url, nullptr);
      r.certificate = surveyed_certificate(survey, b.name);
      beacons_.push_back(std::move(r));
    }
  }
}

const RunningBeacon& RunningBeacons::at(const std::string& name) const {
  for (const auto& b : beacons_)
    if (b.name == name) return b;
  throw HarnessError("no beacon named '" + name + "' runs in " + sc_.id);
}

std::string RunningBeacons::name_of_url(const std::string& url) const {
  for (const auto& b : beacons_)
    if (b.url == url) return b.name;
  return url;
}

void RunningBeacons::aim_all(std::vector<Check>& plan) const {
  for (auto& ch : plan) {
    if (!ch.boundary) {
      aim(ch, at(ch.beacon_names.front()).doors);
      continue;
    }
    for (const auto& name : ch.beacon_names) ch.beacons.push_back({at(name).url, 1});
  }
}

json RunningBeacons::meta(const Scenario& sc) const {
  json out = json::array();
  for (std::size_t i = 0; i < beacons_.size(); ++i) {
    const BeaconSpec& b = sc.beacons[i];
    out.push_back({{"scenario", sc.id},
                   {"name", b.name},
                   {"kind", b.simulated ? "simulated" : "external"},
                   {"url", beacons_[i].url},
                   {"line", b.line > 0 ? json(b.line) : json(nullptr)},
                   {"certificate", beacons_[i].certificate},
                   {"settings", b.simulated ? json(YAML::Dump(*b.simulated)) : json(nullptr)}});
  }
  return out;
}

void RunningBeacons::stop(const std::string& scenario_id, json& meta_beacons) {
  for (auto& b : beacons_) {
    if (!b.process) continue;
    const std::string status = b.process->stop();
    for (auto& mb : meta_beacons)
      if (mb["scenario"] == scenario_id && mb["url"] == b.url) mb["exit"] = status;
    if (status != "exit 0")
      throw HarnessError("a beacon of " + scenario_id + " ended with " + status +
                         " (stderr: " + tail_of(b.process->stderr_log()) + ")");
  }
}

void RunningBeacons::attach_logs(
    std::vector<std::optional<ResultRecord>>& done,
    const std::vector<std::chrono::system_clock::time_point>& finished_at) const {
  std::map<std::string, BeaconLog> logs;  // by beacon name, each log read once
  for (const auto& b : beacons_)
    if (b.process) logs.emplace(b.name, BeaconLog(b.process->log()));
  for (std::size_t i = 0; i < done.size(); ++i) {
    auto& r = done[i];
    if (!r || !r->evidence.local_port) continue;
    std::string beacon = r->beacon;  // a boundary check: the beacon its selection used
    if (r->evidence.selection.is_object())
      beacon = name_of_url(r->evidence.selection.value("used", ""));
    if (const auto it = logs.find(beacon); it != logs.end())
      r->evidence.beacon_log = it->second.evidence(*r->evidence.local_port, finished_at[i]);
  }
}

}  // namespace mtls::engine
