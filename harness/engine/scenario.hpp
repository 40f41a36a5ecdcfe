// scenario.hpp: scenario files (YAML under scenarios/, docs/scenarios.md): the beacons (simulated,
// with any beacon setting, or external URLs), the boundary's policy, the credentials x operations x
// entry paths to check, the agents' failover list, and (for self-tests) the findings the scenario
// must produce. Errors name the file, line and field.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mtls::engine {

struct BeaconSpec {
  std::string name;  // also the PKI manifest's beacon identity (simulated beacons)
  std::optional<YAML::Node> simulated;  // a beacon-config fragment (docs/beacon.md), or
  std::optional<std::string> url;       // an external beacon's base URL
  // Side doors (entry paths). Simulated beacons: derived from their listeners when absent.
  std::optional<std::string> plain_http_url;    // default: http://host (port 80) of `url`
  std::optional<std::string> open_server_name;  // a TLS name served without client auth
  std::optional<std::string> resume_from;       // an https URL serving TLS without client auth
  // Other TLS names the beacon's port may answer (the `sni` door tries each, with the matching
  // Host; a name nobody configured is always added), and the address its name resolves to (the
  // `no-sni` door). `probe` finds both by itself from the beacon's certificate.
  std::vector<std::string> tls_names;
  std::optional<std::string> address;
  int line = 0;  // where the scenario file declares it (1-based; 0 for a probe's target)
  // A rotation stage's beacon (`rotation:`): the credentials whose certificates it trusts
  // (pinned), and the devices that must keep working at this stage (their expectation is
  // ACCEPTED, every other device's REJECTED, instead of the PKI manifest's).
  std::vector<std::string> trust_credentials;
  std::optional<std::vector<std::string>> must_work;
};

// A TLS name no one configures: what a port's default virtual host answers.
inline constexpr const char* kUnknownTlsName = "mtls-harness-unknown-name.invalid";

// Agents inside a boundary with a failover list: a device without a valid certificate must be
// refused by every beacon its selection can reach.
struct BoundarySpec {
  std::vector<std::string> failover;  // beacon names, in the agents' list order
  std::vector<std::string> operations;
  std::vector<std::string> credentials;  // the negative credentials to try (default: none)
};

// A finding a self-test scenario must produce (and nothing else).
struct ExpectedFinding {
  std::string severity;  // EXPOSURE | LOCKOUT | WARN
  std::string kind;      // "check" or "boundary-leak"
  std::string entry_path = "https";
  std::string beacon;
  std::string credential;
  std::vector<std::string> operations;  // empty: the scenario's operations
};

struct Scenario {
  std::filesystem::path file;
  std::string id;  // "<folder>/<name>", e.g. "default/fleet-require"
  std::string name;
  std::string description;
  std::vector<BeaconSpec> beacons;
  std::string revocation = "off";  // off | crl: does the boundary demand revocation checks?
  // How the beacons trust the distributed certificate: "ca" (a client CA issues it) or
  // "pinned-self-signed" (the certificate itself is trusted); the run makes a PKI of that model.
  std::string trust_model = "ca";
  std::string control_credential = "valid";
  std::vector<std::string> credentials;  // "all" expanded by the engine (it knows the manifest)
  bool all_credentials = false;
  std::vector<std::string> operations;  // "all" expanded here from the catalogue ids given
  std::vector<std::string> entry_paths;
  std::vector<std::string> side_door_credentials = {"none"};  // tried on every side door
  std::optional<BoundarySpec> boundary;
  std::optional<std::vector<ExpectedFinding>> expected_findings;

  // The manifest's expectation column for this policy ("require" or "require_crl").
  std::string policy_key() const { return revocation == "crl" ? "require_crl" : "require"; }
};

// The operations an expected finding covers: its own list, else the boundary's (a boundary leak)
// or the scenario's.
const std::vector<std::string>& declared_operations(const Scenario& sc, const ExpectedFinding& e);

// `operation_ids`: the catalogue's ids (for "operations: all" and for checking names).
Scenario load_scenario(const std::filesystem::path& file,
                       const std::vector<std::string>& operation_ids);

// Scenario files named by `args` (files, or folders scanned recursively for *.yaml, sorted).
// No argument: the built-in default suite, scenarios/default/. Throws InputError for a missing
// path or a folder without scenarios.
std::vector<std::filesystem::path> find_scenarios(const std::vector<std::filesystem::path>& args);

}  // namespace mtls::engine
