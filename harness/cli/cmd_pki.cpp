// cmd_pki.cpp: `pki init` and `pki lint`: flags, and the calls into pki/.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include "cli/commands.hpp"
#include "core/files.hpp"
#include "pki/lint.hpp"
#include "pki/pki.hpp"

namespace mtls::cli {
namespace fs = std::filesystem;

namespace {

struct PkiInitArgs {
  fs::path out;
  std::string key_type = "ecdsa-p256", trust_model = "ca";
  bool force = false;
  std::optional<std::uint64_t> seed;
  std::string now;
  std::string password_env;
  fs::path password_file;
};

int cmd_pki_init(const PkiInitArgs& a) {
  if (a.key_type == "ed25519") throw mtls::InputError(mtls::pki::ed25519_refusal());
  auto kt = mtls::pki::key_type_from_string(a.key_type);
  if (!kt) throw mtls::InputError("--key-type " + a.key_type + ": expected ecdsa-p256 or rsa-2048");
  mtls::pki::InitOptions o{.out = a.out, .key_type = *kt, .force = a.force, .seed = a.seed};
  const auto model = mtls::pki::trust_model_from_string(a.trust_model);
  if (!model)
    throw mtls::InputError("--trust-model " + a.trust_model +
                           ": expected ca or pinned-self-signed");
  o.trust_model = *model;
  if (!a.now.empty()) o.now = mtls::parse_utc(a.now, "--now");
  o.p12_password =
      read_secret("--p12-password-env", a.password_env, "--p12-password-file", a.password_file);
  mtls::pki::init(o);
  std::cout
      << "mtls-harness pki init: wrote a " << a.key_type << " test PKI (trust model "
      << a.trust_model << ") to " << a.out.string() << " (manifest.json lists every file"
      << (o.p12_password
              ? ""
              : "; the generated PKCS#12 password file is credentials.valid-p12.password_file")
      << ")\n";
  return kExitOk;
}

struct PkiLintArgs {
  mtls::pki::LintInput in;
  std::string password_env;
  fs::path password_file;
  std::string now;
  bool json = false;
};

int cmd_pki_lint(PkiLintArgs a) {
  a.in.password = read_secret("--password-env", a.password_env, "--password-file", a.password_file);
  if (!a.now.empty()) a.in.now = mtls::parse_utc(a.now, "--now");
  if (a.in.p12 && (a.in.cert || a.in.key))
    throw mtls::InputError("--p12 and --cert/--key are exclusive");
  const auto findings = mtls::pki::lint(a.in);
  const int rc = mtls::pki::lint_exit_code(findings);
  if (a.json) {
    std::cout << nlohmann::json{{"findings", mtls::pki::to_json(findings)}, {"exit_code", rc}}.dump(
                     2)
              << "\n";
    return rc;
  }
  int counts[3] = {0, 0, 0};
  for (const auto& f : findings) {
    ++counts[static_cast<int>(f.status)];
    std::printf("%-5s %-15s %s\n", std::string(mtls::pki::to_string(f.status)).c_str(),
                f.property.c_str(), f.detail.c_str());
  }
  std::printf("lint: %d PASS, %d WARN, %d FAIL\n", counts[0], counts[1], counts[2]);
  return rc;
}

}  // namespace

void add_pki(CLI::App& app, Store& store, std::vector<Command>& commands) {
  // pki init
  auto* pki = app.add_subcommand("pki", "Test PKI: CAs, beacon and client certificates");
  pki->require_subcommand(1);
  auto* pki_init = pki->add_subcommand(
      "init",
      "Write a fresh test PKI: client CA (root + issuing), server CA, an untrusted CA, beacon\n"
      "certificates, every client credential variant (valid, valid-p12, expired, not-yet-valid,\n"
      "untrusted-ca, self-signed, wrong-eku, revoked, wrong-key, missing-intermediate, weak-key,\n"
      "server-ca-issued), CRLs, and manifest.json describing each file and its expected result");
  auto& init_args = store.make<PkiInitArgs>();
  pki_init->add_option("--out", init_args.out, "Folder to write (must be empty unless --force)")
      ->required();
  pki_init->add_option("--key-type", init_args.key_type, "ecdsa-p256 (default) or rsa-2048");
  pki_init->add_flag("--force", init_args.force, "Write into a non-empty folder");
  pki_init->add_option(
      "--trust-model", init_args.trust_model,
      "ca (default: a client CA issues the distributed certificate) or pinned-self-signed (the\n"
      "vendor's model: one self-signed clientAuth certificate, PEM and PKCS#12, that the beacons\n"
      "trust directly; negatives: same subject, same serial, another key, expired copies...)");
  pki_init->add_option("--seed", init_args.seed,
                       "Deterministic output: the same seed and --now give the same bytes");
  pki_init->add_option("--now", init_args.now,
                       "The PKI's current time, UTC (2026-01-31T12:00:00Z)");
  pki_init->add_option(
      "--p12-password-env", init_args.password_env,
      "Env var holding the PKCS#12 password (default: generate one into a 0600 file)");
  pki_init->add_option("--p12-password-file", init_args.password_file,
                       "File holding the PKCS#12 password (first line)");

  auto* pki_lint = pki->add_subcommand(
      "lint",
      "Check the client certificate you will distribute: chain, validity, EKU, key usage, key\n"
      "match, key strength, signature hash, revocation (with --crl), intermediate, PKCS#12.\n"
      "Exit 0: no FAIL; 1: a FAIL; 2: unusable input");
  auto& lint_args = store.make<PkiLintArgs>();
  pki_lint
      ->add_option("--ca", lint_args.in.ca, "CA file the beacons trust (root, plus intermediates)")
      ->required();
  pki_lint->add_option("--cert", lint_args.in.cert,
                       "Client certificate, PEM (may carry its chain)");
  pki_lint->add_option("--key", lint_args.in.key, "Its private key, PEM");
  pki_lint->add_option("--p12", lint_args.in.p12, "Or: the PKCS#12 (.p12/.pfx) export");
  pki_lint->add_option("--password-env", lint_args.password_env,
                       "Env var holding the PKCS#12 password");
  pki_lint->add_option("--password-file", lint_args.password_file,
                       "File holding the PKCS#12 password");
  pki_lint->add_option("--crl", lint_args.in.crl,
                       "CRL file (PEM or DER) to check revocation against");
  pki_lint->add_option("--now", lint_args.now, "Judge validity at this UTC time instead of now");
  pki_lint->add_flag("--json", lint_args.json, "Print the findings as JSON");
  commands.push_back({pki_init, [&init_args] { return cmd_pki_init(init_args); }});
  commands.push_back({pki_lint, [&lint_args] { return cmd_pki_lint(lint_args); }});
}

}  // namespace mtls::cli
