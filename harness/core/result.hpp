// result.hpp: the result record, one per check (its field names are a contract: README.md), and
// the evidence an agent gathers for it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/outcome.hpp"

namespace mtls {

// What the agent observed; every field is a structured signal, never parsed from free text.
struct Evidence {
  std::optional<long> curl_code;
  std::string curl_error;                // curl's own error buffer (no secrets: paths only)
  std::optional<std::string> tls_alert;  // RFC 8446 name of an alert the beacon sent
  std::optional<int> tls_alert_code;
  bool alert_after_handshake = false;  // the alert came after our Finished
  std::optional<std::string> tls_version;
  std::optional<std::string> tls_cipher;
  bool handshake_completed = false;
  std::optional<long> http_status;
  long long bytes_sent = 0;
  long long bytes_received = 0;
  double elapsed_ms = 0.0;
  std::optional<long> local_port;
  std::optional<std::string> payload_sha256;
  std::optional<std::string> payload_check;  // "sha256", "format" or null when not checked
  std::optional<bool> payload_verified;
  // The answer's body, whatever its status: what a refusal is told apart from access by (the same
  // content the positive control got, or another page). body_head: its first bytes, printable.
  std::optional<std::string> body_sha256;
  std::optional<long long> body_bytes;
  std::optional<std::string> body_head;
  std::optional<std::string> content_type;
  std::optional<std::string> redirect_to;  // a 3xx answer's Location
  // An upload answered 2xx without a receipt: what reading it back with the valid credential gave.
  nlohmann::json upload_readback;
  nlohmann::json beacon_log;  // the beacon's own record of this attempt, when the beacon is ours
  nlohmann::json steps;       // every request the operation made (method, path, outcome, ...)
  nlohmann::json selection;   // beacon ranking, failover attempts and the beacon used
  nlohmann::json side_door;   // how a side-door entry path was tried (session source, resumed...)
  std::optional<std::string> client;  // the TLS client that ran the check when it was not curl
};

struct ResultRecord {
  std::string check_id;
  std::optional<std::string> scenario;
  std::string beacon;
  std::string operation;
  std::string credential;
  std::string entry_path = "https";
  std::optional<Expectation> expected;
  Outcome outcome = Outcome::kProtocolError;
  std::optional<Verdict> verdict;
  std::optional<Severity> severity;
  std::optional<std::string> control_id;
  std::string reason;
  bool expected_finding = false;  // a self-test scenario declared the finding this FAIL belongs to
  // What a finding about this check says, kept with the check so that a report re-rendered from
  // results.jsonl words its findings exactly as the run did: the credential's defect class (null
  // for a valid one), its description, and the name a side door used (a TLS name, a vhost).
  std::optional<std::string> defect;
  std::string credential_description;
  std::optional<std::string> door_name;
  std::optional<std::string> vantage;  // where the check ran from (run/probe --vantage)
  // A positive control run again in another shard for the checks judged against it there
  // (run/probe --shard); `report merge` keeps its own shard's record instead.
  bool shard_copy = false;
  Evidence evidence;
};

nlohmann::json to_json(const Evidence& e);
nlohmann::json to_json(const ResultRecord& r);
// The inverse of to_json: from_json(to_json(r)) == r field for field. Throws InputError naming
// `where` and the field on a value of the wrong type or an unknown enum name.
Evidence evidence_from_json(const nlohmann::json& j, const std::string& where);
ResultRecord record_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace mtls
