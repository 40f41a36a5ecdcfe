// agent.cpp: see agent.hpp. A single operation is a device of one, driven like a fleet.
#include "agent/agent.hpp"

#include <curl/curl.h>

#include "agent/device.hpp"
#include "agent/fleet.hpp"
#include "core/files.hpp"

namespace mtls::agent {
namespace fs = std::filesystem;

CurlGlobal::CurlGlobal() {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    throw HarnessError("curl_global_init failed");
}
CurlGlobal::~CurlGlobal() {
  curl_global_cleanup();
}

void validate(const AgentOptions& o, const std::vector<BeaconChoice>& beacons) {
  if (beacons.empty()) throw InputError("--beacon: give at least one beacon URL");
  for (const auto& b : beacons) {
    if (!b.url.starts_with("https://") && !b.url.starts_with("http://"))
      throw InputError("--beacon " + b.url + ": expected an https:// URL");
    const std::string rest = b.url.substr(b.url.find("://") + 3);
    if (rest.empty() || rest.front() == '/' || rest.find_first_of(" \t\r\n") != std::string::npos)
      throw InputError("--beacon " + b.url + ": no host in this URL");
  }
  if (o.trust.check_server_certificate) {
    if (!o.trust.ca_file && !o.trust.ca_path)
      throw InputError("--ca or --ca-path is needed to check the beacon's certificate");
    if (o.trust.ca_file) (void)read_file(*o.trust.ca_file);  // names the file if unreadable
    std::error_code ec;
    if (o.trust.ca_path && !fs::is_directory(*o.trust.ca_path, ec))
      throw InputError("--ca-path " + o.trust.ca_path->string() + ": not a folder");
  }
  if (o.trust.crl_file) (void)read_file(*o.trust.crl_file);
  const auto& c = o.credential;
  if (c.cert.has_value() != c.key.has_value())
    throw InputError("a client certificate needs both --cert and --key");
  if (c.p12 && c.cert) throw InputError("--p12 and --cert/--key are exclusive");
}

const std::vector<std::string>& entry_path_names() {
  static const std::vector<std::string> names = {"https",
                                                 "plain-http",
                                                 "sni-host-mismatch",
                                                 "resumption-cross-listener",
                                                 "renegotiation",
                                                 "tls-downgrade",
                                                 "no-sni",
                                                 "sni",
                                                 "path",
                                                 "header"};
  return names;
}

bool needs_raw_client(const std::string& entry_path) {
  return entry_path == "resumption-cross-listener" || entry_path == "renegotiation";
}

namespace {
ResultRecord run_plan(DevicePlan plan) {
  std::vector<std::unique_ptr<Device>> devices;
  devices.push_back(std::make_unique<Device>(std::move(plan)));
  drive(devices, 64);
  return devices.front()->results().front();
}
}  // namespace

ResultRecord run_operation(const Operation& op, const std::string& beacon_url,
                           const AgentOptions& options) {
  validate(options, {{beacon_url, 1}});
  return run_plan(
      {.operations = {&op}, .select = nullptr, .beacons = {{beacon_url, 1}}, .options = options});
}

ResultRecord run_with_failover(const Operation& op, const Operation& select,
                               const std::vector<BeaconChoice>& beacons,
                               const AgentOptions& options) {
  validate(options, beacons);
  return run_plan({.operations = {&op}, .select = &select, .beacons = beacons, .options = options});
}

}  // namespace mtls::agent
