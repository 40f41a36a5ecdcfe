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

// Did a negative check that got 2xx answers get what its control got?
struct Comparison {
  enum Kind { kSame, kOther, kUnknown } kind = kSame;
  std::string text;  // kSame: how it is known; kOther: the soft refusal; kUnknown: why not known
};

const json* readback_of(const Evidence& e, const std::string& path) {
  if (e.upload_readback.is_array())
    for (const json& r : e.upload_readback)
      if (str(r, "path") == path) return &r;
  return nullptr;
}

Comparison compare_upload(const json& step, const json* control_step, const Evidence& got,
                          const Evidence* control) {
  const std::string path = str(step, "path"), status = std::to_string(num(step, "http_status"));
  if (receipt_proves_stored(step))
    return {Comparison::kSame, "the beacon's receipt names what was sent: the upload was stored"};
  const json* back = readback_of(got, path);
  const json stored = back ? back->value("stored", json(nullptr)) : json(nullptr);
  if (stored == json(true))
    return {Comparison::kSame, "read back with the valid credential: the upload was stored"};
  if (stored == json(false))
    return {Comparison::kOther, "soft refusal: HTTP " + status + " to the upload " + path +
                                    ", but reading it back with the valid credential gave " +
                                    str(*back, "found") + ": nothing was stored"};
  if (control_step == nullptr)
    return {Comparison::kUnknown, "HTTP " + status +
                                      " to an upload the valid device could not make" +
                                      " there: nothing to compare with"};
  const json* own = control ? readback_of(*control, str(*control_step, "path")) : nullptr;
  const long back_status = back ? num(*back, "http_status") : -1;
  if (own && own->value("stored", json(nullptr)) == json(true) &&
      (back_status == 404 || back_status == 410))
    return {Comparison::kOther, "soft refusal: HTTP " + status + " to the upload " + path +
                                    ", but it reads back " + std::to_string(back_status) +
                                    " where the valid device's own upload reads back: nothing "
                                    "was stored"};
  return {Comparison::kSame, "a 2xx to an upload that could not be read back (" +
                                 (back ? str(*back, "found") : std::string("no read-back")) +
                                 ") is taken as stored"};
}

Comparison compare_download(const json& step, const json* c, const Evidence& got, bool last) {
  const std::string sha = str(step, "body_sha256"), path = str(step, "path");
  if (str(step, "payload_check") == "sha256" &&
      step.value("payload_verified", json(nullptr)) == json(true))
    return {Comparison::kSame, "got the beacon's own content (its SHA-256 is the known one)"};
  if (c == nullptr)
    return {Comparison::kUnknown, "HTTP " + std::to_string(num(step, "http_status")) + " on " +
                                      path +
                                      ", where the valid device got nothing: no content "
                                      "to compare with"};
  if (!sha.empty() && sha == str(*c, "body_sha256"))
    return {Comparison::kSame,
            "got the same content as the positive control (SHA-256 " + sha.substr(0, 16) + "...)"};
  if (num(step, "body_bytes") > 0 && num(step, "body_bytes") == num(*c, "body_bytes") &&
      str(step, "content_type") == str(*c, "content_type"))
    return {Comparison::kSame, "got content of the same size and type as the positive control's (" +
                                   std::to_string(num(step, "body_bytes")) + " bytes, " +
                                   str(step, "content_type") + ")"};
  std::string why = "soft refusal: HTTP " + std::to_string(num(step, "http_status")) +
                    " with other content than the positive control got on " + path + " (" +
                    std::to_string(std::max(num(step, "body_bytes"), 0LL)) + " bytes";
  if (!sha.empty()) why += ", SHA-256 " + sha.substr(0, 16) + "...";
  if (got.body_head && last) why += ", starting '" + *got.body_head + "'";
  return {Comparison::kOther, why + ")"};
}

Comparison compare_with_control(const Evidence& got, const Evidence* control) {
  const json mine = steps_of(got);
  const json theirs = control ? steps_of(*control) : json::array();
  Comparison out{Comparison::kSame, "no 2xx answer to compare"};
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const json& step = mine[i];
    if (!ok_status(step)) continue;
    const std::string method = str(step, "method");
    const json* c = i < theirs.size() && str(theirs[i], "method") == method && ok_status(theirs[i])
                        ? &theirs[i]
                        : nullptr;
    Comparison one;
    if (method == "PUT")
      one = compare_upload(step, c, got, control);
    else if (method == "GET")
      one = compare_download(step, c, got, i + 1 == mine.size());
    else
      continue;
    if (one.kind != Comparison::kSame) return one;
    out = one;
  }
  return out;
}

}  // namespace

bool receipt_proves_stored(const json& step) {
  return str(step, "payload_check") == "upload-digest" &&
         step.value("payload_verified", json(nullptr)) == json(true);
}

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
    Comparison c{Comparison::kSame, "no evidence to compare with the positive control"};
    if (got.evidence)
      c = compare_with_control(*got.evidence, control ? control->evidence : nullptr);
    if (c.kind == Comparison::kSame)
      return {
          Verdict::kFail, Severity::kExposure, "let in where it must be refused: " + c.text, {}};
    if (c.kind == Comparison::kUnknown) return {Verdict::kInconclusive, std::nullopt, c.text, {}};
    soft = c.text;
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
