// connection.cpp: see connection.hpp. Client authentication:
//  - a CertificateRequest is sent when the listener, the SNI virtual host, or the folder being
//    renegotiated for asks for one (ConnectionCredentials);
//  - "require" is enforced in tls_session_established, which Botan calls for full and resumed
//    handshakes before its own Finished: an exception there ends the handshake with our alert;
//  - listeners that reject after the handshake (close, HTTP 403/400) let the handshake finish,
//    like nginx and IIS do, and refuse at the HTTP layer; a bad certificate is treated the same.
#include "beacon/connection.hpp"

#include <botan/hex.h>
#include <botan/pkix_types.h>
#include <botan/tls_exceptn.h>
#include <botan/tls_handshake_msg.h>
#include <botan/tls_messages.h>
#include <botan/tls_server.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <random>
#include <sstream>

#include "beacon/connection_state.hpp"
#include "beacon/request_stream.hpp"
#include "pki/pem.hpp"

namespace mtls::beacon {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

json cert_json(const Botan::X509_Certificate& c) {
  return {{"subject", c.subject_dn().to_string()},
          {"issuer", c.issuer_dn().to_string()},
          {"serial", Botan::hex_encode(c.serial_number(), false)},
          {"sha256", pki::fingerprint_sha256(c)}};
}

Botan::TLS::Alert::Type alert_of(RejectMode m) {
  switch (m) {
    case RejectMode::kAlertCertificateRequired:
      return Botan::TLS::Alert::CERTIFICATE_REQUIRED;
    case RejectMode::kAlertAccessDenied:
      return Botan::TLS::Alert::ACCESS_DENIED;
    case RejectMode::kAlertBadCertificate:
      return Botan::TLS::Alert::BAD_CERTIFICATE;
    default:
      return Botan::TLS::Alert::HANDSHAKE_FAILURE;
  }
}

json or_null(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

// The fatal alert Botan 2's Channel::received_data sends for an exception it rethrows.
std::string alert_botan_sends_for(const std::exception& e) {
  if (const auto* tls = dynamic_cast<const Botan::TLS::TLS_Exception*>(&e))
    return Botan::TLS::Alert(tls->type()).type_string();
  if (dynamic_cast<const Botan::Integrity_Failure*>(&e) != nullptr) return "bad_record_mac";
  if (dynamic_cast<const Botan::Decoding_Error*>(&e) != nullptr) return "decode_error";
  return "internal_error";
}

class Connection : public std::enable_shared_from_this<Connection>, public Botan::TLS::Callbacks {
 public:
  Connection(Shared& shared, const ListenerRuntime& listener, tcp::socket socket)
      : shared_(shared),
        listener_(listener),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        delay_(socket_.get_executor()),
        id_(shared.next_connection++),

        rand_(static_cast<unsigned>(shared.rng.next_byte()) << 8 | shared.rng.next_byte()),
        auth_({.reject = listener.config.reject,
               .renegotiation_fail_open = listener.config.renegotiation_fail_open,
               .trust_resumed_sessions = listener.config.trust_resumed_sessions}) {
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
    if (listener_.config.tls) {
      creds_ = std::make_unique<ConnectionCredentials>(
          shared_.identity, listener_.trust, *listener_.ticket_key,
          [this](const std::string& sni) { return wanted_mode(sni) != ClientAuth::kIgnore; });
      tls_ = std::make_unique<Botan::TLS::Server>(*this, *listener_.sessions, *creds_,
                                                  *listener_.policy, shared_.rng);
      arm_timer(shared_.config.handshake_timeout);
    } else {
      arm_timer(shared_.config.idle_timeout);
    }
    read();
  }

  // --- Botan::TLS::Callbacks -------------------------------------------------------------
  void tls_emit_data(const uint8_t data[], size_t size) override {
    out_.insert(out_.end(), data, data + size);
    ++records_emitted_;  // Botan 2 emits one record per call; its header's type is in clear
    if (size > 0) last_record_type_ = data[0];
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
    if (alert.type() != Botan::TLS::Alert::NO_RENEGOTIATION) return;
    switch (auth_.renegotiation_refused()) {
      case ConnAction::kClose:
        deferred_.reset();
        tls_->close();
        closing_ = true;
        return;
      case ConnAction::kServeHeld:
        serve_deferred();
        return;
      default:
        return;
    }
  }

  void tls_inspect_handshake_msg(const Botan::TLS::Handshake_Message& msg) override {
    // A full handshake carries the client's key exchange; a resumed one does not.
    if (msg.type() == Botan::TLS::CLIENT_KEX) saw_client_kex_ = true;
    // The name this connection asks for: a resumed session carries the name it was made under,
    // which must not decide this connection's client-auth mode (CVE-2025-23419 class).
    if (msg.type() == Botan::TLS::CLIENT_HELLO)
      hello_sni_ = dynamic_cast<const Botan::TLS::Client_Hello&>(msg).sni_hostname();
    // Record what the client presented even when Botan refuses it before chain validation
    // (e.g. a key below the policy's minimum size). Our own Certificate message passes here too.
    if (msg.type() == Botan::TLS::CERTIFICATE) {
      const auto& chain = dynamic_cast<const Botan::TLS::Certificate&>(msg).cert_chain();
      if (!chain.empty() && chain.front() != shared_.identity.chain.front())
        client_cert_ = cert_json(chain.front());
    }
  }

  bool tls_session_established(const Botan::TLS::Session& session) override {
    const bool resumed = !saw_client_kex_;
    saw_client_kex_ = false;  // for a later renegotiation
    ++handshakes_;
    resumed_ = resumed;
    tls_version_ = session.version().to_string();
    cipher_ = session.ciphersuite().to_string();
    sni_ = hello_sni_;
    const auto& peer = session.peer_certs();
    if (!peer.empty()) client_cert_ = cert_json(peer.front());
    if (auth_.session_established(wanted_mode(sni_), resumed, !peer.empty()) == ConnAction::kAlert)
      throw Botan::TLS::TLS_Exception(alert_of(listener_.config.reject), auth_.reason());
    return auth_.cache_session();  // never the session of a refused client
  }

  void tls_session_activated() override {
    handshake_completed_ = true;
    arm_timer(shared_.config.idle_timeout);
    const ConnAction next = auth_.session_activated();
    if (next == ConnAction::kClose) {
      tls_->close();
      closing_ = true;
    } else if (next == ConnAction::kServeHeld) {  // the folder's renegotiation is done
      serve_deferred();
    }
  }

  // Serves the request a folder's renegotiation held back (posted: not from inside Botan).
  void serve_deferred() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->finished_ || !self->deferred_) return;
      auto req = std::move(*self->deferred_);
      self->deferred_.reset();
      self->auth_.held_request_served();
      self->respond(req);
      self->flush();
    });
  }

  // On OpenSSL (crypto: openssl, openssl_crypto.hpp) where it supports the padding; else the
  // beacon's Botan signer, made once, not per handshake (handshake_crypto.hpp).
  std::vector<uint8_t> tls_sign_message(const Botan::Private_Key& key,
                                        Botan::RandomNumberGenerator&, const std::string& emsa,
                                        Botan::Signature_Format format,
                                        const std::vector<uint8_t>& msg) override {
    if (shared_.config.crypto == CryptoProvider::kOpenssl)
      if (auto sig = shared_.openssl.sign(key, emsa, format == Botan::DER_SEQUENCE, msg))
        return *std::move(sig);
    return shared_.signers.sign(key, emsa, format, msg);
  }

  // The client's CertificateVerify: on OpenSSL where it supports the padding, else Botan's.
  bool tls_verify_message(const Botan::Public_Key& key, const std::string& emsa,
                          Botan::Signature_Format format, const std::vector<uint8_t>& msg,
                          const std::vector<uint8_t>& sig) override {
    if (shared_.config.crypto == CryptoProvider::kOpenssl)
      if (const auto ok =
              shared_.openssl.verify(key, emsa, format == Botan::DER_SEQUENCE, msg, sig))
        return *ok;
    return Botan::TLS::Callbacks::tls_verify_message(key, emsa, format, msg, sig);
  }

  void tls_verify_cert_chain(const std::vector<Botan::X509_Certificate>& chain,
                             const std::vector<std::shared_ptr<const Botan::OCSP::Response>>& ocsp,
                             const std::vector<Botan::Certificate_Store*>& trusted,
                             Botan::Usage_Type usage, const std::string& hostname,
                             const Botan::TLS::Policy& policy) override {
    if (!chain.empty()) client_cert_ = cert_json(chain.front());
    try {
      if (trusted.size() == 1 && trusted.front() == listener_.trust)
        listener_.validator->verify(chain, ocsp, usage, hostname, policy);
      else
        Botan::TLS::Callbacks::tls_verify_cert_chain(chain, ocsp, trusted, usage, hostname, policy);
      verification_ = "ok";
    } catch (const std::exception& e) {
      // The client is told only bad_certificate (or, below, an HTTP status); the log keeps why.
      verification_ = "failed";
      verify_error_ = e.what();
      if (auth_.certificate_rejected(verify_error_) == ConnAction::kAlert) throw;
    }
  }

 private:
  ClientAuth wanted_mode(const std::string& sni) const {
    const auto target = auth_.renegotiation_target();
    return target ? *target : listener_.mode_for(sni, peer_address_);
  }

  void arm_timer(std::chrono::milliseconds d) {
    timer_.expires_after(d);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec == asio::error::operation_aborted || self->finished_) return;
      if (self->error_.empty())
        self->error_ =
            self->handshake_completed_ || !self->tls_ ? "idle timeout" : "handshake timeout";
      self->finish();
    });
  }

  void read() {
    socket_.async_read_some(asio::buffer(read_buf_),
                            [self = shared_from_this()](boost::system::error_code ec,
                                                        std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    if (finished_) return;
    if (ec) {
      if (ec != asio::error::eof && error_.empty()) error_ = "read: " + ec.message();
      finish();
      return;
    }
    bytes_in_ += n;
    if (!tls_) {
      in_.append(reinterpret_cast<const char*>(read_buf_.data()), n);
      parse_requests();
    } else {
      // Botan 2's Channel::received_data sends a fatal alert for every exception before it
      // rethrows (the TLS_Exception's own, bad_record_mac, decode_error, else internal_error),
      // when it has a handshake state to send it with: the log names it only if it went out
      // (the last record emitted during the call is an alert).
      const std::uint64_t emitted_before = records_emitted_;
      std::string alert;
      try {
        tls_->received_data(read_buf_.data(), n);
      } catch (const std::exception& e) {
        alert = alert_botan_sends_for(e);
        if (error_.empty()) error_ = e.what();
        closing_ = true;
      }
      constexpr std::uint8_t kAlertRecord = 21;
      if (!alert.empty() && records_emitted_ > emitted_before && last_record_type_ == kAlertRecord)
        alert_sent_ = alert;
      if (tls_->is_closed()) closing_ = true;
    }
    flush();
    if (!closing_) read();
  }

  void flush() {
    if (writing_ || finished_) return;
    if (out_.empty()) {
      if (closing_ && !busy_) finish();
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

  void send_bytes(const std::string& wire) {
    if (!tls_) {
      out_.insert(out_.end(), wire.begin(), wire.end());
      return;
    }
    try {
      tls_->send(reinterpret_cast<const uint8_t*>(wire.data()), wire.size());
    } catch (const std::exception& e) {
      if (error_.empty()) error_ = e.what();
      closing_ = true;
    }
  }

  void parse_requests() {
    while (!in_.empty() && !closing_ && !busy_ && !deferred_) {
      auto ev = requests_in_.next(in_);
      if (ev.kind == RequestStream::Event::Kind::kNeedMore) break;
      if (ev.kind == RequestStream::Event::Kind::kError) {
        const bool too_big = ev.status == 413;
        send_response(
            Response{ev.status, "text/plain", too_big ? "upload too large\n" : "bad request\n"}, "",
            false);
        log_request("", "", "", ev.status, 0, ev.error);
        return;
      }
      handle(std::move(ev.request));
    }
  }

  void handle(http::request<http::string_body> req) {
    ++requests_;
    const std::string target(req.target());
    // Per-folder client auth, the IIS way: renegotiate with a CertificateRequest, then serve.
    if (auth_.request(listener_.folder_mode(target), tls_ != nullptr, !client_cert_.is_null()) ==
        ConnAction::kRenegotiate) {
      deferred_ = std::move(req);
      ++renegotiations_;
      try {
        tls_->renegotiate(true);
      } catch (const std::exception& e) {
        error_ = std::string("renegotiation: ") + e.what();
        closing_ = true;
      }
      return;
    }
    respond(req);
  }

  void respond(const http::request<http::string_body>& req) {
    const std::string method(req.method_string()), target(req.target());
    std::string host(req[http::field::host]);
    Response r;
    std::string note = auth_.take_note();
    if (auth_.refusing()) {
      const bool forbid = listener_.config.reject == RejectMode::kHttp403;
      r = forbid ? Response{403, "text/plain", "403.7 Forbidden: client certificate required\n"}
                 : Response{400, "text/plain", "400 No required SSL certificate was sent\n"};
      note = auth_.reason();
    } else if (tls_ && listener_.config.check_host && !sni_.empty() && !host_matches(host, sni_)) {
      r = Response{421, "text/plain",
                   "misdirected request: Host does not name the TLS server name\n"};
      note = "Host '" + host + "' differs from SNI '" + sni_ + "'";
    } else if (shared_.config.failure_rate > 0 && std::uniform_real_distribution<double>(0.0, 1.0)(
                                                      rand_) < shared_.config.failure_rate) {
      if (shared_.config.failure == "reset") {
        log_request(method, target, host, 0, req.body().size(),
                    "injected failure: connection reset");
        boost::system::error_code ignored;
        socket_.set_option(tcp::socket::linger(true, 0), ignored);
        error_ = "injected reset";
        finish();
        return;
      }
      r = Response{503, "text/plain", "injected failure\n"};
      note = "injected failure";
    } else if (target.starts_with(kUploadPrefix)) {
      if (method != "PUT")
        r = Response{405, "text/plain", "method not allowed\n"};
      else if (!shared_.uploads)
        r = Response{503, "text/plain", "this beacon stores no uploads\n"};
      else
        r = shared_.uploads->put(target, req.body());
    } else {
      r = shared_.content.handle(method, target);
    }
    const bool keep_alive = req.keep_alive() && !auth_.refusing();
    log_request(method, target, host, r.status, req.body().size(), note, r.body.size());
    if (shared_.config.latency.count() > 0) {
      busy_ = true;
      delay_.expires_after(shared_.config.latency);
      delay_.async_wait([self = shared_from_this(), r = std::move(r), method,
                         keep_alive](boost::system::error_code ec) mutable {
        self->busy_ = false;
        if (ec || self->finished_) return;
        self->send_response(std::move(r), method, keep_alive);
        self->flush();
        self->parse_requests();
        self->flush();
      });
      return;
    }
    send_response(std::move(r), method, keep_alive);
  }

  static bool host_matches(std::string host, const std::string& sni) {
    if (auto colon = host.rfind(':');
        colon != std::string::npos && host.find(']') == std::string::npos)
      host.erase(colon);
    std::transform(host.begin(), host.end(), host.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return host == sni;
  }

  void send_response(Response r, const std::string& method, bool keep_alive) {
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
    send_bytes(os.str());
    if (!keep_alive) {
      if (tls_ && !tls_->is_closed()) tls_->close();
      closing_ = true;
    }
    arm_timer(shared_.config.idle_timeout);
  }

  void log_request(const std::string& method, const std::string& target, const std::string& host,
                   unsigned status, std::size_t body_in, const std::string& note,
                   std::size_t response_bytes = 0) {
    shared_.log.write({{"event", "request"},
                       {"beacon", shared_.config.name},
                       {"listener", listener_.config.name},
                       {"connection", id_},
                       {"peer_port", peer_port_},
                       {"sni", or_null(sni_)},
                       {"host", or_null(host)},
                       {"tls_version", or_null(tls_version_)},
                       {"resumed", resumed_},
                       {"method", or_null(method)},
                       {"target", or_null(target)},
                       {"status", status},
                       {"request_body_bytes", body_in},
                       {"response_body_bytes", response_bytes},
                       {"client_cert", client_cert_},
                       {"note", or_null(note)}});
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    delay_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    auto ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_);
    shared_.log.write({
        {"event", "connection"},
        {"beacon", shared_.config.name},
        {"listener", listener_.config.name},
        {"scheme", tls_ ? "https" : "http"},
        {"connection", id_},
        {"client_auth", to_string(listener_.mode_for(sni_, peer_address_))},
        {"peer_address", peer_address_},
        {"peer_port", peer_port_},
        {"sni", or_null(sni_)},
        {"tls_version", or_null(tls_version_)},
        {"cipher", or_null(cipher_)},
        {"handshake_completed", handshake_completed_},
        {"resumed", resumed_},
        {"handshakes", handshakes_},
        {"renegotiations", renegotiations_},
        {"client_cert", client_cert_},
        {"client_cert_verification", client_cert_.is_null() ? "absent" : verification_},
        {"verify_error", or_null(verify_error_)},
        {"rejection", or_null(auth_.reason())},
        {"alert_sent", or_null(alert_sent_)},
        {"alert_received", or_null(alert_received_)},
        {"requests", requests_},
        {"bytes_in", bytes_in_},
        {"bytes_out", bytes_out_},
        {"duration_ms", ms.count()},
        {"error", or_null(error_)},
    });
  }

  Shared& shared_;
  const ListenerRuntime& listener_;
  tcp::socket socket_;
  asio::steady_timer timer_, delay_;
  std::uint64_t id_;
  std::minstd_rand rand_;
  std::unique_ptr<ConnectionCredentials> creds_;
  std::unique_ptr<Botan::TLS::Server> tls_;
  std::array<uint8_t, 16 * 1024> read_buf_{};
  std::vector<uint8_t> out_, write_buf_;
  std::string in_;
  RequestStream requests_in_{shared_.config.upload_max_bytes};
  std::optional<http::request<http::string_body>> deferred_;  // waits for a renegotiation
  ConnectionState auth_;  // client authentication: refusal and renegotiation (no sockets)
  bool writing_ = false, closing_ = false, finished_ = false, busy_ = false;
  bool handshake_completed_ = false, saw_client_kex_ = false, resumed_ = false;
  std::chrono::steady_clock::time_point started_;
  std::string peer_address_;
  unsigned short peer_port_ = 0;
  std::string hello_sni_;
  std::uint64_t records_emitted_ = 0;
  std::uint8_t last_record_type_ = 0;
  std::string tls_version_, cipher_, sni_, alert_sent_, alert_received_, error_, verify_error_;
  std::string verification_ = "not_checked";
  json client_cert_ = nullptr;
  std::uint64_t bytes_in_ = 0, bytes_out_ = 0, requests_ = 0, handshakes_ = 0, renegotiations_ = 0;
};

}  // namespace

void start_connection(Shared& shared, const ListenerRuntime& listener, tcp::socket socket) {
  std::make_shared<Connection>(shared, listener, std::move(socket))->start();
}

}  // namespace mtls::beacon
