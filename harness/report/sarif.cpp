// sarif.cpp: report.sarif, the findings as SARIF 2.1.0 (OASIS Static Analysis Results
// Interchange Format) for code-scanning dashboards: one rule per kind of finding (a credential
// defect let in, a side door, a lockout, a boundary leak...), one result per finding, level by
// severity, located at the scenario file and the line that declares the beacon (or, for a probe,
// the beacon's URL). Findings a self-test declares are results with a suppression, so dashboards
// show them as intended rather than as alerts.
#include <map>
#include <string>

#include "core/files.hpp"
#include "report/json_text.hpp"
#include "report/render.hpp"

namespace mtls::report {
using json = nlohmann::json;

namespace {

struct Rule {
  std::string id, description;
  std::string level;  // SARIF's: error | warning | note
};

std::string level_of(const std::string& severity) {
  return severity == "WARN" ? "warning" : "error";
}

// The record a finding's first check names (for its defect), or null.
const json* first_record(const json& doc, const json& f) {
  const json ids = f.value("check_ids", json::array());
  if (ids.empty() || !ids[0].is_string()) return nullptr;
  for (const auto& r : doc["results"])
    if (str(r, "scenario") == str(f, "scenario") && str(r, "check_id") == ids[0].get<std::string>())
      return &r;
  return nullptr;
}

Rule rule_of(const json& doc, const json& f) {
  const std::string severity = str(f, "severity"), kind = str(f, "kind");
  const std::string path = str(f, "entry_path", "https");
  const std::string level = level_of(severity);
  if (kind == "boundary-leak")
    return {"mtls/boundary-leak",
            "a device without a valid client certificate reaches a beacon through the agents' "
            "failover list and gets in",
            level};
  if (kind == "client-ca-list")
    return {"mtls/client-ca-list",
            "a beacon asks for client certificates from CAs the distributed certificate does not "
            "need (public roots, other CAs)",
            level};
  if (kind == "expiry")
    return {"mtls/expiry",
            "the distributed certificate expires soon: every device holding it loses access the "
            "same day",
            level};
  if (kind.starts_with("self-test"))
    return {"mtls/" + kind, "a self-test scenario did not get the findings it declares", level};
  if (severity == "LOCKOUT")
    return {"mtls/lockout", "a beacon refuses the legitimate, distributed client certificate",
            level};
  if (severity == "WARN")
    return {"mtls/revocation-not-checked",
            "a beacon lets in a revoked client certificate (revocation is not checked)", level};
  if (path != "https") {
    const std::string door = path.substr(0, path.find(':'));
    return {"mtls/door/" + door,
            "a beacon lets a device without a valid client certificate in through a side door (" +
                door + ")",
            level};
  }
  const json* r = first_record(doc, f);
  const std::string defect = r ? str(*r, "defect", "other") : "other";
  return {"mtls/credential/" + defect,
          "a beacon lets in a device whose client certificate is invalid (" + defect + ")", level};
}

// The scenario file and the line that declares the beacon; a probe's target (no line: the
// scenario was made from the command line) is located by its URL.
json location_of(const json& doc, const json& f) {
  const json& m = doc.value("metadata", json::object());
  for (const auto& b : m.value("beacons", json::array())) {
    if (str(b, "scenario") != str(f, "scenario") || str(b, "name") != str(f, "beacon")) continue;
    if (b.contains("line") && b["line"].is_number_integer())
      for (const auto& sc : m.value("scenarios", json::array()))
        if (str(sc, "id") == str(f, "scenario") && !str(sc, "file").empty()) {
          const std::string file = str(sc, "file");
          return {
              {"physicalLocation",
               {{"artifactLocation", {{"uri", file.starts_with("/") ? "file://" + file : file}}},
                {"region", {{"startLine", b["line"]}}}}}};
        }
    return {{"physicalLocation", {{"artifactLocation", {{"uri", str(b, "url")}}}}}};
  }
  return {{"physicalLocation", {{"artifactLocation", {{"uri", str(f, "scenario", "unknown")}}}}}};
}

}  // namespace

std::string render_sarif(const json& doc) {
  const json& m = doc.value("metadata", json::object());
  std::map<std::string, std::size_t> rule_index;
  json rules = json::array(), results = json::array();
  for (const auto& f : doc.value("findings", json::array())) {
    const Rule rule = rule_of(doc, f);
    auto [it, added] = rule_index.try_emplace(rule.id, rules.size());
    if (added)
      rules.push_back({{"id", rule.id},
                       {"shortDescription", {{"text", rule.description}}},
                       {"defaultConfiguration", {{"level", rule.level}}},
                       {"properties", {{"tags", {"security", "mtls"}}}}});
    json result = {
        {"ruleId", rule.id},
        {"ruleIndex", it->second},
        {"level", rule.level},
        {"message",
         {{"text",
           str(f, "severity") + ": " + str(f, "title") + ". Fix: " + str(f, "remediation")}}},
        {"locations", json::array({location_of(doc, f)})},
        {"partialFingerprints",
         {{"mtlsFinding/v1", sha256_hex(str(f, "scenario") + "|" + str(f, "severity") + "|" +
                                        str(f, "kind") + "|" + str(f, "beacon") + "|" +
                                        str(f, "credential") + "|" + str(f, "entry_path"))}}},
        {"properties",
         {{"severity", str(f, "severity")},
          {"scenario", str(f, "scenario")},
          {"beacon", str(f, "beacon")},
          {"credential", str(f, "credential")},
          {"entry_path", str(f, "entry_path")},
          {"check_ids", f.value("check_ids", json::array())}}}};
    if (f.value("expected", false))
      result["suppressions"] = {{{"kind", "external"},
                                 {"justification",
                                  "declared by the self-test scenario: a deliberate "
                                  "misconfiguration the harness caught as expected"}}};
    results.push_back(std::move(result));
  }
  const json& s = doc["summary"];
  json run = {
      {"tool",
       {{"driver",
         {{"name", "mtls-harness"}, {"version", str(m, "version", "0")}, {"rules", rules}}}}},
      {"results", results},
      {"invocations",
       {{{"executionSuccessful", s.value("exit_code", 3) != 3 && m.value("complete", true)},
         {"exitCode", s.value("exit_code", 3)},
         {"properties", {{"summary", s}}}}}},
      {"properties", {{"report_sha256", str(doc.value("integrity", json::object()), "sha256")}}}};
  if (m.contains("started") && m["started"].is_string())
    run["invocations"][0]["startTimeUtc"] = m["started"];
  if (m.contains("finished") && m["finished"].is_string())
    run["invocations"][0]["endTimeUtc"] = m["finished"];
  const json sarif = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
                      {"version", "2.1.0"},
                      {"runs", json::array({run})}};
  return sarif.dump(2) + "\n";
}

}  // namespace mtls::report
