// report.cpp: the audit's reports, pure functions of the audit document: audit.json, audit.md,
// audit.html (counts, the devices that would be locked out, an expiry chart by month, reasons,
// issuers, duplicates), junit.xml (one testcase per device, failing when it would be locked out)
// and audit.csv (one row per device).
#include <sstream>

#include "audit/audit.hpp"
#include "core/files.hpp"
#include "report/render.hpp"

namespace mtls::audit {
namespace fs = std::filesystem;
using json = nlohmann::json;
using report::xml_escape;

namespace {

std::string reasons_text(const json& reasons) {
  std::string out;
  for (const auto& r : reasons)
    out += (out.empty() ? "" : "; ") + r["property"].get<std::string>() + ": " +
           r["detail"].get<std::string>();
  return out;
}

bool locked(const json& e) {
  return !e["accepted_now"].get<bool>() ||
         (e.contains("accepted_at") && !e["accepted_at"].get<bool>());
}

std::string markdown(const json& doc) {
  const json& s = doc["summary"];
  const json& m = doc["metadata"];
  std::ostringstream os;
  os << "# Fleet readiness audit: "
     << (s["exit_code"] == 0 ? "READY" : "DEVICES WOULD BE LOCKED OUT") << "\n\n"
     << s["devices"] << " device certificate(s) (" << s["distinct_certificates"]
     << " distinct) against `" << m["ca"].get<std::string>() << "`: " << s["accepted_now"]
     << " accepted now, " << s["locked_out_now"] << " locked out now";
  if (!m["at"].is_null())
    os << ", " << s["locked_out_at"] << " locked out at " << m["at"].get<std::string>();
  os << "; " << s["expiring_within_warning"] << " expire within " << m["expiry_warning_days"]
     << " days.\n\n## Reasons\n\n";
  for (const auto& [k, v] : s["by_reason"].items()) os << "- " << k << ": " << v << " device(s)\n";
  if (s["by_reason"].empty()) os << "None.\n";
  os << "\n## Duplicates\n\n";
  for (const auto& d : s["duplicates"]) os << "- " << d["note"].get<std::string>() << "\n";
  if (s["duplicates"].empty()) os << "None.\n";
  if (doc.contains("access_logs")) {
    const json& l = doc["access_logs"];
    os << "\n## Clients without a valid certificate in the access logs ("
       << l["format"].get<std::string>() << ", " << l["records"] << " records)\n\n";
    for (const auto& c : l["clients_without_a_valid_certificate"])
      os << "- " << c["address"].get<std::string>() << " host `" << c["host"].get<std::string>()
         << "` agent `" << c["user_agent"].get<std::string>() << "`: " << c["requests"]
         << " request(s), " << c["first_seen"].get<std::string>() << " to "
         << c["last_seen"].get<std::string>() << "\n";
    if (l["clients_without_a_valid_certificate"].empty()) os << "None.\n";
  }
  os << "\n## Would be locked out\n\n";
  for (const auto& e : doc["devices"])
    if (locked(e))
      os << "- `" << e["device"].get<std::string>() << "`: "
         << reasons_text(e["accepted_now"].get<bool>() ? e["reasons_at"] : e["reasons_now"])
         << "\n";
  if (s["locked_out"].empty()) os << "None.\n";
  return os.str();
}

std::string html(const json& doc) {
  const json& s = doc["summary"];
  const json& m = doc["metadata"];
  std::ostringstream os;
  const bool ready = s["exit_code"] == 0;
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Fleet readiness "
        "audit</title><meta name=\"viewport\" content=\"width=device-width, "
        "initial-scale=1\"><style>"
        "body{font-family:system-ui,sans-serif;margin:0 1.5rem 2rem;color:#1d2430}"
        "table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid "
        "#d8dee8;padding:.2rem .4rem;"
        "text-align:left;overflow-wrap:anywhere}.banner{display:inline-block;padding:.3rem "
        ".8rem;color:#fff;"
        "font-weight:700;border-radius:4px}.READY{background:#1f7a3a}.LOCKOUT{background:#b3261e}"
        ".scroll{overflow-x:auto}</style></head><body>\n<h1>Fleet readiness audit</h1><p><span "
        "class=\"banner "
     << (ready ? "READY" : "LOCKOUT") << "\" id=\"verdict\">"
     << (ready ? "READY" : "DEVICES WOULD BE LOCKED OUT") << "</span></p><p>" << s["devices"]
     << " device certificate(s), " << s["distinct_certificates"] << " distinct, against "
     << xml_escape(m["ca"].get<std::string>()) << " (SHA-256 checksum <code>"
     << (m["ca_sha256"].is_string() ? m["ca_sha256"].get<std::string>() : "-") << "</code>), at "
     << m["now"].get<std::string>()
     << (m["at"].is_null() ? "" : " and " + m["at"].get<std::string>()) << ": <b id=\"accepted\">"
     << s["accepted_now"] << "</b> accepted now, <b id=\"locked-now\">" << s["locked_out_now"]
     << "</b> locked out now.</p>\n";
  // Expiry chart: devices per month their certificate ends.
  const json& months = s["by_expiry_month"];
  int max = 1;
  for (const auto& [k, v] : months.items()) max = std::max(max, v.get<int>());
  const int h = 24 * static_cast<int>(months.size()) + 10;
  os << "<h2>Expiries by month</h2><svg id=\"expiry-chart\" viewBox=\"0 0 640 " << h
     << "\" style=\"max-width:640px;width:100%\" role=\"img\" aria-label=\"devices by expiry "
        "month\">";
  int y = 5;
  for (const auto& [k, v] : months.items()) {
    const double w = 440.0 * v.get<int>() / max;
    os << "<text x=\"0\" y=\"" << y + 15 << "\" font-size=\"12\">" << k
       << "</text><rect x=\"80\" y=\"" << y + 2 << "\" width=\"" << w
       << "\" height=\"16\" fill=\"#2f6fdf\"/><text x=\"" << 86 + w << "\" y=\"" << y + 15
       << "\" font-size=\"12\">" << v << "</text>";
    y += 24;
  }
  os << "</svg>\n<h2>Reasons</h2><ul>";
  for (const auto& [k, v] : s["by_reason"].items()) os << "<li>" << k << ": " << v << "</li>";
  os << "</ul><h2>Duplicates</h2><ul>";
  for (const auto& d : s["duplicates"])
    os << "<li>" << xml_escape(d["note"].get<std::string>()) << "</li>";
  os << "</ul><h2>Devices</h2><div class=\"scroll\"><table><tr><th>device</th><th>subject</th>"
        "<th>not after</th><th>days left</th><th>now</th>"
     << (m["at"].is_null() ? "" : "<th>at</th>") << "<th>why not</th></tr>\n";
  for (const auto& e : doc["devices"]) {
    os << "<tr><td>" << xml_escape(e["device"].get<std::string>()) << "</td><td>"
       << xml_escape(e["subject"].get<std::string>()) << "</td><td>"
       << e["not_after"].get<std::string>() << "</td><td>" << e["days_left"] << "</td><td>"
       << (e["accepted_now"].get<bool>() ? "accepted" : "LOCKED OUT") << "</td>";
    if (!m["at"].is_null())
      os << "<td>" << (e["accepted_at"].get<bool>() ? "accepted" : "LOCKED OUT") << "</td>";
    os << "<td>" << xml_escape(reasons_text(e["reasons_now"])) << "</td></tr>\n";
  }
  os << "</table></div>\n";
  if (doc.contains("access_logs")) {
    const json& l = doc["access_logs"];
    os << "<h2>Clients without a valid certificate in the access logs</h2><p>" << l["records"]
       << " records (" << l["format"].get<std::string>() << "); "
       << l["addresses_with_a_valid_certificate"]
       << " address(es) came with a valid certificate.</p><div class=\"scroll\"><table "
          "id=\"clients\"><tr><th>address</th><th>host</th><th>user agent</th><th>requests</th>"
          "<th>first seen</th><th>last seen</th><th>presented</th></tr>";
    for (const auto& c : l["clients_without_a_valid_certificate"])
      os << "<tr><td>" << xml_escape(c["address"].get<std::string>()) << "</td><td>"
         << xml_escape(c["host"].get<std::string>()) << "</td><td>"
         << xml_escape(c["user_agent"].get<std::string>()) << "</td><td>" << c["requests"]
         << "</td><td>" << xml_escape(c["first_seen"].get<std::string>()) << "</td><td>"
         << xml_escape(c["last_seen"].get<std::string>()) << "</td><td>"
         << xml_escape(c["presented"].dump()) << "</td></tr>";
    os << "</table></div>\n";
  }
  os << "</body></html>\n";
  return os.str();
}

std::string junit(const json& doc) {
  const json& devices = doc["devices"];
  const json clients = doc.contains("access_logs")
                           ? doc["access_logs"]["clients_without_a_valid_certificate"]
                           : json::array();
  int failures = 0;
  for (const auto& e : devices) failures += locked(e);
  failures += static_cast<int>(clients.size());
  std::ostringstream os;
  const std::size_t tests = devices.size() + clients.size();
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"mtls-harness audit\" "
        "tests=\""
     << tests << "\" failures=\"" << failures
     << "\" errors=\"0\">\n  <testsuite name=\"audit\" tests=\"" << tests << "\" failures=\""
     << failures << "\" errors=\"0\" skipped=\"0\" timestamp=\""
     << doc["metadata"]["now"].get<std::string>() << "\">\n";
  for (const auto& e : devices) {
    os << "    <testcase classname=\"audit\" name=\"" << xml_escape(e["device"].get<std::string>())
       << "\" time=\"0\">";
    if (locked(e))
      os << "<failure type=\"LOCKOUT\" message=\""
         << xml_escape(
                reasons_text(e["accepted_now"].get<bool>() ? e["reasons_at"] : e["reasons_now"]))
         << "\"/>";
    os << "</testcase>\n";
  }
  for (const auto& c : clients)
    os << "    <testcase classname=\"access-log\" name=\""
       << xml_escape(c["address"].get<std::string>() + " " + c["host"].get<std::string>() + " " +
                     c["user_agent"].get<std::string>())
       << "\" time=\"0\"><failure type=\"LOCKOUT\" message=\"connected without a valid client "
          "certificate: would be locked out\"/></testcase>\n";
  os << "  </testsuite>\n</testsuites>\n";
  return os.str();
}

std::string csv(const json& doc) {
  auto cell = [](const json& v) { return report::csv_cell(v.get<std::string>()); };
  std::ostringstream os;
  os << "device,subject,issuer,serial,sha256,not_after,days_left,copies,accepted_now,accepted_at,"
        "reasons\r\n";
  for (const auto& e : doc["devices"])
    os << cell(e["device"]) << "," << cell(e["subject"]) << "," << cell(e["issuer"]) << ","
       << cell(e["serial"]) << "," << e["sha256"].get<std::string>() << ","
       << e["not_after"].get<std::string>() << "," << e["days_left"] << "," << e["copies"] << ","
       << (e["accepted_now"].get<bool>() ? "yes" : "no") << ","
       << (e.contains("accepted_at") ? (e["accepted_at"].get<bool>() ? "yes" : "no") : "") << ","
       << cell(reasons_text(e["reasons_now"])) << "\r\n";
  return os.str();
}

}  // namespace

void write_reports(const fs::path& dir, const json& doc) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError("--out " + dir.string() + ": cannot create (" + ec.message() + ")");
  write_file_atomic(dir / "audit.json", doc.dump(2) + "\n");
  write_file_atomic(dir / "audit.md", markdown(doc));
  write_file_atomic(dir / "audit.html", html(doc));
  write_file_atomic(dir / "junit.xml", junit(doc));
  write_file_atomic(dir / "audit.csv", csv(doc));
}

}  // namespace mtls::audit
