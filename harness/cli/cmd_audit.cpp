// cmd_audit.cpp: `audit`: the fleet readiness audit (device certificates, access logs).
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include "audit/audit.hpp"
#include "cli/commands.hpp"
#include "core/files.hpp"
#include "pki/pki.hpp"

namespace mtls::cli {
namespace fs = std::filesystem;

namespace {

struct AuditArgs {
  mtls::audit::AuditOptions o;
  std::vector<std::string> paths;
  std::string at, now, p12_password_env;
  fs::path p12_password_file, out = "reports/audit";
};

int cmd_audit(AuditArgs a) {
  // Botan 2's locked memory pool serialises every thread's big-number allocations behind one
  // mutex; the audit's threads only handle public data, so it does without (before Botan's first
  // allocation, which creates the pool).
  ::setenv("BOTAN_MLOCK_POOL_SIZE", "0", 0);
  for (const auto& p : a.paths) a.o.paths.emplace_back(p);
  if (!a.at.empty()) a.o.at = mtls::parse_utc(a.at, "--at");
  if (!a.now.empty()) a.o.now = mtls::parse_utc(a.now, "--now");
  a.o.p12_password = read_secret("--p12-password-env", a.p12_password_env, "--p12-password-file",
                                 a.p12_password_file);
  if (a.o.expiry_warning_days < 0)
    throw mtls::InputError("--expiry-warning: must be 0 or more days");
  const auto doc = mtls::audit::run_audit(a.o);
  mtls::audit::write_reports(a.out, doc);
  const auto& s = doc["summary"];
  for (const auto& d : s["duplicates"])
    std::cerr << "NOTE: " << d["note"].get<std::string>() << "\n";
  if (doc.contains("access_logs"))
    for (const auto& c : doc["access_logs"]["clients_without_a_valid_certificate"])
      std::cerr << "NO VALID CERTIFICATE: " << c["address"].get<std::string>() << " host '"
                << c["host"].get<std::string>() << "' agent '" << c["user_agent"].get<std::string>()
                << "': " << c["requests"] << " request(s), last "
                << c["last_seen"].get<std::string>() << "\n";
  for (const auto& e : doc["devices"]) {
    const bool now_ok = e["accepted_now"].get<bool>();
    if (now_ok && !(e.contains("accepted_at") && !e["accepted_at"].get<bool>())) continue;
    const auto& reasons = now_ok ? e["reasons_at"] : e["reasons_now"];
    std::cerr << "LOCKED OUT " << (now_ok ? "at " + a.at : std::string("now")) << ": "
              << e["device"].get<std::string>() << " (" << e["subject"].get<std::string>()
              << "): " << reasons.front()["property"].get<std::string>() << ": "
              << reasons.front()["detail"].get<std::string>() << "\n";
  }
  std::cout << "mtls-harness audit: " << s["devices"] << " device certificate(s), "
            << s["distinct_certificates"] << " distinct: " << s["accepted_now"] << " accepted now, "
            << s["locked_out_now"] << " locked out now"
            << (a.o.at ? ", " + s["locked_out_at"].dump() + " locked out at " + a.at : "")
            << (doc.contains("access_logs")
                    ? "; " + s["clients_without_a_valid_certificate"].dump() +
                          " client(s) without a valid certificate in the access logs"
                    : "")
            << "; reports in " << a.out.string()
            << " (audit.html, audit.md, junit.xml, audit.json, audit.csv)\n";
  return mtls::audit::exit_code(doc);
}

}  // namespace

void add_audit(CLI::App& app, Store& store, std::vector<Command>& commands) {
  auto* audit = app.add_subcommand(
      "audit",
      "Fleet readiness before the switch: for every device certificate under PATH... (PEM,\n"
      "bundles, DER, PKCS#12; files or folders), would a beacon that requires client\n"
      "certificates and trusts --ca accept it now and at --at; why not; expiries, duplicates,\n"
      "who would be locked out (exit 1 if anyone). Reports: audit.html, audit.md, junit.xml,\n"
      "audit.json, audit.csv.");
  auto& audit_args = store.make<AuditArgs>();
  audit->add_option("paths", audit_args.paths, "Device certificate files or folders");
  audit->add_option("--ca", audit_args.o.ca,
                    "The beacons' client trust: CA certificates or the pinned certificate");
  audit->add_option("--access-log", audit_args.o.access_logs,
                    "A beacon access log written while it only requested client certificates;\n"
                    "repeatable. The clients without a valid certificate are listed");
  audit
      ->add_option("--log-format", audit_args.o.log_format,
                   "nginx (default), apache, iis or mtls-harness: the formats to configure are in\n"
                   "README, 'Before the switch'")
      ->check(CLI::IsMember({"nginx", "apache", "iis", "mtls-harness"}));
  audit->add_option("--crl", audit_args.o.crls, "CRL files (PEM or DER); repeatable");
  audit->add_option("--at", audit_args.at, "Also judge at this date (UTC, e.g. the switch day)");
  audit->add_option("--now", audit_args.now, "Judge as of this time instead of now (UTC)");
  audit->add_option("--expiry-warning", audit_args.o.expiry_warning_days,
                    "Days before expiry that count as expiring soon (default 60)");
  audit->add_option("--p12-password-env", audit_args.p12_password_env,
                    "Env var holding the PKCS#12 files' password");
  audit->add_option("--p12-password-file", audit_args.p12_password_file,
                    "File holding the PKCS#12 files' password (first line)");
  audit->add_option("--threads", audit_args.o.threads, "Worker threads (default: the cores)");
  audit->add_option("--out", audit_args.out, "Report folder (default reports/audit)");
  commands.push_back({audit, [&audit_args] { return cmd_audit(audit_args); }});
}

}  // namespace mtls::cli
