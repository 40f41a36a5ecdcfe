// result.cpp: JSON serialisation of result records (null for absent optional fields).
#include "core/result.hpp"

#include "core/files.hpp"

namespace mtls {
namespace {

template <typename T>
nlohmann::json opt(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

template <typename E>
nlohmann::json opt_name(const std::optional<E>& v) {
  return v ? nlohmann::json(std::string(to_string(*v))) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json to_json(const Evidence& e) {
  return {
      {"curl_code", opt(e.curl_code)},
      {"curl_error", e.curl_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.curl_error)},
      {"tls_alert", opt(e.tls_alert)},
      {"tls_alert_code", opt(e.tls_alert_code)},
      {"alert_after_handshake", e.alert_after_handshake},
      {"tls_version", opt(e.tls_version)},
      {"tls_cipher", opt(e.tls_cipher)},
      {"handshake_completed", e.handshake_completed},
      {"http_status", opt(e.http_status)},
      {"bytes_sent", e.bytes_sent},
      {"bytes_received", e.bytes_received},
      {"elapsed_ms", e.elapsed_ms},
      {"local_port", opt(e.local_port)},
      {"payload_sha256", opt(e.payload_sha256)},
      {"payload_check", opt(e.payload_check)},
      {"payload_verified", opt(e.payload_verified)},
      {"body_sha256", opt(e.body_sha256)},
      {"body_bytes", opt(e.body_bytes)},
      {"body_head", opt(e.body_head)},
      {"content_type", opt(e.content_type)},
      {"redirect_to", opt(e.redirect_to)},
      {"upload_readback",
       e.upload_readback.is_null() ? nlohmann::json(nullptr) : e.upload_readback},
      {"beacon_log", e.beacon_log.is_null() ? nlohmann::json(nullptr) : e.beacon_log},
      {"steps", e.steps.is_null() ? nlohmann::json::array() : e.steps},
      {"selection", e.selection.is_null() ? nlohmann::json(nullptr) : e.selection},
      {"side_door", e.side_door.is_null() ? nlohmann::json(nullptr) : e.side_door},
      {"client", e.client ? nlohmann::json(*e.client) : nlohmann::json("libcurl")},
  };
}

nlohmann::json to_json(const ResultRecord& r) {
  return {
      {"check_id", r.check_id},
      {"scenario", opt(r.scenario)},
      {"beacon", r.beacon},
      {"operation", r.operation},
      {"credential", r.credential},
      {"entry_path", r.entry_path},
      {"expected", opt_name(r.expected)},
      // A SKIPPED check was not carried out: it has no outcome.
      {"outcome", r.verdict == Verdict::kSkipped
                      ? nlohmann::json(nullptr)
                      : nlohmann::json(std::string(to_string(r.outcome)))},
      {"verdict", opt_name(r.verdict)},
      {"severity", opt_name(r.severity)},
      {"control_id", opt(r.control_id)},
      {"reason", r.reason},
      {"expected_finding", r.expected_finding},
      {"defect", opt(r.defect)},
      {"credential_description", r.credential_description},
      {"door_name", opt(r.door_name)},
      {"vantage", opt(r.vantage)},
      {"shard_copy", r.shard_copy},
      {"evidence", to_json(r.evidence)},
  };
}

namespace {

// Reads one field of a record back: absent or null leaves the default.
class Reader {
 public:
  Reader(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}
  template <typename T>
  void get(const char* key, T& out) const {
    if (const auto* v = find(key)) out = convert<T>(*v, key);
  }
  template <typename T>
  void get(const char* key, std::optional<T>& out) const {
    if (const auto* v = find(key)) out = convert<T>(*v, key);
  }
  void raw(const char* key, nlohmann::json& out) const {
    if (j_.contains(key)) out = j_[key];
  }
  template <typename E, typename Parse>
  void name(const char* key, std::optional<E>& out, Parse parse) const {
    if (const auto* v = find(key)) {
      const auto e = parse(convert<std::string>(*v, key));
      if (!e) fail(key, "an unknown name");
      out = e;
    }
  }

 private:
  const nlohmann::json* find(const char* key) const {
    if (!j_.is_object()) throw InputError(where_ + ": not a JSON object");
    const auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  template <typename T>
  T convert(const nlohmann::json& v, const char* key) const {
    try {
      return v.get<T>();
    } catch (const nlohmann::json::exception&) {
      fail(key, "a value of the wrong type");
    }
  }
  [[noreturn]] void fail(const char* key, const std::string& what) const {
    throw InputError(where_ + ": field \"" + key + "\" has " + what);
  }
  const nlohmann::json& j_;
  std::string where_;
};

}  // namespace

Evidence evidence_from_json(const nlohmann::json& j, const std::string& where) {
  Evidence e;
  if (j.is_null()) return e;
  const Reader r(j, where);
  r.get("curl_code", e.curl_code);
  r.get("curl_error", e.curl_error);
  r.get("tls_alert", e.tls_alert);
  r.get("tls_alert_code", e.tls_alert_code);
  r.get("alert_after_handshake", e.alert_after_handshake);
  r.get("tls_version", e.tls_version);
  r.get("tls_cipher", e.tls_cipher);
  r.get("handshake_completed", e.handshake_completed);
  r.get("http_status", e.http_status);
  r.get("bytes_sent", e.bytes_sent);
  r.get("bytes_received", e.bytes_received);
  r.get("elapsed_ms", e.elapsed_ms);
  r.get("local_port", e.local_port);
  r.get("payload_sha256", e.payload_sha256);
  r.get("payload_check", e.payload_check);
  r.get("payload_verified", e.payload_verified);
  r.get("body_sha256", e.body_sha256);
  r.get("body_bytes", e.body_bytes);
  r.get("body_head", e.body_head);
  r.get("content_type", e.content_type);
  r.get("redirect_to", e.redirect_to);
  r.raw("upload_readback", e.upload_readback);
  r.raw("beacon_log", e.beacon_log);
  r.raw("steps", e.steps);
  r.raw("selection", e.selection);
  r.raw("side_door", e.side_door);
  r.get("client", e.client);
  if (e.client == "libcurl") e.client.reset();  // to_json's name for "not set"
  return e;
}

ResultRecord record_from_json(const nlohmann::json& j, const std::string& where) {
  ResultRecord rec;
  const Reader r(j, where);
  r.get("check_id", rec.check_id);
  r.get("scenario", rec.scenario);
  r.get("beacon", rec.beacon);
  r.get("operation", rec.operation);
  r.get("credential", rec.credential);
  r.get("entry_path", rec.entry_path);
  r.name("expected", rec.expected, expectation_from_string);
  std::optional<Outcome> outcome;
  r.name("outcome", outcome, outcome_from_string);
  if (outcome) rec.outcome = *outcome;
  r.name("verdict", rec.verdict, verdict_from_string);
  r.name("severity", rec.severity, severity_from_string);
  r.get("control_id", rec.control_id);
  r.get("reason", rec.reason);
  r.get("expected_finding", rec.expected_finding);
  r.get("defect", rec.defect);
  r.get("credential_description", rec.credential_description);
  r.get("door_name", rec.door_name);
  r.get("vantage", rec.vantage);
  r.get("shard_copy", rec.shard_copy);
  if (j.contains("evidence"))
    rec.evidence = evidence_from_json(j["evidence"], where + ": evidence");
  return rec;
}

}  // namespace mtls
