// url.hpp: the parts of a beacon URL the side-door probes rewrite (scheme, host, port, path).
#pragma once

#include <optional>
#include <string>

namespace mtls::agent {

struct Url {
  std::string scheme;  // "https" or "http"
  std::string host;    // without IPv6 brackets
  int port = 0;        // the scheme's default when the URL names none
  std::string path;    // from the first '/', may be empty

  bool host_is_ip() const;
  // "host:port", IPv6 in brackets (what Host headers and CURLOPT_CONNECT_TO want).
  std::string authority() const;
};

// nullopt when `url` is not http(s)://host[:port][/path] with a valid port.
std::optional<Url> parse_url(const std::string& url);

}  // namespace mtls::agent
