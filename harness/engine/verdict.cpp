// verdict.cpp: see verdict.hpp.
#include "engine/verdict.hpp"

#include <algorithm>
#include <cctype>

namespace mtls::engine {
namespace {
using json = nlohmann::json;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ok_status(const json& step) {
  const json& s = step.value("http_status", json(nullptr));
  return s.is_number_integer() && s.get<long>() >= 200 && s.get<long>() < 300;
}

std::string str(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

long long num(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<long long>() : -1;
}

// The requests of a check: its steps, or one made of the record's own fields when it has none.
json steps_of(const Evidence& e) {
  if (e.steps.is_array() && !e.steps.empty()) return e.steps;
  auto opt = [](const auto& v) { return v ? json(*v) : json(nullptr); };
  return json::array({{{"method", "GET"},
                       {"path", ""},
                       {"http_status", opt(e.http_status)},
                       {"body_sha256", opt(e.body_sha256)},
                       {"body_bytes", opt(e.body_bytes)},
                       {"content_type", opt(e.content_type)},
                       {"payload_check", opt(e.payload_check)},
                       {"payload_verified", opt(e.payload_verified)}}});
}

// Did a negative check that got 2xx answers get what its control got? Empty: yes (`note` says
// how it is known); otherwise why not (a soft refusal).
std::string other_than_control(const Evidence& got, const Evidence* control, std::string& note) {
  const json mine = steps_of(got);
  const json theirs = control ? steps_of(*control) : json::array();
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const json& step = mine[i];
    if (!ok_status(step)) continue;
    const std::string method = str(step, "method"), path = str(step, "path");
    if (method == "PUT") {
      if (str(step, "payload_check") == "upload-digest" &&
          step.value("payload_verified", json(nullptr)) == json(true)) {
        note = "the beacon's receipt names what was sent: the upload was stored";
        continue;
      }
      const json* back = nullptr;
      if (got.upload_readback.is_array())
        for (const json& r : got.upload_readback)
          if (str(r, "path") == path) back = &r;
      if (back && back->value("stored", json(nullptr)) == json(false))
        return "soft refusal: HTTP " + std::to_string(num(step, "http_status")) +
               " to the upload " + path + ", but reading it back with the valid credential gave " +
               str(*back, "found") + ": nothing was stored";
      note = back && back->value("stored", json(nullptr)) == json(true)
                 ? "read back with the valid credential: the upload was stored"
                 : "a 2xx to an upload that could not be read back (" +
                       (back ? str(*back, "found") : std::string("no read-back")) +
                       ") is taken as stored";
      continue;
    }
    if (method != "GET") continue;
    const json* c = i < theirs.size() && str(theirs[i], "method") == method && ok_status(theirs[i])
                        ? &theirs[i]
                        : nullptr;
    if (c == nullptr) {
      note = "no content of the positive control to compare with: any 2xx is taken as access";
      continue;
    }
    const std::string sha = str(step, "body_sha256");
    const bool same_hash = !sha.empty() && sha == str(*c, "body_sha256");
    const bool same_shape = num(step, "body_bytes") > 0 &&
                            num(step, "body_bytes") == num(*c, "body_bytes") &&
                            str(step, "content_type") == str(*c, "content_type");
    if (same_hash) {
      note = "got the same content as the positive control (SHA-256 " + sha.substr(0, 16) + "...)";
      continue;
    }
    if (same_shape) {
      note = "got content of the same size and type as the positive control's (" +
             std::to_string(num(step, "body_bytes")) + " bytes, " + str(step, "content_type") + ")";
      continue;
    }
    std::string why = "soft refusal: HTTP " + std::to_string(num(step, "http_status")) +
                      " with other content than the positive control got on " + path + " (" +
                      std::to_string(std::max(num(step, "body_bytes"), 0LL)) + " bytes";
    if (!sha.empty()) why += ", SHA-256 " + sha.substr(0, 16) + "...";
    if (got.body_head && i + 1 == mine.size()) why += ", starting '" + *got.body_head + "'";
    return why + ")";
  }
  return "";
}

}  // namespace

bool refusal_names_certificate(const Evidence& e) {
  if (!e.http_status) return false;
  const long s = *e.http_status;
  if (s == 495 || s == 496) return true;
  return (s == 400 || s == 401 || s == 403) && e.body_head &&
         lower(*e.body_head).find("certificate") != std::string::npos;
}

Judgement judge_positive(const Answer& got) {
  const Outcome o = got.outcome;
  const std::string name(to_string(o));
  if (o == Outcome::kAccepted) return {Verdict::kPass, std::nullopt, "accepted as required", {}};
  if (o == Outcome::kRejectedHttp && got.evidence && !refusal_names_certificate(*got.evidence)) {
    const long status = got.evidence->http_status.value_or(0);
    return {Verdict::kInconclusive,
            std::nullopt,
            "the valid device was answered HTTP " + std::to_string(status) +
                ", which does not name its certificate: not a lockout, and no refusal can be "
                "judged against it (a folder without a listing answers 403 or 404: give --path a "
                "file the agents download)",
            {}};
  }
  if (is_rejection(o))
    return {
        Verdict::kFail, Severity::kLockout, "a legitimate device was refused (" + name + ")", {}};
  if (o == Outcome::kClientCredentialError)
    return {Verdict::kFail,
            Severity::kLockout,
            "the distributed credential cannot be used by the agent (" + name + ")",
            {}};
  return {Verdict::kInconclusive,
          std::nullopt,
          "the positive control did not complete (" + name + "): nothing is proven",
          {}};
}

Judgement judge_negative(const Answer& got, std::optional<Answer> control,
                         const std::vector<Outcome>* closed) {
  Outcome o = got.outcome;
  std::string soft;
  if (o == Outcome::kAccepted) {
    std::string note = "no evidence to compare with the positive control";
    const Evidence* theirs =
        control && control->outcome == Outcome::kAccepted ? control->evidence : nullptr;
    if (got.evidence) soft = other_than_control(*got.evidence, theirs, note);
    if (soft.empty())
      return {Verdict::kFail, Severity::kExposure, "let in where it must be refused: " + note, {}};
    o = Outcome::kRejectedHttp;  // a 2xx that is not access
  }
  const std::string name(to_string(o));
  const std::optional<Outcome> changed = soft.empty() ? std::nullopt : std::optional(o);
  const std::string how = soft.empty() ? name : soft;
  const bool refused =
      closed ? std::find(closed->begin(), closed->end(), o) != closed->end() : is_rejection(o);
  if (!refused)
    return {Verdict::kInconclusive, std::nullopt,
            name + " cannot be attributed to client authentication", changed};
  if (!control)
    return {Verdict::kInconclusive, std::nullopt,
            "refused (" + how + "), but no positive control ran", changed};
  if (control->outcome != Outcome::kAccepted)
    return {Verdict::kInconclusive, std::nullopt,
            "refused (" + how + "), but the positive control was " +
                std::string(to_string(control->outcome)) + ", so the refusal proves nothing",
            changed};
  return {Verdict::kPass, std::nullopt, "refused (" + how + ") while the positive control got in",
          changed};
}

Judgement judge(Expectation expected, Outcome outcome, std::optional<Outcome> control) {
  if (expected == Expectation::kAccepted) return judge_positive({outcome});
  std::optional<Answer> c;
  if (control) c = Answer{*control};
  return judge_negative({outcome}, c);
}

}  // namespace mtls::engine
