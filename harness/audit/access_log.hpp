// access_log.hpp: readiness from the beacons' own logs. Before enforcing, a beacon can *request*
// client certificates (nginx `ssl_verify_client optional`, Apache `SSLVerifyClient optional`, IIS
// "Accept", our beacon's `client_auth: request`) and log what each connection presented. This
// reads such logs and lists the clients (address, host, user agent) that came without a valid
// certificate: the devices the switch would lock out. Only subject, serial and the verification
// result are read from the logs; nothing else about a certificate is printed.
//
// The log lines it reads (configure the server to write exactly these):
//   nginx:   log_format mtls_audit '$remote_addr [$time_iso8601] "$request" $status '
//                                  '"$http_user_agent" "$host" $ssl_client_verify '
//                                  '"$ssl_client_serial" "$ssl_client_s_dn"';
//   apache:  LogFormat "%a [%{%Y-%m-%dT%H:%M:%S%z}t] \"%r\" %>s \"%{User-Agent}i\" \"%{Host}i\"
//                       %{SSL_CLIENT_VERIFY}x \"%{SSL_CLIENT_M_SERIAL}x\" \"%{SSL_CLIENT_S_DN}x\""
//                       mtls_audit                                          (one line)
//   iis:     W3C format with the enhanced-logging custom fields CERT_SUBJECT and
//            CERT_SERIALNUMBER (server variables), besides c-ip, cs(User-Agent), cs-host
//   mtls-harness: the beacon's --log (JSON lines; its connection records)
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mtls::audit {

struct AccessRecord {
  std::string time, address, host, user_agent, request;
  // SUCCESS (a valid certificate), NONE (none presented), FAILED:<why> (presented, refused), or
  // PRESENTED (IIS: a certificate was presented; its verification is not in the log).
  std::string verify;
  std::string subject, serial;
};

// Throws InputError naming the file and line for a line that is not in the documented format,
// and for an unknown format (nginx, apache, iis, mtls-harness).
std::vector<AccessRecord> read_access_log(const std::filesystem::path& file,
                                          const std::string& format);

// The clients without a valid certificate (grouped by address, host and user agent: requests,
// first and last seen, what they presented) and how many came with one.
nlohmann::json access_log_audit(const std::vector<std::filesystem::path>& files,
                                const std::string& format);

}  // namespace mtls::audit
