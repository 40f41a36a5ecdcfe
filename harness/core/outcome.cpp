// outcome.cpp: name tables for the closed enums declared in outcome.hpp.
#include "core/outcome.hpp"

#include "core/name_table.hpp"

#include <array>
#include <utility>

namespace mtls {
namespace {

constexpr NameTable<Outcome, 8> kOutcomeNames{{
    {Outcome::kAccepted, "ACCEPTED"},
    {Outcome::kRejectedHandshake, "REJECTED_HANDSHAKE"},
    {Outcome::kRejectedAfterHandshake, "REJECTED_AFTER_HANDSHAKE"},
    {Outcome::kRejectedHttp, "REJECTED_HTTP"},
    {Outcome::kClientCredentialError, "CLIENT_CREDENTIAL_ERROR"},
    {Outcome::kServerUntrusted, "SERVER_UNTRUSTED"},
    {Outcome::kUnreachable, "UNREACHABLE"},
    {Outcome::kProtocolError, "PROTOCOL_ERROR"},
}};
constexpr NameTable<Verdict, 4> kVerdictNames{{
    {Verdict::kPass, "PASS"},
    {Verdict::kFail, "FAIL"},
    {Verdict::kInconclusive, "INCONCLUSIVE"},
    {Verdict::kSkipped, "SKIPPED"},
}};
constexpr NameTable<Severity, 2> kSeverityNames{{
    {Severity::kExposure, "EXPOSURE"},
    {Severity::kLockout, "LOCKOUT"},
}};
constexpr NameTable<Expectation, 2> kExpectationNames{{
    {Expectation::kAccepted, "ACCEPTED"},
    {Expectation::kRejected, "REJECTED"},
}};

}  // namespace

std::string_view to_string(Outcome o) {
  return name_of(kOutcomeNames, o);
}
std::string_view to_string(Verdict v) {
  return name_of(kVerdictNames, v);
}
std::string_view to_string(Severity s) {
  return name_of(kSeverityNames, s);
}
std::string_view to_string(Expectation e) {
  return name_of(kExpectationNames, e);
}

std::optional<Outcome> outcome_from_string(std::string_view s) {
  return value_of(kOutcomeNames, s);
}
std::optional<Verdict> verdict_from_string(std::string_view s) {
  return value_of(kVerdictNames, s);
}
std::optional<Severity> severity_from_string(std::string_view s) {
  return value_of(kSeverityNames, s);
}
std::optional<Expectation> expectation_from_string(std::string_view s) {
  return value_of(kExpectationNames, s);
}

bool is_rejection(Outcome o) {
  return o == Outcome::kRejectedHandshake || o == Outcome::kRejectedAfterHandshake ||
         o == Outcome::kRejectedHttp;
}

}  // namespace mtls
