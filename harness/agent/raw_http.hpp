// raw_http.hpp: HTTP/1.1 over a hand-driven TLS connection (the side-door OpenSSL client and the
// protocol-level Botan client): the request bytes, an incremental response reader (Content-Length,
// chunked or until close), and the outcome through the same classify() curl transfers use.
#pragma once

#include <botan/hash.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/catalogue.hpp"
#include "agent/transfer.hpp"

namespace mtls::agent {

using Clock = std::chrono::steady_clock;
// Longest a hand-driven connection may take, whatever the beacon does.
constexpr auto kRawMaxWait = std::chrono::seconds(10);
int remaining_ms(Clock::time_point deadline);

// A connected non-blocking TCP socket, or the curl-like code of why not (closed when destroyed).
struct Tcp {
  int fd = -1;
  long code = 0;
  std::string error;
  Tcp() = default;
  Tcp(const Tcp&) = delete;
  Tcp& operator=(const Tcp&) = delete;
  ~Tcp();
  long local_port() const;
};
struct Url;
// `resolve`: curl-style "HOST:PORT:ADDR" overrides consulted before DNS. `source`: the local
// address to connect from (a vantage point's --source-address), "" for the system's choice.
void connect_tcp(Tcp& t, const Url& u, Clock::time_point deadline,
                 const std::vector<std::string>& resolve = {}, const std::string& source = "");

// A connection after its handshake: send everything, or receive some bytes.
class RawConnection {
 public:
  enum class Read { kData, kClosed, kError, kTimeout };
  virtual ~RawConnection() = default;
  virtual bool send(const std::string& bytes) = 0;
  virtual Read receive(std::string& out) = 0;  // appends to `out` on kData
};

std::string http_request(const RequestSpec& spec, const std::string& path, const std::string& host,
                         const std::string& body, bool keep_alive);

// Parses one response as bytes arrive; the body is hashed, its first 64 KiB kept.
class ResponseReader {
 public:
  explicit ResponseReader(bool head_request) : head_(head_request) {}
  // Feeds bytes; returns the bytes past the end of this response (pipelining is not used).
  void feed(std::string_view data);
  bool done() const { return done_; }
  bool malformed() const { return malformed_; }
  // The connection closed: a response without a length ends here.
  void close();
  std::optional<long> status() const { return status_; }
  std::string sha256_hex();
  const std::string& body_head() const { return kept_; }
  long long bytes() const { return bytes_; }
  long long body_bytes() const { return body_bytes_; }
  const std::optional<std::string>& content_type() const { return content_type_; }
  const std::optional<std::string>& location() const { return location_; }

 private:
  void body(std::string_view data);
  bool head_;
  std::string header_;
  std::optional<long> status_;
  std::optional<long long> length_;
  bool chunked_ = false, in_body_ = false, done_ = false, malformed_ = false;
  std::optional<std::string> content_type_, location_;
  std::string chunk_buf_;
  long long chunk_left_ = -1;  // -1: reading a chunk-size line
  long long body_bytes_ = 0, bytes_ = 0;
  std::unique_ptr<Botan::HashFunction> hash_ = Botan::HashFunction::create_or_throw("SHA-256");
  std::string kept_;
};

// Sends one request on `conn` and reads its answer into a RequestResult. `obs` holds what the
// TLS layer saw (alerts, handshake state); curl-like codes stand in for transport failures so that
// classify() gives the same outcome names: 52 closed without answer, 55/56 send/receive failed,
// 28 timeout.
RequestResult exchange(RawConnection& conn, const Transfer::Observation& obs,
                       const RequestSpec& spec, const std::string& request,
                       const std::optional<std::string>& expected, const std::string& upload);

// The result of a connection that failed before any request: `code` is the curl-like code.
RequestResult failed_connection(long code, const std::string& error,
                                const Transfer::Observation& obs);

}  // namespace mtls::agent
