// side_door.cpp: see side_door.hpp.
#include "agent/side_door.hpp"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <curl/curl.h>

#include "agent/openssl_handles.hpp"
#include "agent/raw_http.hpp"
#include "agent/url.hpp"
#include "core/files.hpp"

namespace mtls::agent {
namespace {

using Session = SessionHandle;

// Keeps the newest session the server hands out (TLS 1.3 tickets arrive after the handshake).
int keep_session(SSL* ssl, SSL_SESSION* session) {
  auto* holder = static_cast<Session*>(SSL_get_app_data(ssl));
  if (holder == nullptr) return 0;
  holder->reset(session);
  return 1;  // we own the reference now
}

// One TLS connection driven by hand.
class OsslConnection : public RawConnection {
 public:
  struct Settings {
    const Url* url;
    std::string sni;  // empty: none (IP literal)
    const AgentOptions* options;
    bool with_credential = true;
    bool tls12_only = false;
    bool refuse_renegotiation = false;
    SSL_SESSION* resume = nullptr;  // offer this session
  };

  OsslConnection(const Settings& s, Transfer::Observation& obs)
      : obs_(obs),
        deadline_(Clock::now() + std::min<Clock::duration>(s.options->total_timeout, kRawMaxWait)) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx_) throw HarnessError("SSL_CTX_new failed");
    SSL_CTX* ctx = ctx_.get();
    observe(ctx, &obs_);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (s.tls12_only) SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    if (s.refuse_renegotiation) SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, keep_session);
    const TrustSettings& trust = s.options->trust;
    if (trust.check_server_certificate) {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      SSL_CTX_load_verify_locations(ctx, trust.ca_file ? trust.ca_file->c_str() : nullptr,
                                    trust.ca_path ? trust.ca_path->c_str() : nullptr);
    }
    if (s.with_credential) credential_ok_ = install(ctx, s.options->credential);
    ERR_clear_error();
    sni_ = s.sni;
    url_ = *s.url;
    resume_ = s.resume;
    check_name_ = trust.check_server_certificate;
    resolve_ = s.options->resolve;
    source_ = s.options->source_address;
  }

  // TCP + TLS handshake; on failure `failure` holds the curl-like code and why.
  bool open(RequestResult& failure) {
    if (!credential_ok_) {
      failure =
          failed_connection(CURLE_SSL_CERTPROBLEM, "the client credential cannot be loaded", obs_);
      return false;
    }
    connect_tcp(tcp_, url_, deadline_, resolve_, source_);
    if (tcp_.code != CURLE_OK) {
      failure = failed_connection(tcp_.code, tcp_.error, obs_);
      return false;
    }
    ssl_.reset(SSL_new(ctx_.get()));
    SSL* ssl = ssl_.get();
    SSL_set_fd(ssl, tcp_.fd);
    SSL_set_app_data(ssl, &latest_);
    if (!sni_.empty()) SSL_set_tlsext_host_name(ssl, sni_.c_str());
    if (check_name_) {
      const std::string name = sni_.empty() ? url_.host : sni_;
      Url probe = url_;
      probe.host = name;
      if (probe.host_is_ip())
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
      else
        SSL_set1_host(ssl, name.c_str());
    }
    if (resume_) SSL_set_session(ssl, resume_);
    const int r = drive([&] { return SSL_connect(ssl); });
    if (r <= 0) {
      long code = CURLE_SSL_CONNECT_ERROR;
      std::string why = "TLS handshake failed";
      if (r == -2) {
        code = CURLE_OPERATION_TIMEDOUT;
        why = "TLS handshake timed out";
      } else if (SSL_get_verify_result(ssl) != X509_V_OK) {
        code = CURLE_PEER_FAILED_VERIFICATION;
        why = std::string("server certificate: ") +
              X509_verify_cert_error_string(SSL_get_verify_result(ssl));
      }
      ERR_clear_error();
      failure = failed_connection(code, why, obs_);
      return false;
    }
    obs_.handshake_done = true;
    obs_.version = SSL_get_version(ssl);
    obs_.cipher = SSL_get_cipher_name(ssl);
    return true;
  }

  bool send(const std::string& bytes) override {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const int n = drive([&] {
        return SSL_write(ssl_.get(), bytes.data() + off, static_cast<int>(bytes.size() - off));
      });
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  Read receive(std::string& out) override {
    char buf[16384];
    const int n = drive([&] { return SSL_read(ssl_.get(), buf, sizeof buf); });
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      return Read::kData;
    }
    if (n == -2) return Read::kTimeout;
    const int err = SSL_get_error(ssl_.get(), n);
    ERR_clear_error();
    return err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && n == 0) ? Read::kClosed
                                                                                : Read::kError;
  }

  bool resumed() const { return ssl_ && SSL_session_reused(ssl_.get()) == 1; }
  long local_port() const { return tcp_.local_port(); }
  // The newest resumable session the server gave, if any.
  Session take_session() {
    if (!latest_ && ssl_) latest_.reset(SSL_get1_session(ssl_.get()));
    return std::move(latest_);
  }
  void shutdown() {
    if (ssl_) SSL_shutdown(ssl_.get());
  }

 private:
  static bool install(SSL_CTX* ctx, const ClientCredential& c) {
    if (c.loaded) return use_credential(ctx, *c.loaded);
    if (c.p12) {
      BIO* in = BIO_new_file(c.p12->c_str(), "rb");
      PKCS12* p12 = in ? d2i_PKCS12_bio(in, nullptr) : nullptr;
      BIO_free(in);
      EVP_PKEY* key = nullptr;
      X509* cert = nullptr;
      STACK_OF(X509)* ca = nullptr;
      bool ok = p12 && PKCS12_parse(p12, c.p12_password.c_str(), &key, &cert, &ca) == 1 &&
                SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
      for (int i = 0; ok && ca && i < sk_X509_num(ca); ++i)
        ok = SSL_CTX_add1_chain_cert(ctx, sk_X509_value(ca, i)) == 1;
      PKCS12_free(p12);
      EVP_PKEY_free(key);
      X509_free(cert);
      sk_X509_pop_free(ca, X509_free);
      return ok;
    }
    return !c.cert;  // a PEM credential that preload() could not parse
  }

  // Runs an SSL_* call until it completes; -2 when the deadline passes.
  template <typename F>
  int drive(F call) {
    for (;;) {
      const int r = call();
      if (r > 0) return r;
      const int err = SSL_get_error(ssl_.get(), r);
      short events = 0;
      if (err == SSL_ERROR_WANT_READ)
        events = POLLIN;
      else if (err == SSL_ERROR_WANT_WRITE)
        events = POLLOUT;
      else
        return r;
      pollfd p{tcp_.fd, events, 0};
      const int ms = remaining_ms(deadline_);
      if (ms <= 0 || ::poll(&p, 1, ms) <= 0) return -2;
    }
  }

  Transfer::Observation& obs_;
  Clock::time_point deadline_;
  SslCtxHandle ctx_;
  SslHandle ssl_;
  Tcp tcp_;
  Url url_;
  std::string sni_;
  SSL_SESSION* resume_ = nullptr;
  Session latest_;
  bool credential_ok_ = true, check_name_ = true;
  std::vector<std::string> resolve_;
  std::string source_;
};

std::string sni_for(const Url& u) {
  return u.host_is_ip() ? "" : u.host;
}

std::optional<std::string> expected_digest(const RequestSpec& spec, const AgentOptions& o) {
  if (!spec.content) return std::nullopt;
  auto it = o.known_digests.find(*spec.content);
  if (it == o.known_digests.end()) return std::nullopt;
  return it->second;
}

// The renegotiation door on one connection: an unprotected request first, then the operation's,
// refusing any renegotiation the beacon asks for.
RequestResult renegotiation_step(const Url& target, const AgentOptions& o, const RequestSpec& spec,
                                 const std::string& path, const std::string& body,
                                 Transfer::Observation& obs, long& local_port,
                                 nlohmann::json& detail) {
  RequestResult r;
  OsslConnection conn({.url = &target,
                       .sni = sni_for(target),
                       .options = &o,
                       .tls12_only = true,
                       .refuse_renegotiation = true},
                      obs);
  const bool opened = conn.open(r);
  local_port = conn.local_port();
  if (opened) {
    const RequestSpec warm{.method = "GET", .path_template = o.entry.warmup_path};
    const RequestResult w = exchange(
        conn, obs, warm, http_request(warm, o.entry.warmup_path, target.authority(), "", true),
        std::nullopt, "");
    detail = {
        {"warmup_path", o.entry.warmup_path},
        {"warmup_http_status", w.evidence.http_status ? nlohmann::json(*w.evidence.http_status)
                                                      : nlohmann::json(nullptr)},
        {"renegotiation_refused_by_client", true}};
    if (w.evidence.http_status) {
      r = exchange(conn, obs, spec, http_request(spec, path, target.authority(), body, false),
                   expected_digest(spec, o), body);
    } else {
      r = w;  // the connection did not even serve the unprotected path
      detail["note"] = "the unprotected warm-up request got no answer";
    }
    conn.shutdown();
  }

  return r;
}

}  // namespace

ResultRecord run_side_door(const Operation& op, const std::string& beacon_url,
                           const AgentOptions& o) {
  const auto target = parse_url(beacon_url);
  if (!target || target->scheme != "https")
    throw InputError("side door " + o.entry.path + ": " + beacon_url + " is not an https:// URL");
  const bool resumption = o.entry.path == "resumption-cross-listener";
  if (!resumption && o.entry.path != "renegotiation")
    throw HarnessError("run_side_door: entry path " + o.entry.path + " is curl's");
  const std::string base = target->scheme + "://" + target->authority();
  ResultRecord rec;
  rec.beacon = target->authority();
  rec.operation = op.id;
  rec.credential = o.credential.name;
  rec.entry_path = o.entry.path;
  rec.check_id = rec.beacon + "/" + rec.operation + "/" + rec.credential + "/" + rec.entry_path;
  nlohmann::json steps = nlohmann::json::array(), detail = nlohmann::json::object();
  RequestResult last;
  bool all_accepted = true;

  for (const RequestSpec& spec : op.requests) {
    const std::string path = spec.path_for(o.device);
    const std::string body = spec.method == "PUT" ? spec.body_for(o.device, o.check_id) : "";
    Transfer::Observation obs;
    RequestResult r;
    long local_port = 0;
    if (resumption) {
      // 1. A session where no certificate is asked: the source listener or the open SNI name.
      const std::string from = o.entry.resume_from.empty() ? base : o.entry.resume_from;
      const auto src = parse_url(from);
      if (!src || src->scheme != "https")
        throw InputError("resume_from " + from + ": not an https:// URL");
      const std::string src_sni = o.entry.sni_name.empty() ? sni_for(*src) : o.entry.sni_name;
      Transfer::Observation src_obs;
      OsslConnection source({.url = &*src, .sni = src_sni, .options = &o, .with_credential = false},
                            src_obs);
      RequestResult src_result;
      Session session;
      if (source.open(src_result)) {
        const RequestSpec warm{.method = "GET", .path_template = o.entry.warmup_path};
        Url named = *src;  // a proper request at the source: Host names its TLS name
        if (!src_sni.empty()) named.host = src_sni;
        src_result = exchange(source, src_obs, warm,
                              http_request(warm, o.entry.warmup_path, named.authority(), "", false),
                              std::nullopt, "");
        session = source.take_session();
        source.shutdown();
      }
      detail = {{"session_source", from},
                {"source_sni", src_sni.empty() ? nlohmann::json(nullptr) : nlohmann::json(src_sni)},
                {"source_outcome", std::string(to_string(src_result.classification.outcome))},
                {"source_http_status", src_result.evidence.http_status
                                           ? nlohmann::json(*src_result.evidence.http_status)
                                           : nlohmann::json(nullptr)},
                {"session_obtained", static_cast<bool>(session)}};
      if (!session) {
        r = failed_connection(CURLE_SSL_CONNECT_ERROR,
                              "no TLS session could be obtained from " + from +
                                  " without a certificate: nothing to resume",
                              obs);
        r.classification = {Outcome::kProtocolError, r.evidence.curl_error};
      } else {
        // 2. Present it where a certificate is required.
        OsslConnection conn(
            {.url = &*target, .sni = sni_for(*target), .options = &o, .resume = session.get()},
            obs);
        const bool opened = conn.open(r);
        local_port = conn.local_port();
        if (opened) {
          detail["resumed"] = conn.resumed();
          r = exchange(conn, obs, spec, http_request(spec, path, target->authority(), body, false),
                       expected_digest(spec, o), body);
          conn.shutdown();
        } else {
          detail["resumed"] = false;
        }
      }
    } else {
      r = renegotiation_step(*target, o, spec, path, body, obs, local_port, detail);
    }
    if (local_port > 0) r.evidence.local_port = local_port;
    steps.push_back(step_json(spec, path, r));
    last = std::move(r);
    if (last.classification.outcome != Outcome::kAccepted) {
      all_accepted = false;
      break;
    }
  }
  rec.outcome = last.classification.outcome;
  rec.reason = last.classification.reason;
  if (!all_accepted && last.evidence.curl_error.size())
    rec.reason += " (" + last.evidence.curl_error + ")";
  rec.evidence = last.evidence;
  rec.evidence.steps = steps;
  rec.evidence.side_door = detail;
  rec.evidence.client = "openssl";
  return rec;
}

}  // namespace mtls::agent
