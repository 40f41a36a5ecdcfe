// connection.hpp: one accepted client connection of a beacon, on its own Asio strand: its Botan
// TLS::Server (none on a plain-HTTP listener) fed with the socket's bytes, the HTTP requests parsed
// from what it decrypts, and the connection's evidence record written when it ends. Client
// authentication decisions are the ConnectionState machine's (connection_state.hpp). Internal to
// the beacon library.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "beacon/runtime.hpp"

namespace mtls::beacon {

// Starts serving `socket` (it lives until the connection ends; the beacon drains on stop).
void start_connection(Shared& shared, const ListenerRuntime& listener,
                      boost::asio::ip::tcp::socket socket);

}  // namespace mtls::beacon
