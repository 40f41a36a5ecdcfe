// verdict.hpp: how an outcome becomes a verdict (docs/scenarios.md), decided by evidence rather
// than by a fixed list of statuses. A rejection counts as PASS only when its positive control (same
// beacon and operation, valid credential, front door) was ACCEPTED; a negative check that got a 2xx
// is an EXPOSURE only when it got what the control got (the same content, or an upload that was
// stored): a 2xx with another page is a "soft refusal". A legitimate device refused is a LOCKOUT
// only when the refusal is about its certificate; any other refusal of the control proves nothing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/outcome.hpp"
#include "core/result.hpp"

namespace mtls::engine {

struct Judgement {
  Verdict verdict;
  std::optional<Severity> severity;
  std::string reason;
  // Set when the evidence changes the outcome the agent gave: a 2xx that is not the control's
  // content is REJECTED_HTTP (a soft refusal).
  std::optional<Outcome> outcome;
};

// What one check got: its outcome and, when there is one, its evidence (steps, bodies).
struct Answer {
  Outcome outcome;
  const Evidence* evidence = nullptr;
};

// A check whose expected result is ACCEPTED (a legitimate device).
Judgement judge_positive(const Answer& got);

// A check whose expected result is REJECTED; `control` is what its positive control got, or
// nullopt when the control did not run. `closed`: the outcomes that count as a refusal on this
// entry path (default: the REJECTED_*).
Judgement judge_negative(const Answer& got, std::optional<Answer> control,
                         const std::vector<Outcome>* closed = nullptr);

// Outcome-only forms (no evidence to compare): the rules above with nothing to tell apart.
Judgement judge(Expectation expected, Outcome outcome, std::optional<Outcome> control);

// True when a request step (evidence.steps) is an upload whose storage the beacon's receipt proves
// (it returned the SHA-256 of what was sent).
bool receipt_proves_stored(const nlohmann::json& step);

// True when an HTTP refusal names the client certificate: 495/496, or a 400/401/403 whose body
// says "certificate" (nginx's "400 No required SSL certificate was sent", IIS's 403.7).
bool refusal_names_certificate(const Evidence& e);

}  // namespace mtls::engine
