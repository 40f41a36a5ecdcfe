// device.cpp: see device.hpp.
#include "agent/device.hpp"

#include <algorithm>
#include <sstream>

#include "core/files.hpp"

namespace mtls::agent {
namespace {

constexpr int kPingTries = 3;                           // MgsPing: 3 pings per beacon
constexpr auto kPingTimeout = std::chrono::seconds(3);  // 3 s each
constexpr std::size_t kPingParallel = 50;               // at most 50 beacons at once

const RequestSpec& sums_spec() {
  static const RequestSpec spec{.method = "GET", .path_template = "/ManageSoftDL/SHA256SUMS"};
  return spec;
}

std::string label_of(const std::string& url) {
  auto start = url.find("://");
  std::string rest = start == std::string::npos ? url : url.substr(start + 3);
  return rest.substr(0, rest.find('/'));
}

std::string base_of(std::string url) {
  while (url.ends_with("/")) url.pop_back();
  return url;
}

}  // namespace

Device::Device(DevicePlan plan) : plan_(std::move(plan)), pings_(plan_.beacons.size()) {
  if (plan_.beacons.empty()) throw InputError("a device needs at least one beacon");
  if (!plan_.select) {  // no selection: the list order is the ranking
    for (std::size_t i = 0; i < plan_.beacons.size(); ++i) ranking_.push_back(i);
    ranked_ = true;
  }
}

std::unique_ptr<Transfer> Device::start(Kind kind, std::size_t beacon, const RequestSpec& spec,
                                        const std::string& path, std::string upload,
                                        std::optional<std::string> expected,
                                        std::chrono::milliseconds timeout) {
  auto t =
      std::make_unique<Transfer>(plan_.options, spec, base_of(plan_.beacons[beacon].url) + path,
                                 std::move(upload), std::move(expected), timeout);
  pending_[t.get()] = Pending{kind, beacon};
  return t;
}

std::unique_ptr<Transfer> Device::next() {
  if (!ranked_) {
    std::size_t flying = 0;
    for (const auto& p : pings_) flying += p.in_flight;
    for (std::size_t b = 0; b < pings_.size() && flying < kPingParallel; ++b) {
      PingState& p = pings_[b];
      if (p.in_flight || p.started >= kPingTries) continue;
      ++p.started;
      p.in_flight = true;
      const RequestSpec& spec = plan_.select->requests.front();
      return start(Kind::kPing, b, spec, spec.path_for(plan_.options.device), "", std::nullopt,
                   kPingTimeout);
    }
    return nullptr;
  }
  if (in_flight_ || finished()) return nullptr;
  const Operation& op = *plan_.operations[op_];
  const RequestSpec& spec = op.requests[request_];
  const std::size_t beacon = current_beacon();
  std::optional<std::string> expected;
  if (spec.content) {
    if (auto it = plan_.options.known_digests.find(*spec.content);
        it != plan_.options.known_digests.end())
      expected = it->second;
  }
  if (!expected && spec.digest_from_sums) {
    auto sums = sums_.find(beacon);
    if (sums == sums_.end()) {  // fetch the beacon's digest manifest first
      in_flight_ = true;
      return start(Kind::kSums, beacon, sums_spec(), sums_spec().path_template, "", std::nullopt,
                   plan_.options.total_timeout);
    }
    const std::string rel =
        spec.path_for(plan_.options.device).substr(std::string("/ManageSoftDL/").size());
    if (auto d = sums->second.find(rel); d != sums->second.end()) expected = d->second;
  }
  in_flight_ = true;
  return start(
      Kind::kRequest, beacon, spec, spec.path_for(plan_.options.device),
      spec.method == "PUT" ? spec.body_for(plan_.options.device, plan_.options.check_id) : "",
      expected, plan_.options.total_timeout);
}

void Device::rank() {
  std::vector<std::size_t> order(plan_.beacons.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto median = [&](std::size_t b) {
    auto t = pings_[b].times_ms;
    if (t.empty()) return 1e18;
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (plan_.beacons[a].priority != plan_.beacons[b].priority)
      return plan_.beacons[a].priority < plan_.beacons[b].priority;
    return median(a) < median(b);  // unreachable beacons (no answer) sort last
  });
  for (std::size_t b : order) {
    const auto& p = pings_[b];
    ranking_json_.push_back(
        {{"url", plan_.beacons[b].url},
         {"priority", plan_.beacons[b].priority},
         {"answered", p.times_ms.size()},
         {"tries", kPingTries},
         {"median_ms", p.times_ms.empty() ? nlohmann::json(nullptr) : nlohmann::json(median(b))},
         {"last_error",
          p.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.last_error)}});
  }
  ranking_ = order;
  ranked_ = true;
}

void Device::done(Transfer& t, CURLcode code) {
  const auto it = pending_.find(&t);
  if (it == pending_.end())
    throw HarnessError("a transfer finished that this device did not start");
  const Pending p = it->second;
  pending_.erase(it);
  RequestResult r = t.finish(code);
  if (p.kind == Kind::kPing) {
    PingState& ps = pings_[p.beacon];
    ps.in_flight = false;
    ++ps.done;
    if (r.evidence.http_status)  // any HTTP answer times the beacon, even a refusal
      ps.times_ms.push_back(r.evidence.elapsed_ms);
    else
      ps.last_error =
          std::string(to_string(r.classification.outcome)) + ": " + r.evidence.curl_error;
    if (std::all_of(pings_.begin(), pings_.end(),
                    [](const PingState& s) { return s.done >= kPingTries; }))
      rank();
    return;
  }
  in_flight_ = false;
  const Operation& op = *plan_.operations[op_];
  if (p.kind == Kind::kSums) {
    steps_.push_back(step_json(sums_spec(), sums_spec().path_template, r));
    auto& table = sums_[p.beacon];
    if (r.classification.outcome == Outcome::kAccepted) {
      std::istringstream in(r.body);
      for (std::string line; std::getline(in, line);)
        if (auto sep = line.find("  "); sep != std::string::npos)
          table[line.substr(sep + 2)] = line.substr(0, sep);
    }
    return;  // next() now finds the table (possibly empty: then the payload is format-checked)
  }
  const RequestSpec& spec = op.requests[request_];
  steps_.push_back(step_json(spec, spec.path_for(plan_.options.device), r));
  if (r.classification.outcome == Outcome::kAccepted) {
    if (++request_ < op.requests.size()) return;
    finish_op(r, Outcome::kAccepted, r.classification.reason);
    return;
  }
  attempts_.push_back({{"url", plan_.beacons[p.beacon].url},
                       {"outcome", std::string(to_string(r.classification.outcome))},
                       {"reason", r.classification.reason}});
  if (attempt_ + 1 < ranking_.size()) {  // fail over to the next beacon, from the first request
    ++attempt_;
    request_ = 0;
    return;
  }
  finish_op(r, r.classification.outcome, r.classification.reason);
}

void Device::finish_op(const RequestResult& last, Outcome outcome, const std::string& reason) {
  const Operation& op = *plan_.operations[op_];
  const std::string used = plan_.beacons[current_beacon()].url;
  if (outcome == Outcome::kAccepted)
    attempts_.push_back({{"url", used}, {"outcome", "ACCEPTED"}, {"reason", reason}});
  ResultRecord rec;
  rec.beacon = label_of(used);
  rec.operation = op.id;
  rec.credential = plan_.options.credential.name;
  rec.entry_path = "https";
  rec.check_id = rec.beacon + "/" + rec.operation + "/" + rec.credential + "/" + rec.entry_path;
  rec.outcome = outcome;
  rec.reason = attempts_.size() > 1
                   ? reason + " (after failing over: " + std::to_string(attempts_.size() - 1) +
                         " beacon(s) did not serve it)"
                   : reason;
  rec.evidence = last.evidence;
  rec.evidence.steps = steps_;
  if (plan_.beacons.size() > 1 || plan_.select)
    rec.evidence.selection = {{"ranking", ranking_json_}, {"attempts", attempts_}, {"used", used}};
  results_.push_back(std::move(rec));
  // The next operation starts again from the best beacon (each transfer may choose anew).
  ++op_;
  request_ = 0;
  attempt_ = 0;
  attempts_ = nlohmann::json::array();
  steps_ = nlohmann::json::array();
}

}  // namespace mtls::agent
