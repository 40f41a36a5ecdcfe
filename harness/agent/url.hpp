// url.hpp: the parts of a beacon URL the side-door probes rewrite (scheme, host, port, path).
#pragma once

#include <optional>
#include <string>
#include <vector>

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

// Address overrides in curl's --resolve form, "HOST:PORT:ADDR" (an IPv6 ADDR may be bracketed):
// names tried before DNS has them. The address given for host:port, if any.
std::optional<std::string> resolved_address(const std::vector<std::string>& resolve,
                                            const std::string& host, int port);
// What is wrong with one entry (empty when it is usable).
std::string resolve_entry_problem(const std::string& entry);

}  // namespace mtls::agent
