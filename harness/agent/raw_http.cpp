// raw_http.cpp: see raw_http.hpp.
#include "agent/raw_http.hpp"

#include <arpa/inet.h>
#include <botan/hex.h>
#include <curl/curl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "agent/url.hpp"

namespace mtls::agent {
namespace {
constexpr std::size_t kKeep = 64 * 1024;
constexpr std::size_t kMaxHeader = 64 * 1024;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
}  // namespace

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<long long>(0, left.count()));
}

Tcp::~Tcp() {
  if (fd >= 0) ::close(fd);
}

long Tcp::local_port() const {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (fd < 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
  return a.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port)
                                 : ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
}

void connect_tcp(Tcp& t, const Url& u, Clock::time_point deadline,
                 const std::vector<std::string>& resolve, const std::string& source) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string host = resolved_address(resolve, u.host, u.port).value_or(u.host);
  if (::getaddrinfo(host.c_str(), std::to_string(u.port).c_str(), &hints, &res) != 0 || !res) {
    t.code = CURLE_COULDNT_RESOLVE_HOST;
    t.error = "could not resolve " + u.host;
    return;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, ::freeaddrinfo);
  t.fd = ::socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (t.fd < 0) {
    t.code = CURLE_COULDNT_CONNECT;
    t.error = "socket() failed";
    return;
  }
  if (!source.empty()) {  // connect from this local address (a vantage point)
    addrinfo shints{};
    shints.ai_family = res->ai_family;
    shints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    addrinfo* local = nullptr;
    if (::getaddrinfo(source.c_str(), "0", &shints, &local) != 0 || !local ||
        ::bind(t.fd, local->ai_addr, local->ai_addrlen) != 0) {
      if (local) ::freeaddrinfo(local);
      t.code = CURLE_INTERFACE_FAILED;
      t.error = "cannot connect from source address " + source;
      return;
    }
    ::freeaddrinfo(local);
  }
  if (::connect(t.fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
    t.code = CURLE_COULDNT_CONNECT;
    t.error = "connection to " + u.authority() + " refused";
    return;
  }
  pollfd p{t.fd, POLLOUT, 0};
  if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
    t.code = CURLE_OPERATION_TIMEDOUT;
    t.error = "connecting to " + u.authority() + " timed out";
    return;
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(t.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    t.code = CURLE_COULDNT_CONNECT;
    t.error = "connection to " + u.authority() + " refused";
  }
}

std::string http_request(const RequestSpec& spec, const std::string& path, const std::string& host,
                         const std::string& body, bool keep_alive) {
  std::string r = spec.method + " " + path + " HTTP/1.1\r\nHost: " + host +
                  "\r\nUser-Agent: mtls-harness-agent\r\nAccept: */*\r\n";
  if (spec.method == "PUT") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return r + body;
}

void ResponseReader::feed(std::string_view data) {
  bytes_ += static_cast<long long>(data.size());
  if (done_) return;
  if (!in_body_) {
    header_.append(data);
    const auto end = header_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (header_.size() > kMaxHeader) malformed_ = done_ = true;
      return;
    }
    const std::string rest = header_.substr(end + 4);
    header_.resize(end);
    // Status line: HTTP/1.x NNN reason
    if (!header_.starts_with("HTTP/1.") || header_.size() < 12) {
      malformed_ = done_ = true;
      return;
    }
    long st = 0;
    auto [p, ec] = std::from_chars(header_.data() + 9, header_.data() + 12, st);
    if (ec != std::errc() || p != header_.data() + 12) {
      malformed_ = done_ = true;
      return;
    }
    status_ = st;
    std::size_t pos = header_.find("\r\n");
    while (pos != std::string::npos && pos < header_.size()) {
      const std::size_t next = header_.find("\r\n", pos + 2);
      const std::string line =
          header_.substr(pos + 2, (next == std::string::npos ? header_.size() : next) - pos - 2);
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        const std::string name = lower(line.substr(0, colon));
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        if (name == "content-length") {
          long long n = 0;
          auto [q, e2] = std::from_chars(value.data(), value.data() + value.size(), n);
          if (e2 == std::errc() && n >= 0) length_ = n;
        }
        if (name == "transfer-encoding" && lower(value).find("chunked") != std::string::npos)
          chunked_ = true;
        if (name == "content-type") content_type_ = value;
        if (name == "location") location_ = value;
      }
      pos = next;
    }
    in_body_ = true;
    if (head_ || st == 204 || st == 304 || (st >= 100 && st < 200) ||
        (!chunked_ && length_ && *length_ == 0)) {
      done_ = true;
      return;
    }
    body(rest);
    return;
  }
  body(data);
}

void ResponseReader::body(std::string_view data) {
  auto take = [&](std::string_view d) {
    hash_->update(reinterpret_cast<const uint8_t*>(d.data()), d.size());
    if (kept_.size() < kKeep) kept_.append(d.substr(0, kKeep - kept_.size()));
    body_bytes_ += static_cast<long long>(d.size());
  };
  if (!chunked_) {
    if (length_) data = data.substr(0, static_cast<std::size_t>(*length_ - body_bytes_));
    take(data);
    if (length_ && body_bytes_ >= *length_) done_ = true;
    return;
  }
  chunk_buf_.append(data);
  while (!done_) {
    if (chunk_left_ < 0) {
      const auto eol = chunk_buf_.find("\r\n");
      if (eol == std::string::npos) return;
      long long n = 0;
      auto [p, ec] = std::from_chars(chunk_buf_.data(), chunk_buf_.data() + eol, n, 16);
      if (ec != std::errc()) {
        malformed_ = done_ = true;
        return;
      }
      chunk_buf_.erase(0, eol + 2);
      if (n == 0) {
        done_ = true;  // trailers are not used by beacons
        return;
      }
      chunk_left_ = n;
    }
    if (chunk_buf_.size() < static_cast<std::size_t>(chunk_left_) + 2) {
      return;
    }
    take(std::string_view(chunk_buf_).substr(0, static_cast<std::size_t>(chunk_left_)));
    chunk_buf_.erase(0, static_cast<std::size_t>(chunk_left_) + 2);
    chunk_left_ = -1;
  }
}

void ResponseReader::close() {
  if (in_body_ && !chunked_ && !length_) done_ = true;
}

std::string ResponseReader::sha256_hex() {
  return Botan::hex_encode(hash_->final(), false);
}

RequestResult failed_connection(long code, const std::string& error,
                                const Transfer::Observation& obs) {
  RequestResult out;
  Evidence& e = out.evidence;
  e.curl_code = code;
  e.curl_error = error;
  record_tls(obs, e);
  out.classification =
      classify({code, obs.alert_code, obs.alert_after_handshake, obs.handshake_done, {}, {}});
  return out;
}

RequestResult exchange(RawConnection& conn, const Transfer::Observation& obs,
                       const RequestSpec& spec, const std::string& request,
                       const std::optional<std::string>& expected, const std::string& upload) {
  const auto started = std::chrono::steady_clock::now();
  ResponseReader reader(spec.method == "HEAD");
  long code = CURLE_OK;
  std::string error;
  if (!conn.send(request)) {
    code = CURLE_SEND_ERROR;
    error = "sending the request failed";
  }
  while (code == CURLE_OK && !reader.done()) {
    std::string chunk;
    const auto got = conn.receive(chunk);
    if (got == RawConnection::Read::kData) {
      reader.feed(chunk);
      continue;
    }
    reader.close();
    if (reader.done()) break;
    if (got == RawConnection::Read::kTimeout) {
      code = CURLE_OPERATION_TIMEDOUT;
      error = "no complete answer in time";
    } else if (!reader.status()) {
      code = got == RawConnection::Read::kClosed ? CURLE_GOT_NOTHING : CURLE_RECV_ERROR;
      error = got == RawConnection::Read::kClosed ? "the server closed without an answer"
                                                  : "receiving failed";
    } else {
      code = CURLE_PARTIAL_FILE;
      error = "the answer ended early";
    }
  }
  if (code == CURLE_OK && reader.malformed()) {
    code = CURLE_WEIRD_SERVER_REPLY;
    error = "malformed HTTP answer";
  }
  RequestResult out = failed_connection(code, error, obs);
  Evidence& e = out.evidence;
  e.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  e.bytes_sent = static_cast<long long>(request.size());
  e.bytes_received = reader.bytes();
  e.http_status = reader.status();
  const std::string body_sha256 = reader.sha256_hex();
  if (e.http_status) record_body(e, body_sha256, reader.body_bytes(), reader.body_head());
  if (reader.content_type()) e.content_type = reader.content_type();
  if (reader.location()) e.redirect_to = reader.location();
  Signals s{code, obs.alert_code, obs.alert_after_handshake, obs.handshake_done, e.http_status, {}};
  if (code == CURLE_OK && e.http_status && *e.http_status >= 200 && *e.http_status < 300) {
    verify_payload(spec, expected, body_sha256, reader.body_head(), upload, e);
    s.payload_verified = e.payload_verified;
  }
  out.classification = classify(s);
  out.body = reader.body_head();
  return out;
}

}  // namespace mtls::agent
