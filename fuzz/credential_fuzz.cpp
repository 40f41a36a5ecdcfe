// credential_fuzz.cpp: credential loading: PEM certificates, PEM/DER private keys, CRLs and
// PKCS#12 (with a fixed password) through the harness's loaders, and the agent's OpenSSL
// preload. Bad input must be an InputError (or, for the agent, a credential that fails per
// connection); anything else escaping is a crash.
#include <cstdint>

#include "agent/agent.hpp"
#include "core/files.hpp"
#include "fuzz_util.hpp"
#include "pki/p12.hpp"
#include "pki/pem.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = mtls::fuzz::scratch().write("credential", data, size);
  auto quietly = [](auto&& f) {
    try {
      f();
    } catch (const mtls::InputError&) {
    }
  };
  quietly([&] { (void)mtls::pki::load_certificates(file); });
  quietly([&] { (void)mtls::pki::load_private_key(file); });
  quietly([&] { (void)mtls::pki::load_crls(file); });
  quietly([&] { (void)mtls::pki::open_pkcs12(file, "fuzz"); });
  mtls::agent::ClientCredential c;
  c.cert = file;
  c.key = file;
  mtls::agent::preload(c);  // never throws: a broken credential fails each connection instead
  return 0;
}
