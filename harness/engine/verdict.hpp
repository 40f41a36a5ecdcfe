// verdict.hpp: how an outcome becomes a verdict (design.md). A rejection counts as PASS only when
// its positive control (same beacon, operation and entry path, valid credential) was ACCEPTED.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/outcome.hpp"

namespace mtls::engine {

struct Judgement {
  Verdict verdict;
  std::optional<Severity> severity;
  std::string reason;
};

// A check whose expected result is ACCEPTED (a legitimate device).
Judgement judge_positive(Outcome outcome);

// A check whose expected result is REJECTED; `control` is its positive control's outcome, or
// nullopt when the control did not run.
// `closed`: the outcomes that count as a refusal on this entry path (default: the REJECTED_*).
Judgement judge_negative(Outcome outcome, std::optional<Outcome> control,
                         const std::vector<Outcome>* closed = nullptr);

Judgement judge(Expectation expected, Outcome outcome, std::optional<Outcome> control);

}  // namespace mtls::engine
