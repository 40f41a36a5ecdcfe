// render.cpp: see render.hpp.
#include "report/render.hpp"

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

std::string str(const json& j, const char* key, const std::string& fallback = "") {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

int count(const json& summary, const char* key) {
  return summary.value(key, 0);
}

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

int severity_rank(const std::string& s) {
  return s == "EXPOSURE" ? 0 : s == "LOCKOUT" ? 1 : s == "SELFTEST" ? 2 : 3;
}

std::vector<json> sorted_findings(const json& doc) {
  const json all = doc.value("findings", json::array());
  std::vector<json> f(all.begin(), all.end());
  std::stable_sort(f.begin(), f.end(), [](const json& a, const json& b) {
    return severity_rank(str(a, "severity")) < severity_rank(str(b, "severity"));
  });
  return f;
}

// A finding's advisories (side doors: the CVEs of its class), "; "-joined; "" when none.
std::string advisories(const json& f) {
  std::string out;
  if (f.contains("advisories") && f["advisories"].is_array())
    for (const auto& a : f["advisories"])
      if (a.is_string()) out += (out.empty() ? "" : "; ") + a.get<std::string>();
  return out;
}

std::string overall(const json& s) {
  const int code = s.value("exit_code", 3);
  return code == 0 ? "PASS" : code == 1 ? "FAIL" : "INCONCLUSIVE";
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
  auto cell = [](std::string v) {
    if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
    std::string q = "\"";
    for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
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
       << seconds << "\" timestamp=\"" << stamp << "\" hostname=\"" << host << "\">\n";
    std::string titles;
    for (const json* b : bad) titles += str(*b, "severity") + ": " + str(*b, "title") + "\n";
    testcase(os, scenario, "findings",
             bad.empty() ? "" : std::to_string(bad.size()) + " finding(s) fail this scenario",
             titles);
    for (const json* r : list) {
      const double t = r->value("evidence", json::object()).value("elapsed_ms", 0.0) / 1000.0;
      os << "    <testcase classname=\"" << xml_escape(scenario + "/" + str(*r, "beacon"))
         << "\" name=\"" << xml_escape(str(*r, "check_id")) << "\" time=\"" << t << "\">\n";
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
  const auto findings = sorted_findings(doc);
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
     << ". Integrity (SHA-256 of results, findings, summary): `"
     << str(doc.value("integrity", json::object()), "sha256", "none")
     << "`; check it with `mtls-harness report verify report.json`.\n";
  return os.str();
}

namespace {

const char* kCss = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 2rem 3rem;color:#1d2430;line-height:1.4}
h1{margin:1.2rem 0 .3rem} h2{margin-top:2rem;border-bottom:2px solid #d8dee8;padding-bottom:.2rem}
.banner{display:inline-block;padding:.3rem .9rem;border-radius:4px;color:#fff;font-weight:700}
.banner.PASS{background:#1f7a3a}.banner.FAIL{background:#b3261e}.banner.INCONCLUSIVE{background:#8a6d00}
.counts{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.count{border:1px solid #d8dee8;border-radius:6px;padding:.5rem .9rem;min-width:6rem}
.count b{display:block;font-size:1.6rem}
table{border-collapse:collapse;margin:.5rem 0 1.2rem;font-size:.85rem}
th,td{border:1px solid #d8dee8;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f5f9} td.cell{text-align:center;min-width:4.2rem} td.cell small{font-size:.62rem}
.scroll{overflow-x:auto}
td.cell a{color:inherit;text-decoration:none;display:block}
td.PASS{background:#cdebd6} td.FAIL{background:#f6c9c5;font-weight:700} td.INCONCLUSIVE{background:#fbe9a9}
td.SKIPPED{background:#e7e9ee;color:#667} td.declared{background:#f6c9c5;outline:2px dashed #1f7a3a;outline-offset:-3px}
.finding{border-left:5px solid #999;padding:.4rem .8rem;margin:.6rem 0;background:#fafbfd}
.finding.EXPOSURE{border-color:#b3261e}.finding.LOCKOUT{border-color:#c25d00}.finding.WARN{border-color:#8a6d00}
.finding.SELFTEST{border-color:#5b2a86}.finding .fix{margin-top:.2rem}
.tag{font-size:.75rem;padding:.05rem .4rem;border-radius:3px;background:#eef1f6;margin-left:.4rem}
details{border:1px solid #e2e6ee;border-radius:4px;margin:.25rem 0;padding:.2rem .5rem}
details:target{outline:3px solid #2f6fdf} summary{cursor:pointer} pre{white-space:pre-wrap;font-size:.78rem;background:#f6f8fb;padding:.5rem}
.legend span{display:inline-block;padding:.1rem .5rem;margin-right:.4rem;border:1px solid #d8dee8}
@media print{details{break-inside:avoid} .noprint{display:none} body{margin:0 1cm} td.cell a{color:#000}}
)";

const char* kScript = R"(
function openTarget(){var id=location.hash.slice(1);if(!id)return;var d=document.getElementById(id);if(d&&d.tagName==='DETAILS')d.open=true;}
window.addEventListener('hashchange',openTarget);window.addEventListener('load',openTarget);
window.addEventListener('beforeprint',function(){document.querySelectorAll('details').forEach(function(d){d.open=true;});});
)";

std::string svg_bars(const json& bench) {
  // A horizontal bar chart of {label, value, unit} entries, inline SVG.
  const json& rows = bench.value("rows", json::array());
  double max = 0;
  for (const auto& r : rows) max = std::max(max, r.value("value", 0.0));
  if (rows.empty() || max <= 0) return "";
  const int height = 26 * static_cast<int>(rows.size()) + 10;
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"" << height
     << "\" role=\"img\" aria-label=\"" << xml_escape(str(bench, "title")) << "\">";
  int y = 5;
  for (const auto& r : rows) {
    const double w = 420.0 * r.value("value", 0.0) / max;
    char value[64];
    std::snprintf(value, sizeof value, "%.4g", r.value("value", 0.0));
    os << "<text x=\"0\" y=\"" << y + 16 << "\" font-size=\"12\">" << xml_escape(str(r, "label"))
       << "</text>"
       << "<rect x=\"220\" y=\"" << y + 3 << "\" width=\"" << w
       << "\" height=\"18\" fill=\"#2f6fdf\"/>"
       << "<text x=\"" << 226 + w << "\" y=\"" << y + 16 << "\" font-size=\"12\">" << value << " "
       << xml_escape(str(r, "unit")) << "</text>";
    y += 26;
  }
  os << "</svg>";
  return os.str();
}

}  // namespace

std::string render_html(const json& doc) {
  const json& s = doc["summary"];
  const json& m = doc.value("metadata", json::object());
  const json& results = doc["results"];
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mTLS conformance "
        "report</title>"
     << "<meta name=\"viewport\" content=\"width=device-width\"><style>" << kCss
     << "</style></head><body>\n";
  os << "<h1>mTLS conformance report</h1><p><span class=\"banner " << overall(s)
     << "\" id=\"verdict\">" << overall(s) << "</span> exit code <span id=\"exit-code\">"
     << s.value("exit_code", 3) << "</span></p>\n";
  if (!m.value("complete", true))
    os << "<p class=\"banner FAIL\" id=\"incomplete\">INCOMPLETE: "
       << xml_escape(str(m, "incomplete_reason", "the run was interrupted"))
       << ". Checks that did not run are not in this report; nothing is proven about them.</p>\n";
  os << "<div class=\"counts\">";
  for (const char* k : {"total", "PASS", "FAIL", "INCONCLUSIVE", "SKIPPED", "EXPOSURE", "LOCKOUT",
                        "FAIL_declared_by_self_tests"})
    os << "<div class=\"count\"><b id=\"count-" << k << "\">" << count(s, k) << "</b>"
       << (std::string(k) == "total"                         ? "checks"
           : std::string(k) == "FAIL_declared_by_self_tests" ? "FAIL declared by self-tests"
                                                             : k)
       << "</div>";
  os << "</div>\n<p>mtls-harness " << xml_escape(str(m, "version", "?")) << " (commit "
     << xml_escape(str(m, "git_commit", "unknown")) << ") on " << xml_escape(str(m, "host", "?"))
     << ", " << xml_escape(str(m, "started", "?")) << " to " << xml_escape(str(m, "finished", "?"))
     << ". Integrity: SHA-256 <code id=\"integrity\">"
     << xml_escape(str(doc.value("integrity", json::object()), "sha256", "none"))
     << "</code> over results, findings and summary (<code>mtls-harness report verify "
        "report.json</code>).</p>\n";

  os << "<h2>Findings</h2>\n";
  const auto findings = sorted_findings(doc);
  const auto causes = inconclusive_causes(doc);
  if (findings.empty())
    os << "<p id=\"no-findings\">"
       << (count(s, "FAIL") > 0 ? "No finding, but checks FAILED: see the results."
           : !causes.empty()    ? "No finding, and nothing is proven where checks are INCONCLUSIVE "
                                  "(below)."
           : count(s, "PASS") == 0 ? "No finding, and no check passed."
                                   : "No finding: every check that ran passed.")
       << "</p>\n";
  if (!causes.empty()) {
    os << "<div id=\"inconclusive-causes\" class=\"finding INCONCLUSIVE\"><b>Why checks are "
          "INCONCLUSIVE</b><ul>";
    for (const auto& c : causes)
      os << "<li>" << c.count << " check(s): " << xml_escape(c.cause)
         << ". <b>Fix</b>: " << xml_escape(c.fix) << "</li>";
    os << "</ul></div>\n";
  }
  for (const auto& f : findings) {
    os << "<div class=\"finding " << xml_escape(str(f, "severity")) << "\"><b>"
       << xml_escape(str(f, "severity")) << "</b> " << xml_escape(str(f, "title"))
       << (f.value("expected", false)
               ? "<span class=\"tag\">declared by the self-test: caught as expected</span>"
               : "")
       << "<div>" << xml_escape(str(f, "scenario")) << ", "
       << f.value("operations", json::array()).size() << " operation(s):";
    for (const auto& o : f.value("operations", json::array()))
      os << " " << xml_escape(o.get<std::string>());
    os << "</div>";
    if (const std::string adv = advisories(f); !adv.empty())
      os << "<div class=\"advisories\">Class: " << xml_escape(adv) << "</div>";
    os << "<div class=\"fix\">Fix: " << xml_escape(str(f, "remediation")) << "</div></div>\n";
  }

  // Heat maps: per scenario, beacon and entry path, operations x credentials.
  os << "<h2>Matrix</h2><p class=\"legend\"><span style=\"background:#cdebd6\">PASS</span><span "
        "style=\"background:#f6c9c5\">FAIL</span>"
        "<span class=\"declared\" style=\"background:#f6c9c5;outline:2px dashed #1f7a3a\">FAIL "
        "declared by a self-test</span>"
        "<span style=\"background:#fbe9a9\">INCONCLUSIVE</span><span "
        "style=\"background:#e7e9ee\">SKIPPED</span>"
        " Click a cell for its evidence.</p>\n";
  std::vector<std::string> scenarios;
  for (const auto& r : results)
    if (std::find(scenarios.begin(), scenarios.end(), str(r, "scenario")) == scenarios.end())
      scenarios.push_back(str(r, "scenario"));
  for (const auto& sc : scenarios) {
    os << "<h3>" << xml_escape(sc) << "</h3>\n";
    std::vector<std::string> tables;  // "beacon|entry path"
    std::map<std::string, std::vector<std::string>> ops, creds;
    std::map<std::string, std::size_t> index_of;
    for (std::size_t i = 0; i < results.size(); ++i) {
      const json& r = results[i];
      if (str(r, "scenario") != sc) continue;
      const bool boundary = str(r, "check_id").starts_with("boundary/");
      const std::string t =
          (boundary ? std::string("boundary (failover list)") : str(r, "beacon")) + "|" +
          str(r, "entry_path");
      if (std::find(tables.begin(), tables.end(), t) == tables.end()) tables.push_back(t);
      if (std::find(ops[t].begin(), ops[t].end(), str(r, "operation")) == ops[t].end())
        ops[t].push_back(str(r, "operation"));
      if (std::find(creds[t].begin(), creds[t].end(), str(r, "credential")) == creds[t].end())
        creds[t].push_back(str(r, "credential"));
      index_of[t + "|" + str(r, "operation") + "|" + str(r, "credential")] = i;
    }
    for (const auto& t : tables) {
      const auto bar = t.find('|');
      os << "<div class=\"scroll\"><table class=\"heatmap\"><caption>"
         << xml_escape(t.substr(0, bar)) << " &middot; " << xml_escape(t.substr(bar + 1))
         << "</caption><tr><th>operation \\ credential</th>";
      for (const auto& c : creds[t]) os << "<th>" << xml_escape(c) << "</th>";
      os << "</tr>\n";
      for (const auto& o : ops[t]) {
        os << "<tr><th>" << xml_escape(o) << "</th>";
        for (const auto& c : creds[t]) {
          auto it = index_of.find(t + "|" + o + "|" + c);
          if (it == index_of.end()) {
            os << "<td></td>";
            continue;
          }
          const json& r = results[it->second];
          const std::string v = str(r, "verdict", "INCONCLUSIVE");
          const bool declared = v == "FAIL" && r.value("expected_finding", false);
          os << "<td class=\"cell " << v << (declared ? " declared" : "") << "\" data-verdict=\""
             << v << "\"><a href=\"#r" << it->second << "\" title=\""
             << xml_escape(str(r, "reason")) << "\">" << v << "<br><small>"
             << xml_escape(str(r, "outcome", "-")) << "</small></a></td>";
        }
        os << "</tr>\n";
      }
      os << "</table></div>\n";
    }
  }

  os << "<h2>Benchmarks</h2>\n";
  if (doc.contains("benchmarks") && doc["benchmarks"].is_array() && !doc["benchmarks"].empty()) {
    for (const auto& b : doc["benchmarks"])
      os << "<h3>" << xml_escape(str(b, "title")) << "</h3>" << svg_bars(b) << "\n";
  } else {
    os << "<p>No benchmark ran in this run.</p>\n";
  }

  os << "<h2>Evidence</h2>\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const json& r = results[i];
    os << "<details id=\"r" << i << "\"><summary>" << xml_escape(str(r, "scenario"))
       << " &middot; <b>" << xml_escape(str(r, "check_id"))
       << "</b>: " << xml_escape(str(r, "verdict")) << " " << xml_escape(str(r, "severity", ""))
       << " (" << xml_escape(str(r, "outcome", "not run")) << ")</summary>"
       << "<p>" << xml_escape(str(r, "reason")) << "</p><p>expected "
       << xml_escape(str(r, "expected", "-"))
       << (r.contains("control_id") && !r["control_id"].is_null()
               ? "; positive control <a href=\"#\">" + xml_escape(str(r, "control_id")) + "</a>"
               : std::string())
       << "</p><pre>" << xml_escape(r.value("evidence", json::object()).dump(2))
       << "</pre></details>\n";
  }
  os << "<script>" << kScript << "</script></body></html>\n";
  return os.str();
}

}  // namespace mtls::report
