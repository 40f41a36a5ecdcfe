// tls_survey.cpp: see tls_survey.hpp.
#include "agent/tls_survey.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>

#include "agent/openssl_handles.hpp"
#include "agent/raw_http.hpp"
#include "agent/url.hpp"

namespace mtls::agent {
namespace {

// The client-certificate callback: the server asked; note its CA list and send no certificate.
int no_certificate(SSL* ssl, X509**, EVP_PKEY**) {
  auto* out = static_cast<TlsSurvey*>(SSL_get_app_data(ssl));
  if (out == nullptr) return 0;
  out->client_certificate_requested = true;
  if (const STACK_OF(X509_NAME)* cas = SSL_get_client_CA_list(ssl))
    for (int i = 0; i < sk_X509_NAME_num(cas); ++i) {
      char buf[512];
      BIO* mem = BIO_new(BIO_s_mem());
      if (mem == nullptr) continue;
      X509_NAME_print_ex(mem, sk_X509_NAME_value(cas, i), 0, XN_FLAG_RFC2253);
      const int n = BIO_read(mem, buf, sizeof buf - 1);
      BIO_free(mem);
      if (n > 0) out->acceptable_client_cas.emplace_back(buf, static_cast<std::size_t>(n));
    }
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

TlsSurvey survey_tls(const std::string& url, const std::vector<std::string>& resolve,
                     std::chrono::milliseconds timeout) {
  TlsSurvey out;
  const auto u = parse_url(url);
  if (!u) {
    out.error = url + ": not a URL";
    return out;
  }
  Tcp tcp;
  connect_tcp(tcp, *u, Clock::now() + timeout, resolve);
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
  } else {
    char buf[256];
    ERR_error_string_n(ERR_peek_last_error(), buf, sizeof buf);
    out.error = std::string("TLS handshake failed: ") + buf;
  }
  if (X509* cert = SSL_get1_peer_certificate(ssl.get())) {
    read_names(cert, out.certificate_names);
    X509_free(cert);
  }
  SSL_set_app_data(ssl.get(), nullptr);
  if (out.handshake_completed) SSL_shutdown(ssl.get());
  ERR_clear_error();
  return out;
}

}  // namespace mtls::agent
