// side_door.hpp: the entry paths curl cannot express, on hand-driven OpenSSL connections (TLS 1.2
// and 1.3), judged with the same classify() as curl transfers:
// - resumption-cross-listener: obtain a session where no certificate is asked (another listener,
//   or the same port under an open SNI name), then present it where one is required
//   (CVE-2025-23419 class: nginx server blocks sharing a session cache / ticket keys);
// - renegotiation: a connection without a valid certificate asks an unprotected path, then the
//   protected one on the same connection, refusing the beacon's renegotiation (CVE-2019-0215
//   class: per-folder client verification). TLS 1.2 only (1.3 has no renegotiation).
#pragma once

#include <string>

#include "agent/agent.hpp"

namespace mtls::agent {

// One operation through options.entry.path (one of the two above). Every request of the operation
// gets its own attempt; the record's evidence.side_door says what was tried and what happened
// (session obtained? resumed? renegotiation refused?).
ResultRecord run_side_door(const Operation& op, const std::string& beacon_url,
                           const AgentOptions& options);

}  // namespace mtls::agent
