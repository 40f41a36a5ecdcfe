// access_log.cpp: see access_log.hpp.
#include "audit/access_log.hpp"

#include <map>
#include <regex>
#include <sstream>

#include "core/files.hpp"

namespace mtls::audit {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string dash_empty(const std::string& v) {
  return v == "-" ? "" : v;
}

// nginx and Apache, configured with the documented lines, write the same shape.
AccessRecord combined(const std::string& line, const std::string& where) {
  static const std::regex kLine(
      R"re(^(\S+) \[([^\]]+)\] "([^"]*)" (\d{3}) "([^"]*)" "([^"]*)" (FAILED:[^"]*?|\S+) "([^"]*)" "([^"]*)"\s*$)re");
  std::smatch m;
  if (!std::regex_match(line, m, kLine))
    throw InputError(where +
                     ": not in the documented mtls_audit log format (see 'mtls-harness "
                     "audit --help' and docs)");
  AccessRecord r{m[2], m[1], dash_empty(m[6]), dash_empty(m[5]),
                 m[3], m[7], dash_empty(m[9]), dash_empty(m[8])};
  if (r.verify == "GENEROUS") r.verify = "FAILED:GENEROUS";  // Apache: presented, not verified
  if (r.verify == "-") r.verify = "NONE";
  return r;
}

std::vector<AccessRecord> iis(std::istream& in, const std::string& file) {
  std::vector<AccessRecord> out;
  std::vector<std::string> fields;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#Fields:", 0) == 0) {
      std::istringstream f(line.substr(8));
      fields.clear();
      for (std::string name; f >> name;) fields.push_back(name);
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    if (fields.empty())
      throw InputError(file + ":" + std::to_string(n) +
                       ": no #Fields line before the first record");
    std::istringstream v(line);
    std::map<std::string, std::string> row;
    std::size_t i = 0;
    for (std::string value; v >> value; ++i)
      if (i < fields.size()) row[fields[i]] = value == "-" ? "" : value;
    if (i != fields.size())
      throw InputError(file + ":" + std::to_string(n) + ": " + std::to_string(i) + " values for " +
                       std::to_string(fields.size()) + " #Fields");
    if (!row.contains("c-ip") || !row.contains("CERT_SERIALNUMBER"))
      throw InputError(
          file + ":" + std::to_string(n) +
          ": the #Fields need c-ip and the custom field CERT_SERIALNUMBER (enhanced logging)");
    auto plus_to_space = [](std::string s) {
      for (auto& c : s) c = c == '+' ? ' ' : c;
      return s;
    };
    AccessRecord r;
    r.time = row["date"] + (row.contains("time") ? "T" + row["time"] + "Z" : "");
    r.address = row["c-ip"];
    r.host = row["cs-host"];
    r.user_agent = plus_to_space(row["cs(User-Agent)"]);
    r.request = row["cs-method"] + " " + row["cs-uri-stem"];
    r.serial = row["CERT_SERIALNUMBER"];
    r.subject = plus_to_space(row["CERT_SUBJECT"]);
    r.verify = r.serial.empty() ? "NONE" : "PRESENTED";
    out.push_back(std::move(r));
  }
  return out;
}

AccessRecord ours(const std::string& line, const std::string& where) {
  const json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw InputError(where + ": not a JSON log record");
  AccessRecord r;
  r.time = j.value("ts", "");
  r.address = j.value("peer_address", "");
  r.host = j.contains("sni") && j["sni"].is_string() ? j["sni"].get<std::string>() : "";
  const std::string v =
      j.contains("client_cert_verification") && j["client_cert_verification"].is_string()
          ? j["client_cert_verification"].get<std::string>()
          : "absent";
  r.verify = v == "ok" ? "SUCCESS" : v == "absent" ? "NONE" : "FAILED:" + j.value("error", v);
  if (j.contains("client_cert") && j["client_cert"].is_object()) {
    r.subject = j["client_cert"].value("subject", "");
    r.serial = j["client_cert"].value("serial", "");
  }
  return r;
}

}  // namespace

std::vector<AccessRecord> read_access_log(const fs::path& file, const std::string& format) {
  if (format != "nginx" && format != "apache" && format != "iis" && format != "mtls-harness")
    throw InputError("--log-format " + format + ": expected nginx, apache, iis or mtls-harness");
  std::istringstream in(read_file(file));
  if (format == "iis") return iis(in, file.string());
  std::vector<AccessRecord> out;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.empty()) continue;
    const std::string where = file.string() + ":" + std::to_string(n);
    if (format == "mtls-harness") {
      if (line.find("\"event\":\"connection\"") == std::string::npos) continue;  // requests, ready
      out.push_back(ours(line, where));
    } else {
      out.push_back(combined(line, where));
    }
  }
  return out;
}

json access_log_audit(const std::vector<fs::path>& files, const std::string& format) {
  struct Client {
    int requests = 0;
    std::string first, last;
    std::map<std::string, int> presented;  // verify result -> count
  };
  std::map<std::tuple<std::string, std::string, std::string>, Client> without;
  std::map<std::string, int> with_valid;  // address -> requests
  std::size_t lines = 0;
  for (const auto& f : files)
    for (const auto& r : read_access_log(f, format)) {
      ++lines;
      if (r.verify == "SUCCESS" || r.verify == "PRESENTED") {
        ++with_valid[r.address];
        continue;
      }
      Client& c = without[{r.address, r.host, r.user_agent}];
      if (c.requests++ == 0) c.first = r.time;
      c.last = r.time;
      ++c.presented[r.verify];
    }
  json clients = json::array();
  for (const auto& [key, c] : without)
    clients.push_back({{"address", std::get<0>(key)},
                       {"host", std::get<1>(key)},
                       {"user_agent", std::get<2>(key)},
                       {"requests", c.requests},
                       {"first_seen", c.first},
                       {"last_seen", c.last},
                       {"presented", c.presented}});
  json file_names = json::array();
  for (const auto& f : files) file_names.push_back(f.string());
  return {{"format", format},
          {"files", file_names},
          {"records", lines},
          {"addresses_with_a_valid_certificate", with_valid.size()},
          {"clients_without_a_valid_certificate", clients}};
}

}  // namespace mtls::audit
