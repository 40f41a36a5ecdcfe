// connection_state_test.cpp: the beacon's client-authentication state machine
// (beacon/connection_state.*) without sockets: for every reject mode, what a client without a
// certificate, with a bad one, with a resumed session, and a client asked to renegotiate for a
// protected folder (accepting or refusing) gets: the actions, the final state, the refusal and
// whether its session is cached.
#include <gtest/gtest.h>

#include "beacon/connection_state.hpp"

namespace mtls::beacon {
namespace {

using A = ConnAction;
using S = ConnState;

constexpr RejectMode kModes[] = {RejectMode::kAlertHandshakeFailure,
                                 RejectMode::kAlertCertificateRequired,
                                 RejectMode::kAlertAccessDenied,
                                 RejectMode::kAlertBadCertificate,
                                 RejectMode::kClose,
                                 RejectMode::kHttp403,
                                 RejectMode::kHttp400};

std::string name_of(const ::testing::TestParamInfo<RejectMode>& info) {
  std::string n(to_string(info.param));
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

bool in_handshake(RejectMode m) {
  return !alert_for(m).empty();
}

class EachRejectMode : public ::testing::TestWithParam<RejectMode> {};

TEST_P(EachRejectMode, NoCertificateIsRefusedTheListenersWay) {
  ConnectionState st({.reject = GetParam()});
  const A a = st.session_established(ClientAuth::kRequire, false, false);
  EXPECT_EQ(st.reason(), "no client certificate");
  EXPECT_FALSE(st.cache_session());
  if (in_handshake(GetParam())) {
    EXPECT_EQ(a, A::kAlert);
    EXPECT_EQ(st.state(), S::kClosing);
    return;
  }
  EXPECT_EQ(a, A::kNone);
  EXPECT_TRUE(st.refusing());
  const A after = st.session_activated();
  if (GetParam() == RejectMode::kClose) {
    EXPECT_EQ(after, A::kClose);
    EXPECT_EQ(st.state(), S::kClosing);
  } else {  // HTTP 403/400: every request is answered with the refusal
    EXPECT_EQ(after, A::kNone);
    EXPECT_EQ(st.state(), S::kRefused);
    EXPECT_EQ(st.request(ClientAuth::kRequire, true, false), A::kServe);  // no renegotiation
  }
}

TEST_P(EachRejectMode, BadCertificateIsRefusedOnceWithBotansAlertOrAfterTheHandshake) {
  ConnectionState st({.reject = GetParam()});
  const A a = st.certificate_rejected("certificate is expired");
  if (in_handshake(GetParam())) {
    EXPECT_EQ(a, A::kAlert);  // the validation error goes to Botan, which sends its alert
    EXPECT_EQ(st.state(), S::kClosing);
    EXPECT_FALSE(st.refusing());
    return;
  }
  EXPECT_EQ(a, A::kNone);
  EXPECT_TRUE(st.certificate_failed());
  EXPECT_EQ(st.reason(), "client certificate rejected: certificate is expired");
  // The handshake ends without a certificate Botan kept: not a second refusal.
  EXPECT_EQ(st.session_established(ClientAuth::kRequire, false, false), A::kNone);
  EXPECT_EQ(st.reason(), "client certificate rejected: certificate is expired");
  EXPECT_FALSE(st.cache_session());
  EXPECT_EQ(st.session_activated(), GetParam() == RejectMode::kClose ? A::kClose : A::kNone);
}

TEST_P(EachRejectMode, ValidCertificateOrNoDemandIsAdmitted) {
  for (const auto& [mode, has_cert] :
       {std::pair{ClientAuth::kRequire, true}, std::pair{ClientAuth::kRequest, false},
        std::pair{ClientAuth::kIgnore, false}}) {
    ConnectionState st({.reject = GetParam()});
    EXPECT_EQ(st.session_established(mode, false, has_cert), A::kNone);
    EXPECT_EQ(st.state(), S::kAdmitted);
    EXPECT_TRUE(st.cache_session());
    EXPECT_EQ(st.session_activated(), A::kNone);
    EXPECT_EQ(st.request(std::nullopt, true, has_cert), A::kServe);
  }
}

TEST_P(EachRejectMode, ResumedSessionWithoutCertificate) {
  ConnectionState strict({.reject = GetParam()});
  strict.session_established(ClientAuth::kRequire, true, false);
  EXPECT_EQ(strict.reason(), "resumed a session that has no client certificate");
  EXPECT_NE(strict.state(), S::kAdmitted);
  // The misconfiguration a self-test plants (CVE-2025-23419 class): let in.
  ConnectionState trusting({.reject = GetParam(), .trust_resumed_sessions = true});
  EXPECT_EQ(trusting.session_established(ClientAuth::kRequire, true, false), A::kNone);
  EXPECT_EQ(trusting.state(), S::kAdmitted);
  EXPECT_TRUE(trusting.cache_session());
}

TEST_P(EachRejectMode, FolderRenegotiationAcceptedServesTheHeldRequest) {
  ConnectionState st({.reject = GetParam()});
  st.session_established(ClientAuth::kIgnore, false, false);
  EXPECT_EQ(st.request(ClientAuth::kRequire, true, false), A::kRenegotiate);
  EXPECT_EQ(st.state(), S::kRenegotiating);
  EXPECT_TRUE(st.holding_request());
  EXPECT_EQ(st.renegotiation_target(), ClientAuth::kRequire);
  EXPECT_EQ(st.session_established(ClientAuth::kRequire, false, true), A::kNone);
  EXPECT_EQ(st.session_activated(), A::kServeHeld);
  st.held_request_served();
  EXPECT_EQ(st.state(), S::kAdmitted);
  EXPECT_FALSE(st.refusing());
  // The mode is decided once: later requests are served without another renegotiation.
  EXPECT_EQ(st.request(ClientAuth::kRequire, true, true), A::kServe);
}

TEST_P(EachRejectMode, FolderRenegotiationWithoutCertificateIsRefused) {
  ConnectionState st({.reject = GetParam()});
  st.session_established(ClientAuth::kIgnore, false, false);
  ASSERT_EQ(st.request(ClientAuth::kRequire, true, false), A::kRenegotiate);
  EXPECT_EQ(st.session_established(ClientAuth::kRequire, false, false),
            in_handshake(GetParam()) ? A::kAlert : A::kNone);
  EXPECT_EQ(st.reason(), "no client certificate");
}

TEST_P(EachRejectMode, ClientRefusingTheRenegotiation) {
  ConnectionState st({.reject = GetParam()});
  st.session_established(ClientAuth::kIgnore, false, false);
  ASSERT_EQ(st.request(ClientAuth::kRequire, true, false), A::kRenegotiate);
  const A a = st.renegotiation_refused();
  EXPECT_EQ(st.reason(), "the client refused the renegotiation for a client certificate");
  EXPECT_TRUE(st.refusing());
  if (GetParam() == RejectMode::kHttp403 || GetParam() == RejectMode::kHttp400) {
    EXPECT_EQ(a, A::kServeHeld);  // answered with the refusal
    EXPECT_EQ(st.state(), S::kRefused);
  } else {
    EXPECT_EQ(a, A::kClose);
    EXPECT_EQ(st.state(), S::kClosing);
    EXPECT_FALSE(st.holding_request());
  }
}

TEST_P(EachRejectMode, RenegotiationFailOpenServesTheFolderAnyway) {
  ConnectionState st({.reject = GetParam(), .renegotiation_fail_open = true});
  st.session_established(ClientAuth::kIgnore, false, false);
  ASSERT_EQ(st.request(ClientAuth::kRequire, true, false), A::kRenegotiate);
  EXPECT_EQ(st.renegotiation_refused(), A::kServeHeld);
  EXPECT_FALSE(st.refusing());
  EXPECT_EQ(st.take_note(),
            "client refused the renegotiation; served anyway (renegotiation_fail_open)");
  EXPECT_EQ(st.take_note(), "");  // taken once
}

INSTANTIATE_TEST_SUITE_P(Modes, EachRejectMode, ::testing::ValuesIn(kModes), name_of);

TEST(ConnectionState, NoRenegotiationOnPlainHttpOrWithACertificateOrAnOpenFolder) {
  ConnectionState st({});
  st.session_established(ClientAuth::kIgnore, false, false);
  EXPECT_EQ(st.request(ClientAuth::kRequire, false, false), A::kServe);  // plain HTTP
  EXPECT_EQ(st.request(ClientAuth::kRequire, true, true), A::kServe);    // already presented
  EXPECT_EQ(st.request(ClientAuth::kIgnore, true, false), A::kServe);    // open folder
  EXPECT_EQ(st.request(std::nullopt, true, false), A::kServe);           // no folder rule
  EXPECT_EQ(st.renegotiation_refused(), A::kNone);  // nothing held: an alert to ignore
}

TEST(ConnectionState, AlertNamesOfTheHandshakeModes) {
  EXPECT_EQ(alert_for(RejectMode::kAlertCertificateRequired), "certificate_required");
  EXPECT_EQ(alert_for(RejectMode::kAlertAccessDenied), "access_denied");
  EXPECT_EQ(alert_for(RejectMode::kAlertBadCertificate), "bad_certificate");
  EXPECT_EQ(alert_for(RejectMode::kAlertHandshakeFailure), "handshake_failure");
  for (RejectMode m : kModes) EXPECT_EQ(alert_for(m).empty(), !rejects_in_handshake(m));
}

}  // namespace
}  // namespace mtls::beacon
