// execute.cpp: see execute.hpp.
#include "engine/execute.hpp"

#include <algorithm>
#include <functional>
#include <thread>

#include "agent/botan_client.hpp"
#include "agent/device.hpp"
#include "agent/fleet.hpp"
#include "agent/side_door.hpp"
#include "core/timefmt.hpp"
#include "engine/verdict.hpp"

namespace mtls::engine {
using json = nlohmann::json;

namespace {

// TLS alert protocol_version (RFC 8446 section 6): the beacon refused the offered TLS version.
constexpr int kAlertProtocolVersion = 70;

// Whether a self-test scenario declares the finding a FAILed record belongs to (its severity,
// kind, beacon, credential, door and operation), so its progress line can say so at once.
bool declares(const Scenario& sc, const ResultRecord& r, bool boundary) {
  if (!sc.expected_findings || !r.severity) return false;
  for (const auto& e : *sc.expected_findings) {
    const std::vector<std::string>& ops = declared_operations(sc, e);
    if (e.severity == to_string(*r.severity) && e.kind == (boundary ? "boundary-leak" : "check") &&
        e.beacon == r.beacon && e.credential == r.credential && e.entry_path == r.entry_path &&
        std::find(ops.begin(), ops.end(), r.operation) != ops.end())
      return true;
  }
  return false;
}

// A negative check whose upload got a 2xx without the beacon's receipt: was anything stored? Each
// such upload is read back through the front door with the control's (valid) credential and
// compared with what this check sent (its payload names the check, so another check's upload
// cannot match). Recorded in evidence.upload_readback for the verdict.
void read_back_uploads(Evidence& e, const Check& control, const std::function<void()>& pace) {
  if (!e.steps.is_array() || control.beacons.empty()) return;
  for (const json& step : e.steps) {
    const long status =
        step.value("http_status", json(0)).is_number() ? step["http_status"].get<long>() : 0;
    if (step.value("method", "") != "PUT" || status < 200 || status > 299) continue;
    if (receipt_proves_stored(step)) continue;  // the beacon's receipt already proves it
    const std::string path = step.value("path", "");
    const std::string sent = step.value("payload_sha256", json("")).is_string()
                                 ? step["payload_sha256"].get<std::string>()
                                 : "";
    const agent::Operation read{.id = "read-back",
                                .description = "GET " + path + " (read back an upload)",
                                .requests = {{.method = "GET", .path_template = path}}};
    pace();
    const ResultRecord back =
        agent::run_operation(read, control.beacons.front().url, control.options);
    json entry = {{"path", path},
                  {"http_status",
                   back.evidence.http_status ? json(*back.evidence.http_status) : json(nullptr)},
                  {"stored", nullptr}};
    if (back.outcome == Outcome::kAccepted && back.evidence.body_sha256) {
      entry["stored"] = !sent.empty() && *back.evidence.body_sha256 == sent;
      entry["found"] = entry["stored"] == json(true)
                           ? "what this check sent"
                           : "other content (" +
                                 std::to_string(back.evidence.body_bytes.value_or(0)) + " bytes)";
    } else {
      entry["found"] = back.evidence.http_status
                           ? "HTTP " + std::to_string(*back.evidence.http_status)
                           : std::string(to_string(back.outcome));
    }
    if (!e.upload_readback.is_array()) e.upload_readback = json::array();
    e.upload_readback.push_back(entry);
  }
}

// One scenario's checks as they execute: judged as each finishes, in plan order of phases.
class ScenarioExecution {
 public:
  ScenarioExecution(RunContext& ctx, const Scenario& sc, const std::vector<Check>& plan,
                    const RunningBeacons& beacons)
      : ctx_(ctx), sc_(sc), plan_(plan), beacons_(beacons) {
    out_.done.resize(plan.size());
    out_.finished_at.resize(plan.size());
  }

  Executed run() {
    for (int phase = 0; phase < 2; ++phase) run_phase(phase == 0);
    return std::move(out_);
  }

 private:
  bool stopped() const { return ctx_.options.stop != nullptr && ctx_.options.stop->load(); }

  // Waits for the probe's rate limit before a request starts.
  void pace() {
    std::this_thread::sleep_until(ctx_.next_start);
    ctx_.next_start = std::chrono::steady_clock::now() + ctx_.options.pace;
  }

  // The positive checks (phase one) or the negative ones: curl checks concurrently, then the
  // hand-driven TLS clients one at a time.
  void run_phase(bool positive) {
    std::vector<std::size_t> indices, by_hand;
    std::vector<std::unique_ptr<agent::Device>> devices;
    const agent::Operation& select = ctx_.prep.catalogue.get("select-beacon");
    for (std::size_t i = 0; i < plan_.size(); ++i) {
      const Check& ch = plan_[i];
      if ((ch.record.expected == Expectation::kAccepted) != positive) continue;
      if (ch.skip) {
        finish(i, {});
      } else if (ch.client != Client::kCurl) {
        by_hand.push_back(i);
      } else {
        indices.push_back(i);
        devices.push_back(std::make_unique<agent::Device>(
            agent::DevicePlan{.operations = {ch.op},
                              .select = ch.boundary ? &select : nullptr,
                              .beacons = ch.beacons,
                              .options = ch.options}));
      }
    }
    agent::drive(devices, ctx_.options.jobs,
                 [&](std::size_t k) { finish(indices[k], devices[k]->results().front()); },
                 {.min_interval = ctx_.options.pace,
                  .stop = ctx_.options.stop,
                  .next_start = &ctx_.next_start});
    for (std::size_t i : by_hand) {
      if (stopped()) break;
      pace();
      finish(i, run_by_hand(plan_[i]));
    }
  }

  static ResultRecord run_by_hand(const Check& ch) {
    const auto began = std::chrono::steady_clock::now();
    ResultRecord got = ch.client == Client::kBotan
                           ? agent::run_botan_client(*ch.op, ch.beacons.front().url, ch.options)
                           : agent::run_side_door(*ch.op, ch.beacons.front().url, ch.options);
    if (got.evidence.elapsed_ms <= 0)  // the whole exchange: JUnit's time, the report's
      got.evidence.elapsed_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began)
              .count();
    return got;
  }

  void finish(std::size_t i, ResultRecord got) {
    out_.finished_at[i] = std::chrono::system_clock::now();
    const Check& ch = plan_[i];
    ResultRecord r = ch.record;
    // The protocol-level client speaks TLS 1.2 only (Botan 2): against a beacon that refuses
    // TLS 1.2 the credential could not be presented, so the check was not carried out.
    const bool tls12_refused = ch.client == Client::kBotan &&
                               got.evidence.tls_alert_code == kAlertProtocolVersion &&
                               !got.evidence.handshake_completed;
    if (ch.skip || tls12_refused) {
      r.verdict = Verdict::kSkipped;
      r.reason = ch.skip ? *ch.skip
                         : "not carried out: the beacon refused TLS 1.2, the only version of the "
                           "protocol-level client (Botan 2) that presents this credential";
      r.evidence = got.evidence;
    } else {
      judge(ch, r, got);
    }
    out_.done[i] = r;
    ctx_.stream.append(r);
    ctx_.progress.add(r, r.verdict == Verdict::kFail && declares(sc_, r, ch.boundary));
  }

  // The verdict of a check that ran, against its control's answer (verdict.hpp).
  void judge(const Check& ch, ResultRecord& r, const ResultRecord& got) {
    r.outcome = got.outcome;
    r.evidence = got.evidence;
    if (ch.boundary) {
      const std::string used =
          r.evidence.selection.is_object() ? r.evidence.selection.value("used", "") : "";
      r.beacon = beacons_.name_of_url(used);
    }
    std::optional<Answer> control;
    if (ch.control) {
      r.control_id = plan_[*ch.control].record.check_id;
      const auto& c = out_.done[*ch.control];
      if (c && c->verdict != Verdict::kSkipped) control = Answer{c->outcome, &c->evidence};
    }
    // An upload answered 2xx without the beacon's receipt is read back: a negative check's
    // (was it stored?), and a control's own (does this beacon serve uploads back at all?).
    const bool negative = *r.expected == Expectation::kRejected;
    if (r.outcome == Outcome::kAccepted && !ch.boundary && (!negative || ch.control))
      read_back_uploads(r.evidence, negative ? plan_[*ch.control] : ch, [&] { pace(); });
    const EntryPathInfo& door = ctx_.prep.entry_paths.get(r.entry_path);
    const Judgement j = *r.expected == Expectation::kAccepted
                            ? judge_positive({r.outcome, &r.evidence})
                            : judge_negative({r.outcome, &r.evidence}, control, &door.closed);
    if (j.outcome) r.outcome = *j.outcome;
    r.verdict = j.verdict;
    r.severity = j.severity;
    r.reason = j.reason + "; agent: " + got.reason;
  }

  RunContext& ctx_;
  const Scenario& sc_;
  const std::vector<Check>& plan_;
  const RunningBeacons& beacons_;
  Executed out_;
};

}  // namespace

void Progress::add(const ResultRecord& r, bool declared) {
  ++done_;
  const std::string verdict(to_string(r.verdict.value_or(Verdict::kInconclusive)));
  ++counts_[verdict];
  if (!out_) return;
  if (!tty_) {
    *out_ << format_utc_ms(std::chrono::system_clock::now()) << " [" << done_ << "/" << total_
          << "] " << r.check_id << "  "
          << (r.verdict == Verdict::kSkipped ? "SKIPPED" : std::string(to_string(r.outcome)))
          << "  " << paint(verdict, color_)
          << (declared ? " (declared by the self-test: caught as expected)" : "") << "\n"
          << std::flush;
    return;
  }
  bar_.update(done_, paint(std::to_string(counts_["PASS"]) + " PASS", false) + "  " +
                         std::to_string(counts_["FAIL"]) + " " + paint("FAIL", color_) + "  " +
                         std::to_string(counts_["INCONCLUSIVE"]) + " " +
                         paint("INCONCLUSIVE", color_) + "  " + std::to_string(counts_["SKIPPED"]) +
                         " SKIPPED");
}

Executed execute_checks(RunContext& ctx, const Scenario& sc, const std::vector<Check>& plan,
                        const RunningBeacons& beacons) {
  return ScenarioExecution(ctx, sc, plan, beacons).run();
}

}  // namespace mtls::engine
