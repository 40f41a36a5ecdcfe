// scenario.hpp: scenario files (YAML under scenarios/): the beacons, the policy, and the
// credentials x operations x entry paths to check. Errors name the file, line and field.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mtls::engine {

struct BeaconSpec {
  std::string name;         // also the PKI manifest's beacon identity
  std::string client_auth;  // simulated beacon's mode: ignore | request | require
};

struct Scenario {
  std::filesystem::path file;
  std::string id;  // "<folder>/<name>", e.g. "default/fleet-require"
  std::string name;
  std::string description;
  std::vector<BeaconSpec> beacons;
  std::string revocation = "off";  // off | crl
  std::string control_credential = "valid";
  std::vector<std::string> credentials;
  std::vector<std::string> operations;
  std::vector<std::string> entry_paths;

  // The manifest's expectation column for this policy ("require" or "require_crl").
  std::string policy_key() const { return revocation == "crl" ? "require_crl" : "require"; }
};

Scenario load_scenario(const std::filesystem::path& file);

// Scenario files named by `args` (files, or folders scanned recursively for *.yaml, sorted).
// No argument: the built-in default suite, scenarios/default/. Throws InputError for a missing
// path or a folder without scenarios.
std::vector<std::filesystem::path> find_scenarios(const std::vector<std::filesystem::path>& args);

}  // namespace mtls::engine
