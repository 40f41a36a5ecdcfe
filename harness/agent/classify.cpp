// classify.cpp: see classify.hpp. The rules, in order:
//  1. the agent's own credential could not be used          -> CLIENT_CREDENTIAL_ERROR
//  2. the agent refused the beacon's certificate             -> SERVER_UNTRUSTED
//  3. no connection (DNS, refused, timeout)                  -> UNREACHABLE
//  4. the beacon sent a fatal alert: before our Finished     -> REJECTED_HANDSHAKE
//                                    after it (TLS 1.3)      -> REJECTED_AFTER_HANDSHAKE
//  5. the beacon closed after the handshake, no HTTP answer  -> REJECTED_AFTER_HANDSHAKE
//  6. an HTTP answer: 400/401/403/495/496                    -> REJECTED_HTTP
//                    2xx with the payload verified           -> ACCEPTED
//  7. anything else                                          -> PROTOCOL_ERROR
#include "agent/classify.hpp"

#include <curl/curl.h>

#include <array>
#include <utility>

namespace mtls::agent {

std::string alert_name(int code) {
  static constexpr std::array<std::pair<int, const char*>, 30> kNames{{
      {0, "close_notify"},
      {10, "unexpected_message"},
      {20, "bad_record_mac"},
      {21, "decryption_failed"},
      {22, "record_overflow"},
      {40, "handshake_failure"},
      {41, "no_certificate"},
      {42, "bad_certificate"},
      {43, "unsupported_certificate"},
      {44, "certificate_revoked"},
      {45, "certificate_expired"},
      {46, "certificate_unknown"},
      {47, "illegal_parameter"},
      {48, "unknown_ca"},
      {49, "access_denied"},
      {50, "decode_error"},
      {51, "decrypt_error"},
      {70, "protocol_version"},
      {71, "insufficient_security"},
      {80, "internal_error"},
      {86, "inappropriate_fallback"},
      {90, "user_canceled"},
      {100, "no_renegotiation"},
      {109, "missing_extension"},
      {110, "unsupported_extension"},
      {112, "unrecognized_name"},
      {113, "bad_certificate_status_response"},
      {115, "unknown_psk_identity"},
      {116, "certificate_required"},
      {120, "no_application_protocol"},
  }};
  for (const auto& [c, n] : kNames)
    if (c == code) return n;
  return "alert_" + std::to_string(code);
}

namespace {
bool is_rejecting_status(long s) {
  // 421: a server that refuses a Host other than the TLS name it negotiated (nginx, our beacon).
  return s == 400 || s == 401 || s == 403 || s == 421 || s == 495 || s == 496;
}
}  // namespace

Classification classify(const Signals& s) {
  const long c = s.curl_code;
  if (c == CURLE_SSL_CERTPROBLEM || c == CURLE_SSL_ENGINE_NOTFOUND ||
      c == CURLE_SSL_ENGINE_SETFAILED)
    return {Outcome::kClientCredentialError,
            "the agent could not load or use its client certificate/key (curl " +
                std::to_string(c) + ")"};
  if (c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_ISSUER_ERROR ||
      c == CURLE_SSL_PINNEDPUBKEYNOTMATCH || c == CURLE_SSL_INVALIDCERTSTATUS)
    return {Outcome::kServerUntrusted,
            "the agent did not trust the beacon's certificate (curl " + std::to_string(c) + ")"};
  if (c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_COULDNT_CONNECT ||
      c == CURLE_OPERATION_TIMEDOUT || c == CURLE_COULDNT_RESOLVE_PROXY)
    return {Outcome::kUnreachable,
            "the beacon could not be reached (curl " + std::to_string(c) + ")"};
  if (s.alert_code) {
    const std::string name = alert_name(*s.alert_code);
    if (s.alert_after_handshake)
      return {Outcome::kRejectedAfterHandshake,
              "the beacon sent the TLS alert " + name + " after the handshake completed"};
    return {Outcome::kRejectedHandshake,
            "the beacon ended the handshake with the TLS alert " + name};
  }
  if (c != CURLE_OK) {
    const bool closed = c == CURLE_GOT_NOTHING || c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR ||
                        c == CURLE_SSL_CLIENTCERT;
    if (closed && s.handshake_completed && !s.http_status)
      return {Outcome::kRejectedAfterHandshake,
              "the beacon closed the connection after the handshake without an HTTP answer (curl " +
                  std::to_string(c) + ")"};
    return {Outcome::kProtocolError, "transfer failed (curl " + std::to_string(c) + ")"};
  }
  if (!s.http_status) return {Outcome::kProtocolError, "no HTTP status"};
  const long st = *s.http_status;
  if (is_rejecting_status(st))
    return {Outcome::kRejectedHttp, "the beacon answered HTTP " + std::to_string(st)};
  if (st >= 200 && st < 300) {
    if (s.payload_verified == false)
      return {Outcome::kProtocolError,
              "HTTP " + std::to_string(st) + " but the payload failed verification"};
    return {Outcome::kAccepted,
            "HTTP " + std::to_string(st) +
                (s.payload_verified ? ", payload verified" : ", payload not checked")};
  }
  return {Outcome::kProtocolError, "unexpected HTTP " + std::to_string(st)};
}

}  // namespace mtls::agent
