// agent.cpp: see agent.hpp. The TLS alert and handshake state come from an OpenSSL info callback
// installed on curl's SSL_CTX (CURLOPT_SSL_CTX_FUNCTION), never from curl's error text.
#include "agent/agent.hpp"

#include <curl/curl.h>
#include <openssl/ssl.h>

#include <botan/hash.h>
#include <botan/hex.h>
#include <memory>

#include "agent/classify.hpp"
#include "core/files.hpp"

namespace mtls::agent {
namespace fs = std::filesystem;

CurlGlobal::CurlGlobal() {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    throw HarnessError("curl_global_init failed");
}
CurlGlobal::~CurlGlobal() {
  curl_global_cleanup();
}

namespace {

// What the OpenSSL info callback saw on this transfer's connection.
struct TlsObservation {
  bool handshake_done = false;
  std::optional<int> alert_code;
  bool alert_after_handshake = false;
  std::string version;
  std::string cipher;
};

// The ex_data slot that links curl's SSL_CTX to our TlsObservation. Allocated once per process.
int observation_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void info_callback(const SSL* ssl, int where, int ret) {
  auto* obs =
      static_cast<TlsObservation*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), observation_index()));
  if (obs == nullptr) return;
  if (where & SSL_CB_HANDSHAKE_DONE) {
    obs->handshake_done = true;
    obs->version = SSL_get_version(ssl);
    obs->cipher = SSL_get_cipher_name(ssl);
  }
  if ((where & SSL_CB_ALERT) && (where & SSL_CB_READ)) {
    const int desc = ret & 0xff;
    if (desc != 0 && !obs->alert_code) {  // 0 = close_notify: an orderly close, not a rejection
      obs->alert_code = desc;
      obs->alert_after_handshake = obs->handshake_done;
      if (obs->version.empty()) obs->version = SSL_get_version(ssl);
    }
  }
}

CURLcode ssl_ctx_callback(CURL*, void* ssl_ctx, void* user) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_ex_data(ctx, observation_index(), user);
  SSL_CTX_set_info_callback(ctx, info_callback);
  return CURLE_OK;
}

// Streams the body into SHA-256 and keeps its first bytes for the format check.
struct Body {
  std::unique_ptr<Botan::HashFunction> hash = Botan::HashFunction::create_or_throw("SHA-256");
  std::string head;
  long long size = 0;
};

size_t write_callback(char* data, size_t, size_t n, void* user) {
  auto* body = static_cast<Body*>(user);
  body->hash->update(reinterpret_cast<const uint8_t*>(data), n);
  if (body->head.size() < 64) body->head.append(data, std::min<size_t>(n, 64 - body->head.size()));
  body->size += static_cast<long long>(n);
  return n;
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

bool looks_like_xml(const std::string& head) {
  std::size_t i = 0;
  if (head.starts_with("\xEF\xBB\xBF")) i = 3;
  while (i < head.size() &&
         (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' || head[i] == '\t'))
    ++i;
  return i < head.size() && head[i] == '<';
}

std::string beacon_label(const std::string& url) {
  auto start = url.find("://");
  std::string rest = start == std::string::npos ? url : url.substr(start + 3);
  return rest.substr(0, rest.find('/'));
}

}  // namespace

ResultRecord run_operation(const Operation& op, const AgentOptions& o) {
  if (!o.beacon_url.starts_with("https://") && !o.beacon_url.starts_with("http://"))
    throw InputError("--beacon " + o.beacon_url + ": expected an https:// URL");
  if (o.check_server_certificate) (void)read_file(o.ca_file);  // names the file if unreadable
  if (o.cert.has_value() != o.key.has_value())
    throw InputError("a client certificate needs both --cert and --key");

  std::string base = o.beacon_url;
  while (base.ends_with("/")) base.pop_back();
  const std::string url = base + op.path_for(o.device);

  ResultRecord r;
  r.beacon = beacon_label(o.beacon_url);
  r.operation = op.id;
  r.credential = o.credential_name.empty() ? (o.cert ? "custom" : "none") : o.credential_name;
  r.entry_path = "https";
  r.check_id = r.beacon + "/" + r.operation + "/" + r.credential + "/" + r.entry_path;

  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  if (!easy) throw HarnessError("curl_easy_init failed");
  CURL* c = easy.get();
  TlsObservation obs;
  Body body;
  char errbuf[CURL_ERROR_SIZE] = {0};
  const std::string ca = o.ca_file.string();
  const std::string cert = o.cert ? o.cert->string() : "";
  const std::string key = o.key ? o.key->string() : "";

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "mtls-harness-agent");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o.total_timeout.count()));
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, o.check_server_certificate ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, o.check_server_certificate ? 2L : 0L);
  curl_easy_setopt(c, CURLOPT_CAINFO, ca.c_str());
  curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);  // trust only SSLCACertificateFile
  if (o.cert) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, cert.c_str());
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(c, CURLOPT_SSLKEY, key.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_callback);
  curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, &obs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_callback);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  if (op.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);

  const CURLcode code = curl_easy_perform(c);

  Evidence& e = r.evidence;
  e.curl_code = code;
  e.curl_error = errbuf[0] != '\0' ? errbuf : (code != CURLE_OK ? curl_easy_strerror(code) : "");
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
  e.handshake_completed = obs.handshake_done;
  if (!obs.version.empty()) e.tls_version = obs.version;
  if (!obs.cipher.empty()) e.tls_cipher = obs.cipher;
  if (obs.alert_code) {
    e.tls_alert_code = *obs.alert_code;
    e.tls_alert = alert_name(*obs.alert_code);
    e.alert_after_handshake = obs.alert_after_handshake;
  }

  Signals s;
  s.curl_code = code;
  s.alert_code = obs.alert_code;
  s.alert_after_handshake = obs.alert_after_handshake;
  s.handshake_completed = obs.handshake_done;
  s.http_status = e.http_status;
  if (code == CURLE_OK && status >= 200 && status < 300 && op.method != "HEAD") {
    e.payload_sha256 = Botan::hex_encode(body.hash->final(), false);
    if (o.expect_sha256) {
      e.payload_check = "sha256";
      e.payload_verified = *e.payload_sha256 == *o.expect_sha256;
    } else {
      e.payload_check = "format:" + op.format;
      e.payload_verified = op.format != "xml" || looks_like_xml(body.head);
    }
    s.payload_verified = e.payload_verified;
  }
  const Classification cls = classify(s);
  r.outcome = cls.outcome;
  r.reason = cls.reason;
  return r;
}

}  // namespace mtls::agent
