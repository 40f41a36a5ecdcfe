// run_meta.hpp: what the report's cover says about a run: the tool and its commit, who ran it where
// and when, the PKI's certificates with their SHA-256 fingerprints (as `openssl x509 -fingerprint
// -sha256` prints them), each scenario's policy. Internal to the engine library.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/engine.hpp"
#include "engine/prepared.hpp"
#include "engine/running_beacons.hpp"

namespace mtls::engine {

// The certificates of a PEM file as the cover shows them: SHA-256 fingerprint (of the DER),
// subject, issuer, not-after. Empty when the file cannot be read (the run goes on).
nlohmann::json certificates_summary(const std::filesystem::path& pem);

std::string utc_now();

// The run's "meta" block before any scenario ran (`manifest`: the cover's PKI).
nlohmann::json run_meta(const RunOptions& o, const Prepared& prep, const pki::Manifest& manifest);

// One scenario's entry in meta.scenarios.
nlohmann::json scenario_meta(const Scenario& sc, const RunPki& pk);

}  // namespace mtls::engine
