// runtime.cpp: see runtime.hpp.
#include "beacon/runtime.hpp"

#include "pki/pem.hpp"

namespace mtls::beacon {

Shared::Shared(const BeaconConfig& c, const pki::Manifest& m)
    : config(c),
      identity(m.beacon(c.pki_identity()).cert, m.beacon(c.pki_identity()).key),
      content(c.content_dir),
      log(c.log_file) {
  if (c.store_dir) uploads.emplace(*c.store_dir, c.upload_extensions, c.upload_max_bytes);
  if (c.client_ca) {  // the user's own trust instead of the test PKI's client CA
    trust_plain = client_trust_store(*c.client_ca, std::nullopt);
    trust_crl = client_trust_store(*c.client_ca, std::nullopt);
    for (const auto& file : c.client_crls)
      for (const auto& crl : pki::load_crls(file)) trust_crl->add_crl(crl);
  } else {
    trust_plain = client_trust_store(m.client_ca, std::nullopt);
    trust_crl = client_trust_store(m.client_ca, m.client_crls);
  }
  OpensslCrypto* fast = c.crypto == CryptoProvider::kOpenssl ? &openssl : nullptr;
  validator_plain = std::make_unique<ClientChainValidator>(*trust_plain, fast);
  validator_crl = std::make_unique<ClientChainValidator>(*trust_crl, fast);
  for (const auto& lc : c.listeners) {
    auto l = std::make_unique<ListenerRuntime>();
    l->config = lc;
    l->policy = std::make_unique<BeaconPolicy>(lc.min_tls, lc.crl, !lc.folders.empty());
    l->trust = lc.crl ? trust_crl.get() : trust_plain.get();
    l->validator = lc.crl ? validator_crl.get() : validator_plain.get();
    // Listeners naming the same session_cache share sessions and the ticket key.
    const std::string cache = lc.session_cache.empty() ? "listener:" + lc.name : lc.session_cache;
    auto& mgr = session_managers[cache];
    if (!mgr) mgr = std::make_unique<Botan::TLS::Session_Manager_In_Memory>(rng);
    if (!ticket_keys.contains(cache)) ticket_keys.emplace(cache, Botan::SymmetricKey(rng, 32));
    l->sessions = mgr.get();
    l->ticket_key = &ticket_keys.at(cache);
    listeners.push_back(std::move(l));
  }
}

}  // namespace mtls::beacon
