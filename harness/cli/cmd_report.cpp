// cmd_report.cpp: `report` (re-render), `report verify`, `sign`, `merge` and `diff`.
#include <CLI/CLI.hpp>
#include <iostream>
#include "cli/commands.hpp"
#include "core/files.hpp"
#include "engine/findings.hpp"
#include "report/report.hpp"
#include "report/sign.hpp"

namespace mtls::cli {
namespace fs = std::filesystem;

namespace {

int cmd_report(const fs::path& in, const fs::path& out, const std::vector<fs::path>& benches) {
  auto doc = mtls::report::load_document(in, mtls::engine::findings_of_records);
  // Never overwrite a run's report with less than it holds: a results.jsonl has no run metadata,
  // so it may not replace a report.json that has some.
  std::error_code ec;
  const fs::path existing = out / "report.json";
  const bool input_has_metadata = !doc["metadata"].contains("rendered_from");
  if (!input_has_metadata && fs::exists(existing, ec) && !fs::equivalent(existing, in, ec) &&
      mtls::report::load_document(existing)["metadata"].contains("started"))
    throw mtls::InputError("--out " + out.string() + " already holds a report.json that " +
                           in.string() +
                           " would replace with less (its run metadata): give another --out");
  for (const auto& b : benches) {  // `mtls-harness bench` results: charts in report.html
    const auto bench = nlohmann::json::parse(mtls::read_file(b), nullptr, false);
    if (bench.is_discarded() || !bench.contains("chart") || !bench.contains("targets"))
      throw mtls::InputError(b.string() + ": not a bench.json written by 'mtls-harness bench'");
    nlohmann::json entry = bench["chart"];
    entry["title"] = "server CPU per handshake (" + b.string() + ")";
    entry["targets"] = bench["targets"];
    doc["benchmarks"].push_back(entry);
  }
  mtls::report::write_all(out, doc);
  std::cout << "mtls-harness report: wrote report.json, junit.xml, report.md, report.html, "
               "report.sarif and results.csv to "
            << out.string() << "\n";
  return kExitOk;
}

int cmd_report_verify(const fs::path& file, const std::optional<fs::path>& pub) {
  std::string detail;
  int rc = mtls::report::verify(file, &detail);
  std::cout << file.string() << ": " << (rc == 0 ? "intact" : "CHANGED since it was written")
            << " (SHA-256 checksum: " << detail << ")\n";
  if (pub) {
    std::string why;
    const int signed_rc =
        mtls::report::verify_signature(mtls::report::load_document(file), *pub, &why);
    std::cout << file.string() << ": "
              << (signed_rc == 0 ? "signed by the holder of " + pub->string()
                                 : "NOT signed by the holder of " + pub->string())
              << " (" << why << ")\n";
    rc = std::max(rc, signed_rc);
  }
  return rc;
}

int cmd_report_merge(const std::vector<fs::path>& files, const fs::path& out) {
  const auto doc = mtls::report::merge_documents(files, mtls::engine::findings_of_records);
  mtls::report::write_all(out, doc);
  const auto& s = doc["summary"];
  const int code = s.value("exit_code", kExitHarness);
  for (const auto& f : doc["findings"])
    if (!f.value("expected", false))
      std::cerr << f["severity"].get<std::string>() << ": " << f["title"].get<std::string>()
                << "\n";
  if (!doc["metadata"].value("complete", true))
    std::cerr << "mtls-harness report merge: INCOMPLETE: "
              << doc["metadata"]["incomplete_reason"].get<std::string>() << "\n";
  std::cout << "mtls-harness report merge: " << files.size() << " reports, " << s["total"]
            << " checks: " << s["PASS"] << " PASS, " << s["FAIL"] << " FAIL, " << s["INCONCLUSIVE"]
            << " INCONCLUSIVE; reports in " << out.string() << "\n";
  return code;
}

int cmd_report_sign(const fs::path& file, const fs::path& key) {
  if (file.extension() != ".json")
    throw mtls::InputError(file.string() + ": sign a report.json (it carries the digest)");
  auto doc = mtls::report::load_document(file);
  std::string detail;
  if (mtls::report::verify(file, &detail) != 0)
    throw mtls::InputError(file.string() + ": changed since it was written (" + detail +
                           "); it cannot be signed");
  doc["signature"] = mtls::report::sign(doc, key);
  mtls::report::write_all(file.parent_path().empty() ? fs::path(".") : file.parent_path(), doc);
  std::cout << file.string() << ": signed (" << doc["signature"]["algorithm"].get<std::string>()
            << ", public key SHA-256 " << doc["signature"]["public_key_sha256"].get<std::string>()
            << "); report.html shows it; check with 'mtls-harness report verify --pub PUB "
            << file.string() << "'\n";
  return kExitOk;
}

int cmd_report_diff(const fs::path& old_file, const fs::path& new_file) {
  const auto regressions = mtls::report::regressions(
      mtls::report::load_document(old_file, mtls::engine::findings_of_records),
      mtls::report::load_document(new_file, mtls::engine::findings_of_records));
  for (const auto& r : regressions)
    std::cout << "REGRESSION " << r["scenario"].get<std::string>() << " "
              << r["check_id"].get<std::string>() << ": " << r["was"].get<std::string>() << " -> "
              << r["now"].get<std::string>()
              << (r["severity"].is_null() ? "" : " " + r["severity"].get<std::string>()) << " ("
              << (r["outcome"].is_null() ? "no outcome" : r["outcome"].get<std::string>()) << ")\n";
  std::cout << regressions.size() << " regression(s)\n";
  return regressions.empty() ? 0 : 1;
}

}  // namespace

void add_report(CLI::App& app, Store& store, std::vector<Command>& commands) {
  // report
  auto* report = app.add_subcommand(
      "report",
      "Re-render reports (--in report.json|results.jsonl --out DIR), verify, or diff them");
  auto& report_in = store.make<fs::path>();
  auto& report_out = store.make<fs::path>("reports/out");
  report->add_option("--in", report_in, "A report.json or results.jsonl to render");
  report->add_option("--out", report_out,
                     "Folder for report.json, junit.xml, report.md, report.html");
  auto& report_benches = store.make<std::vector<fs::path>>();
  report->add_option("--bench", report_benches, "bench.json files to chart in report.html");
  auto* report_verify = report->add_subcommand(
      "verify",
      "Check a report.json's SHA-256 checksum, and with --pub its signature (exit 0 intact "
      "and signed, 1 changed or not signed by that key, 2 not a report)");
  auto& verify_file = store.make<fs::path>();
  auto& verify_pub = store.make<std::optional<fs::path>>();
  report_verify->add_option("report", verify_file, "report.json")->required();
  report_verify->add_option("--pub", verify_pub,
                            "The signer's public key (PEM, or a certificate holding it)");
  auto* report_merge = report->add_subcommand(
      "merge",
      "Combine the report.json of several shards and vantage points into one report (every\n"
      "format): findings say from which vantage point a door is open; a missing shard makes it\n"
      "INCOMPLETE (exit 3); a check present twice is an error (exit 2)");
  auto& merge_files = store.make<std::vector<fs::path>>();
  auto& merge_out = store.make<fs::path>("reports/merged");
  report_merge->add_option("reports", merge_files, "report.json files")->required();
  report_merge->add_option("--out", merge_out,
                           "Folder for the merged report (default reports/merged)");
  auto* report_sign = report->add_subcommand(
      "sign",
      "Sign a report.json's SHA-256 checksum with an Ed25519 or ECDSA key (PKCS#8 PEM, "
      "unencrypted): the signature goes into report.json and the cover of report.html");
  auto& sign_file = store.make<fs::path>();
  auto& sign_key = store.make<fs::path>();
  report_sign->add_option("report", sign_file, "report.json")->required();
  report_sign->add_option("--key", sign_key, "The signer's private key file (never printed)")
      ->required();
  auto* report_diff = report->add_subcommand(
      "diff", "List regressions: checks that passed in OLD and fail in NEW (exit 1 on any)");
  auto& diff_old = store.make<fs::path>();
  auto& diff_new = store.make<fs::path>();
  report_diff->add_option("old", diff_old, "the earlier report.json (or results.jsonl)")
      ->required();
  report_diff->add_option("new", diff_new, "the later report.json (or results.jsonl)")->required();
  commands.push_back({report_verify, [&] { return cmd_report_verify(verify_file, verify_pub); }});
  commands.push_back({report_sign, [&] { return cmd_report_sign(sign_file, sign_key); }});
  commands.push_back({report_merge, [&] { return cmd_report_merge(merge_files, merge_out); }});
  commands.push_back({report_diff, [&] { return cmd_report_diff(diff_old, diff_new); }});
  commands.push_back({report, [&] {
                        if (report_in.empty())
                          throw mtls::InputError(
                              "report: give --in FILE, or 'verify' / 'diff' (see --help)");
                        return cmd_report(report_in, report_out, report_benches);
                      }});
}

}  // namespace mtls::cli
