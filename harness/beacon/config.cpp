// config.cpp: see config.hpp.
#include "beacon/config.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <array>
#include <utility>

#include "core/files.hpp"
#include "core/name_table.hpp"
#include "core/yaml_file.hpp"

namespace mtls::beacon {
namespace fs = std::filesystem;

namespace {
constexpr NameTable<RejectMode, 7> kRejectNames{{
    {RejectMode::kAlertHandshakeFailure, "alert:handshake_failure"},
    {RejectMode::kAlertCertificateRequired, "alert:certificate_required"},
    {RejectMode::kAlertAccessDenied, "alert:access_denied"},
    {RejectMode::kAlertBadCertificate, "alert:bad_certificate"},
    {RejectMode::kClose, "close"},
    {RejectMode::kHttp403, "http:403"},
    {RejectMode::kHttp400, "http:400"},
}};

ClientAuth client_auth_field(const YamlFields& y, const YAML::Node& parent,
                             const std::string& field, ClientAuth fallback) {
  const std::string v = y.str(parent, "client_auth", field, std::string(to_string(fallback)));
  y.one_of(parent["client_auth"] ? parent["client_auth"] : parent, field, v,
           {"ignore", "request", "require"});
  return *client_auth_from_string(v);
}

fs::path path_field(const YamlFields& y, const YAML::Node& parent, const std::string& key,
                    const fs::path& base) {
  fs::path p = y.str(parent, key, key);
  return p.is_absolute() ? p : base / p;
}

ListenerConfig listener_from(const YamlFields& y, const YAML::Node& node, const std::string& f) {
  if (!node.IsMap()) y.fail(node, f, "must be a mapping");
  y.only_keys(node, f,
              {"name", "listen", "tls", "client_auth", "reject", "revocation", "min_tls", "folders",
               "virtual_hosts", "session_cache", "trust_resumed_sessions",
               "renegotiation_fail_open", "check_host", "client_auth_by_source"});
  ListenerConfig l;
  l.name = y.str(node, "name", f + ".name", "", true);
  l.listen = y.str(node, "listen", f + ".listen", l.listen);
  if (const std::string why = listen_problem(l.listen); !why.empty())
    y.fail(node["listen"], f + ".listen", why);
  l.tls = y.boolean(node, "tls", f + ".tls", true);
  l.client_auth = client_auth_field(y, node, f + ".client_auth",
                                    l.tls ? ClientAuth::kRequire : ClientAuth::kIgnore);
  const std::string reject = y.str(node, "reject", f + ".reject", "alert:handshake_failure");
  y.one_of(node["reject"] ? node["reject"] : node, f + ".reject", reject, reject_mode_names());
  l.reject = *reject_mode_from_string(reject);
  const std::string rev = y.str(node, "revocation", f + ".revocation", "off");
  y.one_of(node["revocation"] ? node["revocation"] : node, f + ".revocation", rev, {"off", "crl"});
  l.crl = rev == "crl";
  l.min_tls = y.str(node, "min_tls", f + ".min_tls", "1.2");
  y.one_of(node["min_tls"] ? node["min_tls"] : node, f + ".min_tls", l.min_tls,
           {"1.0", "1.1", "1.2"});
  if (const YAML::Node folders = node["folders"]) {
    if (!folders.IsSequence()) y.fail(folders, f + ".folders", "must be a list");
    for (std::size_t i = 0; i < folders.size(); ++i) {
      const std::string ff = f + ".folders[" + std::to_string(i) + "]";
      y.only_keys(folders[i], ff, {"prefix", "client_auth"});
      FolderAuth fa{y.str(folders[i], "prefix", ff + ".prefix", "", true),
                    client_auth_field(y, folders[i], ff + ".client_auth", ClientAuth::kRequire)};
      if (!fa.prefix.starts_with("/")) y.fail(folders[i], ff + ".prefix", "must start with '/'");
      l.folders.push_back(fa);
    }
  }
  if (const YAML::Node vhosts = node["virtual_hosts"]) {
    if (!vhosts.IsSequence()) y.fail(vhosts, f + ".virtual_hosts", "must be a list");
    for (std::size_t i = 0; i < vhosts.size(); ++i) {
      const std::string vf = f + ".virtual_hosts[" + std::to_string(i) + "]";
      y.only_keys(vhosts[i], vf, {"name", "client_auth"});
      l.virtual_hosts.push_back(
          {y.str(vhosts[i], "name", vf + ".name", "", true),
           client_auth_field(y, vhosts[i], vf + ".client_auth", l.client_auth)});
    }
  }
  if (const YAML::Node rules = node["client_auth_by_source"]) {
    if (!rules.IsSequence()) y.fail(rules, f + ".client_auth_by_source", "must be a list");
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const std::string rf = f + ".client_auth_by_source[" + std::to_string(i) + "]";
      y.only_keys(rules[i], rf, {"source", "client_auth"});
      SourceRule r{y.str(rules[i], "source", rf + ".source", "", true),
                   client_auth_field(y, rules[i], rf + ".client_auth", ClientAuth::kRequire)};
      boost::system::error_code ec;
      boost::asio::ip::make_network_v4(r.network, ec);
      if (ec) boost::asio::ip::make_network_v6(r.network, ec);
      if (ec) y.fail(rules[i]["source"], rf + ".source", "expected ADDRESS/PREFIX (127.0.0.5/32)");
      l.client_auth_by_source.push_back(std::move(r));
    }
  }
  l.session_cache = y.str(node, "session_cache", f + ".session_cache", "");
  l.trust_resumed_sessions =
      y.boolean(node, "trust_resumed_sessions", f + ".trust_resumed_sessions", false);
  l.renegotiation_fail_open =
      y.boolean(node, "renegotiation_fail_open", f + ".renegotiation_fail_open", false);
  l.check_host = y.boolean(node, "check_host", f + ".check_host", true);
  if (!l.tls && (!l.folders.empty() || l.client_auth != ClientAuth::kIgnore))
    y.fail(node, f, "a plain-HTTP listener (tls: false) cannot ask for client certificates");
  return l;
}

}  // namespace

std::string listen_problem(const std::string& listen) {
  std::string host, port;
  if (listen.starts_with("[")) {
    const auto close = listen.find("]:");
    if (close == std::string::npos) return "'" + listen + "': expected [V6ADDRESS]:PORT";
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) return "'" + listen + "': expected HOST:PORT";
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return "'" + listen + "': '" + host + "' is not an IP address";
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535)
    return "'" + listen + "': '" + port + "' is not a port number (0-65535)";
  return "";
}

void check_beacon_config(const BeaconConfig& c) {
  auto fail = [](const std::string& field, const std::string& what) {
    throw InputError("field '" + field + "': " + what);
  };
  if (c.threads == 0 || c.threads > 256)
    fail("threads", std::to_string(c.threads) + ": must be 1..256");
  if (c.listeners.empty()) fail("listeners", "must be a non-empty list");
  for (std::size_t i = 0; i < c.listeners.size(); ++i) {
    const ListenerConfig& l = c.listeners[i];
    const std::string f = "listeners[" + std::to_string(i) + "]";
    if (const std::string why = listen_problem(l.listen); !why.empty()) fail(f + ".listen", why);
    if (!l.tls && (!l.folders.empty() || l.client_auth != ClientAuth::kIgnore))
      fail(f, "a plain-HTTP listener (tls: false) cannot ask for client certificates");
    for (std::size_t j = 0; j < i; ++j)
      if (c.listeners[j].name == l.name) fail(f + ".name", "'" + l.name + "' is used twice");
  }
}

bool in_network(const std::string& address, const std::string& network) {
  boost::system::error_code ec;
  const auto a = boost::asio::ip::make_address(address, ec);
  if (ec) return false;
  if (a.is_v4()) {
    const auto n = boost::asio::ip::make_network_v4(network, ec);
    return !ec && (a.to_v4().to_uint() & n.netmask().to_uint()) == n.network().to_uint();
  }
  const auto n = boost::asio::ip::make_network_v6(network, ec);
  if (ec) return false;
  const auto hosts = n.hosts();
  return hosts.find(a.to_v6()) != hosts.end();
}

std::optional<RejectMode> reject_mode_from_string(std::string_view s) {
  return value_of(kRejectNames, s);
}

std::string_view to_string(RejectMode m) {
  return name_of(kRejectNames, m, "alert:handshake_failure");
}

std::vector<std::string> reject_mode_names() {
  std::vector<std::string> out;
  for (const auto& [_, n] : kRejectNames) out.emplace_back(n);
  return out;
}

bool rejects_in_handshake(RejectMode m) {
  return m != RejectMode::kClose && m != RejectMode::kHttp403 && m != RejectMode::kHttp400;
}

BeaconConfig beacon_config_from_yaml(const YAML::Node& root, const fs::path& source,
                                     const fs::path& base) {
  const YamlFields y(source);
  if (!root.IsMap()) throw InputError(source.string() + ": a beacon config must be a YAML mapping");
  y.only_keys(root, "",
              {"name", "identity", "pki", "content", "store", "uploads", "threads", "timeouts",
               "max_connections", "latency_ms", "failure", "listeners", "client_trust", "crypto"});
  BeaconConfig c;
  c.name = y.str(root, "name", "name", c.name);
  c.identity = y.str(root, "identity", "identity", "");
  if (root["pki"]) c.pki_dir = path_field(y, root, "pki", base);
  if (root["content"]) c.content_dir = path_field(y, root, "content", base);
  if (const YAML::Node t = y.map(root, "client_trust", "client_trust")) {
    y.only_keys(t, "client_trust", {"ca", "crls"});
    if (!t["ca"]) y.fail(t, "client_trust.ca", "is required (the CA or pinned certificates)");
    const fs::path ca = y.str(t, "ca", "client_trust.ca");
    c.client_ca = ca.is_absolute() ? ca : base / ca;
    if (t["crls"])
      for (const auto& crl : y.list(t, "crls", "client_trust.crls"))
        c.client_crls.push_back(fs::path(crl).is_absolute() ? fs::path(crl) : base / crl);
  }
  if (root["store"]) c.store_dir = path_field(y, root, "store", base);
  if (const YAML::Node up = y.map(root, "uploads", "uploads")) {
    y.only_keys(up, "uploads", {"extensions", "max_bytes"});
    if (up["extensions"]) c.upload_extensions = y.list(up, "extensions", "uploads.extensions");
    c.upload_max_bytes = y.unsigned_int(up, "max_bytes", "uploads.max_bytes", c.upload_max_bytes);
  }
  c.threads = static_cast<unsigned>(y.unsigned_int(root, "threads", "threads", c.threads));
  if (c.threads == 0 || c.threads > 256)
    y.fail(root["threads"], "threads", std::to_string(c.threads) + ": must be 1..256");
  if (const YAML::Node t = y.map(root, "timeouts", "timeouts")) {
    y.only_keys(t, "timeouts", {"handshake_ms", "idle_ms"});
    c.handshake_timeout = std::chrono::milliseconds(
        y.unsigned_int(t, "handshake_ms", "timeouts.handshake_ms", c.handshake_timeout.count()));
    c.idle_timeout = std::chrono::milliseconds(
        y.unsigned_int(t, "idle_ms", "timeouts.idle_ms", c.idle_timeout.count()));
  }
  c.max_connections = y.unsigned_int(root, "max_connections", "max_connections", c.max_connections);
  c.latency = std::chrono::milliseconds(y.unsigned_int(root, "latency_ms", "latency_ms", 0));
  if (const YAML::Node fl = y.map(root, "failure", "failure")) {
    y.only_keys(fl, "failure", {"rate", "mode"});
    c.failure_rate = y.number(fl, "rate", "failure.rate", 0.0);
    if (c.failure_rate < 0.0 || c.failure_rate > 1.0)
      y.fail(fl["rate"], "failure.rate", "must be between 0 and 1");
    c.failure = y.str(fl, "mode", "failure.mode", "503");
    y.one_of(fl["mode"] ? fl["mode"] : fl, "failure.mode", c.failure, {"503", "reset"});
  }
  const std::string crypto = y.str(root, "crypto", "crypto", "openssl");
  y.one_of(root["crypto"] ? root["crypto"] : root, "crypto", crypto, {"openssl", "botan"});
  c.crypto = crypto == "botan" ? CryptoProvider::kBotan : CryptoProvider::kOpenssl;
  const YAML::Node listeners = root["listeners"];
  if (!listeners || !listeners.IsSequence() || listeners.size() == 0)
    y.fail(listeners ? listeners : root, "listeners", "must be a non-empty list");
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    ListenerConfig l = listener_from(y, listeners[i], "listeners[" + std::to_string(i) + "]");
    for (const auto& other : c.listeners)
      if (other.name == l.name)
        y.fail(listeners[i], "listeners[" + std::to_string(i) + "].name",
               "'" + l.name + "' is used twice");
    c.listeners.push_back(std::move(l));
  }
  return c;
}

BeaconConfig load_beacon_config(const fs::path& file) {
  return guard_yaml(file, [&] {
    return beacon_config_from_yaml(load_yaml_file(file), file, file.parent_path());
  });
}

}  // namespace mtls::beacon
