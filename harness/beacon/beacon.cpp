// beacon.cpp: see beacon.hpp. Each connection lives on its own Asio strand, owns its Botan
// TLS::Server (none on a plain-HTTP listener), feeds socket bytes to it and writes out what Botan
// emits; decrypted bytes go to a Beast request parser. Client authentication:
//  - a CertificateRequest is sent when the listener, the SNI virtual host, or the folder being
//    renegotiated for asks for one (ConnectionCredentials);
//  - "require" is enforced in tls_session_established, which Botan calls for full and resumed
//    handshakes before its own Finished: an exception there ends the handshake with our alert;
//  - listeners that reject after the handshake (close, HTTP 403/400) let the handshake finish,
//    like nginx and IIS do, and refuse at the HTTP layer; a bad certificate is treated the same.
#include "beacon/beacon.hpp"

#include <botan/hex.h>
#include <botan/pkix_types.h>
#include <botan/system_rng.h>
#include <botan/tls_exceptn.h>
#include <botan/tls_handshake_msg.h>
#include <botan/tls_messages.h>
#include <botan/tls_server.h>
#include <botan/tls_session_manager.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "beacon/content.hpp"
#include "beacon/event_log.hpp"
#include "beacon/handshake_crypto.hpp"
#include "beacon/request_stream.hpp"
#include "beacon/upload.hpp"
#include "core/files.hpp"
#include "pki/manifest.hpp"
#include "pki/pem.hpp"

namespace mtls::beacon {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

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

}  // namespace

// One listener's fixed parts, shared read-only by its connections.
struct ListenerRuntime {
  ListenerConfig config;
  std::unique_ptr<BeaconPolicy> policy;
  Botan::Certificate_Store* trust = nullptr;
  const ClientChainValidator* validator = nullptr;  // for `trust`
  Botan::TLS::Session_Manager* sessions = nullptr;
  const Botan::SymmetricKey* ticket_key = nullptr;

  ClientAuth mode_for(const std::string& sni, const std::string& peer) const {
    for (const auto& r : config.client_auth_by_source)
      if (in_network(peer, r.network)) return r.client_auth;
    for (const auto& v : config.virtual_hosts)
      if (v.name == sni) return v.client_auth;
    return config.client_auth;
  }
  std::optional<ClientAuth> folder_mode(std::string_view target) const {
    for (const auto& f : config.folders)
      if (target.starts_with(f.prefix)) return f.client_auth;
    return std::nullopt;
  }
};

// What every connection shares: read-only after construction, or internally locked.
struct Shared {
  BeaconConfig config;
  ServerIdentity identity;
  ContentStore content;
  std::optional<UploadStore> uploads;
  EventLog log;
  Botan::System_RNG rng;
  std::unique_ptr<Botan::Certificate_Store_In_Memory> trust_plain, trust_crl;
  std::unique_ptr<ClientChainValidator> validator_plain, validator_crl;
  SignerPool signers;  // for identity.key
  std::map<std::string, std::unique_ptr<Botan::TLS::Session_Manager_In_Memory>> session_managers;
  std::map<std::string, Botan::SymmetricKey> ticket_keys;
  std::vector<std::unique_ptr<ListenerRuntime>> listeners;
  std::atomic<std::uint64_t> next_connection{1};
  std::mutex live_mu;  // live connections, so that stop() can drain them
  std::condition_variable live_cv;
  std::size_t live = 0;

  Shared(const BeaconConfig& c, const pki::Manifest& m)
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
    validator_plain = std::make_unique<ClientChainValidator>(*trust_plain);
    validator_crl = std::make_unique<ClientChainValidator>(*trust_crl);
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
};

namespace {

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
        rand_(static_cast<unsigned>(shared.rng.next_byte()) << 8 | shared.rng.next_byte()) {
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
    if (alert.type() == Botan::TLS::Alert::NO_RENEGOTIATION && deferred_) {
      // The client will not send a certificate for the folder that asked for one.
      if (listener_.config.renegotiation_fail_open) {
        note_ = "client refused the renegotiation; served anyway (renegotiation_fail_open)";
      } else {
        rejection_ = "the client refused the renegotiation for a client certificate";
        pending_reject_ = true;
        if (listener_.config.reject != RejectMode::kHttp403 &&
            listener_.config.reject != RejectMode::kHttp400) {
          deferred_.reset();
          tls_->close();
          closing_ = true;
          return;
        }
      }
      serve_deferred();
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
    const ClientAuth mode = wanted_mode(sni_);
    if (mode == ClientAuth::kRequire && peer.empty() && !cert_failed_) {
      if (resumed && listener_.config.trust_resumed_sessions) return true;  // the misconfiguration
      refuse(resumed ? "resumed a session that has no client certificate"
                     : "no client certificate");
    }
    return !pending_reject_;  // do not cache the session of a refused client
  }

  void tls_session_activated() override {
    handshake_completed_ = true;
    arm_timer(shared_.config.idle_timeout);
    if (pending_reject_ && listener_.config.reject == RejectMode::kClose) {
      tls_->close();
      closing_ = true;
      return;
    }
    if (deferred_) {  // the renegotiation a folder asked for is done: serve the request now
      serve_deferred();
    }
  }

  // Serves the request a folder's renegotiation held back (posted: not from inside Botan).
  void serve_deferred() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->finished_ || !self->deferred_) return;
      auto req = std::move(*self->deferred_);
      self->deferred_.reset();
      self->respond(req);
      self->flush();
    });
  }

  // The beacon's signer is made once, not per handshake (handshake_crypto.hpp).
  std::vector<uint8_t> tls_sign_message(const Botan::Private_Key& key,
                                        Botan::RandomNumberGenerator&, const std::string& emsa,
                                        Botan::Signature_Format format,
                                        const std::vector<uint8_t>& msg) override {
    return shared_.signers.sign(key, emsa, format, msg);
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
      if (rejects_in_handshake(listener_.config.reject)) throw;
      cert_failed_ = true;
      refuse("client certificate rejected: " + verify_error_);
    }
  }

 private:
  ClientAuth wanted_mode(const std::string& sni) const {
    return reneg_target_ ? *reneg_target_ : listener_.mode_for(sni, peer_address_);
  }

  // Refuse this client the listener's way: an alert now (throw), or after the handshake.
  void refuse(const std::string& reason) {
    rejection_ = reason;
    if (rejects_in_handshake(listener_.config.reject) && !cert_failed_)
      throw Botan::TLS::TLS_Exception(alert_of(listener_.config.reject), reason);
    pending_reject_ = true;
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
    if (tls_ && !pending_reject_) {
      const auto folder = listener_.folder_mode(target);
      if (folder && *folder != ClientAuth::kIgnore && client_cert_.is_null() && !reneg_target_) {
        reneg_target_ = *folder;
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
    }
    respond(req);
  }

  void respond(const http::request<http::string_body>& req) {
    const std::string method(req.method_string()), target(req.target());
    std::string host(req[http::field::host]);
    Response r;
    std::string note = std::exchange(note_, "");
    if (pending_reject_) {
      const bool forbid = listener_.config.reject == RejectMode::kHttp403;
      r = forbid ? Response{403, "text/plain", "403.7 Forbidden: client certificate required\n"}
                 : Response{400, "text/plain", "400 No required SSL certificate was sent\n"};
      note = rejection_;
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
    const bool keep_alive = req.keep_alive() && !pending_reject_;
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
        {"rejection", or_null(rejection_)},
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
  std::string note_;                                          // for the next request's log record
  std::optional<ClientAuth> reneg_target_;
  bool writing_ = false, closing_ = false, finished_ = false, busy_ = false;
  bool handshake_completed_ = false, saw_client_kex_ = false, resumed_ = false;
  bool pending_reject_ = false, cert_failed_ = false;
  std::chrono::steady_clock::time_point started_;
  std::string peer_address_;
  unsigned short peer_port_ = 0;
  std::string hello_sni_;
  std::uint64_t records_emitted_ = 0;
  std::uint8_t last_record_type_ = 0;
  std::string tls_version_, cipher_, sni_, alert_sent_, alert_received_, error_, verify_error_,
      rejection_;
  std::string verification_ = "not_checked";
  json client_cert_ = nullptr;
  std::uint64_t bytes_in_ = 0, bytes_out_ = 0, requests_ = 0, handshakes_ = 0, renegotiations_ = 0;
};

}  // namespace

struct Beacon::Impl {
  std::unique_ptr<Shared> shared;  // declared first: outlives the io_context and its handlers
  asio::io_context ioc;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;  // one per listener, same order
  std::vector<std::thread> workers;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;

  void accept(std::size_t i) {
    acceptors[i]->async_accept(asio::make_strand(ioc), [this, i](boost::system::error_code ec,
                                                                 tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptors[i]->is_open()) return;
      if (!ec) {
        bool full;
        {
          std::lock_guard lock(shared->live_mu);
          full = shared->live >= shared->config.max_connections;
        }
        if (full) {
          shared->log.write({{"event", "refused"},
                             {"beacon", shared->config.name},
                             {"listener", shared->listeners[i]->config.name},
                             {"reason", "max_connections"}});
          boost::system::error_code ignored;
          socket.close(ignored);
        } else {
          std::make_shared<Connection>(*shared, *shared->listeners[i], std::move(socket))->start();
        }
      }
      accept(i);
    });
  }
};

Beacon::Beacon(const BeaconConfig& config) : impl_(std::make_unique<Impl>()) {
  if (config.threads == 0 || config.threads > 256)
    throw InputError("--threads " + std::to_string(config.threads) + ": must be 1..256");
  if (config.listeners.empty()) throw InputError("the beacon has no listener");
  const pki::Manifest manifest = pki::load_manifest(config.pki_dir);
  impl_->shared = std::make_unique<Shared>(config, manifest);
  for (const auto& l : config.listeners) {
    const tcp::endpoint ep = parse_listen(l.listen);
    auto acceptor = std::make_unique<tcp::acceptor>(impl_->ioc);
    boost::system::error_code ec;
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      throw InputError("--listen " + l.listen + " (listener " + l.name + "): cannot listen (" +
                       ec.message() + ")");
    impl_->acceptors.push_back(std::move(acceptor));
  }
}

Beacon::~Beacon() {
  stop();
}

std::uint16_t Beacon::port() const {
  return impl_->acceptors.front()->local_endpoint().port();
}

std::uint16_t Beacon::port(const std::string& listener) const {
  for (std::size_t i = 0; i < impl_->acceptors.size(); ++i)
    if (impl_->shared->listeners[i]->config.name == listener)
      return impl_->acceptors[i]->local_endpoint().port();
  throw InputError("no listener named '" + listener + "'");
}

json Beacon::start() {
  impl_->work.emplace(impl_->ioc.get_executor());
  for (std::size_t i = 0; i < impl_->acceptors.size(); ++i) impl_->accept(i);
  const auto& cfg = impl_->shared->config;
  for (unsigned i = 0; i < cfg.threads; ++i)
    impl_->workers.emplace_back([this] { impl_->ioc.run(); });
  json listeners = json::array();
  for (std::size_t i = 0; i < impl_->acceptors.size(); ++i) {
    const auto& lc = impl_->shared->listeners[i]->config;
    const auto ep = impl_->acceptors[i]->local_endpoint();
    listeners.push_back({{"name", lc.name},
                         {"scheme", lc.tls ? "https" : "http"},
                         {"address", ep.address().to_string()},
                         {"port", ep.port()},
                         {"client_auth", to_string(lc.client_auth)},
                         {"reject", to_string(lc.reject)},
                         {"revocation", lc.crl ? "crl" : "off"}});
  }
  json ready = {{"event", "ready"},
                {"beacon", cfg.name},
                {"pid", static_cast<long>(::getpid())},
                {"listeners", listeners}};
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
    for (auto& a : impl_->acceptors) a->close(ignored);
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
