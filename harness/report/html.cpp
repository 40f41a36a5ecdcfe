// html.cpp: report.html, one self-contained file (no network fetch) for people and for print: a
// cover (verdict, scope, fingerprints, who ran it), findings linked to their checks, why checks
// are INCONCLUSIVE, a legend, per scenario its description, policy, beacons and matrices (SKIPPED
// cells carry their reason), benchmarks, and the evidence. Printed (A4), only the evidence of
// FAIL, INCONCLUSIVE and WARN checks appears, as a summary (the raw JSON stays in report.json).
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "report/json_text.hpp"
#include "report/render.hpp"

namespace mtls::report {
using json = nlohmann::json;

namespace {

const char* kCss = R"(
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 2rem 3rem;color:#1d2430;line-height:1.4;max-width:100%}
h1{margin:1.2rem 0 .3rem} h2{margin-top:2rem;border-bottom:2px solid #d8dee8;padding-bottom:.2rem}
code,.hash,td,th,p,li{overflow-wrap:anywhere}
.banner{display:inline-block;padding:.3rem .9rem;border-radius:4px;color:#fff;font-weight:700}
.banner.PASS{background:#1f7a3a}.banner.FAIL{background:#b3261e}.banner.INCONCLUSIVE{background:#8a6d00}
.counts{display:flex;gap:.8rem;flex-wrap:wrap;margin:1rem 0}
.count{border:1px solid #d8dee8;border-radius:6px;padding:.4rem .8rem;min-width:5.5rem}
.count b{display:block;font-size:1.5rem} .count.selftest{border-style:dashed}
table{border-collapse:collapse;margin:.5rem 0 1.2rem;font-size:.85rem}
th,td{border:1px solid #d8dee8;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f5f9} table.kv th{width:11rem} table.small{font-size:.72rem}
.scroll{overflow-x:auto;max-width:100%}
table.heatmap th:first-child{position:sticky;left:0;z-index:1}
td.cell{text-align:center;min-width:4.2rem} td.cell small{font-size:.62rem}
td.cell a{color:inherit;text-decoration:none;display:block}
.PASS{background:#cdebd6} td.FAIL{background:#f6c9c5;font-weight:700} .INCONCLUSIVE{background:#fbe9a9}
.SKIPPED{background:#e7e9ee;color:#556} td.declared{background:#f6c9c5;outline:2px dashed #1f7a3a;outline-offset:-3px}
.finding{border-left:5px solid #999;padding:.4rem .8rem;margin:.6rem 0;background:#fafbfd;break-inside:avoid}
.finding.EXPOSURE{border-color:#b3261e}.finding.LOCKOUT{border-color:#c25d00}.finding.WARN{border-color:#8a6d00}
.finding.SELFTEST{border-color:#5b2a86}.finding .fix{margin-top:.2rem}
.tag{font-size:.75rem;padding:.05rem .4rem;border-radius:3px;background:#eef1f6;margin-left:.4rem}
details{border:1px solid #e2e6ee;border-radius:4px;margin:.25rem 0;padding:.2rem .5rem}
.ev{border:1px solid #e2e6ee;border-left:5px solid #999;border-radius:4px;margin:.4rem 0;padding:.3rem .6rem;break-inside:avoid}
.ev.FAIL{border-left-color:#b3261e}.ev.INCONCLUSIVE{border-left-color:#8a6d00}.ev.WARN{border-left-color:#8a6d00}
:target{outline:3px solid #2f6fdf} summary{cursor:pointer} pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.78rem;background:#f6f8fb;padding:.5rem}
dl.legend{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;font-size:.85rem}
dl.legend dt{font-weight:700} dl.legend dd{margin:0}
.skips{font-size:.8rem;color:#445}
@media (max-width:640px){body{margin:0 .6rem 2rem}.count{min-width:4.5rem}table.kv th{width:auto}}
@page{size:A4;margin:12mm}
@media print{
 body{margin:0;font-size:9pt} .noprint,details.ev,details.raw,.settings{display:none!important}
 .cover{break-after:page} h2{break-after:avoid} h3{break-after:avoid}
 .scroll{overflow:visible} table.heatmap{width:100%;table-layout:fixed;font-size:6.5pt}
 table.heatmap th,table.heatmap td{padding:1px 2px;min-width:0;word-break:break-word}
 table.heatmap th:first-child{width:22%} td.cell small{display:none} td.cell a{color:#000}
 table{font-size:7.5pt} table.small{font-size:6pt} .cover .count{padding:.2rem .5rem} .cover .count b{font-size:1.1rem}
}
)";

// Opens a collapsed evidence block when a link lands on it.
const char* kScript = R"(
function openTarget(){var id=location.hash.slice(1);if(!id)return;var d=document.getElementById(id);if(d&&d.tagName==='DETAILS')d.open=true;}
window.addEventListener('hashchange',openTarget);window.addEventListener('load',openTarget);
)";

// What every outcome means (the legend); the names are the contract names.
const std::pair<const char*, const char*> kOutcomeMeaning[] = {
    {"ACCEPTED", "the beacon served the operation (2xx, and the payload checked)"},
    {"REJECTED_HANDSHAKE", "the beacon refused the TLS handshake (an alert)"},
    {"REJECTED_AFTER_HANDSHAKE", "the beacon closed or alerted after the handshake (TLS 1.3)"},
    {"REJECTED_HTTP",
     "an HTTP refusal (3xx away, 4xx, 501), or for a negative check a 2xx that is not what the "
     "valid device got (a soft refusal)"},
    {"CLIENT_CREDENTIAL_ERROR", "the agent could not load or use its own credential"},
    {"SERVER_UNTRUSTED", "the agent did not trust the beacon's certificate"},
    {"UNREACHABLE", "no connection (refused, DNS, connect time-out)"},
    {"PROTOCOL_ERROR",
     "anything else: a 5xx, no answer after the handshake, a failed payload check"},
};

const std::pair<const char*, const char*> kVerdictMeaning[] = {
    {"PASS", "the beacon did what the policy demands"},
    {"FAIL",
     "it did not: an EXPOSURE (a device without a valid certificate got in) or a LOCKOUT "
     "(the legitimate device was refused)"},
    {"INCONCLUSIVE", "the check proves nothing either way (see why above)"},
    {"SKIPPED", "not carried out, for the reason given under its matrix"},
};

std::string esc(const std::string& s) {
  return xml_escape(s);
}

// "ab12..." -> "AB:12:..." (as `openssl x509 -noout -fingerprint -sha256` prints it).
std::string openssl_style(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); ++i) {
    if (i && i % 2 == 0) out += ':';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i])));
  }
  return out;
}

// Where each check's evidence block is: "scenario|check_id" -> index in results.
std::map<std::string, std::size_t> index_checks(const json& results) {
  std::map<std::string, std::size_t> out;
  for (std::size_t i = 0; i < results.size(); ++i)
    out[str(results[i], "scenario") + "|" + str(results[i], "check_id")] = i;
  return out;
}

std::string link_to(const std::map<std::string, std::size_t>& index, const std::string& scenario,
                    const std::string& check_id) {
  const auto it = index.find(scenario + "|" + check_id);
  if (it == index.end()) return "<code>" + esc(check_id) + "</code>";
  return "<a href=\"#r" + std::to_string(it->second) + "\"><code>" + esc(check_id) + "</code></a>";
}

void certificate_rows(std::ostream& os, const std::string& label, const json& certs) {
  if (!certs.is_array()) return;
  for (const auto& c : certs)
    os << "<tr><th>" << esc(label) << "</th><td>" << esc(str(c, "subject")) << " (until "
       << esc(str(c, "not_after", "?")) << ")<br>SHA-256 fingerprint <code class=\"hash\">"
       << esc(openssl_style(str(c, "sha256_fingerprint"))) << "</code></td></tr>";
}

// The beacons in scope: where, what kind, and the server certificate the agents were shown.
void beacons_table(std::ostream& os, const json& beacons) {
  if (beacons.empty()) return;
  os << "<div class=\"scroll\"><table id=\"beacons\" class=\"small\"><tr><th>beacon</th><th>"
        "scenario</th><th>URL</th><th>server certificate (SHA-256 fingerprint)</th></tr>";
  for (const auto& b : beacons) {
    os << "<tr><td>" << esc(str(b, "name")) << "</td><td>" << esc(str(b, "scenario")) << "</td><td>"
       << esc(str(b, "url")) << " (" << esc(str(b, "kind")) << ")</td><td>";
    if (b.contains("certificate") && b["certificate"].is_object())
      os << esc(str(b["certificate"], "subject")) << "<br><code class=\"hash\">"
         << esc(openssl_style(str(b["certificate"], "sha256_fingerprint"))) << "</code>";
    else
      os << "not known";
    os << "</td></tr>";
  }
  os << "</table></div>\n";
}

void cover(std::ostream& os, const json& doc, bool self_tests) {
  const json& s = doc["summary"];
  const json& m = doc.value("metadata", json::object());
  os << "<header class=\"cover\"><h1>mTLS conformance report</h1><p><span class=\"banner "
     << overall(s) << "\" id=\"verdict\">" << overall(s) << "</span> exit code <span "
     << "id=\"exit-code\">" << s.value("exit_code", 3) << "</span> &middot; <span id=\"one-line\">"
     << count(s, "total") << " checks: " << count(s, "PASS") << " PASS, " << count(s, "FAIL")
     << " FAIL, " << count(s, "INCONCLUSIVE") << " INCONCLUSIVE, " << count(s, "SKIPPED")
     << " SKIPPED</span></p>\n";
  if (!m.value("complete", true))
    os << "<p class=\"banner FAIL\" id=\"incomplete\">INCOMPLETE: "
       << esc(str(m, "incomplete_reason", "the run was interrupted"))
       << ". Checks that did not run are not in this report; nothing is proven about them.</p>\n";
  os << "<div class=\"counts\">";
  for (const char* k : {"total", "PASS", "FAIL", "INCONCLUSIVE", "SKIPPED", "EXPOSURE", "LOCKOUT"})
    os << "<div class=\"count\"><b id=\"count-" << k << "\">" << count(s, k) << "</b>"
       << (std::string(k) == "total" ? "checks" : k) << "</div>";
  if (self_tests)
    os << "<div class=\"count selftest\"><b id=\"count-FAIL_declared_by_self_tests\">"
       << count(s, "FAIL_declared_by_self_tests")
       << "</b>caught by self-tests (deliberate, not findings)</div>";
  os << "</div>\n<table class=\"kv\" id=\"scope\">";
  os << "<tr><th>run</th><td>by " << esc(str(m, "run_by", "?")) << " on "
     << esc(str(m, "host", "?")) << ", " << esc(str(m, "started", "?")) << " to "
     << esc(str(m, "finished", "?")) << "</td></tr>";
  os << "<tr><th>tool</th><td>mtls-harness " << esc(str(m, "version", "?")) << " (commit "
     << esc(str(m, "git_commit", "unknown")) << ")</td></tr>";
  const json& scenarios = m.value("scenarios", json::array());
  os << "<tr><th>scope</th><td>" << scenarios.size() << " scenario(s), "
     << m.value("beacons", json::array()).size() << " beacon(s)";
  if (m.contains("rendered_from"))
    os << "; re-rendered from " << esc(str(m, "rendered_from")) << " (no run metadata)";
  os << "</td></tr>";
  const json& pki = m.value("pki", json::object());
  certificate_rows(os, "client CA (trusted by the beacons)",
                   pki.value("client_ca_certificates", json::array()));
  certificate_rows(os, "server CA (trusted by the agents)",
                   pki.value("server_ca_certificates", json::array()));
  for (const auto& sc : scenarios) {
    const json& p = sc.value("policy", json::object());
    os << "<tr><th>policy " << esc(str(sc, "id")) << "</th><td>client certificate "
       << esc(str(p, "client_certificate", "required")) << ", revocation "
       << esc(str(p, "revocation", "off")) << ", trust "
       << (str(p, "trust_model", "ca") == "pinned-self-signed"
               ? "the one self-signed certificate, directly (pinned)"
               : "a client CA")
       << ", positive control '" << esc(str(p, "control_credential", "valid")) << "'"
       << (sc.value("self_test", false) ? "; a self-test (deliberate misconfigurations)" : "");
    if (str(p, "trust_model", "ca") == "pinned-self-signed")
      for (const auto& c : sc.value("client_trust_certificates", json::array()))
        os << "<br>pinned: " << esc(str(c, "subject")) << " (until " << esc(str(c, "not_after"))
           << "), SHA-256 fingerprint <code class=\"hash\">"
           << esc(openssl_style(str(c, "sha256_fingerprint"))) << "</code>";
    os << "</td></tr>";
  }
  os << "<tr><th>integrity</th><td>SHA-256 checksum <code class=\"hash\" id=\"integrity\">"
     << esc(str(doc.value("integrity", json::object()), "sha256", "none"))
     << "</code> over results, findings and summary (<code>mtls-harness report verify "
        "report.json</code>)";
  if (doc.contains("signature") && doc["signature"].is_object())
    os << "; signed (" << esc(str(doc["signature"], "algorithm")) << ", key SHA-256 "
       << "<code class=\"hash\">" << esc(str(doc["signature"], "public_key_sha256")) << "</code>)";
  os << "</td></tr></table>\n";
  beacons_table(os, m.value("beacons", json::array()));
  os << "</header>\n";
}

void one_finding(std::ostream& os, const json& f, const std::map<std::string, std::size_t>& index) {
  os << "<div class=\"finding " << esc(str(f, "severity")) << "\"><b>" << esc(str(f, "severity"))
     << "</b> " << esc(str(f, "title"))
     << (f.value("expected", false) ? "<span class=\"tag\">caught as the self-test declares</span>"
                                    : "")
     << "<div>" << esc(str(f, "scenario")) << "; checks:";
  for (const auto& id : f.value("check_ids", json::array()))
    if (id.is_string()) os << " " << link_to(index, str(f, "scenario"), id.get<std::string>());
  if (f.value("check_ids", json::array()).empty()) os << " (from the beacon's handshake)";
  os << "</div>";
  if (const std::string adv = advisories(f); !adv.empty())
    os << "<div class=\"advisories\">Class: " << esc(adv) << "</div>";
  os << "<div class=\"fix\"><b>Fix</b>: " << esc(str(f, "remediation")) << "</div></div>\n";
}

void findings_section(std::ostream& os, const json& doc,
                      const std::map<std::string, std::size_t>& index) {
  const json& s = doc["summary"];
  const json findings = doc.value("findings", json::array());
  std::vector<const json*> real, caught;
  for (const auto& f : findings) (f.value("expected", false) ? caught : real).push_back(&f);
  const auto causes = inconclusive_causes(doc);
  os << "<h2 id=\"findings\">Findings</h2>\n";
  if (real.empty())
    os << "<p id=\"no-findings\">"
       << (count(s, "FAIL") > count(s, "FAIL_declared_by_self_tests")
               ? "No finding, but checks FAILED: see the matrices."
           : !causes.empty() ? "No finding, and nothing is proven where checks are INCONCLUSIVE "
                               "(below)."
           : count(s, "PASS") == 0 ? "No finding, and no check passed."
                                   : "No finding: every check that ran passed.")
       << "</p>\n";
  if (!causes.empty()) {
    os << "<div id=\"inconclusive-causes\" class=\"finding INCONCLUSIVE\"><b>Why checks are "
          "INCONCLUSIVE</b><ul>";
    for (const auto& c : causes)
      os << "<li>" << c.count << " check(s): " << esc(c.cause) << ". <b>Fix</b>: " << esc(c.fix)
         << "</li>";
    os << "</ul></div>\n";
  }
  for (const json* f : real) one_finding(os, *f, index);
  if (!caught.empty()) {
    os << "<h3 id=\"self-tests\">Caught by self-tests (" << count(s, "FAIL_declared_by_self_tests")
       << " checks)</h3><p>Deliberately misconfigured simulated beacons: these prove the harness "
          "sees each class of door. They are not findings about your beacons.</p>\n";
    for (const json* f : caught) one_finding(os, *f, index);
  }
}

void legend(std::ostream& os, bool self_tests) {
  os << "<h2 id=\"legend\">Legend</h2><dl class=\"legend\">";
  for (const auto& [v, meaning] : kVerdictMeaning)
    os << "<dt class=\"" << v << "\">" << v << "</dt><dd>" << esc(meaning) << "</dd>";
  if (self_tests)
    os << "<dt class=\"declared\" style=\"outline:2px dashed #1f7a3a\">FAIL (dashed)</dt><dd>a "
          "FAIL a self-test declares: the harness caught it as expected</dd>";
  for (const auto& [o, meaning] : kOutcomeMeaning)
    os << "<dt><code>" << o << "</code></dt><dd>" << esc(meaning) << "</dd>";
  os << "</dl><p class=\"noprint\">Click a matrix cell for its evidence.</p>\n";
}

// One scenario's matrices: per beacon and entry path, operations x credentials.
void matrices(std::ostream& os, const json& results, const std::string& sc) {
  std::vector<std::string> tables;  // "beacon|entry path"
  std::map<std::string, std::vector<std::string>> ops, creds;
  std::map<std::string, std::size_t> cell;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const json& r = results[i];
    if (str(r, "scenario") != sc) continue;
    const bool boundary = str(r, "check_id").starts_with("boundary/");
    // one matrix per vantage point too (a merged report): where the boundary differs shows
    const std::string from = str(r, "vantage").empty() ? "" : "from " + str(r, "vantage") + ": ";
    const std::string t = from +
                          (boundary ? std::string("boundary (failover list)") : str(r, "beacon")) +
                          "|" + str(r, "entry_path");
    if (std::find(tables.begin(), tables.end(), t) == tables.end()) tables.push_back(t);
    auto add = [](std::vector<std::string>& v, const std::string& x) {
      if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
    };
    add(ops[t], str(r, "operation"));
    add(creds[t], str(r, "credential"));
    cell[t + "|" + str(r, "operation") + "|" + str(r, "credential")] = i;
  }
  for (const auto& t : tables) {
    const auto bar = t.find('|');
    std::vector<std::string> skip_reasons;
    os << "<div class=\"scroll\"><table class=\"heatmap\"><caption>" << esc(t.substr(0, bar))
       << " &middot; " << esc(t.substr(bar + 1))
       << "</caption><tr><th>operation \\ credential</th>";
    for (const auto& c : creds[t]) os << "<th>" << esc(c) << "</th>";
    os << "</tr>\n";
    for (const auto& o : ops[t]) {
      os << "<tr><th>" << esc(o) << "</th>";
      for (const auto& c : creds[t]) {
        const auto it = cell.find(t + "|" + o + "|" + c);
        if (it == cell.end()) {
          os << "<td></td>";
          continue;
        }
        const json& r = results[it->second];
        const std::string v = str(r, "verdict", "INCONCLUSIVE");
        const bool declared = v == "FAIL" && r.value("expected_finding", false);
        std::string mark;
        if (v == "SKIPPED") {
          const std::string why = str(r, "reason");
          auto at = std::find(skip_reasons.begin(), skip_reasons.end(), why);
          if (at == skip_reasons.end()) at = skip_reasons.insert(skip_reasons.end(), why);
          mark = "<sup>" + std::to_string(at - skip_reasons.begin() + 1) + "</sup>";
        }
        os << "<td class=\"cell " << v << (declared ? " declared" : "") << "\" data-verdict=\"" << v
           << "\"><a href=\"#r" << it->second << "\" title=\"" << esc(str(r, "reason")) << "\">"
           << v << mark << "<br><small>" << esc(str(r, "outcome", "-")) << "</small></a></td>";
      }
      os << "</tr>\n";
    }
    os << "</table></div>\n";
    for (std::size_t k = 0; k < skip_reasons.size(); ++k)
      os << "<p class=\"skips\"><sup>" << k + 1 << "</sup> SKIPPED: " << esc(skip_reasons[k])
         << "</p>\n";
  }
}

void scenarios_section(std::ostream& os, const json& doc) {
  const json& results = doc["results"];
  const json& m = doc.value("metadata", json::object());
  std::vector<std::string> ids;
  for (const auto& r : results)
    if (std::find(ids.begin(), ids.end(), str(r, "scenario")) == ids.end())
      ids.push_back(str(r, "scenario"));
  os << "<h2 id=\"matrix\">Scenarios and their matrices</h2>\n";
  for (const auto& sc : ids) {
    os << "<h3>" << esc(sc) << "</h3>\n";
    for (const auto& meta : m.value("scenarios", json::array()))
      if (str(meta, "id") == sc && !str(meta, "description").empty())
        os << "<p class=\"description\">" << esc(str(meta, "description")) << "</p>\n";
    for (const auto& b : m.value("beacons", json::array()))
      if (str(b, "scenario") == sc && b.contains("settings") && b["settings"].is_string())
        os << "<details class=\"settings\"><summary>beacon " << esc(str(b, "name"))
           << " settings (simulated)</summary><pre>" << esc(b["settings"].get<std::string>())
           << "</pre></details>\n";
    matrices(os, results, sc);
  }
}

void evidence_summary(std::ostream& os, const json& r) {
  const json& e = r.value("evidence", json::object());
  os << "<table class=\"kv\">";
  auto row = [&](const char* k, const std::string& v) {
    if (!v.empty()) os << "<tr><th>" << k << "</th><td>" << esc(v) << "</td></tr>";
  };
  row("expected", str(r, "expected"));
  row("outcome", str(r, "outcome", "not run"));
  row("reason", str(r, "reason"));
  row("HTTP status", str(e, "http_status"));
  row("TLS",
      str(e, "tls_version") + (str(e, "tls_cipher").empty() ? "" : " " + str(e, "tls_cipher")));
  if (!str(e, "tls_alert").empty())
    row("TLS alert received",
        str(e, "tls_alert") + (e.value("alert_after_handshake", false) ? " (after the handshake)"
                                                                       : " (in the handshake)"));
  row("client", str(e, "client", "libcurl") + ", curl code " + str(e, "curl_code", "-"));
  row("bytes", str(e, "bytes_sent", "0") + " sent, " + str(e, "bytes_received", "0") +
                   " received in " + str(e, "elapsed_ms", "0") + " ms");
  if (!str(e, "body_sha256").empty())
    row("body", str(e, "body_bytes", "?") + " bytes " + str(e, "content_type") + ", SHA-256 " +
                    str(e, "body_sha256"));
  row("redirected to", str(e, "redirect_to"));
  if (e.contains("beacon_log") && e["beacon_log"].is_object()) {
    const json& c = e["beacon_log"].value("connection", json::object());
    row("beacon's own record",
        "alert sent " + str(c, "alert_sent", "none") + ", client certificate " +
            str(c, "client_cert_verification", "-") +
            (str(c, "rejection").empty() ? "" : ", refused: " + str(c, "rejection")));
  }
  os << "</table>";
}

void evidence_section(std::ostream& os, const json& doc,
                      const std::map<std::string, std::size_t>& index) {
  const json& results = doc["results"];
  std::set<std::size_t> warned;  // checks behind a WARN finding: printed like FAILs
  for (const auto& f : doc.value("findings", json::array()))
    if (str(f, "severity") == "WARN")
      for (const auto& id : f.value("check_ids", json::array()))
        if (const auto it = index.find(str(f, "scenario") + "|" + id.get<std::string>());
            it != index.end())
          warned.insert(it->second);
  os << "<h2 id=\"evidence\">Evidence</h2><p>Printed: only FAIL, INCONCLUSIVE and WARN checks, "
        "as a summary; every check's raw evidence is in report.json.</p>\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const json& r = results[i];
    const std::string v = str(r, "verdict");
    const bool shown = v == "FAIL" || v == "INCONCLUSIVE" || warned.contains(i);
    const std::string head = esc(str(r, "scenario")) + " &middot; <b>" + esc(str(r, "check_id")) +
                             "</b>: " + esc(v) + " " + esc(str(r, "severity")) +
                             (warned.contains(i) ? " WARN" : "") + " (" +
                             esc(str(r, "outcome", "not run")) + ")";
    if (shown)
      os << "<div class=\"ev " << esc(v) << (warned.contains(i) ? " WARN" : "") << "\" id=\"r" << i
         << "\"><div>" << head << "</div>";
    else
      os << "<details class=\"ev " << esc(v) << "\" id=\"r" << i << "\"><summary>" << head
         << "</summary>";
    evidence_summary(os, r);
    if (r.contains("control_id") && r["control_id"].is_string())
      os << "<p>positive control " << link_to(index, str(r, "scenario"), str(r, "control_id"))
         << "</p>";
    os << "<details class=\"raw\"><summary>raw evidence (JSON)</summary><pre>"
       << esc(r.value("evidence", json::object()).dump(2)) << "</pre></details>"
       << (shown ? "</div>\n" : "</details>\n");
  }
}

std::string svg_bars(const json& bench) {
  // A horizontal bar chart of {label, value, unit} entries, inline SVG.
  const json& rows = bench.value("rows", json::array());
  double max = 0;
  for (const auto& r : rows) max = std::max(max, r.value("value", 0.0));
  if (rows.empty() || max <= 0) return "";
  const int height = 26 * static_cast<int>(rows.size()) + 10;
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 720 " << height
     << "\" style=\"max-width:720px;width:100%\" role=\"img\" aria-label=\""
     << esc(str(bench, "title")) << "\">";
  int y = 5;
  for (const auto& r : rows) {
    const double w = 420.0 * r.value("value", 0.0) / max;
    char value[64];
    std::snprintf(value, sizeof value, "%.4g", r.value("value", 0.0));
    os << "<text x=\"0\" y=\"" << y + 16 << "\" font-size=\"12\">" << esc(str(r, "label"))
       << "</text><rect x=\"220\" y=\"" << y + 3 << "\" width=\"" << w
       << "\" height=\"18\" fill=\"#2f6fdf\"/><text x=\"" << 226 + w << "\" y=\"" << y + 16
       << "\" font-size=\"12\">" << value << " " << esc(str(r, "unit")) << "</text>";
    y += 26;
  }
  os << "</svg>";
  return os.str();
}

}  // namespace

std::string render_html(const json& doc) {
  const json& m = doc.value("metadata", json::object());
  bool self_tests = doc["summary"].value("FAIL_declared_by_self_tests", 0) > 0;
  for (const auto& sc : m.value("scenarios", json::array()))
    self_tests = self_tests || sc.value("self_test", false);
  const auto index = index_checks(doc["results"]);
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mTLS conformance "
        "report</title><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
     << "<style>" << kCss << "</style></head><body>\n";
  cover(os, doc, self_tests);
  findings_section(os, doc, index);
  legend(os, self_tests);
  scenarios_section(os, doc);
  if (doc.contains("benchmarks") && doc["benchmarks"].is_array() && !doc["benchmarks"].empty()) {
    os << "<h2 id=\"benchmarks\">Benchmarks</h2>\n";
    for (const auto& b : doc["benchmarks"])
      os << "<h3>" << esc(str(b, "title")) << "</h3>" << svg_bars(b) << "\n";
  }
  evidence_section(os, doc, index);
  os << "<script>" << kScript << "</script></body></html>\n";
  return os.str();
}

}  // namespace mtls::report
