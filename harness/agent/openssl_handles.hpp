// openssl_handles.hpp: owning handles for the OpenSSL objects the hand-driven clients keep
// (the side-door client, the load generator's native engine).
#pragma once

#include <openssl/ssl.h>

#include <memory>

#include "core/free_with.hpp"

namespace mtls::agent {

using SslCtxHandle = std::unique_ptr<SSL_CTX, FreeWith<SSL_CTX_free>>;
using SslHandle = std::unique_ptr<SSL, FreeWith<SSL_free>>;
using SessionHandle = std::unique_ptr<SSL_SESSION, FreeWith<SSL_SESSION_free>>;

}  // namespace mtls::agent
