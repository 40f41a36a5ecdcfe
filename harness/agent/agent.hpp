// agent.hpp: the simulated inventory agent's settings (named after the real agent's preferences
// they mirror) and its entry points: one operation against one beacon, or against a failover
// list with MgsPing-style selection. Everything the beacon or the credential does is reported in
// the result record, never thrown.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/catalogue.hpp"
#include "agent/request_variant.hpp"
#include "core/result.hpp"

namespace mtls::agent {

// curl_global_init / curl_global_cleanup for the life of the program (create one in main).
class CurlGlobal {
 public:
  CurlGlobal();
  ~CurlGlobal();
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

struct LoadedCredential;  // a PEM credential parsed once (OpenSSL objects); see preload()

// The device's client identity (AddClientCertificateAndKey).
struct ClientCredential {
  std::string name = "none";                  // label for results: "valid", "none", "custom"...
  std::optional<std::filesystem::path> cert;  // PEM (may carry the chain)
  std::optional<std::filesystem::path> key;   // PEM, unencrypted
  std::optional<std::filesystem::path> p12;   // or a PKCS#12 file
  std::string p12_password;                   // never logged
  std::shared_ptr<const LoadedCredential> loaded;  // set by preload()
};

// Parses a PEM certificate + key once, so that every connection made with this credential (a
// fleet, a load run, the engine's checks) reuses it instead of curl re-reading the files per
// connection (measured: over half of the generator's CPU). A credential that cannot be loaded
// keeps failing each connection as before (CLIENT_CREDENTIAL_ERROR). No effect on PKCS#12 or none.
void preload(ClientCredential& credential);

// How the device trusts beacons.
struct TrustSettings {
  std::optional<std::filesystem::path> ca_file;   // SSLCACertificateFile
  std::optional<std::filesystem::path> ca_path;   // SSLCACertificatePath (hashed folder)
  bool check_server_certificate = true;           // CheckServerCertificate
  std::optional<std::filesystem::path> crl_file;  // CheckCertificateRevocation, with this CRL
};

// How the device tries to get in: the entry paths (docs/scenarios.md). `https` is the front door;
// the others are side doors. plain-http, sni-host-mismatch and tls-downgrade change the curl
// transfer; resumption-cross-listener and renegotiation need a hand-driven TLS client
// (agent/side_door.hpp).
struct EntryPathSettings {
  std::string path = "https";
  // sni-host-mismatch: the TLS server name to present (a name the beacon serves without mTLS)
  // while Host keeps naming the beacon. resumption-cross-listener: the SNI at the session's source.
  // sni:<name> (another TLS name of the same port): the name, given as SNI and as Host. no-sni:
  // the URL names the beacon's address, so neither SNI nor a name is sent.
  std::string sni_name;
  // resumption-cross-listener: the https base URL where a session is obtained without a
  // certificate (another listener, or the same one with `sni_name`).
  std::string resume_from;
  // renegotiation: an unprotected path asked first on the same connection.
  std::string warmup_path = "/ManageSoftDL/";
  // path:<name> / header:<name>: the request re-spelled (its headers already filled in).
  std::optional<RequestVariant> variant;
};

// Entry path names (docs/scenarios.md), in report order.
const std::vector<std::string>& entry_path_names();
// Entry paths our curl transfer cannot express (a hand-driven TLS client runs them).
bool needs_raw_client(const std::string& entry_path);

struct AgentOptions {
  ClientCredential credential;
  EntryPathSettings entry;
  TrustSettings trust;
  std::string device = "device-0001";
  std::string check_id;  // the check these requests belong to: fills "{check}" in PUT payloads
  // curl's --resolve: "HOST:PORT:ADDR" entries every connection honours (names before DNS).
  std::vector<std::string> resolve;
  // The local address every connection comes from (a vantage point standing in for a subnet);
  // "" for the system's choice. curl's interface option, and the same for the hand-driven clients.
  std::string source_address;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{60000};
  // Expected SHA-256 per catalogue `content` path, when the beacon is ours (engine knows them).
  std::map<std::string, std::string> known_digests;
  // A curl share handle (CURLSH*) whose TLS session cache the transfers use: resumption across
  // connections (the load generator's --resume). Not owned; null: every handshake is full.
  void* tls_session_share = nullptr;
};

// A beacon in the device's failover list.
struct BeaconChoice {
  std::string url;   // https://host:port
  int priority = 1;  // lower first
};

// Throws InputError for settings that make no request possible (bad URL, unreadable CA file or
// folder, cert without key). A credential that cannot be loaded is an outcome, not an error.
void validate(const AgentOptions& options, const std::vector<BeaconChoice>& beacons);

// One operation against one beacon.
ResultRecord run_operation(const Operation& op, const std::string& beacon_url,
                           const AgentOptions& options);

// One operation the way the real agent does it: rank the beacons (MgsPing: `select` timed 3
// times each, 3 s timeout, up to 50 at once), try the best, fail over down the list. The record's
// evidence.selection holds the ranking, every attempt and the beacon used.
ResultRecord run_with_failover(const Operation& op, const Operation& select,
                               const std::vector<BeaconChoice>& beacons,
                               const AgentOptions& options);

}  // namespace mtls::agent
