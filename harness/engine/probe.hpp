// probe.hpp: `mtls-harness probe`: the user's own beacons, before (and after) they switch to mTLS.
// Safe by default: only GETs of a small path list; a tiny upload clearly marked as a test only
// with --allow-writes. Every target is tried with the user's distributed credential (the positive
// control) and with credentials no beacon may accept (none, self-signed, another CA's), through
// the front door and every side door it can reach; a failover list makes the boundary checks.
// Rate-limited; --dry-run prints the plan; the reports are those of `run`.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "agent/agent.hpp"
#include "engine/engine.hpp"

namespace mtls::engine {

struct ProbeOptions {
  std::vector<std::string> targets;    // https base URLs, in the agents' failover order
  agent::TrustSettings trust;          // how devices trust the beacons
  agent::ClientCredential credential;  // the distributed client certificate (PEM or PKCS#12)
  std::vector<std::string> paths = {"/ManageSoftDL/"};  // GET only
  bool allow_writes = false;
  std::string upload_path = "/ManageSoftRL/mtls-harness-probe-test.log";
  // TLS names the targets may serve without client auth (the first is also the sni-host-mismatch
  // and resumption source name). Not needed to find them: the beacon's certificate names, no SNI
  // and a name nobody configured are always tried.
  std::vector<std::string> open_names;
  std::vector<std::string> resolve;  // curl's --resolve HOST:PORT:ADDR, for every connection
  std::string resume_from;           // an https listener without client auth, if any
  int plain_http_port = 80;          // where each target's cleartext side door is tried
  double rate = 5.0;                 // requests started per second, at most
  double timeout_s = 20.0;           // longest one request may take (a beacon that never answers)
  bool dry_run = false;
};

// Throws InputError for bad options (nothing is sent). Dry run: prints the plan to `plan_out` and
// returns an empty result.
RunResult probe(const RunOptions& run, const ProbeOptions& p, std::ostream& plan_out);

// Reads a failover list: one https URL per line; blank lines and '#' comments ignored.
std::vector<std::string> read_target_list(const std::filesystem::path& file);

}  // namespace mtls::engine
