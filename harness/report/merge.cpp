// merge.cpp: `report merge`: the report.json of several shards and vantage points as one report.
// Records are kept as they are (each carries its vantage point); findings are computed again over
// all of them (so a door open from one vantage point only says so); the same check from the same
// vantage point twice is an input error; a vantage point whose shards are not all there makes the
// merged report INCOMPLETE (exit 3).
#include <map>
#include <set>

#include "core/files.hpp"
#include "report/report.hpp"

namespace mtls::report {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string text(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// Findings no record gives (self-test results, survey warnings, expiry): kept from the inputs.
bool recorded_kind(const json& f) {
  const std::string k = text(f, "kind");
  return k.starts_with("self-test") || k == "client-ca-list" || k == "expiry";
}

}  // namespace

json merge_documents(const std::vector<fs::path>& files, const FindingsOf& findings_of) {
  if (files.size() < 2) throw InputError("report merge needs two or more report.json files");
  std::vector<ResultRecord> records;
  json recorded = json::array(), sources = json::array(), beacons = json::array();
  json scenarios = json::array();
  std::map<std::string, std::string> seen_check;                  // vantage|scenario|check -> file
  std::map<std::string, std::map<unsigned, std::string>> shards;  // vantage -> index -> file
  std::map<std::string, unsigned> counts;                         // vantage -> N
  std::string started, finished, version;
  bool complete = true;
  for (const auto& file : files) {
    if (file.extension() != ".json")
      throw InputError(file.string() + ": merge report.json files (they carry the run's metadata)");
    const json doc = load_document(file);
    const json& m = doc.value("metadata", json::object());
    if (m.contains("rendered_from"))
      throw InputError(file.string() +
                       ": re-rendered without its run's metadata: merge the run's report.json");
    const std::string vantage = text(m, "vantage");
    const json shard = m.value("shard", json{{"index", 1}, {"count", 1}});
    const unsigned index = shard.value("index", 1u), count = shard.value("count", 1u);
    if (counts.contains(vantage) && counts[vantage] != count)
      throw InputError(file.string() + ": shard " + std::to_string(index) + "/" +
                       std::to_string(count) + " of vantage point '" + vantage +
                       "', but another file of it has /" + std::to_string(counts[vantage]));
    counts[vantage] = count;
    if (const auto [it, added] = shards[vantage].emplace(index, file.string()); !added)
      throw InputError(file.string() + ": shard " + std::to_string(index) + "/" +
                       std::to_string(count) + " of vantage point '" + vantage + "' is also " +
                       it->second);
    complete = complete && m.value("complete", true);
    for (std::size_t i = 0; i < doc["results"].size(); ++i) {
      ResultRecord r = record_from_json(doc["results"][i],
                                        file.string() + ": results[" + std::to_string(i) + "]");
      if (!vantage.empty()) r.vantage = vantage;
      if (r.shard_copy) continue;  // its own shard's record is the one kept
      const std::string key = vantage + "|" + r.scenario.value_or("") + "|" + r.check_id;
      if (const auto [it, added] = seen_check.emplace(key, file.string()); !added)
        throw InputError(file.string() + ": check " + r.check_id + " from vantage point '" +
                         vantage + "' is also in " + it->second + " (duplicate)");
      records.push_back(std::move(r));
    }
    for (const auto& f : doc.value("findings", json::array()))
      if (recorded_kind(f) && std::find(recorded.begin(), recorded.end(), f) == recorded.end())
        recorded.push_back(f);
    for (auto b : m.value("beacons", json::array())) {
      b["vantage"] = vantage.empty() ? json(nullptr) : json(vantage);
      beacons.push_back(b);
    }
    for (const auto& s : m.value("scenarios", json::array()))
      if (std::none_of(scenarios.begin(), scenarios.end(),
                       [&](const json& x) { return text(x, "id") == text(s, "id"); }))
        scenarios.push_back(s);
    const std::string st = text(m, "started"), fi = text(m, "finished");
    if (started.empty() || (!st.empty() && st < started)) started = st;
    if (fi > finished) finished = fi;
    version = text(m, "version");
    sources.push_back(
        {{"file", file.string()},
         {"vantage", vantage.empty() ? json(nullptr) : json(vantage)},
         {"shard", shard},
         {"integrity_sha256", text(doc.value("integrity", json::object()), "sha256")}});
  }
  std::vector<std::string> missing;
  for (const auto& [vantage, got] : shards)
    for (unsigned i = 1; i <= counts[vantage]; ++i)
      if (!got.contains(i))
        missing.push_back("vantage point '" + vantage + "': shard " + std::to_string(i) + "/" +
                          std::to_string(counts[vantage]) + " missing");
  json vantages = json::array();
  for (const auto& [v, _] : shards)
    if (!v.empty()) vantages.push_back(v);
  json meta = {{"tool", "mtls-harness"},
               {"version", version},
               {"started", started},
               {"finished", finished},
               {"merged_from", sources},
               {"vantages", vantages},
               {"scenarios", scenarios},
               {"beacons", beacons},
               {"complete", complete && missing.empty()}};
  if (!missing.empty() || !complete) {
    std::string why;
    for (const auto& m : missing) why += (why.empty() ? "" : "; ") + m;
    if (!complete) why += std::string(why.empty() ? "" : "; ") + "an input run was interrupted";
    meta["incomplete_reason"] = why;
  }
  const json findings = findings_of ? findings_of(records, recorded) : recorded;
  return make_document(meta, records, summarize(records, findings), findings);
}

}  // namespace mtls::report
