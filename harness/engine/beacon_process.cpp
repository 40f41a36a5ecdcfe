// beacon_process.cpp: see beacon_process.hpp.
#include "engine/beacon_process.hpp"

#include <set>

#include "core/files.hpp"

namespace mtls::engine {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string tail_of(const fs::path& file, std::size_t max_bytes) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return "(no log)";
  std::string s = read_file(file);
  return s.size() > max_bytes ? "..." + s.substr(s.size() - max_bytes) : s;
}

// Beacon-level keys of a simulated beacon's settings; every other key is a listener setting.
namespace {
const std::set<std::string> kBeaconLevelKeys = {
    "latency_ms", "failure", "max_connections", "timeouts", "uploads", "threads", "client_trust"};

}  // namespace

// The beacon config file for a simulated beacon (docs/beacon.md), always on loopback, port 0.
std::string beacon_config_yaml(const YAML::Node& sim, const std::string& name,
                               const std::string& identity, const fs::path& pki,
                               const fs::path& store) {
  YAML::Node cfg(YAML::NodeType::Map);
  cfg["name"] = name;
  cfg["identity"] = identity;
  cfg["pki"] = pki.string();
  cfg["store"] = store.string();
  YAML::Node listeners(YAML::NodeType::Sequence);
  if (sim["listeners"]) {
    for (const auto& kv : sim)
      if (kv.first.as<std::string>() != "listeners")
        cfg[kv.first.as<std::string>()] = YAML::Clone(kv.second);
    for (const auto& l : sim["listeners"]) {
      YAML::Node copy = YAML::Clone(l);
      copy["listen"] = "127.0.0.1:0";
      listeners.push_back(copy);
    }
  } else {
    YAML::Node listener(YAML::NodeType::Map);
    listener["name"] = "https";
    listener["listen"] = "127.0.0.1:0";
    for (const auto& kv : sim) {
      const std::string key = kv.first.as<std::string>();
      if (kBeaconLevelKeys.contains(key))
        cfg[key] = YAML::Clone(kv.second);
      else if (key != "listen" && key != "name")
        listener[key] = YAML::Clone(kv.second);
    }
    listeners.push_back(listener);
  }
  cfg["listeners"] = listeners;
  YAML::Emitter out;
  out << cfg;
  return std::string(out.c_str()) + "\n";
}

}  // namespace mtls::engine
