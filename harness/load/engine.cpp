// engine.cpp: see engine.hpp.
#include "load/engine.hpp"

#include <netinet/in.h>

#include <netinet/tcp.h>
#include <algorithm>

#include <curl/curl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>

#include "agent/multi.hpp"
#include "agent/openssl_handles.hpp"
#include "agent/raw_http.hpp"
#include "agent/transfer.hpp"
#include "agent/url.hpp"
#include "core/files.hpp"
#include "core/free_with.hpp"

namespace mtls::load {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTimeout = std::chrono::seconds(10);
const agent::RequestSpec kSpec{.method = "GET", .path_template = "/ManageSoftDL/"};

// ---- curl ----

class CurlEngine : public Engine {
 public:
  CurlEngine(const std::vector<EngineTarget>& targets, const agent::TrustSettings& trust,
             bool resume) {
    if (resume) {
      share_.reset(curl_share_init());
      curl_share_setopt(share_.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    for (const auto& t : targets) {
      agent::AgentOptions a;
      a.trust = trust;
      a.credential = t.credential;
      agent::preload(a.credential);  // parse it once, not per connection
      a.connect_timeout = std::chrono::seconds(5);
      a.total_timeout = kTimeout;
      a.tls_session_share = share_.get();
      agents_.push_back(a);
      urls_.push_back(t.url + kSpec.path_template);
    }
  }
  void start(std::size_t t) override {
    multi_.add(std::make_unique<agent::Transfer>(agents_[t], kSpec, urls_[t], "", std::nullopt,
                                                 agents_[t].total_timeout),
               t);
  }
  std::size_t in_flight() const override { return multi_.in_flight(); }
  std::vector<Finished> step(std::chrono::milliseconds wait) override {
    std::vector<Finished> out;
    for (auto& f : multi_.step(wait)) {
      const agent::RequestResult r = f.transfer->finish(f.code);
      out.push_back({f.tag, r.evidence.http_status.has_value(),
                     std::string(to_string(r.classification.outcome)),
                     r.evidence.elapsed_ms * 1000.0, r.evidence.http_status.value_or(0)});
    }
    return out;
  }

 private:
  std::unique_ptr<CURLSH, FreeWith<curl_share_cleanup>> share_;
  std::vector<agent::AgentOptions> agents_;
  std::vector<std::string> urls_;
  agent::MultiHandle multi_;
};

// ---- OpenSSL, direct ----

int observation_slot() {
  static const int slot = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return slot;
}

void on_info(const SSL* ssl, int where, int ret) {
  auto* obs = static_cast<agent::Transfer::Observation*>(SSL_get_ex_data(ssl, observation_slot()));
  if (obs != nullptr) agent::note_tls_event(*obs, ssl, where, ret);
}

struct NativeTarget {
  agent::Url url;
  bool resume = false;
  // The server certificate verified in full last (DER) and until when that holds: a connection
  // presenting the same certificate is not verified again (see verify_once).
  std::vector<unsigned char> verified_leaf;
  Clock::time_point verified_until;
  std::shared_ptr<const agent::LoadedCredential> credential;  // sent when the server asks
  bool check_server = true;
  // Set once a connection was answered: from then on `ctx` offers only what the server chose
  // (see narrow).
  bool narrowed = false;
  std::string request;  // the GET every connection sends (the same bytes each time)
  addrinfo address{};
  sockaddr_storage storage{};
  agent::SslCtxHandle ctx;
  agent::SessionHandle session;  // the last one, when resuming
};

constexpr auto kReverify = std::chrono::seconds(10);

// The server's chain is verified in full (X509_verify_cert: chain, validity, name) the first time
// and again every kReverify; in between, a connection presenting exactly the leaf certificate
// verified last is accepted without rebuilding the chain (~15 % of the generator's CPU per
// handshake). The handshake's own signature (ServerKeyExchange) is still checked by libssl on
// every connection, so the server proves it holds that certificate's key each time.
int verify_once(X509_STORE_CTX* x, void* arg) {
  auto* t = static_cast<NativeTarget*>(arg);
  X509* leaf = X509_STORE_CTX_get0_cert(x);
  unsigned char* der = nullptr;
  const int len = leaf ? i2d_X509(leaf, &der) : -1;
  const auto now = Clock::now();
  bool known = len > 0 && now < t->verified_until &&
               std::equal(der, der + len, t->verified_leaf.begin(), t->verified_leaf.end());
  int ok = 1;
  if (!known) {
    ok = X509_verify_cert(x);
    if (ok == 1 && len > 0) {
      t->verified_leaf.assign(der, der + len);
      t->verified_until = now + kReverify;
    }
  }
  OPENSSL_free(der);
  return ok;
}

struct Conn {
  enum class State { kConnecting, kHandshake, kWriting, kReading } state = State::kConnecting;
  std::size_t target = 0;
  int fd = -1;
  agent::SslHandle ssl;
  agent::Transfer::Observation obs;
  agent::ResponseReader reader{false};
  std::size_t written = 0;
  Clock::time_point started, deadline;
  ~Conn() {
    ssl.reset();
    if (fd >= 0) ::close(fd);
  }
};

class NativeEngine : public Engine {
 public:
  NativeEngine(const std::vector<EngineTarget>& targets, const agent::TrustSettings& trust,
               bool resume) {
    if (epoll_.get() < 0) throw HarnessError(std::string("bench: epoll: ") + std::strerror(errno));
    for (const auto& t : targets) {
      auto u = agent::parse_url(t.url);
      if (!u || u->scheme != "https") throw InputError("bench: " + t.url + " is not https://");
      auto nt = std::make_unique<NativeTarget>();
      nt->url = *u;
      nt->resume = resume || t.resume;
      addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      if (::getaddrinfo(u->host.c_str(), std::to_string(u->port).c_str(), &hints, &res) != 0 ||
          res == nullptr)
        throw InputError("bench: cannot resolve " + u->host);
      nt->address = *res;
      std::memcpy(&nt->storage, res->ai_addr, res->ai_addrlen);
      nt->address.ai_addr = reinterpret_cast<sockaddr*>(&nt->storage);
      nt->address.ai_next = nullptr;
      ::freeaddrinfo(res);
      nt->check_server = trust.check_server_certificate;
      agent::ClientCredential cred = t.credential;
      agent::preload(cred);
      if (cred.p12) throw InputError("bench: give the client credential as PEM (--cert/--key)");
      nt->credential = cred.loaded;
      nt->ctx = context_for(*nt, trust, nullptr);
      targets_.push_back(std::move(nt));
    }
  }

  // A client context for `nt`: TLS 1.2 and up, its credential, its server check (with `store`
  // when given, else the trust's CA file or folder).
  static agent::SslCtxHandle context_for(NativeTarget& nt, const agent::TrustSettings& trust,
                                         X509_STORE* store) {
    agent::SslCtxHandle handle(SSL_CTX_new(TLS_client_method()));
    SSL_CTX* ctx = handle.get();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Read what the socket holds, not a record header then its body: the server's flight is
    // about six records, one or two reads instead of a dozen.
    SSL_CTX_set_read_ahead(ctx, 1);
    // No session ticket unless resuming: a ticket the client never uses costs the server its
    // making (with a client certificate inside; nginx: ~110 us of its CPU per mTLS handshake).
    if (!nt.resume) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (nt.check_server) {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      SSL_CTX_set_cert_verify_callback(ctx, verify_once, &nt);
      if (store != nullptr)
        SSL_CTX_set1_cert_store(ctx, store);
      else if (SSL_CTX_load_verify_locations(ctx, trust.ca_file ? trust.ca_file->c_str() : nullptr,
                                             trust.ca_path ? trust.ca_path->c_str() : nullptr) != 1)
        throw InputError("bench: the CA file or folder cannot be loaded");
    }
    if (nt.credential && !agent::use_credential(ctx, *nt.credential))
      throw InputError("bench: the client certificate and key cannot be used together");
    ERR_clear_error();
    return handle;
  }

  // After the first answered connection: a context that offers only the version, cipher suite
  // and (TLS 1.3) key-exchange group the server chose from the full offer. The server makes the
  // same choices and does the same work; the client no longer builds offers nobody takes (a 1.3
  // key share against a 1.2 server, thirty cipher suites), as tls-perf is told to by its flags.
  void narrow(NativeTarget& nt, SSL* ssl) {
    const int version = SSL_version(ssl);
    const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
    nt.narrowed = true;
    if (cipher == nullptr) return;
    agent::SslCtxHandle ctx = context_for(nt, {}, SSL_CTX_get_cert_store(nt.ctx.get()));
    bool ok = false;
    if (version == TLS1_3_VERSION) {
      const int group = SSL_get_negotiated_group(ssl);
      ok = SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) == 1 &&
           SSL_CTX_set_ciphersuites(ctx.get(), SSL_CIPHER_get_name(cipher)) == 1 &&
           (group <= 0 || SSL_CTX_set1_groups(ctx.get(), &group, 1) == 1);
    } else if (version == TLS1_2_VERSION) {
      ok = SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION) == 1 &&
           SSL_CTX_set_cipher_list(ctx.get(), SSL_CIPHER_get_name(cipher)) == 1;
    }
    ERR_clear_error();
    if (ok) nt.ctx = std::move(ctx);  // connections in flight keep the old one (reference count)
  }

  void start(std::size_t t) override {
    auto c = std::make_unique<Conn>();
    c->target = t;
    c->started = Clock::now();
    c->deadline = c->started + kTimeout;
    const NativeTarget& nt = *targets_[t];
    c->fd = ::socket(nt.address.ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    // As curl does: a resumed handshake's Finished and the request are two small writes, and
    // Nagle would hold the second until the server's delayed ACK (~40 ms).
    const int one = 1;
    if (c->fd >= 0) ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->fd < 0 || (::connect(c->fd, nt.address.ai_addr, nt.address.ai_addrlen) != 0 &&
                      errno != EINPROGRESS)) {
      finish(*c, CURLE_COULDNT_CONNECT);
      return;
    }
    // Edge-triggered, both directions, registered once: no epoll_ctl per state change, and the
    // descriptor leaves the set when it is closed.
    epoll_event ev{.events = EPOLLIN | EPOLLOUT | EPOLLET, .data = {.ptr = c.get()}};
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c->fd, &ev) != 0) {
      finish(*c, CURLE_COULDNT_CONNECT);
      return;
    }
    conns_.push_back(std::move(c));
    // On loopback the TCP handshake is usually over when connect() returns: the ClientHello goes
    // out now, not after a readiness round (a refused connection shows at that first write).
    advance(*conns_.back());
  }

  std::size_t in_flight() const override { return conns_.size(); }

  std::vector<Finished> step(std::chrono::milliseconds wait) override {
    // Connections that ended as they started (refused at once) are gone before waiting.
    std::erase_if(conns_, [](const auto& c) { return c->fd < 0; });
    if (!conns_.empty()) {
      const int n = ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()),
                                 static_cast<int>(wait.count()));
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Conn*>(events_[static_cast<std::size_t>(i)].data.ptr);
        if (c->fd >= 0) advance(*c);
      }
    }
    const auto now = Clock::now();
    for (const auto& c : conns_)
      if (c->fd >= 0 && now > c->deadline) finish(*c, CURLE_OPERATION_TIMEDOUT);
    std::erase_if(conns_, [](const auto& c) { return c->fd < 0; });
    return std::exchange(done_, {});
  }

 private:
  void finish(Conn& c, long code) {
    Finished f{c.target, c.reader.status().has_value(), "",
               std::chrono::duration<double, std::micro>(Clock::now() - c.started).count()};
    if (!f.answered)
      f.outcome = to_string(agent::failed_connection(code, "", c.obs).classification.outcome);
    if (targets_[c.target]->resume && f.answered && c.ssl) {
      targets_[c.target]->session.reset(SSL_get1_session(c.ssl.get()));
      // A quiet shutdown: freed without one, OpenSSL marks the session not resumable (its
      // ssl_clear_bad_session), and every "resumed" handshake would be a full one.
      SSL_set_shutdown(c.ssl.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    }
    if (f.answered) {
      f.status = *c.reader.status();
      if (c.ssl && !targets_[c.target]->narrowed) narrow(*targets_[c.target], c.ssl.get());
    }
    done_.push_back(std::move(f));
    c.ssl.reset();
    if (c.fd >= 0) {
      // Reset, as tls-perf does, instead of FIN and TIME_WAIT: the answer is in, and thousands
      // of closing sockets a second would cost both sides kernel time the bench is not about.
      const linger reset{1, 0};
      ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      ::close(c.fd);
    }
    c.fd = -1;
    ERR_clear_error();
  }

  // Runs an SSL call; true when it completed, false when it waits (the socket's next edge calls
  // advance again) or failed (done).
  template <typename F>
  bool io(Conn& c, F call, long fail_code, int* result = nullptr) {
    const int r = call();
    const int sys = errno;
    if (result) *result = r;
    if (r > 0) return true;
    const int err = SSL_get_error(c.ssl.get(), r);
    // Edge-triggered: the socket signals again when it can read (or write) more.
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return false;
    if (c.state == Conn::State::kReading) {
      c.reader.close();
      if (c.reader.done() && c.reader.status()) {
        finish(c, CURLE_OK);
        return false;
      }
      fail_code = err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL ? CURLE_GOT_NOTHING
                                                                           : CURLE_RECV_ERROR;
    } else if (c.state == Conn::State::kHandshake && err == SSL_ERROR_SYSCALL &&
               (sys == ECONNREFUSED || sys == EHOSTUNREACH || sys == ENETUNREACH)) {
      fail_code = CURLE_COULDNT_CONNECT;  // the TCP connection never came up
    } else if (c.state == Conn::State::kHandshake &&
               SSL_get_verify_result(c.ssl.get()) != X509_V_OK) {
      fail_code = CURLE_PEER_FAILED_VERIFICATION;
    }
    finish(c, fail_code);
    return false;
  }

  void advance(Conn& c) {
    NativeTarget& t = *targets_[c.target];
    if (c.state == Conn::State::kConnecting) {
      c.ssl.reset(SSL_new(t.ctx.get()));
      SSL* ssl = c.ssl.get();
      SSL_set_fd(ssl, c.fd);
      SSL_set_ex_data(ssl, observation_slot(), &c.obs);
      SSL_set_info_callback(ssl, on_info);
      if (t.url.host_is_ip()) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), t.url.host.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl, t.url.host.c_str());
        SSL_set1_host(ssl, t.url.host.c_str());
      }
      if (t.resume && t.session) SSL_set_session(ssl, t.session.get());
      if (t.request.empty())
        t.request = agent::http_request(kSpec, kSpec.path_template, t.url.authority(), "", false);
      c.state = Conn::State::kHandshake;
    }
    if (c.state == Conn::State::kHandshake) {
      if (!io(
              c, [&] { return SSL_connect(c.ssl.get()); }, CURLE_SSL_CONNECT_ERROR))
        return;
      c.obs.handshake_done = true;
      c.state = Conn::State::kWriting;
    }
    while (c.state == Conn::State::kWriting) {
      int n = 0;
      if (!io(
              c,
              [&] {
                return SSL_write(c.ssl.get(), t.request.data() + c.written,
                                 static_cast<int>(t.request.size() - c.written));
              },
              CURLE_SEND_ERROR, &n))
        return;
      c.written += static_cast<std::size_t>(n);
      if (c.written == t.request.size()) c.state = Conn::State::kReading;
    }
    char buf[16384];
    for (;;) {
      int n = 0;
      if (!io(
              c, [&] { return SSL_read(c.ssl.get(), buf, sizeof buf); }, CURLE_RECV_ERROR, &n))
        return;
      c.reader.feed(std::string_view(buf, static_cast<std::size_t>(n)));
      if (c.reader.done())
        return finish(c, c.reader.status() ? CURLE_OK : CURLE_WEIRD_SERVER_REPLY);
    }
  }

  std::vector<std::unique_ptr<NativeTarget>> targets_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Finished> done_;
  Fd epoll_{::epoll_create1(EPOLL_CLOEXEC)};
  std::array<epoll_event, 64> events_{};
};

}  // namespace

std::unique_ptr<Engine> make_engine(const std::string& client,
                                    const std::vector<EngineTarget>& targets,
                                    const agent::TrustSettings& trust, bool resume) {
  if (client == "curl") return std::make_unique<CurlEngine>(targets, trust, resume);
  if (client == "openssl") return std::make_unique<NativeEngine>(targets, trust, resume);
  throw InputError("--client " + client + ": expected openssl or curl");
}

}  // namespace mtls::load
