// verdict.cpp: see verdict.hpp.
#include "engine/verdict.hpp"

#include <algorithm>

namespace mtls::engine {

Judgement judge_positive(Outcome o) {
  const std::string name(to_string(o));
  if (o == Outcome::kAccepted) return {Verdict::kPass, std::nullopt, "accepted as required"};
  if (is_rejection(o))
    return {Verdict::kFail, Severity::kLockout, "a legitimate device was refused (" + name + ")"};
  if (o == Outcome::kClientCredentialError)
    return {Verdict::kFail, Severity::kLockout,
            "the distributed credential cannot be used by the agent (" + name + ")"};
  return {Verdict::kInconclusive, std::nullopt,
          "the positive control did not complete (" + name + "): nothing is proven"};
}

Judgement judge_negative(Outcome o, std::optional<Outcome> control,
                         const std::vector<Outcome>* closed) {
  const std::string name(to_string(o));
  if (o == Outcome::kAccepted)
    return {Verdict::kFail, Severity::kExposure, "let in where it must be refused"};
  const bool refused =
      closed ? std::find(closed->begin(), closed->end(), o) != closed->end() : is_rejection(o);
  if (!refused)
    return {Verdict::kInconclusive, std::nullopt,
            name + " cannot be attributed to client authentication"};
  if (!control)
    return {Verdict::kInconclusive, std::nullopt,
            "refused (" + name + "), but no positive control ran"};
  if (*control != Outcome::kAccepted)
    return {Verdict::kInconclusive, std::nullopt,
            "refused (" + name + "), but the positive control was " +
                std::string(to_string(*control)) + ", so the refusal proves nothing"};
  return {Verdict::kPass, std::nullopt, "refused (" + name + ") while the positive control got in"};
}

Judgement judge(Expectation expected, Outcome outcome, std::optional<Outcome> control) {
  return expected == Expectation::kAccepted ? judge_positive(outcome)
                                            : judge_negative(outcome, control);
}

}  // namespace mtls::engine
