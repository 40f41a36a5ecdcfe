// classify.hpp: turns what the agent observed (curl code, TLS alert, handshake state, HTTP status,
// payload check) into one outcome of the closed enum. Pure, so a table-driven test covers it.
#pragma once

#include <optional>
#include <string>

#include "core/outcome.hpp"

namespace mtls::agent {

struct Signals {
  long curl_code = 0;
  std::optional<int> alert_code;       // a non-close_notify alert received from the beacon
  bool alert_after_handshake = false;  // it arrived after our handshake completed (TLS 1.3)
  bool handshake_completed = false;
  std::optional<long> http_status;
  std::optional<bool> payload_verified;  // nullopt: not checked
};

struct Classification {
  Outcome outcome;
  std::string reason;  // one line a person can read
};

Classification classify(const Signals& s);

// RFC 8446 / RFC 5246 name of a TLS alert description ("handshake_failure"); "alert_<n>" if
// unknown.
std::string alert_name(int code);

}  // namespace mtls::agent
