// connection_state.cpp: see connection_state.hpp.
#include "beacon/connection_state.hpp"

#include <utility>

namespace mtls::beacon {

std::string_view alert_for(RejectMode m) {
  switch (m) {
    case RejectMode::kAlertHandshakeFailure:
      return "handshake_failure";
    case RejectMode::kAlertCertificateRequired:
      return "certificate_required";
    case RejectMode::kAlertAccessDenied:
      return "access_denied";
    case RejectMode::kAlertBadCertificate:
      return "bad_certificate";
    case RejectMode::kClose:
    case RejectMode::kHttp403:
    case RejectMode::kHttp400:
      return "";
  }
  return "";
}

ConnAction ConnectionState::refuse(const std::string& reason) {
  reason_ = reason;
  if (rejects_in_handshake(s_.reject) && !certificate_failed_) {
    state_ = ConnState::kClosing;
    return ConnAction::kAlert;
  }
  state_ = ConnState::kRefused;
  refused_ = true;
  return ConnAction::kNone;
}

ConnAction ConnectionState::certificate_rejected(const std::string& why) {
  if (rejects_in_handshake(s_.reject)) {  // Botan's own alert for the failed validation
    state_ = ConnState::kClosing;
    return ConnAction::kAlert;
  }
  certificate_failed_ = true;
  return refuse("client certificate rejected: " + why);
}

ConnAction ConnectionState::session_established(ClientAuth mode, bool resumed,
                                                bool has_certificate) {
  if (mode == ClientAuth::kRequire && !has_certificate && !certificate_failed_) {
    if (resumed && s_.trust_resumed_sessions) {  // the misconfiguration, on purpose
      if (state_ == ConnState::kHandshaking) state_ = ConnState::kAdmitted;
      return ConnAction::kNone;
    }
    return refuse(resumed ? "resumed a session that has no client certificate"
                          : "no client certificate");
  }
  if (state_ == ConnState::kHandshaking) state_ = ConnState::kAdmitted;
  return ConnAction::kNone;
}

ConnAction ConnectionState::session_activated() {
  if (refused_ && s_.reject == RejectMode::kClose) {
    state_ = ConnState::kClosing;
    return ConnAction::kClose;
  }
  return holding_ ? ConnAction::kServeHeld : ConnAction::kNone;
}

ConnAction ConnectionState::request(std::optional<ClientAuth> folder, bool tls,
                                    bool has_certificate) {
  if (tls && !refused_ && folder && *folder != ClientAuth::kIgnore && !has_certificate &&
      !reneg_target_) {
    reneg_target_ = *folder;
    holding_ = true;
    state_ = ConnState::kRenegotiating;
    return ConnAction::kRenegotiate;
  }
  return ConnAction::kServe;
}

ConnAction ConnectionState::renegotiation_refused() {
  if (!holding_) return ConnAction::kNone;
  // The client will not send a certificate for the folder that asked for one.
  if (s_.renegotiation_fail_open) {
    note_ = "client refused the renegotiation; served anyway (renegotiation_fail_open)";
    return ConnAction::kServeHeld;
  }
  reason_ = "the client refused the renegotiation for a client certificate";
  state_ = ConnState::kRefused;
  refused_ = true;
  if (s_.reject != RejectMode::kHttp403 && s_.reject != RejectMode::kHttp400) {
    holding_ = false;
    state_ = ConnState::kClosing;
    return ConnAction::kClose;
  }
  return ConnAction::kServeHeld;
}

void ConnectionState::held_request_served() {
  holding_ = false;
  if (state_ == ConnState::kRenegotiating) state_ = ConnState::kAdmitted;
}

}  // namespace mtls::beacon
