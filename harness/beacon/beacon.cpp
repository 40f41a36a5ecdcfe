// beacon.cpp: see beacon.hpp. Each connection lives on its own Asio strand, owns its Botan
// TLS::Server, feeds socket bytes to it and writes out what Botan emits; decrypted bytes go to a
// Beast request parser. Shared state (credentials, policy, session cache, log) is read-only or
// internally locked.
#include "beacon/beacon.hpp"

#include <botan/pkix_types.h>
#include <botan/system_rng.h>
#include <botan/tls_exceptn.h>
#include <botan/tls_server.h>
#include <botan/tls_session_manager.h>

#include <botan/hex.h>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "beacon/content.hpp"
#include "beacon/event_log.hpp"
#include "core/files.hpp"
#include "pki/manifest.hpp"
#include "pki/pem.hpp"

namespace mtls::beacon {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kBodyLimit = 64 * 1024 * 1024;
constexpr auto kDrainTimeout = std::chrono::seconds(3);

tcp::endpoint parse_listen(const std::string& listen) {
  std::string host, port;
  if (listen.starts_with("[")) {
    auto close = listen.find("]:");
    if (close == std::string::npos)
      throw InputError("--listen " + listen + ": expected [v6addr]:port");
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) throw InputError("--listen " + listen + ": expected host:port");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw InputError("--listen " + listen + ": '" + host + "' is not an IP address");
  unsigned long p = 0;
  try {
    std::size_t used = 0;
    p = std::stoul(port, &used);
    if (used != port.size() || p > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    throw InputError("--listen " + listen + ": '" + port + "' is not a port number (0-65535)");
  }
  return {addr, static_cast<unsigned short>(p)};
}

json cert_json(const Botan::X509_Certificate& c) {
  return {{"subject", c.subject_dn().to_string()},
          {"issuer", c.issuer_dn().to_string()},
          {"serial", Botan::hex_encode(c.serial_number(), false)},
          {"sha256", pki::fingerprint_sha256(c)}};
}

}  // namespace

// What every connection shares. Built once; connections only read it (the session manager and
// the log lock internally).
struct Shared {
  BeaconConfig config;
  BeaconCredentials credentials;
  BeaconPolicy policy;
  Botan::System_RNG rng;
  Botan::TLS::Session_Manager_In_Memory sessions;
  ContentStore content;
  EventLog log;
  std::atomic<std::uint64_t> next_connection{1};
  // Live connections, so that stop() can drain them before the event loop ends.
  std::mutex live_mu;
  std::condition_variable live_cv;
  std::size_t live = 0;

  Shared(const BeaconConfig& c, const pki::Manifest& m)
      : config(c),
        credentials(m.beacon(c.name).cert, m.beacon(c.name).key, m.client_ca, c.client_auth),
        policy(c.client_auth),
        sessions(rng),
        content(c.content_dir),
        log(c.log_file) {}
};

namespace {

class Connection : public std::enable_shared_from_this<Connection>, public Botan::TLS::Callbacks {
 public:
  Connection(Shared& shared, tcp::socket socket)
      : shared_(shared), socket_(std::move(socket)), id_(shared.next_connection++) {
    {
      std::lock_guard lock(shared_.live_mu);
      ++shared_.live;
    }
    boost::system::error_code ec;
    auto peer = socket_.remote_endpoint(ec);
    if (!ec) {
      peer_address_ = peer.address().to_string();
      peer_port_ = peer.port();
    }
  }

  ~Connection() override {
    std::lock_guard lock(shared_.live_mu);
    --shared_.live;
    shared_.live_cv.notify_all();
  }

  void start() {
    started_ = std::chrono::steady_clock::now();
    tls_ = std::make_unique<Botan::TLS::Server>(*this, shared_.sessions, shared_.credentials,
                                                shared_.policy, shared_.rng);
    read();
  }

  // --- Botan::TLS::Callbacks -------------------------------------------------------------
  void tls_emit_data(const uint8_t data[], size_t size) override {
    out_.insert(out_.end(), data, data + size);
  }

  void tls_record_received(uint64_t, const uint8_t data[], size_t size) override {
    in_.append(reinterpret_cast<const char*>(data), size);
    parse_requests();
  }

  void tls_alert(Botan::TLS::Alert alert) override {
    if (alert.type() == Botan::TLS::Alert::CLOSE_NOTIFY) {
      if (!tls_->is_closed()) tls_->close();
      closing_ = true;
      return;
    }
    alert_received_ = alert.type_string();
  }

  bool tls_session_established(const Botan::TLS::Session& session) override {
    tls_version_ = session.version().to_string();
    cipher_ = session.ciphersuite().to_string();
    sni_ = session.server_info().hostname();
    const auto& peer = session.peer_certs();
    if (!peer.empty() && client_cert_.is_null()) client_cert_ = cert_json(peer.front());
    return true;  // cache the session for resumption
  }

  void tls_session_activated() override { handshake_completed_ = true; }

  void tls_verify_cert_chain(const std::vector<Botan::X509_Certificate>& chain,
                             const std::vector<std::shared_ptr<const Botan::OCSP::Response>>& ocsp,
                             const std::vector<Botan::Certificate_Store*>& trusted,
                             Botan::Usage_Type usage, const std::string& hostname,
                             const Botan::TLS::Policy& policy) override {
    if (!chain.empty()) client_cert_ = cert_json(chain.front());
    try {
      Botan::TLS::Callbacks::tls_verify_cert_chain(chain, ocsp, trusted, usage, hostname, policy);
      verification_ = "ok";
    } catch (const std::exception& e) {
      // Botan tells the client only bad_certificate; the real reason is kept here.
      verification_ = "failed";
      verify_error_ = e.what();
      throw;
    }
  }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(read_buf_),
                            [self = shared_from_this()](boost::system::error_code ec,
                                                        std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    if (ec) {
      if (ec != asio::error::eof && error_.empty()) error_ = "read: " + ec.message();
      finish();
      return;
    }
    bytes_in_ += n;
    try {
      tls_->received_data(read_buf_.data(), n);
    } catch (const Botan::TLS::TLS_Exception& e) {
      alert_sent_ = Botan::TLS::Alert(e.type()).type_string();
      error_ = e.what();
      closing_ = true;
    } catch (const std::exception& e) {
      error_ = e.what();
      closing_ = true;
    }
    if (tls_->is_closed()) closing_ = true;
    flush();
    if (!closing_) read();
  }

  void flush() {
    if (writing_) return;
    if (out_.empty()) {
      if (closing_) finish();
      return;
    }
    writing_ = true;
    write_buf_.swap(out_);
    out_.clear();
    asio::async_write(socket_, asio::buffer(write_buf_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                        self->writing_ = false;
                        self->bytes_out_ += n;
                        self->write_buf_.clear();
                        if (ec) {
                          if (self->error_.empty()) self->error_ = "write: " + ec.message();
                          self->finish();
                          return;
                        }
                        self->flush();
                      });
  }

  void parse_requests() {
    while (!in_.empty() && !closing_) {
      if (!parser_) {
        parser_.emplace();
        parser_->header_limit(kHeaderLimit);
        parser_->body_limit(kBodyLimit);
        parser_->eager(true);
      }
      boost::beast::error_code ec;
      std::size_t used = parser_->put(asio::buffer(in_.data(), in_.size()), ec);
      in_.erase(0, used);
      if (ec == http::error::need_more) break;
      if (ec) {
        send_response(Response{400, "text/plain", "bad request\n"}, "", "", false);
        return;
      }
      if (!parser_->is_done()) break;
      auto req = parser_->release();
      parser_.reset();
      handle(req);
    }
  }

  void handle(const http::request<http::string_body>& req) {
    std::string method(req.method_string());
    std::string target(req.target());
    Response r = shared_.content.handle(method, target);
    ++requests_;
    shared_.log.write({{"event", "request"},
                       {"beacon", shared_.config.name},
                       {"connection", id_},
                       {"peer_port", peer_port_},
                       {"method", method},
                       {"target", target},
                       {"host", std::string(req[http::field::host])},
                       {"status", r.status},
                       {"body_bytes", r.body.size()},
                       {"client_cert", client_cert_}});
    send_response(std::move(r), method, target, req.keep_alive());
  }

  void send_response(Response r, const std::string& method, const std::string&, bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
    res.set(http::field::server, "mtls-harness-beacon");
    res.set(http::field::content_type, r.content_type);
    res.keep_alive(keep_alive);
    if (method == "HEAD") {
      res.content_length(r.body.size());
    } else {
      res.body() = std::move(r.body);
      res.prepare_payload();
    }
    std::ostringstream os;
    os << res;
    const std::string wire = os.str();
    try {
      tls_->send(reinterpret_cast<const uint8_t*>(wire.data()), wire.size());
      if (!keep_alive) tls_->close();
    } catch (const std::exception& e) {
      error_ = e.what();
    }
    if (!keep_alive) closing_ = true;
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    auto ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_);
    shared_.log.write({
        {"event", "connection"},
        {"beacon", shared_.config.name},
        {"connection", id_},
        {"client_auth", to_string(shared_.config.client_auth)},
        {"peer_address", peer_address_},
        {"peer_port", peer_port_},
        {"sni", sni_.empty() ? json(nullptr) : json(sni_)},
        {"tls_version", tls_version_.empty() ? json(nullptr) : json(tls_version_)},
        {"cipher", cipher_.empty() ? json(nullptr) : json(cipher_)},
        {"handshake_completed", handshake_completed_},
        {"client_cert", client_cert_},
        {"client_cert_verification", client_cert_.is_null() ? "absent" : verification_},
        {"verify_error", verify_error_.empty() ? json(nullptr) : json(verify_error_)},
        {"alert_sent", alert_sent_.empty() ? json(nullptr) : json(alert_sent_)},
        {"alert_received", alert_received_.empty() ? json(nullptr) : json(alert_received_)},
        {"requests", requests_},
        {"bytes_in", bytes_in_},
        {"bytes_out", bytes_out_},
        {"duration_ms", ms.count()},
        {"error", error_.empty() ? json(nullptr) : json(error_)},
    });
  }

  Shared& shared_;
  tcp::socket socket_;
  std::uint64_t id_;
  std::unique_ptr<Botan::TLS::Server> tls_;
  std::array<uint8_t, 16 * 1024> read_buf_{};
  std::vector<uint8_t> out_, write_buf_;
  std::string in_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool writing_ = false, closing_ = false, finished_ = false, handshake_completed_ = false;
  std::chrono::steady_clock::time_point started_;
  std::string peer_address_;
  unsigned short peer_port_ = 0;
  std::string tls_version_, cipher_, sni_, alert_sent_, alert_received_, error_, verify_error_;
  std::string verification_ = "not_checked";
  json client_cert_ = nullptr;
  std::uint64_t bytes_in_ = 0, bytes_out_ = 0, requests_ = 0;
};

}  // namespace

struct Beacon::Impl {
  std::unique_ptr<Shared> shared;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> workers;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;

  void accept() {
    acceptor.async_accept(asio::make_strand(ioc),
                          [this](boost::system::error_code ec, tcp::socket socket) {
                            if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
                            if (!ec)
                              std::make_shared<Connection>(*shared, std::move(socket))->start();
                            accept();
                          });
  }
};

Beacon::Beacon(const BeaconConfig& config) : impl_(std::make_unique<Impl>()) {
  if (config.threads == 0 || config.threads > 256)
    throw InputError("--threads " + std::to_string(config.threads) + ": must be 1..256");
  const pki::Manifest manifest = pki::load_manifest(config.pki_dir);
  impl_->shared = std::make_unique<Shared>(config, manifest);
  const tcp::endpoint ep = parse_listen(config.listen);
  boost::system::error_code ec;
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw InputError("--listen " + config.listen + ": cannot listen (" + ec.message() + ")");
}

Beacon::~Beacon() {
  stop();
}

std::uint16_t Beacon::port() const {
  return impl_->acceptor.local_endpoint().port();
}

json Beacon::start() {
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->accept();
  for (unsigned i = 0; i < impl_->shared->config.threads; ++i)
    impl_->workers.emplace_back([this] { impl_->ioc.run(); });
  const auto& cfg = impl_->shared->config;
  const auto ep = impl_->acceptor.local_endpoint();
  json ready = {{"event", "ready"},
                {"beacon", cfg.name},
                {"pid", static_cast<long>(::getpid())},
                {"listeners",
                 {{{"name", "https"},
                   {"scheme", "https"},
                   {"address", ep.address().to_string()},
                   {"port", ep.port()},
                   {"client_auth", to_string(cfg.client_auth)}}}}};
  if (cfg.ready_file) write_file_atomic(*cfg.ready_file, ready.dump() + "\n");
  return ready;
}

void Beacon::wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  ::sigwait(&set, &sig);
  stop();
}

void Beacon::stop() {
  if (!impl_ || impl_->workers.empty()) return;
  asio::post(impl_->ioc, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->work.reset();
  {  // drain: let connections in flight finish (and log) for up to kDrainTimeout
    std::unique_lock lock(impl_->shared->live_mu);
    impl_->shared->live_cv.wait_for(lock, kDrainTimeout,
                                    [this] { return impl_->shared->live == 0; });
  }
  impl_->ioc.stop();
  for (auto& t : impl_->workers)
    if (t.joinable()) t.join();
  impl_->workers.clear();
}

}  // namespace mtls::beacon
