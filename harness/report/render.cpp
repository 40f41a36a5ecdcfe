// render.cpp: see render.hpp.
#include "report/render.hpp"
#include "report/json_text.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

namespace mtls::report {
using json = nlohmann::json;

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (c < 0x20 && c != '\n' && c != '\t')
          out += ' ';  // XML 1.0 forbids other controls
        else
          out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {

bool counts_as_failure(const json& r) {
  return str(r, "verdict") == "FAIL" && !r.value("expected_finding", false);
}

std::string evidence_line(const json& r) {
  const json& e = r.value("evidence", json::object());
  std::ostringstream os;
  os << "outcome " << str(r, "outcome", "-") << "; curl " << str(e, "curl_code", "-") << "; TLS "
     << str(e, "tls_version", "-") << " alert " << str(e, "tls_alert", "-") << "; HTTP "
     << str(e, "http_status", "-") << "; " << str(e, "bytes_received", "0") << " bytes in "
     << str(e, "elapsed_ms", "0") << " ms";
  return os.str();
}

// Seconds as JUnit readers parse them: a plain decimal, never an exponent.
std::string secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", s < 0 ? 0.0 : s);
  return buf;
}

// One testcase element (with its failure, when `failure` is not empty).
void testcase(std::ostream& os, const std::string& classname, const std::string& name,
              const std::string& failure, const std::string& detail) {
  os << "    <testcase classname=\"" << xml_escape(classname) << "\" name=\"" << xml_escape(name)
     << "\" time=\"0\">\n";
  if (!failure.empty())
    os << "      <failure type=\"FAIL\" message=\"" << xml_escape(failure) << "\">"
       << xml_escape(detail) << "</failure>\n";
  os << "    </testcase>\n";
}

// A scenario's findings that fail the run: a self-test miss, or an EXPOSURE/LOCKOUT no self-test
// declared.
std::vector<const json*> failing_findings(const json& doc, const std::string& scenario) {
  std::vector<const json*> out;  // pointers into `doc` itself (never into a copy of it)
  const auto it = doc.find("findings");
  if (it == doc.end() || !it->is_array()) return out;
  for (const auto& f : *it) {
    const std::string sev = str(f, "severity");
    if (str(f, "scenario") == scenario && !f.value("expected", false) && sev != "WARN")
      out.push_back(&f);
  }
  return out;
}

}  // namespace

std::string render_csv(const json& doc) {
  static const char* kColumns[] = {"scenario",   "check_id",   "beacon",     "operation",
                                   "credential", "entry_path", "expected",   "outcome",
                                   "verdict",    "severity",   "control_id", "reason"};
  static const char* kEvidence[] = {"http_status", "tls_version", "tls_alert",
                                    "curl_code",   "body_sha256", "elapsed_ms"};
  const auto cell = csv_cell;
  std::ostringstream os;
  std::string sep;
  for (const char* c : kColumns) os << std::exchange(sep, ",") << c;
  for (const char* c : kEvidence) os << "," << c;
  os << "\r\n";
  for (const auto& r : doc.value("results", json::array())) {
    sep.clear();
    for (const char* c : kColumns) os << std::exchange(sep, ",") << cell(str(r, c));
    const json& e = r.value("evidence", json::object());
    for (const char* c : kEvidence) os << "," << cell(str(e, c));
    os << "\r\n";
  }
  return os.str();
}

std::string csv_cell(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string q = "\"";
  for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::vector<InconclusiveCause> inconclusive_causes(const json& doc) {
  static const std::map<std::string, std::pair<std::string, std::string>> kWhy = {
      {"SERVER_UNTRUSTED",
       {"the agent does not trust the beacon's certificate",
        "check --ca (the CA that issued the beacons' certificates) and the beacon's name"}},
      {"UNREACHABLE",
       {"the beacon could not be reached (refused, DNS, connect time-out)",
        "check the URL, the name (DNS, or --resolve HOST:PORT:ADDR) and that the beacon runs"}},
      {"PROTOCOL_ERROR",
       {"the beacon answered something else than a refusal or the content (a 5xx, no answer "
        "after the handshake, a failed payload check)",
        "read the reasons in report.html; a beacon silent after the handshake: raise --timeout or "
        "fix the backend"}},
      {"REJECTED_HTTP",
       {"the valid device was refused for something other than its certificate (a folder without "
        "a listing answers 403 or 404)",
        "give --path a file the agents download (a policy .npl)"}},
      {"ACCEPTED",
       {"a 2xx where the valid device got nothing: no content to compare with",
        "give --path a file the agents download; for uploads, an --upload-path the device may "
        "write"}}};
  std::map<std::string, int> counts;
  std::map<std::string, std::string> outcome_of;  // check id -> outcome (the controls')
  for (const auto& r : doc.value("results", json::array()))
    outcome_of[str(r, "check_id")] = str(r, "outcome", "-");
  for (const auto& r : doc.value("results", json::array())) {
    if (str(r, "verdict") != "INCONCLUSIVE") continue;
    std::string outcome = str(r, "outcome", "PROTOCOL_ERROR");
    const std::string reason = str(r, "reason");
    const auto control = outcome_of.find(str(r, "control_id"));
    if (control != outcome_of.end() && control->second != "ACCEPTED" && control->second != "-") {
      outcome = control->second;  // the control's own cause is the root of it
    } else if (reason.find("no positive control ran") != std::string::npos) {
      outcome = "no-control";
    } else if (str(r, "expected") == "REJECTED" && outcome != "ACCEPTED") {
      outcome = "not-attributable:" + outcome;
    }
    ++counts[outcome];
  }
  std::vector<InconclusiveCause> out;
  for (const auto& [outcome, n] : counts) {
    InconclusiveCause c{n, "", ""};
    if (const auto it = kWhy.find(outcome); it != kWhy.end()) {
      c.cause = it->second.first;
      c.fix = it->second.second;
    } else if (outcome == "no-control") {
      c.cause = "the positive control did not run (interrupted or skipped)";
      c.fix = "run the whole suite; a refusal proves nothing without its control";
    } else {
      c.cause = "a refusal that cannot be attributed to client authentication (" +
                outcome.substr(outcome.find(':') + 1) + ")";
      c.fix = "read the reasons in report.html";
    }
    out.push_back(std::move(c));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.count > b.count; });
  return out;
}

std::string render_junit(const json& doc) {
  const json& results = doc["results"];
  std::map<std::string, std::vector<const json*>> by_scenario;
  for (const auto& r : results) by_scenario[str(r, "scenario", "(none)")].push_back(&r);
  int failures = 0, errors = 0, skipped = 0;
  for (const auto& r : results) {
    failures += counts_as_failure(r);
    errors += str(r, "verdict") == "INCONCLUSIVE";
    skipped += str(r, "verdict") == "SKIPPED";
  }
  const json& meta = doc.value("metadata", json::object());
  const bool complete = meta.value("complete", true);
  // Besides the checks: one "findings" testcase per scenario (red on a self-test miss or an
  // undeclared finding) and, on an interrupted run, a red "run-complete": the JUnit result is red
  // exactly when the run's exit code is not 0.
  for (const auto& [scenario, list] : by_scenario)
    failures += !failing_findings(doc, scenario).empty();
  failures += !complete;
  std::ostringstream os;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"mtls-harness\" tests=\""
     << results.size() + by_scenario.size() + (complete ? 0 : 1) << "\" failures=\"" << failures
     << "\" errors=\"" << errors << "\" disabled=\"" << skipped << "\">\n";
  // The attributes the Jenkins xUnit schema (junit-10) allows: testsuites has no "skipped" (the
  // skipped checks are counted as "disabled" there, and as "skipped" per testsuite).
  const std::string stamp = xml_escape(str(meta, "started")), host = xml_escape(str(meta, "host"));
  for (const auto& [scenario, list] : by_scenario) {
    int f = 0, e = 0, s = 0;
    double seconds = 0;
    for (const json* r : list) {
      f += counts_as_failure(*r);
      e += str(*r, "verdict") == "INCONCLUSIVE";
      s += str(*r, "verdict") == "SKIPPED";
      seconds += r->value("evidence", json::object()).value("elapsed_ms", 0.0) / 1000.0;
    }
    const auto bad = failing_findings(doc, scenario);
    f += !bad.empty();
    os << "  <testsuite name=\"" << xml_escape(scenario) << "\" tests=\"" << list.size() + 1
       << "\" failures=\"" << f << "\" errors=\"" << e << "\" skipped=\"" << s << "\" time=\""
       << secs(seconds) << "\" timestamp=\"" << stamp << "\" hostname=\"" << host << "\">\n";
    std::string titles;
    for (const json* b : bad) titles += str(*b, "severity") + ": " + str(*b, "title") + "\n";
    testcase(os, scenario, "findings",
             bad.empty() ? "" : std::to_string(bad.size()) + " finding(s) fail this scenario",
             titles);
    for (const json* r : list) {
      const double t = r->value("evidence", json::object()).value("elapsed_ms", 0.0) / 1000.0;
      os << "    <testcase classname=\"" << xml_escape(scenario + "/" + str(*r, "beacon"))
         << "\" name=\"" << xml_escape(str(*r, "check_id")) << "\" time=\"" << secs(t) << "\">\n";
      const std::string v = str(*r, "verdict");
      if (counts_as_failure(*r))
        os << "      <failure type=\"" << xml_escape(str(*r, "severity", "FAIL")) << "\" message=\""
           << xml_escape(str(*r, "reason")) << "\">" << xml_escape(evidence_line(*r))
           << "</failure>\n";
      else if (v == "INCONCLUSIVE")
        os << "      <error type=\"INCONCLUSIVE\" message=\"" << xml_escape(str(*r, "reason"))
           << "\">" << xml_escape(evidence_line(*r)) << "</error>\n";
      else if (v == "SKIPPED")
        os << "      <skipped message=\"" << xml_escape(str(*r, "reason")) << "\"/>\n";
      else if (r->value("expected_finding", false))
        os << "      <system-out>"
           << xml_escape("FAIL declared by the self-test scenario (the harness caught it): " +
                         str(*r, "reason"))
           << "</system-out>\n";
      os << "    </testcase>\n";
    }
    os << "  </testsuite>\n";
  }
  if (!complete) {
    os << "  <testsuite name=\"mtls-harness\" tests=\"1\" failures=\"1\" errors=\"0\" "
          "skipped=\"0\" time=\"0\" timestamp=\""
       << stamp << "\" hostname=\"" << host << "\">\n";
    testcase(os, "mtls-harness", "run-complete", "the run was interrupted: INCOMPLETE",
             str(meta, "incomplete_reason", "interrupted"));
    os << "  </testsuite>\n";
  }
  os << "</testsuites>\n";
  return os.str();
}

std::string render_markdown(const json& doc) {
  const json& s = doc["summary"];
  const json& m = doc.value("metadata", json::object());
  std::ostringstream os;
  os << "# mTLS conformance: " << overall(s) << "\n\n";
  if (!m.value("complete", true))
    os << "> **INCOMPLETE**: " << str(m, "incomplete_reason", "the run was interrupted")
       << ". Checks that did not run are not in this report; nothing is proven about them.\n\n";
  os << "| checks | PASS | FAIL | INCONCLUSIVE | SKIPPED | EXPOSURE | LOCKOUT | declared by "
        "self-tests |\n"
        "|---|---|---|---|---|---|---|---|\n";
  os << "| " << count(s, "total") << " | " << count(s, "PASS") << " | " << count(s, "FAIL") << " | "
     << count(s, "INCONCLUSIVE") << " | " << count(s, "SKIPPED") << " | " << count(s, "EXPOSURE")
     << " | " << count(s, "LOCKOUT") << " | " << count(s, "FAIL_declared_by_self_tests")
     << " |\n\n";
  const auto causes = inconclusive_causes(doc);
  if (!causes.empty()) {
    os << "## Why checks are INCONCLUSIVE\n\n";
    for (const auto& c : causes)
      os << "- " << c.count << " check(s): " << c.cause << ". Fix: " << c.fix << "\n";
    os << "\n";
  }
  const json findings = doc.value("findings", json::array());  // in listing order
  os << "## Findings\n\n";
  bool any = false;
  for (const auto& f : findings) {
    if (f.value("expected", false)) continue;
    any = true;
    os << "- **" << str(f, "severity") << "** " << str(f, "title") << " ("
       << f.value("operations", json::array()).size() << " operation(s): " <<
        [&] {
          std::string ops;
          for (const auto& o : f.value("operations", json::array()))
            ops += (ops.empty() ? "" : ", ") + o.get<std::string>();
          return ops;
        }()
       << ")  \n"
       << (advisories(f).empty() ? "" : "  Class: " + advisories(f) + "  \n")
       << "  Fix: " << str(f, "remediation") << "\n";
  }
  if (!any) os << "None.\n";
  int declared = 0;
  for (const auto& f : findings) declared += f.value("expected", false);
  if (declared > 0)
    os << "\nSelf-tests: " << declared
       << " deliberately misconfigured case(s) were caught as declared (see report.html).\n";
  os << "\n## Scenarios\n\n| scenario | checks | PASS | FAIL | INCONCLUSIVE | SKIPPED "
        "|\n|---|---|---|---|---|---|\n";
  std::map<std::string, std::map<std::string, int>> per;
  for (const auto& r : doc["results"]) {
    auto& c = per[str(r, "scenario", "(none)")];
    ++c["total"];
    ++c[str(r, "verdict", "INCONCLUSIVE")];
  }
  for (auto& [name, c] : per)
    os << "| " << name << " | " << c["total"] << " | " << c["PASS"] << " | " << c["FAIL"] << " | "
       << c["INCONCLUSIVE"] << " | " << c["SKIPPED"] << " |\n";
  os << "\nmtls-harness " << str(m, "version", "?") << " (commit "
     << str(m, "git_commit", "unknown") << "), " << str(m, "started", "?") << " to "
     << str(m, "finished", "?") << " on " << str(m, "host", "?")
     << ". SHA-256 checksum of results, findings and summary: `"
     << str(doc.value("integrity", json::object()), "sha256", "none")
     << "`; check it with `mtls-harness report verify report.json`.\n";
  return os.str();
}

}  // namespace mtls::report
