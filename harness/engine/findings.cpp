// findings.cpp: see findings.hpp.
#include "engine/findings.hpp"
#include "pki/manifest.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "core/files.hpp"
#include "core/name_table.hpp"

namespace mtls::engine {
using json = nlohmann::json;

namespace {

constexpr NameTable<FindingSeverity, 4> kSeverityNames{{
    {FindingSeverity::kExposure, "EXPOSURE"},
    {FindingSeverity::kLockout, "LOCKOUT"},
    {FindingSeverity::kSelftest, "SELFTEST"},
    {FindingSeverity::kWarn, "WARN"},
}};

bool is_boundary(const ResultRecord& r) {
  return r.check_id.starts_with("boundary/");
}

std::string remediation(FindingSeverity severity, const std::string& kind,
                        const std::string& beacon, const std::string& defect) {
  if (kind == "boundary-leak")
    return "enforce client certificates on " + beacon +
           " or remove it from the agents' failover list: "
           "a device picks any beacon it can reach";
  if (severity == FindingSeverity::kLockout)
    return "make " + beacon +
           " trust the client CA for client authentication, and check the chain the "
           "devices send (the intermediate must be included)";
  if (severity == FindingSeverity::kWarn)
    return beacon +
           " does not check revocation: use short-lived client certificates, or enable CRL "
           "checking before relying on revocation";
  if (defect == pki::defect::kNoCertificate)
    return "require a client certificate on every binding of " + beacon;
  if (defect == pki::defect::kChain)
    return "trust only the client CA for client authentication on " + beacon;
  if (defect == pki::defect::kValidity)
    return "reject certificates outside their validity period on " + beacon;
  if (defect == pki::defect::kEku) return "require the clientAuth extended key usage on " + beacon;
  if (defect == pki::defect::kRevocation)
    return "enable revocation checking (CRL or OCSP) on " + beacon;
  if (defect == pki::defect::kForgedIdentity)
    return "verify the client certificate's signatures up to the trusted client CA on " + beacon +
           ": a certificate that only copies the device's names (issuer, subject, serial) must "
           "not get in (trust a CA by its key, never by its name)";
  if (defect == pki::defect::kIntermediate)
    return "trust only the root on " + beacon + " and require devices to send their chain";
  return "require a valid client certificate on " + beacon;
}

// The severity a record contributes to a finding, if any: its FAIL's, or WARN for a revoked
// certificate the policy expects to get in (no revocation check) and that got in.
std::optional<FindingSeverity> severity_of(const ResultRecord& r) {
  if (r.verdict == Verdict::kFail && r.severity)
    return *r.severity == Severity::kExposure ? FindingSeverity::kExposure
                                              : FindingSeverity::kLockout;
  if (r.verdict == Verdict::kPass && r.outcome == Outcome::kAccepted &&
      r.defect == pki::defect::kRevocation && r.expected == Expectation::kAccepted)
    return FindingSeverity::kWarn;
  return std::nullopt;
}

Finding new_group(const ResultRecord& r, FindingSeverity severity, const std::string& kind,
                  const EntryPaths& doors) {
  Finding f;
  f.severity = severity;
  f.kind = kind;
  f.scenario = r.scenario.value_or("");
  f.beacon = r.beacon;
  f.credential = r.credential;
  f.entry_path = r.entry_path;
  const EntryPathInfo& door = doors.get(r.entry_path);
  std::string name = r.door_name.value_or("");
  if (const auto colon = r.entry_path.find(':'); colon != std::string::npos)
    name = r.entry_path.substr(colon + 1);  // sni:<name>, path:<variant>...
  const std::string defect = r.defect.value_or("");
  if (r.entry_path != "https" && severity == FindingSeverity::kExposure)
    f.title = EntryPaths::fill(door.title, r.beacon, name) + " (credential '" + r.credential + "')";
  else if (kind == "boundary-leak")
    f.title = "boundary leak: a device with credential '" + r.credential + "' reached " + r.beacon +
              " through the failover list and got in";
  else if (severity == FindingSeverity::kExposure)
    f.title = r.beacon + " lets in a device with credential '" + r.credential + "' (" +
              r.credential_description + ")";
  else if (severity == FindingSeverity::kLockout)
    f.title = r.beacon + " refuses the legitimate credential '" + r.credential + "'";
  else
    f.title = "revoked certificate accepted by " + r.beacon;
  f.remediation = r.entry_path != "https" ? EntryPaths::fill(door.remediation, r.beacon, name)
                                          : remediation(severity, kind, r.beacon, defect);
  if (defect == pki::defect::kForgedIdentity)
    f.advisories = {"CWE-295 (improper certificate validation)",
                    "CWE-290 (authentication bypass by spoofing)"};
  else
    f.advisories = door.advisories;
  return f;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Records from several vantage points (a merged report): the same finding seen from several of
// them is one finding that names them; its title says from where ("from vantage point site-b
// only" when the others did not see it).
std::vector<Finding> merge_vantages(std::vector<Finding> groups,
                                    const std::vector<ResultRecord>& records) {
  std::set<std::string> all;
  for (const auto& r : records)
    if (r.vantage) all.insert(*r.vantage);
  if (all.empty()) return groups;
  std::vector<Finding> out;
  std::map<std::string, std::size_t> index;
  for (auto& g : groups) {
    const std::string key = g.scenario + "|" + std::string(to_string(g.severity)) + "|" + g.kind +
                            "|" + g.beacon + "|" + g.credential + "|" + g.entry_path;
    const auto [it, added] = index.try_emplace(key, out.size());
    if (added) {
      out.push_back(std::move(g));
      continue;
    }
    Finding& f = out[it->second];
    for (const auto& v : g.vantages)
      if (std::find(f.vantages.begin(), f.vantages.end(), v) == f.vantages.end())
        f.vantages.push_back(v);
    for (const auto& op : g.operations)
      if (std::find(f.operations.begin(), f.operations.end(), op) == f.operations.end())
        f.operations.push_back(op);
    f.check_ids.insert(f.check_ids.end(), g.check_ids.begin(), g.check_ids.end());
    f.members.insert(f.members.end(), g.members.begin(), g.members.end());
    for (const auto& d : g.also_through)
      if (std::find(f.also_through.begin(), f.also_through.end(), d) == f.also_through.end())
        f.also_through.push_back(d);
  }
  for (auto& f : out) {
    if (f.vantages.empty()) continue;
    std::sort(f.vantages.begin(), f.vantages.end());
    std::string list;
    for (const auto& v : f.vantages) list += (list.empty() ? "" : ", ") + v;
    f.title += f.vantages.size() == all.size() && all.size() > 1
                   ? " (from every vantage point: " + list + ")"
                   : " (from vantage point " + list + (all.size() > 1 ? " only)" : ")");
  }
  return out;
}

Finding selftest_finding(const std::string& scenario, const std::string& kind,
                         const std::string& beacon, const std::string& credential,
                         const std::string& entry_path, std::vector<std::string> operations,
                         std::string title, std::string remediation) {
  Finding f;
  f.severity = FindingSeverity::kSelftest;
  f.kind = kind;
  f.scenario = scenario;
  f.beacon = beacon;
  f.credential = credential;
  f.entry_path = entry_path;
  f.operations = std::move(operations);
  f.title = std::move(title);
  f.remediation = std::move(remediation);
  return f;
}

}  // namespace

std::string_view to_string(FindingSeverity s) {
  return name_of(kSeverityNames, s);
}

std::optional<FindingSeverity> finding_severity_from_string(std::string_view s) {
  return value_of(kSeverityNames, s);
}

json to_json(const Finding& f) {
  json j = {{"severity", std::string(to_string(f.severity))},
            {"kind", f.kind},
            {"scenario", f.scenario},
            {"beacon", f.beacon},
            {"credential", f.credential},
            {"entry_path", f.entry_path},
            {"operations", f.operations},
            {"check_ids", f.check_ids},
            {"title", f.title},
            {"remediation", f.remediation},
            {"advisories", f.advisories},
            {"expected", f.expected}};
  if (!f.also_through.empty()) j["also_through"] = f.also_through;
  if (!f.vantages.empty()) j["vantages"] = f.vantages;
  if (f.details.is_object())
    for (const auto& [k, v] : f.details.items()) j[k] = v;
  return j;
}

Finding finding_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw InputError(where + ": a finding must be a JSON object");
  static const std::set<std::string> kKnown = {
      "severity",  "kind",  "scenario",    "beacon",     "credential", "entry_path",   "operations",
      "check_ids", "title", "remediation", "advisories", "expected",   "also_through", "vantages"};
  Finding f;
  try {
    const auto severity = finding_severity_from_string(j.value("severity", ""));
    if (!severity)
      throw InputError(where + ": severity must be EXPOSURE, LOCKOUT, SELFTEST or WARN");
    f.severity = *severity;
    f.kind = j.value("kind", "");
    f.scenario = j.value("scenario", "");
    f.beacon = j.value("beacon", "");
    f.credential = j.value("credential", "");
    f.entry_path = j.value("entry_path", "https");
    f.operations = j.value("operations", std::vector<std::string>{});
    f.check_ids = j.value("check_ids", std::vector<std::string>{});
    f.title = j.value("title", "");
    f.remediation = j.value("remediation", "");
    f.advisories = j.value("advisories", std::vector<std::string>{});
    f.also_through = j.value("also_through", std::vector<std::string>{});
    f.vantages = j.value("vantages", std::vector<std::string>{});
    f.expected = j.value("expected", false);
  } catch (const json::exception& e) {
    throw InputError(where + ": a finding field has the wrong type (" + e.what() + ")");
  }
  for (const auto& [k, v] : j.items())
    if (!kKnown.contains(k)) f.details[k] = v;
  return f;
}

std::vector<Finding> group_findings(const std::vector<ResultRecord>& records,
                                    const EntryPaths& doors) {
  std::vector<Finding> groups;
  std::map<std::string, std::size_t> index;  // grouping key -> groups[]
  auto key_of = [](const ResultRecord& r, FindingSeverity s, const std::string& kind,
                   const std::string& entry_path) {
    return r.vantage.value_or("") + "|" + r.scenario.value_or("") + "|" +
           std::string(to_string(s)) + "|" + kind + "|" + r.beacon + "|" + r.credential + "|" +
           entry_path;
  };
  // A side door that lets in a credential the front door already lets in (same beacon and
  // operation) is no finding of its own: it joins the front door's as "also open through".
  std::set<std::string> open_front;
  for (const auto& r : records)
    if (r.entry_path == "https" && r.verdict == Verdict::kFail &&
        r.severity == Severity::kExposure && !is_boundary(r))
      open_front.insert(r.vantage.value_or("") + "|" + r.scenario.value_or("") + "|" + r.beacon +
                        "|" + r.operation + "|" + r.credential);
  // Front doors first, so that a side door finds its front door's finding whatever the order of
  // the records (a merged report holds shards in any order).
  std::vector<std::size_t> order;
  for (int pass = 0; pass < 2; ++pass)
    for (std::size_t i = 0; i < records.size(); ++i)
      if ((records[i].entry_path == "https") == (pass == 0)) order.push_back(i);
  for (const std::size_t i : order) {
    const ResultRecord& r = records[i];
    const auto severity = severity_of(r);
    if (!severity) continue;
    const std::string kind = is_boundary(r) ? "boundary-leak" : "check";
    const auto front = index.find(key_of(r, FindingSeverity::kExposure, "check", "https"));
    if (r.entry_path != "https" && r.verdict == Verdict::kFail && !is_boundary(r) &&
        front != index.end() &&
        open_front.contains(r.vantage.value_or("") + "|" + r.scenario.value_or("") + "|" +
                            r.beacon + "|" + r.operation + "|" + r.credential)) {
      Finding& f = groups[front->second];
      if (std::find(f.also_through.begin(), f.also_through.end(), r.entry_path) ==
          f.also_through.end())
        f.also_through.push_back(r.entry_path);
      f.check_ids.push_back(r.check_id);
      f.members.push_back(i);
      continue;
    }
    const auto [it, added] = index.try_emplace(key_of(r, *severity, kind, r.entry_path), 0);
    if (added) {
      it->second = groups.size();
      groups.push_back(new_group(r, *severity, kind, doors));
      if (r.vantage) groups.back().vantages = {*r.vantage};
    }
    Finding& f = groups[it->second];
    f.operations.push_back(r.operation);
    f.check_ids.push_back(r.check_id);
    f.members.push_back(i);
  }
  groups = merge_vantages(std::move(groups), records);
  for (auto& f : groups) {
    if (!f.also_through.empty()) {
      std::string list;
      for (const auto& d : f.also_through) list += (list.empty() ? "" : ", ") + d;
      f.title += "; the same is open through " + list;
    }
    f.expected = !f.members.empty();
    for (std::size_t m : f.members) f.expected = f.expected && records[m].expected_finding;
  }
  return groups;
}

std::vector<Finding> match_self_test(const std::string& scenario,
                                     const std::vector<DeclaredFinding>& declared,
                                     std::vector<Finding>& groups,
                                     std::vector<ResultRecord>& records) {
  std::vector<Finding> out;
  for (const auto& e : declared) {
    bool matched = false;
    for (auto& g : groups) {
      if (g.scenario != scenario || g.expected || to_string(g.severity) != e.severity ||
          g.kind != e.kind || g.beacon != e.beacon || g.credential != e.credential ||
          g.entry_path != e.entry_path || sorted(g.operations) != sorted(e.operations))
        continue;
      g.expected = true;
      for (std::size_t m : g.members) records[m].expected_finding = true;
      matched = true;
      break;
    }
    if (!matched)
      out.push_back(selftest_finding(
          scenario, "self-test-miss", e.beacon, e.credential, e.entry_path, sorted(e.operations),
          "self-test: the harness did not report the declared " + e.severity + " (" + e.kind +
              ") for credential '" + e.credential + "' on " + e.beacon +
              (e.entry_path != "https" ? " through " + e.entry_path : ""),
          "the harness missed what this scenario proves it catches: treat every other result of "
          "this run with suspicion"));
  }
  for (const auto& g : groups)  // in a self-test, an undeclared WARN is a miss too
    if (g.scenario == scenario && g.severity == FindingSeverity::kWarn && !g.expected)
      out.push_back(selftest_finding(
          scenario, "self-test-undeclared", g.beacon, g.credential, g.entry_path, g.operations,
          "self-test: the harness reported a WARN this scenario does not declare: " + g.title,
          "declare it in expect_findings if it is right, or find why the harness reports it"));
  return out;
}

void sort_findings(std::vector<Finding>& findings) {
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.severity, a.scenario, a.beacon, a.credential, a.entry_path, a.kind, a.title) <
           std::tie(b.severity, b.scenario, b.beacon, b.credential, b.entry_path, b.kind, b.title);
  });
}

FindingCounts count(const std::vector<Finding>& findings) {
  FindingCounts c;
  for (const auto& f : findings) {
    c.selftest_missed += f.severity == FindingSeverity::kSelftest;
    c.warn += f.severity == FindingSeverity::kWarn;
  }
  return c;
}

json findings_of_records(const std::vector<ResultRecord>& records, const json& recorded) {
  std::vector<Finding> all = group_findings(records, EntryPaths::load_default());
  for (std::size_t i = 0; i < recorded.size(); ++i)
    all.push_back(finding_from_json(recorded[i], "recorded finding " + std::to_string(i + 1)));
  sort_findings(all);
  json out = json::array();
  for (const auto& f : all) out.push_back(to_json(f));
  return out;
}

}  // namespace mtls::engine
