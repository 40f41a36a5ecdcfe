// verdict_test.cpp: verdicts follow design.md: a rejection is PASS only with an ACCEPTED control.
#include <gtest/gtest.h>

#include "engine/verdict.hpp"

namespace mtls::engine {
namespace {

TEST(Verdict, PositiveAcceptedPasses) {
  auto j = judge(Expectation::kAccepted, Outcome::kAccepted, std::nullopt);
  EXPECT_EQ(j.verdict, Verdict::kPass);
  EXPECT_FALSE(j.severity.has_value());
}

TEST(Verdict, PositiveRejectedIsLockout) {
  for (auto o : {Outcome::kRejectedHandshake, Outcome::kRejectedAfterHandshake,
                 Outcome::kRejectedHttp, Outcome::kClientCredentialError}) {
    auto j = judge(Expectation::kAccepted, o, std::nullopt);
    EXPECT_EQ(j.verdict, Verdict::kFail) << to_string(o);
    EXPECT_EQ(j.severity, Severity::kLockout) << to_string(o);
  }
}

TEST(Verdict, PositiveThatCouldNotRunIsInconclusive) {
  for (auto o : {Outcome::kUnreachable, Outcome::kProtocolError, Outcome::kServerUntrusted})
    EXPECT_EQ(judge(Expectation::kAccepted, o, std::nullopt).verdict, Verdict::kInconclusive)
        << to_string(o);
}

TEST(Verdict, NegativeAcceptedIsExposureWhateverTheControl) {
  for (auto control : {std::optional<Outcome>{}, std::optional{Outcome::kAccepted},
                       std::optional{Outcome::kUnreachable}}) {
    auto j = judge(Expectation::kRejected, Outcome::kAccepted, control);
    EXPECT_EQ(j.verdict, Verdict::kFail);
    EXPECT_EQ(j.severity, Severity::kExposure);
  }
}

TEST(Verdict, RejectionPassesOnlyWithAnAcceptedControl) {
  EXPECT_EQ(judge(Expectation::kRejected, Outcome::kRejectedHandshake, Outcome::kAccepted).verdict,
            Verdict::kPass);
  EXPECT_EQ(judge(Expectation::kRejected, Outcome::kRejectedHandshake, Outcome::kRejectedHandshake)
                .verdict,
            Verdict::kInconclusive);
  EXPECT_EQ(judge(Expectation::kRejected, Outcome::kRejectedHttp, Outcome::kUnreachable).verdict,
            Verdict::kInconclusive);
  EXPECT_EQ(judge(Expectation::kRejected, Outcome::kRejectedHttp, std::nullopt).verdict,
            Verdict::kInconclusive);
}

TEST(Verdict, NegativeThatIsNotARejectionIsInconclusive) {
  for (auto o : {Outcome::kUnreachable, Outcome::kProtocolError, Outcome::kServerUntrusted,
                 Outcome::kClientCredentialError}) {
    auto j = judge(Expectation::kRejected, o, Outcome::kAccepted);
    EXPECT_EQ(j.verdict, Verdict::kInconclusive) << to_string(o);
    EXPECT_FALSE(j.severity.has_value());
  }
}

}  // namespace
}  // namespace mtls::engine
