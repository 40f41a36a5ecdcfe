// prepared.hpp: the validated inputs of a run (scenarios, operation catalogue, content digests,
// entry paths) and the hooks `probe` uses to run the engine on scenarios it builds itself with
// the user's own credential and trust. Internal to the engine library.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent.hpp"
#include "agent/catalogue.hpp"
#include "agent/request_variant.hpp"
#include "engine/engine.hpp"
#include "engine/entry_paths.hpp"
#include "engine/scenario.hpp"
#include "pki/manifest.hpp"

namespace mtls::engine {

struct Prepared {
  std::vector<Scenario> scenarios;
  agent::Catalogue catalogue = agent::Catalogue::load_default();
  std::map<std::string, std::string> digests;  // catalogue content -> SHA-256 (our beacons)
  EntryPaths entry_paths = EntryPaths::load_default();
  // Credentials presented as given instead of from the PKI manifest (the name stays the manifest's
  // for its expectation), and the trust used for every beacon instead of the test server CA.
  std::map<std::string, agent::ClientCredential> credentials;
  std::optional<agent::TrustSettings> trust;
  std::vector<std::string> resolve;  // curl-style HOST:PORT:ADDR overrides for every check
  std::string source_address;        // every connection's local address ("" the system's)
  std::string vantage;               // the vantage point's name, on every record ("" none)
  nlohmann::json survey;             // what probe learnt of each beacon before the checks
  std::optional<std::chrono::milliseconds> timeout;  // per request, instead of the agent's 60 s
  agent::RequestVariants variants = agent::RequestVariants::load_default();  // path:/header: doors
  // Credentials no beacon may accept that are not in the PKI manifest (probe's forged identities):
  // their manifest entries (every expectation REJECTED); presented as `credentials` gives them.
  std::map<std::string, pki::Credential> extra_credentials;
  // Findings known before any check (probe's survey: a client CA list that is too broad).
  nlohmann::json extra_findings = nlohmann::json::array();
};

// Loads and validates the scenario files of `o` (throws InputError).
Prepared prepare(const RunOptions& o);
RunResult run_prepared(const RunOptions& o, const Prepared& p);
nlohmann::json plan_prepared(const RunOptions& o, const Prepared& p);

}  // namespace mtls::engine
