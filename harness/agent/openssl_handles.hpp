// openssl_handles.hpp: owning handles for the OpenSSL objects the hand-driven clients keep
// (the side-door client, the load generator's native engine).
#pragma once

#include <openssl/ssl.h>

#include <memory>

namespace mtls::agent {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using SslCtxHandle = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslHandle = std::unique_ptr<SSL, SslFree>;
using SessionHandle = std::unique_ptr<SSL_SESSION, SessionFree>;

}  // namespace mtls::agent
