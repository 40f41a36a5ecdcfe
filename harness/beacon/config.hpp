// config.hpp: what a simulated beacon is: its listeners (TLS or plain HTTP, client-auth mode,
// how it rejects, revocation, per-folder client auth, session sharing, Host checks), its content
// and upload store, and its realism knobs. Single-listener beacons come from CLI flags; beacons
// with several listeners from a YAML file (docs/beacon.md).
#pragma once

#include <yaml-cpp/yaml.h>

#include "beacon/openssl_crypto.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "beacon/tls_config.hpp"

namespace mtls::beacon {

// How a listener refuses a client that must present a valid certificate and does not.
enum class RejectMode {
  kAlertHandshakeFailure,     // alert in the handshake (Botan's default)
  kAlertCertificateRequired,  // alert 116 in the handshake
  kAlertAccessDenied,         // alert 49 in the handshake
  kAlertBadCertificate,       // alert 42 in the handshake
  kClose,                     // finish the handshake, then close without an HTTP answer
  kHttp403,                   // finish the handshake, answer 403 (like IIS 403.7)
  kHttp400,                   // finish the handshake, answer 400 (like nginx)
};
std::optional<RejectMode> reject_mode_from_string(std::string_view s);
std::string_view to_string(RejectMode m);
bool rejects_in_handshake(RejectMode m);
// Every reject mode's name, in the name table's order (the default first).
std::vector<std::string> reject_mode_names();

// A folder (path prefix) whose client-auth mode differs from the listener's, enforced by
// server-initiated renegotiation once the request line is seen (the IIS way).
struct FolderAuth {
  std::string prefix;  // e.g. "/ManageSoftRL/"
  ClientAuth client_auth;
};

// An SNI name served by a listener with its own client-auth mode (virtual hosts on one port).
struct VirtualHost {
  std::string name;
  ClientAuth client_auth;
};

// Client auth for connections from one network (a subnet a beacon treats otherwise: a rule in
// the web server, a load balancer terminating TLS for some networks).
struct SourceRule {
  std::string network;  // "127.0.0.5/32", "10.1.0.0/16", "::1/128"
  ClientAuth client_auth;
};

struct ListenerConfig {
  std::string name = "https";
  std::string listen = "127.0.0.1:0";
  bool tls = true;  // false: a plain-HTTP listener serving the same folders (a misconfiguration)
  ClientAuth client_auth = ClientAuth::kRequire;
  RejectMode reject = RejectMode::kAlertHandshakeFailure;
  bool crl = false;                 // revocation: check the client CA's CRLs
  std::string min_tls = "1.2";      // "1.0", "1.1" or "1.2"
  std::vector<FolderAuth> folders;  // per-folder client auth by renegotiation
  std::vector<VirtualHost> virtual_hosts;
  std::string session_cache;  // listeners naming the same cache share sessions + ticket key
  bool trust_resumed_sessions = false;  // misconfiguration: no client-auth check on resumption
  // misconfiguration: a folder's request is served when the client refuses the renegotiation
  bool renegotiation_fail_open = false;
  bool check_host = true;                         // Host must name the SNI name (else 421)
  std::vector<SourceRule> client_auth_by_source;  // first match wins, before virtual hosts
};

// True when `address` (a peer's IP) is inside `network` (address/prefix).
bool in_network(const std::string& address, const std::string& network);

struct BeaconConfig {
  std::string name = "beacon-a";  // in the beacon's log records and ready line
  // The PKI manifest's beacon whose certificate it serves; empty: the one named `name`.
  std::string identity;
  const std::string& pki_identity() const { return identity.empty() ? name : identity; }
  std::filesystem::path pki_dir;  // folder written by `pki init`
  // The user's own trust for client authentication, instead of the PKI's client CA: CA
  // certificates or pinned leaves (PEM bundle or DER), and CRLs for listeners with `crl`.
  std::optional<std::filesystem::path> client_ca;
  std::vector<std::filesystem::path> client_crls;
  std::filesystem::path content_dir;               // holds ManageSoftDL/
  std::optional<std::filesystem::path> store_dir;  // uploads land here; none: uploads answer 503
  std::vector<std::string> upload_extensions = {".ndi", ".ndi.gz", ".disco",
                                                ".log", ".plc",    ".xml"};
  std::uint64_t upload_max_bytes = 64ull * 1024 * 1024;
  std::vector<ListenerConfig> listeners;
  std::optional<std::filesystem::path> ready_file;
  std::optional<std::filesystem::path> log_file;
  unsigned threads = 2;
  std::chrono::milliseconds handshake_timeout{10000};  // TLS handshake must finish in this time
  std::chrono::milliseconds idle_timeout{15000};       // between requests, and between bytes
  std::uint64_t max_connections = 10000;
  std::chrono::milliseconds latency{0};  // added before every response (beacon selection tests)
  double failure_rate = 0.0;             // share of requests answered by `failure`
  std::string failure = "503";           // "503" or "reset"
  // Who does the handshake's signatures and the client chain's signature checks: OpenSSL's
  // libcrypto (faster; Botan stays the TLS stack and decides what OpenSSL does not support) or
  // Botan itself.
  CryptoProvider crypto = CryptoProvider::kOpenssl;
};

// The one validator of beacon settings. A YAML file and the `beacon` command's flags (which the CLI
// turns into the same YAML, `source` "command line") go through it; errors name the source, line
// and field ("listeners[0].listen"), never a flag: the CLI maps fields to its flags. Relative paths
// are taken from `base`.
BeaconConfig beacon_config_from_yaml(const YAML::Node& root, const std::filesystem::path& source,
                                     const std::filesystem::path& base);

// Reads a beacon YAML file (docs/beacon.md) through beacon_config_from_yaml.
BeaconConfig load_beacon_config(const std::filesystem::path& file);

// Why a listen address is not "HOST:PORT" or "[V6]:PORT" with HOST an IP address or localhost
// and PORT 0..65535 ("" when it is).
std::string listen_problem(const std::string& listen);

// The same rules for a BeaconConfig built in code (bench, tests): throws InputError naming the
// field ("field 'threads': must be 1..256").
void check_beacon_config(const BeaconConfig& c);

}  // namespace mtls::beacon
