// transfer.cpp: see transfer.hpp.
#include "agent/transfer.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <botan/hex.h>
#include <nlohmann/json.hpp>

#include "agent/request_variant.hpp"
#include "agent/url.hpp"
#include "core/files.hpp"

namespace mtls::agent {
namespace {

constexpr std::size_t kKeepBody = 64 * 1024;

// The ex_data slot that links curl's SSL_CTX to a Transfer's Observation. Allocated once.
int observation_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void info_callback(const SSL* ssl, int where, int ret) {
  auto* obs = static_cast<Transfer::Observation*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), observation_index()));
  if (obs != nullptr) note_tls_event(*obs, ssl, where, ret);
}

CURLcode ssl_ctx_callback(CURL*, void* ssl_ctx, void* user) {
  auto* data = static_cast<Transfer::CtxData*>(user);
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  observe(ctx, data->observation);
  // The preloaded credential, installed as curl would have installed it from the files.
  if (data->credential != nullptr && !use_credential(ctx, *data->credential))
    return CURLE_SSL_CERTPROBLEM;  // what curl answers for a certificate/key it cannot use
  return CURLE_OK;
}

size_t write_callback(char* data, size_t, size_t n, void* user) {
  auto* d = static_cast<Transfer::Download*>(user);
  d->hash->update(reinterpret_cast<const uint8_t*>(data), n);
  if (d->kept.size() < kKeepBody) d->kept.append(data, std::min(n, kKeepBody - d->kept.size()));
  d->size += static_cast<long long>(n);
  return n;
}

size_t read_callback(char* buffer, size_t size, size_t nitems, void* user) {
  auto* u = static_cast<Transfer::Upload*>(user);
  const std::size_t n = std::min(size * nitems, u->data.size() - u->offset);
  std::memcpy(buffer, u->data.data() + u->offset, n);
  u->offset += n;
  return n;
}

bool looks_like_xml(const std::string& head) {
  std::size_t i = head.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  while (i < head.size() && std::isspace(static_cast<unsigned char>(head[i]))) ++i;
  return i < head.size() && head[i] == '<';
}

}  // namespace

void verify_payload(const RequestSpec& spec, const std::optional<std::string>& expected,
                    const std::string& body_sha256, const std::string& body_head,
                    const std::string& upload, Evidence& e) {
  if (spec.method == "GET") {
    e.payload_sha256 = body_sha256;
    if (expected) {
      e.payload_check = "sha256";
      e.payload_verified = body_sha256 == *expected;
    } else {
      e.payload_check = "format:" + spec.format;
      e.payload_verified = spec.format != "xml" || looks_like_xml(body_head);
    }
  } else if (spec.method == "PUT") {
    // Our beacons return what they stored: its SHA-256 must be that of what we sent.
    e.payload_sha256 = sha256_hex(upload);
    const auto receipt = nlohmann::json::parse(body_head, nullptr, false);
    if (receipt.is_object() && receipt.contains("sha256") && receipt["sha256"].is_string()) {
      e.payload_check = "upload-digest";
      e.payload_verified = receipt["sha256"].get<std::string>() == *e.payload_sha256;
    } else {
      e.payload_check = "none";  // a beacon that returns no digest: accepted, not verified
    }
  }
}

bool use_credential(void* ssl_ctx, const LoadedCredential& cred) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  bool ok =
      cred.leaf != nullptr && cred.key != nullptr && SSL_CTX_use_certificate(ctx, cred.leaf) == 1;
  for (X509* extra : cred.chain) ok = ok && SSL_CTX_add1_chain_cert(ctx, extra) == 1;
  ok = ok && SSL_CTX_use_PrivateKey(ctx, cred.key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

void record_body(Evidence& e, const std::string& sha256, long long bytes, const std::string& head) {
  constexpr std::size_t kHead = 256;
  e.body_sha256 = sha256;
  e.body_bytes = bytes;
  std::string shown = head.substr(0, kHead);
  for (char& ch : shown)
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e) ch = '.';
  e.body_head = shown;
}

nlohmann::json step_json(const RequestSpec& spec, const std::string& path, const RequestResult& r) {
  const Evidence& e = r.evidence;
  return {
      {"method", spec.method},
      {"path", path},
      {"outcome", std::string(to_string(r.classification.outcome))},
      {"curl_code", e.curl_code ? nlohmann::json(*e.curl_code) : nlohmann::json(nullptr)},
      {"http_status", e.http_status ? nlohmann::json(*e.http_status) : nlohmann::json(nullptr)},
      {"payload_check",
       e.payload_check ? nlohmann::json(*e.payload_check) : nlohmann::json(nullptr)},
      {"payload_verified",
       e.payload_verified ? nlohmann::json(*e.payload_verified) : nlohmann::json(nullptr)},
      {"payload_sha256",
       e.payload_sha256 ? nlohmann::json(*e.payload_sha256) : nlohmann::json(nullptr)},
      {"body_sha256", e.body_sha256 ? nlohmann::json(*e.body_sha256) : nlohmann::json(nullptr)},
      {"body_bytes", e.body_bytes ? nlohmann::json(*e.body_bytes) : nlohmann::json(nullptr)},
      {"content_type", e.content_type ? nlohmann::json(*e.content_type) : nlohmann::json(nullptr)},
      {"bytes_sent", e.bytes_sent},
      {"bytes_received", e.bytes_received},
      {"elapsed_ms", e.elapsed_ms}};
}

void note_tls_event(Transfer::Observation& obs, const SSL* ssl, int where, int ret) {
  if (where & SSL_CB_HANDSHAKE_DONE) {
    obs.handshake_done = true;
    obs.version = SSL_get_version(ssl);
    obs.cipher = SSL_get_cipher_name(ssl);
  }
  if ((where & SSL_CB_ALERT) && (where & SSL_CB_READ)) {
    const int desc = ret & 0xff;
    if (desc != 0 && !obs.alert_code) {  // 0 = close_notify: an orderly close, not a rejection
      obs.alert_code = desc;
      obs.alert_after_handshake = obs.handshake_done;
      if (obs.version.empty()) obs.version = SSL_get_version(ssl);
    }
  }
}

void record_tls(const Transfer::Observation& obs, Evidence& e) {
  e.handshake_completed = obs.handshake_done;
  if (!obs.version.empty()) e.tls_version = obs.version;
  if (!obs.cipher.empty()) e.tls_cipher = obs.cipher;
  if (obs.alert_code) {
    e.tls_alert_code = *obs.alert_code;
    e.tls_alert = alert_name(*obs.alert_code);
    e.alert_after_handshake = obs.alert_after_handshake;
  }
}

void observe(void* ssl_ctx, Transfer::Observation* observation) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_ex_data(ctx, observation_index(), observation);
  SSL_CTX_set_info_callback(ctx, info_callback);
}

LoadedCredential::~LoadedCredential() {
  X509_free(leaf);
  for (X509* x : chain) X509_free(x);
  EVP_PKEY_free(key);
}

void preload(ClientCredential& c) {
  if (!c.cert || !c.key || c.p12) return;
  auto loaded = std::make_shared<LoadedCredential>();
  if (BIO* in = BIO_new_file(c.cert->c_str(), "r")) {
    loaded->leaf = PEM_read_bio_X509(in, nullptr, nullptr, nullptr);
    while (X509* x = PEM_read_bio_X509(in, nullptr, nullptr, nullptr)) loaded->chain.push_back(x);
    BIO_free(in);
  }
  if (BIO* in = BIO_new_file(c.key->c_str(), "r")) {
    loaded->key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
    BIO_free(in);
  }
  ERR_clear_error();  // a missing or broken part fails each connection, like curl would
  c.loaded = std::move(loaded);
}

Transfer::Transfer(const AgentOptions& o, const RequestSpec& spec, const std::string& url,
                   std::string upload, std::optional<std::string> expected_sha256,
                   std::chrono::milliseconds total_timeout)
    : easy_(curl_easy_init()), spec_(spec), expected_(std::move(expected_sha256)), url_(url) {
  if (easy_ == nullptr) throw HarnessError("curl_easy_init failed");
  up_.data = std::move(upload);
  CURL* c = easy_;
  curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf_);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "mtls-harness-agent");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(total_timeout.count()));
  // A device's requests are its own: no connection or TLS session shared with another request.
  curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, o.trust.check_server_certificate ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, o.trust.check_server_certificate ? 2L : 0L);
  // Trust only what the settings name: never the system store.
  ca_file_ = o.trust.ca_file ? o.trust.ca_file->string() : "";
  ca_path_ = o.trust.ca_path ? o.trust.ca_path->string() : "";
  curl_easy_setopt(c, CURLOPT_CAINFO, ca_file_.empty() ? nullptr : ca_file_.c_str());
  curl_easy_setopt(c, CURLOPT_CAPATH, ca_path_.empty() ? nullptr : ca_path_.c_str());
  if (o.trust.crl_file) {
    crl_ = o.trust.crl_file->string();
    curl_easy_setopt(c, CURLOPT_CRLFILE, crl_.c_str());
  }
  const ClientCredential& cred = o.credential;
  if (cred.p12) {
    cert_ = cred.p12->string();
    password_ = cred.p12_password;
    curl_easy_setopt(c, CURLOPT_SSLCERT, cert_.c_str());
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "P12");
    curl_easy_setopt(c, CURLOPT_KEYPASSWD, password_.c_str());
  } else if (cred.cert && cred.loaded) {
    ctx_data_.credential = cred.loaded.get();  // installed by ssl_ctx_callback
  } else if (cred.cert) {
    cert_ = cred.cert->string();
    key_ = cred.key ? cred.key->string() : "";
    curl_easy_setopt(c, CURLOPT_SSLCERT, cert_.c_str());
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(c, CURLOPT_SSLKEY, key_.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (o.tls_session_share != nullptr) curl_easy_setopt(c, CURLOPT_SHARE, o.tls_session_share);
  curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_callback);
  ctx_data_.observation = &obs_;
  curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, &ctx_data_);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_callback);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &down_);
  if (spec.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (spec.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_callback);
    curl_easy_setopt(c, CURLOPT_READDATA, &up_);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(up_.data.size()));
    headers_ = curl_slist_append(headers_, "Expect:");  // beacons do not send 100-continue
  }
  // Side doors curl can express (entry paths, agent.hpp).
  if (o.entry.path == "sni-host-mismatch" && !o.entry.sni_name.empty()) {
    // TLS (SNI, certificate name) says the open name; TCP goes to the beacon; Host names the
    // beacon: the request a mixed-up virtual-host setup would route past client auth.
    if (const auto beacon = connect_as(o.entry.sni_name))
      headers_ = curl_slist_append(headers_, ("Host: " + *beacon).c_str());
  }
  // Another TLS name of the same port (sni:<name>): SNI and Host name it, TCP goes to the beacon;
  // or its address with no name at all (no-sni). What the default or another virtual host serves,
  // seen as an attacker sees it: its certificate is not checked (nor on sni-host-mismatch).
  if (o.entry.path.starts_with("sni:") || o.entry.path == "no-sni" ||
      o.entry.path == "sni-host-mismatch") {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (o.entry.path.starts_with("sni:") && !o.entry.sni_name.empty()) connect_as(o.entry.sni_name);
  if (o.entry.variant) {  // path:<name> / header:<name>: the same request, asked otherwise
    const RequestVariant& v = *o.entry.variant;
    variant_ = {{"variant", v.door + ":" + v.name},
                {"method", v.method.empty() ? spec.method : v.method}};
    if (const auto u = parse_url(url_); u && !v.spell.empty()) {
      const std::string path = respell(u->path, v.spell);
      url_ = u->scheme + "://" + u->authority() + path;
      curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
      curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);  // as spelled: no dot-segment squashing
      variant_["request_path"] = path;
    }
    if (!v.method.empty()) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, v.method.c_str());
    variant_["headers"] = nlohmann::json::array();
    for (const auto& [name, value] : v.headers) {
      headers_ = curl_slist_append(headers_, (name + ": " + value).c_str());
      variant_["headers"].push_back(name);  // names only: the values can be long
    }
  }
  for (const auto& entry : o.resolve) resolve_ = curl_slist_append(resolve_, entry.c_str());
  if (!o.source_address.empty())  // the vantage point's local address ("host!": no DNS, no NIC)
    curl_easy_setopt(c, CURLOPT_INTERFACE, ("host!" + o.source_address).c_str());
  if (resolve_ != nullptr) curl_easy_setopt(c, CURLOPT_RESOLVE, resolve_);
  if (o.entry.path == "tls-downgrade") {  // offer only TLS 1.0/1.1 (OpenSSL needs level 0)
    curl_easy_setopt(c, CURLOPT_SSLVERSION,
                     static_cast<long>(CURL_SSLVERSION_TLSv1_0) |
                         static_cast<long>(CURL_SSLVERSION_MAX_TLSv1_1));
    curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0");
  }
  if (headers_ != nullptr) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers_);
}

std::optional<std::string> Transfer::connect_as(const std::string& name) {
  const auto u = parse_url(url_);
  if (!u) return std::nullopt;
  Url named = *u;
  named.host = name;
  url_ = "https://" + named.authority() + u->path;
  curl_easy_setopt(easy_, CURLOPT_URL, url_.c_str());
  connect_to_ = curl_slist_append(connect_to_, (named.authority() + ":" + u->authority()).c_str());
  curl_easy_setopt(easy_, CURLOPT_CONNECT_TO, connect_to_);
  return u->authority();
}

Transfer::~Transfer() {
  curl_easy_cleanup(easy_);
  curl_slist_free_all(headers_);
  curl_slist_free_all(connect_to_);
  curl_slist_free_all(resolve_);
  std::fill(password_.begin(), password_.end(), '\0');
}

RequestResult Transfer::finish(CURLcode code) {
  RequestResult out;
  Evidence& e = out.evidence;
  CURL* c = easy_;
  e.curl_code = code;
  e.curl_error = errbuf_[0] != '\0' ? errbuf_ : (code != CURLE_OK ? curl_easy_strerror(code) : "");
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status > 0) e.http_status = status;
  curl_off_t total_us = 0, down = 0, up = 0;
  long header_size = 0, request_size = 0, local_port = 0;
  curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &total_us);
  curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &down);
  curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
  curl_easy_getinfo(c, CURLINFO_HEADER_SIZE, &header_size);
  curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &request_size);
  curl_easy_getinfo(c, CURLINFO_LOCAL_PORT, &local_port);
  e.elapsed_ms = static_cast<double>(total_us) / 1000.0;
  e.bytes_received = header_size + down;
  e.bytes_sent = request_size + up;
  if (local_port > 0) e.local_port = local_port;
  record_tls(obs_, e);
  const std::string body_sha256 = Botan::hex_encode(down_.hash->final(), false);
  if (status > 0) record_body(e, body_sha256, down, down_.kept);
  char* content_type = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type)
    e.content_type = content_type;
  char* location = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location)
    e.redirect_to = location;
  Signals s{code, obs_.alert_code, obs_.alert_after_handshake, obs_.handshake_done, e.http_status,
            {}};
  if (code == CURLE_OK && status >= 200 && status < 300) {
    verify_payload(spec_, expected_, body_sha256, down_.kept, up_.data, e);
    s.payload_verified = e.payload_verified;
  }
  out.classification = classify(s);
  if (!variant_.is_null()) e.side_door = variant_;
  out.body = std::move(down_.kept);
  return out;
}

}  // namespace mtls::agent
