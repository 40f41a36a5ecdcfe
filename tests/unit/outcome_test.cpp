// outcome_test.cpp: the closed enums' names are stable UPPER_SNAKE strings that round-trip.
#include <gtest/gtest.h>

#include <cctype>

#include "core/outcome.hpp"

namespace mtls {
namespace {

bool upper_snake(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isupper(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

TEST(Outcome, EveryOutcomeRoundTripsThroughItsName) {
  for (int i = 0; i <= static_cast<int>(Outcome::kProtocolError); ++i) {
    auto o = static_cast<Outcome>(i);
    auto name = to_string(o);
    EXPECT_TRUE(upper_snake(name)) << name;
    ASSERT_TRUE(outcome_from_string(name).has_value()) << name;
    EXPECT_EQ(*outcome_from_string(name), o);
  }
}

TEST(Outcome, TheContractNamesAreExactlyDesignMd) {
  EXPECT_EQ(to_string(Outcome::kAccepted), "ACCEPTED");
  EXPECT_EQ(to_string(Outcome::kRejectedHandshake), "REJECTED_HANDSHAKE");
  EXPECT_EQ(to_string(Outcome::kRejectedAfterHandshake), "REJECTED_AFTER_HANDSHAKE");
  EXPECT_EQ(to_string(Outcome::kRejectedHttp), "REJECTED_HTTP");
  EXPECT_EQ(to_string(Outcome::kClientCredentialError), "CLIENT_CREDENTIAL_ERROR");
  EXPECT_EQ(to_string(Outcome::kServerUntrusted), "SERVER_UNTRUSTED");
  EXPECT_EQ(to_string(Outcome::kUnreachable), "UNREACHABLE");
  EXPECT_EQ(to_string(Outcome::kProtocolError), "PROTOCOL_ERROR");
}

TEST(Outcome, UnknownNamesAreRefused) {
  EXPECT_FALSE(outcome_from_string("accepted").has_value());
  EXPECT_FALSE(outcome_from_string("").has_value());
  EXPECT_FALSE(verdict_from_string("OK").has_value());
  EXPECT_FALSE(expectation_from_string("REJECTED_HTTP").has_value());
}

TEST(Outcome, VerdictSeverityExpectationRoundTrip) {
  for (auto v : {Verdict::kPass, Verdict::kFail, Verdict::kInconclusive, Verdict::kSkipped})
    EXPECT_EQ(verdict_from_string(to_string(v)), v);
  for (auto s : {Severity::kExposure, Severity::kLockout})
    EXPECT_EQ(severity_from_string(to_string(s)), s);
  for (auto e : {Expectation::kAccepted, Expectation::kRejected})
    EXPECT_EQ(expectation_from_string(to_string(e)), e);
}

TEST(Outcome, OnlyTheThreeRejectionsAreRejections) {
  int count = 0;
  for (int i = 0; i <= static_cast<int>(Outcome::kProtocolError); ++i)
    if (is_rejection(static_cast<Outcome>(i))) {
      ++count;
      EXPECT_TRUE(to_string(static_cast<Outcome>(i)).starts_with("REJECTED_"));
    }
  EXPECT_EQ(count, 3);
}

}  // namespace
}  // namespace mtls
