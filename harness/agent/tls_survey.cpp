// tls_survey.cpp: see tls_survey.hpp.
#include "agent/tls_survey.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "agent/openssl_handles.hpp"
#include "agent/raw_http.hpp"
#include "agent/url.hpp"

namespace mtls::agent {
namespace {

std::string name_rfc2253(const X509_NAME* name) {
  BIO* mem = BIO_new(BIO_s_mem());
  if (mem == nullptr) return "";
  X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253);
  char buf[1024];
  const int n = BIO_read(mem, buf, sizeof buf);
  BIO_free(mem);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

// The client-certificate callback: the server asked; note its CA list and send no certificate.
int no_certificate(SSL* ssl, X509**, EVP_PKEY**) {
  auto* out = static_cast<TlsSurvey*>(SSL_get_app_data(ssl));
  if (out == nullptr) return 0;
  out->client_certificate_requested = true;
  if (const STACK_OF(X509_NAME)* cas = SSL_get_client_CA_list(ssl))
    for (int i = 0; i < sk_X509_NAME_num(cas); ++i)
      out->acceptable_client_cas.push_back(name_rfc2253(sk_X509_NAME_value(cas, i)));
  return 0;
}

void add_name(std::vector<std::string>& names, std::string n) {
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n.starts_with("*.")) n = "mtls-harness-probe" + n.substr(1);  // a name the wildcard covers
  if (n.empty() || n.find_first_of(" /\\:@") != std::string::npos) return;
  if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
}

void read_names(X509* cert, std::vector<std::string>& names) {
  if (auto* sans = static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type != GEN_DNS) continue;
      const auto* s = g->d.dNSName;
      add_name(names, std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                  static_cast<std::size_t>(ASN1_STRING_length(s))));
    }
    GENERAL_NAMES_free(sans);
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at < 0) return;
  unsigned char* utf8 = nullptr;
  const int n =
      ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
  if (n > 0) {
    std::string cn(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
    unsigned char ip[16];
    if (cn.find('.') != std::string::npos && ::inet_pton(AF_INET, cn.c_str(), ip) != 1)
      add_name(names, cn);
  }
  OPENSSL_free(utf8);
}

std::string peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  else if (ss.ss_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  return buf;
}

}  // namespace

namespace {
// Every certificate of a PEM file, in order.
template <typename F>
void each_certificate(const std::filesystem::path& pem, F&& f) {
  BIO* in = BIO_new_file(pem.c_str(), "r");
  if (in == nullptr) return;
  while (X509* x = PEM_read_bio_X509(in, nullptr, nullptr, nullptr)) {
    f(x);
    X509_free(x);
  }
  BIO_free(in);
  ERR_clear_error();
}
}  // namespace

std::vector<std::string> issuer_names(const std::filesystem::path& pem) {
  std::vector<std::string> out;
  each_certificate(pem, [&](X509* x) { out.push_back(name_rfc2253(X509_get_issuer_name(x))); });
  return out;
}

std::vector<std::string> public_root_names() {
  std::vector<std::string> out;
  each_certificate("/etc/ssl/certs/ca-certificates.crt",
                   [&](X509* x) { out.push_back(name_rfc2253(X509_get_subject_name(x))); });
  return out;
}

TlsSurvey survey_tls(const std::string& url, const std::vector<std::string>& resolve,
                     const std::string& source_address, std::chrono::milliseconds timeout) {
  TlsSurvey out;
  const auto u = parse_url(url);
  if (!u) {
    out.error = url + ": not a URL";
    return out;
  }
  Tcp tcp;
  connect_tcp(tcp, *u, Clock::now() + timeout, resolve, source_address);
  if (tcp.code != 0) {
    out.error = tcp.error;
    return out;
  }
  out.connected = true;
  out.address = peer_address(tcp.fd);
  // Blocking from here, bounded by socket timeouts.
  ::fcntl(tcp.fd, F_SETFL, ::fcntl(tcp.fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(tcp.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(tcp.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  SslCtxHandle ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    out.error = "SSL_CTX_new failed";
    return out;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // we only look
  SSL_CTX_set_client_cert_cb(ctx.get(), no_certificate);
  SslHandle ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), tcp.fd);
  SSL_set_app_data(ssl.get(), &out);
  if (!u->host_is_ip()) SSL_set_tlsext_host_name(ssl.get(), u->host.c_str());
  if (SSL_connect(ssl.get()) == 1) {
    out.handshake_completed = true;
    out.tls_version = SSL_get_version(ssl.get());
    if (out.client_certificate_requested) {
      // TLS 1.3 refuses after the handshake: wait a moment for an alert or a close.
      timeval brief{1, 0};
      ::setsockopt(tcp.fd, SOL_SOCKET, SO_RCVTIMEO, &brief, sizeof brief);
      char byte = 0;
      const int n = SSL_read(ssl.get(), &byte, 1);
      const int err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl.get(), n);
      const bool refused = err == SSL_ERROR_SSL || err == SSL_ERROR_ZERO_RETURN ||
                           (err == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK);
      out.client_auth = refused ? "required" : "requested";
    }
  } else {
    if (out.client_certificate_requested) out.client_auth = "required";
    char buf[256];
    ERR_error_string_n(ERR_peek_last_error(), buf, sizeof buf);
    out.error = std::string("TLS handshake failed: ") + buf;
  }
  if (X509* cert = SSL_get1_peer_certificate(ssl.get())) {
    read_names(cert, out.certificate_names);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(cert, EVP_sha256(), md, &len) == 1) {
      static const char* kHex = "0123456789abcdef";
      for (unsigned int i = 0; i < len; ++i) {
        out.certificate_sha256 += kHex[md[i] >> 4];
        out.certificate_sha256 += kHex[md[i] & 15];
      }
    }
    out.certificate_subject = name_rfc2253(X509_get_subject_name(cert));
    out.certificate_issuer = name_rfc2253(X509_get_issuer_name(cert));
    X509_free(cert);
  }
  SSL_set_app_data(ssl.get(), nullptr);
  if (out.handshake_completed) SSL_shutdown(ssl.get());
  ERR_clear_error();
  return out;
}

}  // namespace mtls::agent
