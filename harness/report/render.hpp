// render.hpp: the human and CI renderings of a report document (report.json's contents):
// JUnit XML, Markdown for CI job pages, and one self-contained HTML file (no network fetches).
// Each is a pure function of the document, so `mtls-harness report` can re-render any report.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mtls::report {

std::string render_junit(const nlohmann::json& doc);
std::string render_markdown(const nlohmann::json& doc);
std::string render_html(const nlohmann::json& doc);
// SARIF 2.1.0: one rule per kind of finding, one result per finding (sarif.cpp).
std::string render_sarif(const nlohmann::json& doc);
// One row per check for spreadsheets (RFC 4180: comma-separated, quoted where needed).
std::string render_csv(const nlohmann::json& doc);

// Why checks were INCONCLUSIVE, grouped by cause (most first): how many, the cause, and the fix.
// A negative check that proves nothing because its positive control did not get in is counted
// under its control's cause.
struct InconclusiveCause {
  int count = 0;
  std::string cause, fix;
};
std::vector<InconclusiveCause> inconclusive_causes(const nlohmann::json& doc);

// One CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break.
std::string csv_cell(const std::string& value);

// Escaping for XML/HTML text and attributes.
std::string xml_escape(const std::string& s);

}  // namespace mtls::report
