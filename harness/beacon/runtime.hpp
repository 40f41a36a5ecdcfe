// runtime.hpp: what a running beacon's connections share: each listener's fixed parts (its
// settings, TLS policy, client trust and validator, session cache and ticket key) and the beacon's
// identity, content, upload store, event log and RNG. Read-only after construction, or internally
// locked. Internal to the beacon library.
#pragma once

#include <botan/certstor.h>
#include <botan/system_rng.h>
#include <botan/tls_session_manager.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "beacon/config.hpp"
#include "beacon/content.hpp"
#include "beacon/event_log.hpp"
#include "beacon/handshake_crypto.hpp"
#include "beacon/tls_config.hpp"
#include "beacon/upload.hpp"
#include "pki/manifest.hpp"

namespace mtls::beacon {

// One listener's fixed parts, shared read-only by its connections.
struct ListenerRuntime {
  ListenerConfig config;
  std::unique_ptr<BeaconPolicy> policy;
  Botan::Certificate_Store* trust = nullptr;
  const ClientChainValidator* validator = nullptr;  // for `trust`
  Botan::TLS::Session_Manager* sessions = nullptr;
  const Botan::SymmetricKey* ticket_key = nullptr;

  ClientAuth mode_for(const std::string& sni, const std::string& peer) const {
    for (const auto& r : config.client_auth_by_source)
      if (in_network(peer, r.network)) return r.client_auth;
    for (const auto& v : config.virtual_hosts)
      if (v.name == sni) return v.client_auth;
    return config.client_auth;
  }
  std::optional<ClientAuth> folder_mode(std::string_view target) const {
    for (const auto& f : config.folders)
      if (target.starts_with(f.prefix)) return f.client_auth;
    return std::nullopt;
  }
};

// What every connection shares: read-only after construction, or internally locked.
struct Shared {
  BeaconConfig config;
  ServerIdentity identity;
  ContentStore content;
  std::optional<UploadStore> uploads;
  EventLog log;
  Botan::System_RNG rng;
  std::unique_ptr<Botan::Certificate_Store_In_Memory> trust_plain, trust_crl;
  OpensslCrypto openssl;  // the handshake's public-key operations, unless crypto: botan
  std::unique_ptr<ClientChainValidator> validator_plain, validator_crl;
  SignerPool signers;  // for identity.key (crypto: botan, or what OpenSSL does not support)
  std::map<std::string, std::unique_ptr<Botan::TLS::Session_Manager_In_Memory>> session_managers;
  std::map<std::string, Botan::SymmetricKey> ticket_keys;
  std::vector<std::unique_ptr<ListenerRuntime>> listeners;
  std::atomic<std::uint64_t> next_connection{1};
  std::mutex live_mu;  // live connections, so that stop() can drain them
  std::condition_variable live_cv;
  std::size_t live = 0;

  Shared(const BeaconConfig& c, const pki::Manifest& m);
};

}  // namespace mtls::beacon
