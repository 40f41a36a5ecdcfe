// outcome.hpp: the closed enums of mtls-harness (outcomes, verdicts, severities, expectations).
// Their UPPER_SNAKE names are a contract: results, reports and users' scripts use them verbatim.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mtls {

enum class Outcome {
  kAccepted,                // 2xx and payload verified
  kRejectedHandshake,       // TLS alert during the handshake
  kRejectedAfterHandshake,  // fatal alert or close after the handshake
  kRejectedHttp,            // HTTP 3xx/4xx/501, or (negative checks) a 2xx that is not the
                            // control's content: a soft refusal
  kClientCredentialError,   // the agent could not load or use its own credential
  kServerUntrusted,         // the agent rejected the beacon's certificate
  kUnreachable,             // no connection: refused, connect timeout, DNS
  kProtocolError,           // anything else (a 5xx; no answer after the handshake)
};

enum class Verdict { kPass, kFail, kInconclusive, kSkipped };
enum class Severity { kExposure, kLockout };
enum class Expectation { kAccepted, kRejected };

std::string_view to_string(Outcome o);
std::string_view to_string(Verdict v);
std::string_view to_string(Severity s);
std::string_view to_string(Expectation e);

std::optional<Outcome> outcome_from_string(std::string_view s);
std::optional<Verdict> verdict_from_string(std::string_view s);
std::optional<Severity> severity_from_string(std::string_view s);
std::optional<Expectation> expectation_from_string(std::string_view s);

// True for the three REJECTED_* outcomes: the beacon refused the client.
bool is_rejection(Outcome o);

}  // namespace mtls
