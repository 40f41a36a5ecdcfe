// verdict_test.cpp: verdicts follow docs/scenarios.md: a rejection is PASS only with an ACCEPTED
// control.
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

namespace mtls::engine {
namespace {

// Evidence of one GET step: status, body hash, size, content type, body head.
Evidence got_get(long status, const std::string& sha, long long bytes, const std::string& type,
                 const std::string& head = "") {
  Evidence e;
  e.http_status = status;
  e.body_sha256 = sha;
  e.body_bytes = bytes;
  e.content_type = type;
  e.body_head = head;
  e.steps = nlohmann::json::array({{{"method", "GET"},
                                    {"path", "/ManageSoftDL/Policies/p.npl"},
                                    {"http_status", status},
                                    {"body_sha256", sha},
                                    {"body_bytes", bytes},
                                    {"content_type", type}}});
  return e;
}

Evidence got_put(long status, std::optional<bool> receipt, const nlohmann::json& readback) {
  Evidence e;
  e.http_status = status;
  nlohmann::json step = {{"method", "PUT"},
                         {"path", "/ManageSoftRL/t.log"},
                         {"http_status", status},
                         {"payload_sha256", "aa"},
                         {"payload_check", receipt ? "upload-digest" : "none"},
                         {"payload_verified", receipt ? nlohmann::json(*receipt) : nullptr}};
  e.steps = nlohmann::json::array({step});
  e.upload_readback = readback;
  return e;
}

struct CompareRow {
  const char* name;
  Evidence got;
  Outcome got_outcome;
  Evidence control;
  Verdict want;
  std::optional<Outcome> reclassified;
  const char* reason_has;
};

class CompareWithControl : public ::testing::TestWithParam<CompareRow> {};

TEST_P(CompareWithControl, DecidesByTheControlsAnswer) {
  const CompareRow& row = GetParam();
  const Judgement j =
      judge_negative({row.got_outcome, &row.got}, Answer{Outcome::kAccepted, &row.control});
  EXPECT_EQ(to_string(j.verdict), to_string(row.want)) << row.name << ": " << j.reason;
  EXPECT_EQ(j.outcome.has_value(), row.reclassified.has_value()) << row.name;
  if (j.outcome && row.reclassified) {
    EXPECT_EQ(*j.outcome, *row.reclassified) << row.name;
  }
  EXPECT_NE(j.reason.find(row.reason_has), std::string::npos) << row.name << ": " << j.reason;
  EXPECT_EQ(j.severity.has_value(), row.want == Verdict::kFail) << row.name;
}

const Evidence kPolicy = got_get(200, "abc123", 1000, "application/xml");
const Evidence kUpload = got_put(201, std::nullopt, nullptr);  // the device's own upload, 2xx

INSTANTIATE_TEST_SUITE_P(
    Bodies, CompareWithControl,
    ::testing::Values(
        CompareRow{"same_content_is_exposure", got_get(200, "abc123", 1000, "application/xml"),
                   Outcome::kAccepted, kPolicy, Verdict::kFail, std::nullopt, "same content"},
        CompareRow{"same_size_and_type_is_exposure",
                   got_get(200, "def456", 1000, "application/xml"), Outcome::kAccepted, kPolicy,
                   Verdict::kFail, std::nullopt, "same size and type"},
        CompareRow{"error_page_200_is_a_soft_refusal",
                   got_get(200, "eee", 57, "text/html", "client certificate required"),
                   Outcome::kAccepted, kPolicy, Verdict::kPass, Outcome::kRejectedHttp,
                   "soft refusal"},
        CompareRow{"use_https_notice_is_a_soft_refusal",
                   got_get(200, "fff", 1000, "text/html", "use https"), Outcome::kAccepted, kPolicy,
                   Verdict::kPass, Outcome::kRejectedHttp, "starting 'use https'"},
        CompareRow{"redirect_away_is_a_refusal", got_get(302, "", 0, "text/html"),
                   Outcome::kRejectedHttp, kPolicy, Verdict::kPass, std::nullopt, "refused"},
        CompareRow{"put_with_a_receipt_is_stored", got_put(201, true, nullptr), Outcome::kAccepted,
                   kPolicy, Verdict::kFail, std::nullopt, "receipt"},
        CompareRow{"put_read_back_is_stored",
                   got_put(201, std::nullopt,
                           {{{"path", "/ManageSoftRL/t.log"}, {"stored", true}, {"found", "x"}}}),
                   Outcome::kAccepted, kUpload, Verdict::kFail, std::nullopt, "read back"},
        CompareRow{"put_200_that_stored_nothing_is_a_soft_refusal",
                   got_put(200, std::nullopt,
                           {{{"path", "/ManageSoftRL/t.log"},
                             {"stored", false},
                             {"found", "other content"}}}),
                   Outcome::kAccepted, kUpload, Verdict::kPass, Outcome::kRejectedHttp,
                   "nothing was stored"},
        CompareRow{"put_not_readable_is_taken_as_stored",
                   got_put(204, std::nullopt,
                           {{{"path", "/ManageSoftRL/t.log"},
                             {"stored", nullptr},
                             {"found", "HTTP 403"}}}),
                   Outcome::kAccepted, kUpload, Verdict::kFail, std::nullopt, "taken as stored"}),
    [](const ::testing::TestParamInfo<CompareRow>& info) { return std::string(info.param.name); });

TEST(Verdict, ControlRefusedForAnotherReasonIsInconclusiveNotLockout) {
  Evidence folder = got_get(403, "x", 150, "text/html", "<html><head><title>403 Forbidden");
  const Judgement j = judge_positive({Outcome::kRejectedHttp, &folder});
  EXPECT_EQ(j.verdict, Verdict::kInconclusive) << j.reason;
  EXPECT_NE(j.reason.find("give --path a file"), std::string::npos) << j.reason;
  for (auto [status, head] : {std::pair<long, std::string>{400, "400 The SSL certificate error"},
                              {495, ""},
                              {496, ""},
                              {403, "403.7 Forbidden: client certificate required"}}) {
    Evidence cert = got_get(status, "x", 10, "text/html", head);
    const Judgement lock = judge_positive({Outcome::kRejectedHttp, &cert});
    EXPECT_EQ(lock.verdict, Verdict::kFail) << status << " " << head;
    EXPECT_EQ(lock.severity, Severity::kLockout);
  }
}

TEST(Verdict, A2xxWithoutControlContentIsAnExposureOnlyWhenItsContentIsKnown) {
  Evidence e = got_get(200, "abc", 10, "text/plain");
  Judgement j = judge_negative({Outcome::kAccepted, &e}, std::nullopt);
  EXPECT_EQ(j.verdict, Verdict::kInconclusive) << j.reason;
  EXPECT_NE(j.reason.find("no content to compare"), std::string::npos) << j.reason;
  e.steps[0]["payload_check"] = "sha256";  // our beacon's content, its digest known
  e.steps[0]["payload_verified"] = true;
  j = judge_negative({Outcome::kAccepted, &e}, std::nullopt);
  EXPECT_EQ(j.severity, Severity::kExposure) << j.reason;
}

TEST(Verdict, AnUploadReadBack404IsNothingStoredWhenTheDevicesOwnReadsBack) {
  const nlohmann::json gone = {{{"path", "/ManageSoftRL/t.log"},
                                {"stored", nullptr},
                                {"http_status", 404},
                                {"found", "HTTP 404"}}};
  Evidence got = got_put(200, std::nullopt, gone);
  Evidence control = got_put(
      201, std::nullopt, {{{"path", "/ManageSoftRL/t.log"}, {"stored", true}, {"found", "it"}}});
  Judgement j = judge_negative({Outcome::kAccepted, &got}, Answer{Outcome::kAccepted, &control});
  EXPECT_EQ(j.verdict, Verdict::kPass) << j.reason;
  EXPECT_NE(j.reason.find("nothing was stored"), std::string::npos) << j.reason;
  control.upload_readback = nullptr;  // this beacon serves no upload back: a 2xx counts as stored
  j = judge_negative({Outcome::kAccepted, &got}, Answer{Outcome::kAccepted, &control});
  EXPECT_EQ(j.severity, Severity::kExposure) << j.reason;
  Evidence refused = got_get(404, "", 0, "text/plain");  // the device cannot upload there at all
  refused.steps[0]["method"] = "PUT";
  j = judge_negative({Outcome::kAccepted, &got}, Answer{Outcome::kRejectedHttp, &refused});
  EXPECT_EQ(j.verdict, Verdict::kInconclusive) << j.reason;
}

}  // namespace
}  // namespace mtls::engine
