// engine.cpp: see engine.hpp. The run as named steps: prepare the inputs, make the PKIs and the
// plan (plan.hpp), then per scenario start its beacons (running_beacons.hpp), execute and judge the
// checks (execute.hpp), attach the beacons' logs and group the findings (findings.hpp); finally
// the reports.
#include "engine/engine.hpp"

#include <botan/pkix_types.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "beacon/config.hpp"
#include "beacon/content.hpp"
#include "core/files.hpp"
#include "core/home.hpp"
#include "core/timefmt.hpp"
#include "core/yaml_file.hpp"
#include "engine/beacon_process.hpp"
#include "engine/execute.hpp"
#include "engine/findings.hpp"
#include "engine/plan.hpp"
#include "engine/prepared.hpp"
#include "engine/run_meta.hpp"
#include "engine/running_beacons.hpp"
#include "engine/scenario.hpp"
#include "pki/pem.hpp"
#include "pki/pki.hpp"

namespace mtls::engine {
namespace fs = std::filesystem;
using json = nlohmann::json;

// A simulated beacon's settings, checked now as the beacon will read them (a typo is an error that
// names the scenario, not a beacon that silently ignores it).
void check_simulated_settings(const Scenario& sc) {
  for (const auto& b : sc.beacons) {
    if (!b.simulated) continue;
    try {  // the beacon's own validator, on the config it will be given (no file needed)
      const std::string config = beacon_config_yaml(*b.simulated, b.name, b.name, "/", "/");
      guard_yaml(sc.file, [&] {
        return beacon::beacon_config_from_yaml(YAML::Load(config), sc.file, sc.file.parent_path());
      });
    } catch (const InputError& e) {
      const std::string what = e.what();
      const auto at = what.find("field '");
      throw InputError(
          sc.file.string() + ":" + std::to_string(b.line) + ": beacons '" + b.name +
          "' simulated settings: " + (at == std::string::npos ? what : what.substr(at)));
    }
  }
}

Prepared prepare(const RunOptions& o) {
  Prepared p;  // the built-in catalogue and entry paths
  p.vantage = o.vantage;
  p.source_address = o.source_address;
  for (const auto& f : find_scenarios(o.scenarios)) {
    p.scenarios.push_back(load_scenario(f, p.catalogue.ids()));
    check_simulated_settings(p.scenarios.back());
  }
  const beacon::ContentStore content(fixtures_dir() / "content");
  for (const auto& id : p.catalogue.ids())
    for (const auto& r : p.catalogue.get(id).requests)
      if (r.content) {
        auto d = content.digest(*r.content);
        if (!d)
          throw InputError("fixtures/operations.yaml: operation " + id + ": content " + *r.content +
                           " is not in fixtures/content");
        p.digests[*r.content] = *d;
      }
  return p;
}

namespace {

// WARN when the scenario's distributed certificate (its control credential's: the user's own in a
// probe) expires within `days`: every device holding it loses access that same day.
std::optional<Finding> expiry_warning(const Scenario& sc, const pki::Manifest& m,
                                      const Prepared& prep, int days) {
  std::optional<fs::path> cert;
  if (auto it = prep.credentials.find(sc.control_credential); it != prep.credentials.end())
    cert = it->second.cert;
  else if (m.credentials.contains(sc.control_credential))
    cert = m.credential(sc.control_credential).cert;
  if (!cert) return std::nullopt;
  std::optional<Botan::X509_Certificate> leaf;
  try {
    leaf = pki::load_certificates(*cert).front();
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const auto not_after = leaf->not_after().to_std_timepoint();
  const auto left =
      std::chrono::duration_cast<std::chrono::hours>(not_after - std::chrono::system_clock::now())
          .count() /
      24;
  if (left >= days) return std::nullopt;
  Finding f;
  f.severity = FindingSeverity::kWarn;
  f.kind = "expiry";
  f.scenario = sc.id;
  f.beacon = "all beacons";
  f.credential = sc.control_credential;
  f.title = "the distributed certificate '" + sc.control_credential + "' (" +
            leaf->subject_dn().get_first_attribute("CN") + ") " +
            (left < 0 ? "expired on " : "expires on ") + format_utc(not_after) + " (" +
            std::to_string(left) + " days): every device holding it loses access that day";
  f.remediation =
      "distribute its successor and rehearse the rotation (a scenario with rotation: stages) "
      "before " +
      format_utc(not_after);
  f.details = {{"not_after", format_utc(not_after)}, {"days_left", left}};
  return f;
}

// The test PKI of each trust model the scenarios use: `--pki` (which must be of that model), or a
// fresh one in `work` (work/pki for "ca", work/pki-<model> otherwise).
std::map<std::string, RunPki> pkis_for(const RunOptions& o, const Prepared& prep,
                                       const fs::path& work) {
  std::map<std::string, RunPki> out;
  for (const auto& sc : prep.scenarios) {
    if (out.contains(sc.trust_model)) continue;
    fs::path dir = work / (sc.trust_model == "ca" ? "pki" : "pki-" + sc.trust_model);
    if (o.pki) {
      dir = fs::absolute(*o.pki);
    } else {
      pki::InitOptions init{.out = dir, .key_type = pki::KeyType::kEcdsaP256, .force = true};
      init.trust_model = *pki::trust_model_from_string(sc.trust_model);
      pki::init(init);
    }
    pki::Manifest m = with_extras(pki::load_manifest(dir), prep);
    if (m.trust_model != sc.trust_model)
      throw InputError(sc.file.string() + ": policy.trust_model is " + sc.trust_model +
                       ", but --pki " + dir.string() + " is a " + m.trust_model +
                       " PKI (make one with 'pki init --trust-model " + sc.trust_model + "')");
    out.emplace(sc.trust_model, RunPki{dir, std::move(m)});
  }
  return out;
}

// The run's output folder and its work folder (beacon configs need absolute paths); remembers
// whether the output folder existed, to undo what the run wrote on bad input.
struct OutputFolders {
  fs::path out, work;
  bool out_existed = false;

  explicit OutputFolders(const fs::path& o) : out(o) {
    std::error_code ec;
    out_existed = fs::exists(out, ec);
    fs::create_directories(out, ec);
    if (ec) throw InputError("--out " + out.string() + ": cannot create (" + ec.message() + ")");
    work = fs::absolute(out / "work");
    fs::remove_all(work, ec);
    fs::create_directories(work, ec);
    if (ec) throw InputError(work.string() + ": cannot create (" + ec.message() + ")");
  }

  void undo() const {
    std::error_code ec;
    if (!out_existed)
      fs::remove_all(out, ec);
    else
      fs::remove_all(work, ec);
  }
};

// Every scenario's PKI and plan (this shard's share), or InputError before anything started.
struct RunPlan {
  std::map<std::string, RunPki> pkis;
  std::vector<std::vector<Check>> plans;
  std::size_t total = 0;
};

RunPlan make_plan(const RunOptions& o, const Prepared& prep, const fs::path& work) {
  RunPlan rp;
  rp.pkis = pkis_for(o, prep, work);
  for (const auto& sc : prep.scenarios) {
    rp.plans.push_back(plan_checks(sc, rp.pkis.at(sc.trust_model).manifest, prep));
    keep_shard(rp.plans.back(), sc.id, o.shard_index, o.shard_count);
    rp.total += rp.plans.back().size();
  }
  return rp;
}

// Every finding, and those not derived from the records alone (self-test results, expiry, the
// probe's survey): results.jsonl keeps the latter, so that a re-rendered report has them too.
struct RunFindings {
  std::vector<Finding> all, recorded;
  void add_recorded(Finding f) {
    recorded.push_back(f);
    all.push_back(std::move(f));
  }
};

// A scenario's findings from its records: grouped, a self-test's declarations matched exactly,
// the distributed certificate's expiry.
void scenario_findings(RunFindings& out, const Scenario& sc, std::vector<ResultRecord>& records,
                       const RunOptions& o, const Prepared& prep, const RunPki& pk,
                       bool interrupted) {
  std::vector<Finding> groups = group_findings(records, prep.entry_paths);
  if (sc.expected_findings && !interrupted) {
    std::vector<DeclaredFinding> declared;
    for (const auto& e : *sc.expected_findings) {
      declared.push_back(
          {e.severity, e.kind, e.beacon, e.credential, e.entry_path, declared_operations(sc, e)});
    }
    for (auto& f : match_self_test(sc.id, declared, groups, records)) out.add_recorded(f);
  }
  out.all.insert(out.all.end(), groups.begin(), groups.end());
  if (auto w = expiry_warning(sc, pk.manifest, prep, o.expiry_warning_days))
    out.add_recorded(std::move(*w));
}

// One scenario: its beacons started, its checks executed and judged, the beacons stopped and
// their logs attached. Returns the records of the checks that ran.
std::vector<ResultRecord> run_scenario(RunContext& ctx, const Scenario& sc,
                                       std::vector<Check>& plan, const RunPki& pk,
                                       const fs::path& work, json& meta) {
  meta["scenarios"].push_back(scenario_meta(sc, pk));
  RunningBeacons beacons(sc, pk, work, ctx.options.harness_executable, ctx.prep.survey);
  for (auto& b : beacons.meta(sc)) meta["beacons"].push_back(std::move(b));
  beacons.aim_all(plan);
  Executed ex = execute_checks(ctx, sc, plan, beacons);
  beacons.stop(sc.id, meta["beacons"]);
  beacons.attach_logs(ex.done, ex.finished_at);
  std::vector<ResultRecord> records;
  for (auto& r : ex.done)
    if (r) records.push_back(std::move(*r));  // null: interrupted before it ran
  return records;
}

// The reports: results.jsonl rewritten whole (records, then the recorded findings), report.json
// and every other format.
RunResult write_reports(const RunOptions& o, json meta, const std::vector<ResultRecord>& all,
                        RunFindings& findings, std::size_t total, bool complete) {
  meta["finished"] = utc_now();
  meta["planned_checks"] = total;
  meta["complete"] = complete;
  if (!complete)
    meta["incomplete_reason"] = "interrupted (SIGINT/SIGTERM): " + std::to_string(all.size()) +
                                " of " + std::to_string(total) + " checks ran";
  sort_findings(findings.all);
  report::Summary summary = report::summarize(all);
  const FindingCounts fc = count(findings.all);
  summary.selftest_missed = fc.selftest_missed;
  summary.warn = fc.warn;
  json findings_json = json::array(), recorded_json = json::array();
  for (const auto& f : findings.all) findings_json.push_back(to_json(f));
  for (const auto& f : findings.recorded) recorded_json.push_back(to_json(f));
  const fs::path results_file = o.out / "results.jsonl";
  report::write_results_jsonl(results_file, all, recorded_json);
  report::write_all(o.out, report::make_document(meta, all, summary, findings_json));
  return {summary, o.out / "report.json", results_file, findings_json, complete, total};
}

}  // namespace

json plan(const RunOptions& o) {
  return plan_prepared(o, prepare(o));
}

json plan_prepared(const RunOptions& o, const Prepared& p) {
  char tmpl[] = "/tmp/mtls-plan-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw HarnessError("mkdtemp failed");
  const fs::path tmp = tmpl;
  json out = json::array();
  try {
    const auto pkis = pkis_for(o, p, tmp);
    for (const auto& sc : p.scenarios) {
      auto checks = plan_checks(sc, pkis.at(sc.trust_model).manifest, p);
      keep_shard(checks, sc.id, o.shard_index, o.shard_count);
      for (auto& ch : checks) {
        // External beacons' doors are known without starting anything: say what will be skipped.
        for (const auto& b : sc.beacons)
          if (!ch.boundary && b.url && b.name == ch.beacon_names.front())
            aim(ch, doors_of(b, *b.url, nullptr));
        out.push_back(
            {{"check_id", ch.record.check_id},
             {"scenario", sc.id},
             {"file", sc.file.string()},
             {"beacon", ch.record.beacon},
             {"operation", ch.record.operation},
             {"credential", ch.record.credential},
             {"entry_path", ch.record.entry_path},
             {"expected", std::string(to_string(*ch.record.expected))},
             {"skipped", ch.skip ? json(*ch.skip) : json(nullptr)},
             {"shard", std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count)},
             {"shard_copy", ch.record.shard_copy}});
      }
    }
  } catch (...) {
    fs::remove_all(tmp);
    throw;
  }
  fs::remove_all(tmp);
  return out;
}

RunResult run(const RunOptions& o) {
  if (o.jobs == 0 || o.jobs > 256)
    throw InputError("--jobs " + std::to_string(o.jobs) + ": must be 1..256");
  return run_prepared(o, prepare(o));  // every scenario validated before anything starts
}

RunResult run_prepared(const RunOptions& o, const Prepared& prep) {
  const OutputFolders folders(o.out);
  RunPlan rp;
  try {  // the manifest is needed to check credential names: on bad input, undo what was written
    rp = make_plan(o, prep, folders.work);
  } catch (const InputError&) {
    folders.undo();
    throw;
  }
  // The cover's PKI: the CA model's when a scenario uses it (each scenario names its own model).
  const RunPki& cover = rp.pkis.contains("ca") ? rp.pkis.at("ca") : rp.pkis.begin()->second;
  json meta = run_meta(o, prep, cover.manifest);
  report::ResultStream stream(o.out / "results.jsonl");
  Progress progress(o.progress, o.progress_is_terminal, o.color, rp.total);
  RunContext ctx{o, prep, stream, progress, std::chrono::steady_clock::now()};
  auto stopped = [&] { return o.stop != nullptr && o.stop->load(); };
  std::vector<ResultRecord> all;
  RunFindings findings;
  for (std::size_t si = 0; si < prep.scenarios.size() && !stopped(); ++si) {
    const Scenario& sc = prep.scenarios[si];
    const RunPki& pk = rp.pkis.at(sc.trust_model);
    std::vector<ResultRecord> records = run_scenario(ctx, sc, rp.plans[si], pk, folders.work, meta);
    scenario_findings(findings, sc, records, o, prep, pk, stopped());
    all.insert(all.end(), records.begin(), records.end());
  }
  for (std::size_t i = 0; i < prep.extra_findings.size(); ++i)
    findings.add_recorded(
        finding_from_json(prep.extra_findings[i], "finding " + std::to_string(i)));
  return write_reports(o, std::move(meta), all, findings, rp.total, !stopped());
}

}  // namespace mtls::engine
