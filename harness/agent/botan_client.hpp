// botan_client.hpp: a protocol-level TLS 1.2 client on Botan for what stock clients (curl,
// OpenSSL) refuse to send: a certificate with a CertificateVerify signed by another key
// (`wrong-key`: OpenSSL checks the pair before connecting; Botan signs with whatever key it is
// given) and an RSA-1024 client key (`weak-key`: below OpenSSL's security level 2). Outcomes come
// from the same classify() as curl transfers; evidence.client says "botan".
#pragma once

#include <string>

#include "agent/agent.hpp"

namespace mtls::agent {

// One operation with options.credential's certificate chain and key files taken as they are (PEM),
// one connection per request, server checked against options.trust.
ResultRecord run_botan_client(const Operation& op, const std::string& beacon_url,
                              const AgentOptions& options);

}  // namespace mtls::agent
