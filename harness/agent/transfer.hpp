// transfer.hpp: one HTTP request on one libcurl easy handle (OpenSSL backend), with every
// structured signal kept: the TLS alert and handshake state from an OpenSSL info callback on
// curl's SSL_CTX, curl's code, HTTP status, sizes, timings; the body hashed while it streams.
// Used synchronously and on curl's multi interface alike.
#pragma once

#include <curl/curl.h>

#include <botan/hash.h>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent.hpp"
#include "agent/classify.hpp"

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct ssl_st SSL;

namespace mtls::agent {

// A PEM credential parsed once into OpenSSL objects (see preload() in agent.hpp).
struct LoadedCredential {
  LoadedCredential() = default;
  LoadedCredential(const LoadedCredential&) = delete;
  LoadedCredential& operator=(const LoadedCredential&) = delete;
  ~LoadedCredential();
  X509* leaf = nullptr;
  std::vector<X509*> chain;  // the intermediates sent with it
  EVP_PKEY* key = nullptr;
};

// What one request ended as.
struct RequestResult {
  Classification classification;
  Evidence evidence;
  std::string body;  // the response body when small (<= 64 KiB): SHA256SUMS, upload receipts
};

class Transfer {
 public:
  // `url` is the full URL; `upload` the PUT body; `expected_sha256` checks a GET's payload.
  Transfer(const AgentOptions& options, const RequestSpec& spec, const std::string& url,
           std::string upload, std::optional<std::string> expected_sha256,
           std::chrono::milliseconds total_timeout);
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer();

  CURL* handle() const { return easy_; }
  // Call once curl is done with the handle (curl_easy_perform's or the multi's result).
  RequestResult finish(CURLcode code);

  // Internal state the C callbacks reach through their user pointer.
  struct Observation {
    bool handshake_done = false;
    std::optional<int> alert_code;
    bool alert_after_handshake = false;
    std::string version, cipher;
  };
  struct Download {
    std::unique_ptr<Botan::HashFunction> hash = Botan::HashFunction::create_or_throw("SHA-256");
    std::string kept;  // first 64 KiB
    long long size = 0;
  };
  struct Upload {
    std::string data;
    std::size_t offset = 0;
  };
  struct CtxData {  // what curl's SSL_CTX callback needs
    Observation* observation = nullptr;
    const LoadedCredential* credential = nullptr;
  };

 private:
  // Names `name` in the URL (SNI, certificate name, default Host) while TCP still goes to the
  // URL's own host and port (CURLOPT_CONNECT_TO); returns that authority ("host:port").
  std::optional<std::string> connect_as(const std::string& name);

  CURL* easy_;
  const RequestSpec& spec_;
  std::optional<std::string> expected_;
  Observation obs_;
  CtxData ctx_data_;
  Download down_;
  Upload up_;
  std::string url_, ca_file_, ca_path_, crl_, cert_, key_, password_;
  curl_slist* headers_ = nullptr;
  curl_slist* connect_to_ = nullptr;
  curl_slist* resolve_ = nullptr;
  nlohmann::json variant_;  // how a path:/header: door re-spelled the request
  char errbuf_[CURL_ERROR_SIZE] = {0};
};

// A 2xx answer's payload check into `e`: a GET's SHA-256 against `expected` (else its format),
// a PUT's receipt digest against what was sent. `body_head`: the body's first 64 KiB.
void verify_payload(const RequestSpec& spec, const std::optional<std::string>& expected,
                    const std::string& body_sha256, const std::string& body_head,
                    const std::string& upload, Evidence& e);

// The answer's body into `e` (any status): its SHA-256, size and first bytes (non-printable bytes
// shown as '.'), what the engine compares with the positive control's answer.
void record_body(Evidence& e, const std::string& sha256, long long bytes, const std::string& head);

// One request of an operation as the record's evidence.steps shows it.
nlohmann::json step_json(const RequestSpec& spec, const std::string& path, const RequestResult& r);

// What an OpenSSL info-callback event tells about a connection (handshake done, the first
// alert the peer sent), recorded into `obs`; every OpenSSL-based client's callback calls this.
void note_tls_event(Transfer::Observation& obs, const SSL* ssl, int where, int ret);

// The TLS part of a request's evidence (handshake state, version, cipher, alert) from `obs`.
void record_tls(const Transfer::Observation& obs, Evidence& e);

// Installs a preloaded credential on an OpenSSL SSL_CTX; false when the pair is unusable.
bool use_credential(void* ssl_ctx, const LoadedCredential& credential);

// Records the handshake state and the alerts the peer sends on connections of this OpenSSL
// SSL_CTX into `observation` (curl's and the side-door client's alike).
void observe(void* ssl_ctx, Transfer::Observation* observation);

}  // namespace mtls::agent
