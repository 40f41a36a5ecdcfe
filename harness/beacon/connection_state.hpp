// connection_state.hpp: a beacon connection's client-authentication state machine, with no sockets
// and no Botan: where the bypass-class behaviour lives (refusal modes, resumed sessions without a
// certificate, per-folder renegotiation and a client that refuses it). The connection feeds it the
// events Botan's callbacks and the HTTP layer see; each event returns the one action to take.
// Unit-tested per reject mode and renegotiation path (tests/unit/connection_state_test.cpp).
//
//   Handshaking --established, admitted--> Admitted --protected folder, no cert--> Renegotiating
//        |  \--established, refused later--> Refused <--renegotiation refused (HTTP modes)--/  |
//        \--refused in the handshake--> Closing <--close mode, renegotiation refused otherwise--/
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "beacon/config.hpp"
#include "beacon/tls_config.hpp"

namespace mtls::beacon {

enum class ConnState {
  kHandshaking,    // the first handshake is under way
  kAdmitted,       // serving requests
  kRenegotiating,  // a request for a protected folder waits for a renegotiated certificate
  kRefused,        // the client is refused after the handshake (HTTP 403/400, or a close)
  kClosing,        // the connection ends (an alert was sent, or the listener closes it)
};

enum class ConnAction {
  kNone,
  kAlert,        // end the handshake with the listener's alert (alert_for(reject)) now
  kClose,        // close the connection (close_notify), no HTTP answer
  kServeHeld,    // answer the request held for the renegotiation (refused or admitted)
  kRenegotiate,  // hold the request, ask for a certificate by renegotiating
  kServe,        // answer the request now
};

// The TLS alert a listener refusing in the handshake sends, by its name ("handshake_failure",
// "certificate_required", "access_denied", "bad_certificate"); empty for modes that refuse later.
std::string_view alert_for(RejectMode m);

struct ConnSettings {
  RejectMode reject = RejectMode::kAlertHandshakeFailure;
  bool renegotiation_fail_open = false;  // a client refusing the renegotiation is served anyway
  bool trust_resumed_sessions = false;   // a resumed session without a certificate is let in
};

class ConnectionState {
 public:
  explicit ConnectionState(ConnSettings s) : s_(s) {}

  // The client's certificate failed validation (`why`): kAlert (rethrow the validation error: Botan
  // sends its alert) or kNone (the handshake goes on; the client is refused afterwards).
  ConnAction certificate_rejected(const std::string& why);
  // A handshake (full, resumed or a renegotiation) finished: `mode` is what the name, source or
  // folder asks; `has_certificate` whether a certificate was presented and accepted.
  ConnAction session_established(ClientAuth mode, bool resumed, bool has_certificate);
  // Whether the session just established may be cached (never a refused client's).
  bool cache_session() const { return !refused_ && state_ != ConnState::kClosing; }
  // The handshake's Finished went out: kClose (close mode refusing), kServeHeld, or kNone.
  ConnAction session_activated();
  // A request arrived: `folder` the client-auth mode of its path, if a folder has one.
  ConnAction request(std::optional<ClientAuth> folder, bool tls, bool has_certificate);
  // The client answered the renegotiation with no_renegotiation.
  ConnAction renegotiation_refused();
  // The held request was answered.
  void held_request_served();

  ConnState state() const { return state_; }
  // Refused after the handshake: every request is answered with the refusal (once refused, a
  // connection stays refused, also while it closes).
  bool refusing() const { return refused_; }
  bool holding_request() const { return holding_; }
  bool certificate_failed() const { return certificate_failed_; }
  const std::string& reason() const { return reason_; }  // why the client is refused
  // The client-auth mode a renegotiation asks for (it decides the mode from then on).
  std::optional<ClientAuth> renegotiation_target() const { return reneg_target_; }
  // A remark for the next request's log record (taken once).
  std::string take_note() { return std::exchange(note_, ""); }

 private:
  // The refusal decision: the listener's reject mode says whether it happens in the handshake.
  ConnAction refuse(const std::string& reason);

  ConnSettings s_;
  ConnState state_ = ConnState::kHandshaking;
  bool holding_ = false, certificate_failed_ = false, refused_ = false;
  std::optional<ClientAuth> reneg_target_;
  std::string reason_, note_;
};

}  // namespace mtls::beacon
