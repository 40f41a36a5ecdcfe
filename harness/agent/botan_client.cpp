// botan_client.cpp: see botan_client.hpp.
#include "agent/botan_client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <botan/auto_rng.h>
#include <botan/certstor.h>
#include <botan/credentials_manager.h>
#include <botan/pkix_types.h>
#include <botan/tls_client.h>
#include <botan/tls_exceptn.h>
#include <curl/curl.h>

#include <algorithm>

#include "agent/raw_http.hpp"
#include "agent/url.hpp"
#include "core/files.hpp"
#include "pki/pem.hpp"

namespace mtls::agent {
namespace {

class Credentials : public Botan::Credentials_Manager {
 public:
  Botan::Certificate_Store_In_Memory trusted;
  std::vector<Botan::X509_Certificate> chain;
  std::unique_ptr<Botan::Private_Key> key;

  std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(
      const std::string&, const std::string&) override {
    return {&trusted};
  }
  std::vector<Botan::X509_Certificate> cert_chain(const std::vector<std::string>&,
                                                  const std::string&, const std::string&) override {
    return chain;  // whatever the request allows: the beacon is the one to judge
  }
  Botan::Private_Key* private_key_for(const Botan::X509_Certificate&, const std::string&,
                                      const std::string&) override {
    return key.get();  // not checked against the certificate: that is the point
  }
};

// Botan's defaults, but like the curl agent without a CRL: no revocation data demanded of the
// beacon's certificate.
class ClientPolicy : public Botan::TLS::Policy {
 public:
  bool require_cert_revocation_info() const override { return false; }
};

class BotanConnection : public RawConnection, public Botan::TLS::Callbacks {
 public:
  BotanConnection(const Url& url, const AgentOptions& o, Credentials& creds,
                  Transfer::Observation& obs)
      : url_(url),
        check_server_(o.trust.check_server_certificate),
        creds_(creds),
        obs_(obs),
        deadline_(Clock::now() + std::min<Clock::duration>(o.total_timeout, kRawMaxWait)),
        resolve_(o.resolve),
        source_(o.source_address) {}

  bool open(RequestResult& failure) {
    connect_tcp(tcp_, url_, deadline_, resolve_, source_);
    if (tcp_.code != CURLE_OK) {
      failure = failed_connection(tcp_.code, tcp_.error, obs_);
      return false;
    }
    try {
      client_ = std::make_unique<Botan::TLS::Client>(
          *this, sessions_, creds_, policy_, rng_,
          Botan::TLS::Server_Information(url_.host_is_ip() ? "" : url_.host, url_.port),
          Botan::TLS::Protocol_Version::TLS_V12);
      flush();
      while (!client_->is_active() && !client_->is_closed() && !failed_) {
        if (!pump()) break;
      }
    } catch (const std::exception& e) {
      error_ = e.what();
      failed_ = true;
    }
    if (client_ && client_->is_active()) return true;
    long code = CURLE_SSL_CONNECT_ERROR;
    if (server_untrusted_) code = CURLE_PEER_FAILED_VERIFICATION;
    if (timed_out_) code = CURLE_OPERATION_TIMEDOUT;
    failure = failed_connection(code, error_.empty() ? "TLS handshake failed" : error_, obs_);
    return false;
  }

  bool send(const std::string& bytes) override {
    try {
      client_->send(bytes);
      return flush();
    } catch (const std::exception& e) {
      error_ = e.what();
      return false;
    }
  }

  Read receive(std::string& out) override {
    while (in_.empty()) {
      if (client_->is_closed() || peer_closed_) return Read::kClosed;
      if (!pump())
        return timed_out_ ? Read::kTimeout : (peer_closed_ ? Read::kClosed : Read::kError);
    }
    out += in_;
    in_.clear();
    return Read::kData;
  }

  long local_port() const { return tcp_.local_port(); }
  void close() {
    try {
      if (client_ && !client_->is_closed()) client_->close();
      flush();
    } catch (const std::exception&) {
    }
  }

  // Botan::TLS::Callbacks
  void tls_emit_data(const uint8_t data[], size_t size) override {
    out_.append(reinterpret_cast<const char*>(data), size);
  }
  void tls_record_received(uint64_t, const uint8_t data[], size_t size) override {
    in_.append(reinterpret_cast<const char*>(data), size);
  }
  void tls_alert(Botan::TLS::Alert alert) override {
    if (alert.type() == Botan::TLS::Alert::CLOSE_NOTIFY) {
      peer_closed_ = true;
      return;
    }
    if (!obs_.alert_code) {
      obs_.alert_code = static_cast<int>(alert.type());
      obs_.alert_after_handshake = obs_.handshake_done;
    }
    if (alert.is_fatal()) peer_closed_ = true;
  }
  bool tls_session_established(const Botan::TLS::Session& session) override {
    obs_.version = session.version().to_string();
    obs_.cipher = session.ciphersuite().to_string();
    return false;  // no session cache
  }
  void tls_session_activated() override { obs_.handshake_done = true; }
  void tls_verify_cert_chain(const std::vector<Botan::X509_Certificate>& chain,
                             const std::vector<std::shared_ptr<const Botan::OCSP::Response>>& ocsp,
                             const std::vector<Botan::Certificate_Store*>& trusted,
                             Botan::Usage_Type usage, const std::string& hostname,
                             const Botan::TLS::Policy& policy) override {
    if (!check_server_) return;
    try {
      Botan::TLS::Callbacks::tls_verify_cert_chain(chain, ocsp, trusted, usage, hostname, policy);
      if (url_.host_is_ip()) {  // Botan checks DNS names only: the IP must be a SAN
        const auto ips = chain.front().subject_alt_name().get_attribute("IP");
        if (std::find(ips.begin(), ips.end(), url_.host) == ips.end())
          throw std::runtime_error("the certificate does not name " + url_.host);
      }
    } catch (const std::exception& e) {
      server_untrusted_ = true;
      error_ = std::string("server certificate: ") + e.what();
      throw;
    }
  }

 private:
  // Writes everything Botan has queued.
  bool flush() {
    std::size_t off = 0;
    while (off < out_.size()) {
      const ssize_t n = ::send(tcp_.fd, out_.data() + off, out_.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        out_.clear();
        return false;
      }
      pollfd p{tcp_.fd, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms(deadline_)) <= 0) {
        timed_out_ = true;
        out_.clear();
        return false;
      }
    }
    out_.clear();
    return true;
  }

  // Reads once from the socket into Botan; false on close, error or deadline.
  bool pump() {
    pollfd p{tcp_.fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline_)) <= 0) {
      timed_out_ = true;
      return false;
    }
    uint8_t buf[16384];
    const ssize_t n = ::recv(tcp_.fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (n == 0) peer_closed_ = true;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      return false;
    }
    try {
      client_->received_data(buf, static_cast<size_t>(n));
    } catch (const std::exception& e) {
      error_ = e.what();
      failed_ = true;
      flush();  // our own alert, if any
      return false;
    }
    return flush();
  }

  Url url_;
  bool check_server_;
  Credentials& creds_;
  Transfer::Observation& obs_;
  Clock::time_point deadline_;
  std::vector<std::string> resolve_;
  std::string source_;
  Tcp tcp_;
  Botan::AutoSeeded_RNG rng_;
  Botan::TLS::Session_Manager_Noop sessions_;
  ClientPolicy policy_;
  std::unique_ptr<Botan::TLS::Client> client_;
  std::string out_, in_, error_;
  bool failed_ = false, server_untrusted_ = false, timed_out_ = false, peer_closed_ = false;
};

}  // namespace

ResultRecord run_botan_client(const Operation& op, const std::string& beacon_url,
                              const AgentOptions& o) {
  const auto target = parse_url(beacon_url);
  if (!target || target->scheme != "https")
    throw InputError("botan client: " + beacon_url + " is not an https:// URL");
  Credentials creds;
  if (o.trust.check_server_certificate) {
    if (!o.trust.ca_file) throw InputError("the Botan client needs a CA file (--ca)");
    for (const auto& c : pki::load_certificates(*o.trust.ca_file)) creds.trusted.add_certificate(c);
  }
  const ClientCredential& c = o.credential;
  if (c.p12) throw InputError("the Botan client takes PEM credentials only");
  if (c.cert && c.key) {
    creds.chain = pki::load_certificates(*c.cert);
    creds.key = pki::load_private_key(*c.key);
  }
  ResultRecord rec;
  rec.beacon = target->authority();
  rec.operation = op.id;
  rec.credential = c.name;
  rec.entry_path = o.entry.path;
  rec.check_id = rec.beacon + "/" + rec.operation + "/" + rec.credential + "/" + rec.entry_path;
  nlohmann::json steps = nlohmann::json::array();
  RequestResult last;
  for (const RequestSpec& spec : op.requests) {
    const std::string path = spec.path_for(o.device);
    const std::string body = spec.method == "PUT" ? spec.body_for(o.device, o.check_id) : "";
    std::optional<std::string> expected;
    if (spec.content)
      if (auto it = o.known_digests.find(*spec.content); it != o.known_digests.end())
        expected = it->second;
    Transfer::Observation obs;
    BotanConnection conn(*target, o, creds, obs);
    RequestResult r;
    if (conn.open(r)) {
      r = exchange(conn, obs, spec, http_request(spec, path, target->authority(), body, false),
                   expected, body);
      conn.close();
    }
    if (const long port = conn.local_port(); port > 0) r.evidence.local_port = port;
    steps.push_back(step_json(spec, path, r));
    last = std::move(r);
    if (last.classification.outcome != Outcome::kAccepted) break;
  }
  if (last.evidence.tls_alert_code == 70 && !last.evidence.handshake_completed)  // protocol_version
    last.classification = {Outcome::kProtocolError,
                           "the beacon refused TLS 1.2, the only version of this protocol-level "
                           "client (Botan 2): the credential could not be presented"};
  rec.outcome = last.classification.outcome;
  rec.reason = last.classification.reason;
  rec.evidence = last.evidence;
  rec.evidence.steps = steps;
  rec.evidence.client = "botan";
  return rec;
}

}  // namespace mtls::agent
