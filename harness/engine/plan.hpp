// plan.hpp: the check matrix as a pure function. A scenario, the PKI manifest of its trust model
// and the run's prepared inputs give the checks to run: beacon x operation x credential x entry
// path, each with its expected outcome, the positive control a negative check is judged against,
// the client that presents its credential, and the agent options. Sharding (--shard I/N) picks a
// share of them. Once a beacon runs, its doors (where plain HTTP, an open TLS name, a listener
// without client authentication are) aim each check at a URL and TLS name. No sockets here:
// unit-tested table by table (tests/unit/plan_test.cpp). Internal to the engine library.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent.hpp"
#include "agent/catalogue.hpp"
#include "core/result.hpp"
#include "engine/prepared.hpp"
#include "engine/scenario.hpp"
#include "pki/manifest.hpp"

namespace mtls::engine {

// Which client runs a check: curl (libcurl), the raw-socket side-door client, or the protocol-level
// Botan client (credentials curl/OpenSSL refuse to present).
enum class Client { kCurl, kSideDoor, kBotan };

struct Check {
  ResultRecord record;  // what the check is: ids, expectation (its outcome comes when it ran)
  const agent::Operation* op = nullptr;
  std::vector<std::string> beacon_names;     // one, or the boundary's failover list
  std::vector<agent::BeaconChoice> beacons;  // their URLs, once the beacons run
  bool boundary = false;
  Client client = Client::kCurl;
  agent::AgentOptions options;
  std::optional<std::size_t> control;  // index of its positive control in the same plan
  std::optional<std::string> skip;     // why it cannot run (SKIPPED)
};

// Expands one scenario into checks (beacons by name; their URLs are known once they run). Throws
// InputError naming the scenario file when its credentials do not fit the manifest.
std::vector<Check> plan_checks(const Scenario& sc, const pki::Manifest& m, const Prepared& prep);

// This shard's share of a plan (--shard I/N): a check belongs to shard 1 + FNV-1a(scenario | check
// id) mod N, the same on every machine. A positive control also runs in every other shard that
// holds a check judged against it, as a copy (`shard_copy`). Control indexes are renumbered.
void keep_shard(std::vector<Check>& plan, const std::string& scenario, unsigned index,
                unsigned count);

// The manifest with the run's extra (forged) credentials.
pki::Manifest with_extras(pki::Manifest m, const Prepared& prep);

// The PKI beacon whose certificate a simulated beacon serves: its own name (a rotation stage's
// "<beacon>@<stage>" without the stage), else beacon-a's.
std::string identity_of(const pki::Manifest& m, const std::string& beacon);

// Where each side door of a beacon is (entry paths): derived from a simulated beacon's listeners
// (its ready line's "listeners") and settings, or given by the scenario for an external one.
struct Doors {
  std::string url, plain_url, open_name, resume_from, address;
  // The TLS name sni-host-mismatch presents: the open name, else the default virtual host's.
  std::string mismatch_name() const { return open_name.empty() ? kUnknownTlsName : open_name; }
};

// `listeners`: a running simulated beacon's listeners (null for an external beacon).
Doors doors_of(const BeaconSpec& b, const std::string& url, const nlohmann::json* listeners);

// Points a check at its beacon's door; a door that cannot be found makes it a SKIPPED check.
void aim(Check& ch, const Doors& d);

}  // namespace mtls::engine
