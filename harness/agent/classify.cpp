// classify.cpp: see classify.hpp. The rules, in order:
//  1. the agent's own credential could not be used          -> CLIENT_CREDENTIAL_ERROR
//  2. the agent refused the beacon's certificate             -> SERVER_UNTRUSTED
//  3. the handshake completed, then no answer in time        -> PROTOCOL_ERROR (it was reachable)
//  4. no connection (DNS, refused, connect timeout)          -> UNREACHABLE
//  5. the beacon sent a fatal alert: before our Finished     -> REJECTED_HANDSHAKE
//                                    after it (TLS 1.3)      -> REJECTED_AFTER_HANDSHAKE
//  6. the beacon closed (or reset the HTTP/2 stream) after the handshake, no HTTP answer
//                                                            -> REJECTED_AFTER_HANDSHAKE
//  7. an HTTP answer: 3xx, 4xx or 501 (a refusal of some shape: 400 "no certificate", 403, a 302
//                    to a help page, 404/405/501 for unverified clients or methods) ->
//                    REJECTED_HTTP 2xx with the payload verified           -> ACCEPTED
//  8. anything else (5xx, 1xx, a failed payload check)       -> PROTOCOL_ERROR
// Whether a refusal is about the client certificate is the verdict's business (engine/verdict):
// it compares a refusal with what the positive control got on the same path.
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
  // 501: the method is not implemented (POST where PUT is expected): refused, not failed.
  return (s >= 300 && s < 500) || s == 501;
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
  if (c == CURLE_OPERATION_TIMEDOUT && s.handshake_completed && !s.http_status)
    return {Outcome::kProtocolError,
            "the beacon completed the TLS handshake, then sent no answer within the time limit "
            "(curl 28): reachable, but silent"};
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
    // 16/92: the HTTP/2 stream or connection was reset (Go servers such as Caddy refuse so).
    const bool closed = c == CURLE_GOT_NOTHING || c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR ||
                        c == CURLE_SSL_CLIENTCERT || c == CURLE_HTTP2 || c == CURLE_HTTP2_STREAM;
    if (closed && s.handshake_completed && !s.http_status)
      return {Outcome::kRejectedAfterHandshake,
              "the beacon closed the connection after the handshake without an HTTP answer (curl " +
                  std::to_string(c) + ")"};
    return {Outcome::kProtocolError, "transfer failed (curl " + std::to_string(c) + ")"};
  }
  if (!s.http_status) return {Outcome::kProtocolError, "no HTTP status"};
  const long st = *s.http_status;
  if (is_rejecting_status(st))
    return {Outcome::kRejectedHttp,
            "the beacon answered HTTP " + std::to_string(st) +
                (st >= 300 && st < 400 ? " (a redirect, not the resource)" : "")};
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
