// result.cpp: JSON serialisation of result records (null for absent optional fields).
#include "core/result.hpp"

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
      {"evidence", to_json(r.evidence)},
  };
}

}  // namespace mtls
