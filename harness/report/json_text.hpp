// json_text.hpp: small readers shared by the renderers (render.cpp, html.cpp): a field of a
// report document as text, a count, the overall verdict, a finding's advisories. Internal to
// report/.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace mtls::report {

// A field as text: a string as it is, another value as JSON, `fallback` when absent or null.
inline std::string str(const nlohmann::json& j, const char* key, const std::string& fallback = "") {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return fallback;
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

inline int count(const nlohmann::json& summary, const char* key) {
  return summary.value(key, 0);
}

// The run's verdict as its exit code says it.
inline std::string overall(const nlohmann::json& summary) {
  const int code = summary.value("exit_code", 3);
  return code == 0 ? "PASS" : code == 1 ? "FAIL" : "INCONCLUSIVE";
}

// A finding's advisories (side doors: the CVEs of its class), "; "-joined; "" when none.
inline std::string advisories(const nlohmann::json& f) {
  std::string out;
  if (f.contains("advisories") && f["advisories"].is_array())
    for (const auto& a : f["advisories"])
      if (a.is_string()) out += (out.empty() ? "" : "; ") + a.get<std::string>();
  return out;
}

}  // namespace mtls::report
