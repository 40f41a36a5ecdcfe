// url.cpp: see url.hpp.
#include "agent/url.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace mtls::agent {

bool Url::host_is_ip() const {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string Url::authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<Url> parse_url(const std::string& url) {
  Url u;
  const auto sep = url.find("://");
  if (sep == std::string::npos) return std::nullopt;
  u.scheme = url.substr(0, sep);
  if (u.scheme != "https" && u.scheme != "http") return std::nullopt;
  std::string rest = url.substr(sep + 3);
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    u.path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  std::string port;
  if (rest.starts_with("[")) {
    const auto close = rest.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return std::nullopt;
      port = rest.substr(close + 2);
    }
  } else {
    const auto colon = rest.rfind(':');
    u.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (u.host.empty() || u.host.find_first_of(" \t\r\n@") != std::string::npos) return std::nullopt;
  u.port = u.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
      return std::nullopt;
    u.port = p;
  }
  return u;
}

namespace {
struct ResolveEntry {
  std::string host;
  int port = 0;
  std::string address;
};

std::optional<ResolveEntry> split_resolve(const std::string& entry) {
  const auto first = entry.find(':');
  if (first == std::string::npos || first == 0) return std::nullopt;
  const auto second = entry.find(':', first + 1);
  if (second == std::string::npos) return std::nullopt;
  ResolveEntry e;
  e.host = entry.substr(0, first);
  const std::string port = entry.substr(first + 1, second - first - 1);
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), e.port);
  if (ec != std::errc() || p != port.data() + port.size() || e.port < 1 || e.port > 65535)
    return std::nullopt;
  e.address = entry.substr(second + 1);
  if (e.address.starts_with("[") && e.address.ends_with("]"))
    e.address = e.address.substr(1, e.address.size() - 2);
  unsigned char buf[16];
  if (::inet_pton(AF_INET, e.address.c_str(), buf) != 1 &&
      ::inet_pton(AF_INET6, e.address.c_str(), buf) != 1)
    return std::nullopt;
  return e;
}
}  // namespace

std::optional<std::string> resolved_address(const std::vector<std::string>& resolve,
                                            const std::string& host, int port) {
  for (const auto& entry : resolve)
    if (const auto e = split_resolve(entry); e && e->port == port && e->host == host)
      return e->address;
  return std::nullopt;
}

std::string resolve_entry_problem(const std::string& entry) {
  return split_resolve(entry) ? ""
                              : "not HOST:PORT:ADDR with a port 1..65535 and an IP address "
                                "(e.g. beacon.example.com:443:127.0.0.1)";
}

}  // namespace mtls::agent
