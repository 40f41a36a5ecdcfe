// classify_test.cpp: the table that maps observed signals to outcomes (TLS 1.2 and 1.3, nginx-style
// HTTP 400, IIS-style 403, credentials the agent cannot load, untrusted beacons, unreachable).
#include <curl/curl.h>
#include <gtest/gtest.h>

#include "agent/classify.hpp"

namespace mtls::agent {
namespace {

struct Row {
  const char* name;
  Signals in;
  Outcome want;
};

Signals sig(long curl, std::optional<int> alert = std::nullopt, bool after = false, bool hs = false,
            std::optional<long> status = std::nullopt, std::optional<bool> payload = std::nullopt) {
  return Signals{curl, alert, after, hs, status, payload};
}

class ClassifyTable : public ::testing::TestWithParam<Row> {};

TEST_P(ClassifyTable, MapsToTheRightOutcome) {
  const Row& row = GetParam();
  const Classification c = classify(row.in);
  EXPECT_EQ(to_string(c.outcome), to_string(row.want)) << row.name << ": " << c.reason;
  EXPECT_FALSE(c.reason.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Signals, ClassifyTable,
    ::testing::Values(
        Row{"tls12_ok_verified", sig(CURLE_OK, {}, false, true, 200, true), Outcome::kAccepted},
        Row{"tls12_ok_payload_mismatch", sig(CURLE_OK, {}, false, true, 200, false),
            Outcome::kProtocolError},
        Row{"tls12_no_cert_handshake_failure", sig(CURLE_SSL_CONNECT_ERROR, 40),
            Outcome::kRejectedHandshake},
        Row{"tls12_bad_certificate", sig(CURLE_SSL_CONNECT_ERROR, 42), Outcome::kRejectedHandshake},
        Row{"tls13_certificate_required_after_finished", sig(CURLE_SSL_CLIENTCERT, 116, true, true),
            Outcome::kRejectedAfterHandshake},
        Row{"tls13_bad_certificate_after_finished", sig(CURLE_RECV_ERROR, 42, true, true),
            Outcome::kRejectedAfterHandshake},
        Row{"closed_after_handshake_no_alert", sig(CURLE_GOT_NOTHING, {}, false, true),
            Outcome::kRejectedAfterHandshake},
        Row{"closed_before_handshake_done", sig(CURLE_GOT_NOTHING, {}, false, false),
            Outcome::kProtocolError},
        Row{"nginx_400", sig(CURLE_OK, {}, false, true, 400), Outcome::kRejectedHttp},
        Row{"iis_403_7", sig(CURLE_OK, {}, false, true, 403), Outcome::kRejectedHttp},
        Row{"http_401", sig(CURLE_OK, {}, false, true, 401), Outcome::kRejectedHttp},
        Row{"http_495", sig(CURLE_OK, {}, false, true, 495), Outcome::kRejectedHttp},
        Row{"http_496", sig(CURLE_OK, {}, false, true, 496), Outcome::kRejectedHttp},
        Row{"http_404_is_a_refusal_shape", sig(CURLE_OK, {}, false, true, 404),
            Outcome::kRejectedHttp},
        Row{"http_302_away_is_a_refusal_shape", sig(CURLE_OK, {}, false, true, 302),
            Outcome::kRejectedHttp},
        Row{"http_405", sig(CURLE_OK, {}, false, true, 405), Outcome::kRejectedHttp},
        Row{"http_501_method_not_implemented", sig(CURLE_OK, {}, false, true, 501),
            Outcome::kRejectedHttp},
        Row{"http2_stream_reset_after_handshake", sig(CURLE_HTTP2_STREAM, {}, false, true),
            Outcome::kRejectedAfterHandshake},
        Row{"http2_error_after_handshake", sig(CURLE_HTTP2, {}, false, true),
            Outcome::kRejectedAfterHandshake},
        Row{"silent_after_handshake_is_reachable", sig(CURLE_OPERATION_TIMEDOUT, {}, false, true),
            Outcome::kProtocolError},
        Row{"http_503", sig(CURLE_OK, {}, false, true, 503), Outcome::kProtocolError},
        Row{"cert_key_unusable", sig(CURLE_SSL_CERTPROBLEM), Outcome::kClientCredentialError},
        Row{"beacon_untrusted", sig(CURLE_PEER_FAILED_VERIFICATION), Outcome::kServerUntrusted},
        Row{"refused", sig(CURLE_COULDNT_CONNECT), Outcome::kUnreachable},
        Row{"dns", sig(CURLE_COULDNT_RESOLVE_HOST), Outcome::kUnreachable},
        Row{"timeout", sig(CURLE_OPERATION_TIMEDOUT), Outcome::kUnreachable},
        Row{"handshake_failed_without_alert", sig(CURLE_SSL_CONNECT_ERROR),
            Outcome::kProtocolError},
        Row{"credential_error_wins_over_alert", sig(CURLE_SSL_CERTPROBLEM, 40),
            Outcome::kClientCredentialError}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(AlertName, UsesTheRfcNames) {
  EXPECT_EQ(alert_name(40), "handshake_failure");
  EXPECT_EQ(alert_name(42), "bad_certificate");
  EXPECT_EQ(alert_name(116), "certificate_required");
  EXPECT_EQ(alert_name(49), "access_denied");
  EXPECT_EQ(alert_name(250), "alert_250");
}

}  // namespace
}  // namespace mtls::agent
