// findings.hpp: the one place where check results become findings: FAILs grouped by (severity,
// kind, beacon, credential, entry path), their titles, remediation and advisories, side doors
// folded into the front door's finding, WARN for a revoked certificate let in, the self-test
// matching, and the order findings are listed in. Pure functions of the result records (and the
// entry-path catalogue): the run and a report re-rendered from results.jsonl call the same code,
// so both say the same findings, byte for byte.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "engine/entry_paths.hpp"

namespace mtls::engine {

// Every finding's severity; the enum's order is the listing order (most severe first).
enum class FindingSeverity { kExposure, kLockout, kSelftest, kWarn };
std::string_view to_string(FindingSeverity s);
std::optional<FindingSeverity> finding_severity_from_string(std::string_view s);

struct Finding {
  FindingSeverity severity = FindingSeverity::kExposure;
  std::string
      kind;  // check | boundary-leak | self-test-miss | self-test-undeclared | client-ca-list
  std::string scenario, beacon, credential, entry_path = "https";
  std::vector<std::string> operations, check_ids, advisories, also_through;
  // The vantage points the finding was seen from (records with a vantage; a merged report).
  std::vector<std::string> vantages;
  std::string title, remediation;
  bool expected = false;             // declared by a self-test scenario: caught as expected
  nlohmann::json details;            // kind-specific facts (client-ca-list: ca_names, public_roots)
  std::vector<std::size_t> members;  // indexes of the records it groups (not serialised)
};

nlohmann::json to_json(const Finding& f);
// Throws InputError naming `where` on a finding of the wrong shape.
Finding finding_from_json(const nlohmann::json& j, const std::string& where);

// A self-test's declaration, as the scenario states it (operations already defaulted).
struct DeclaredFinding {
  std::string severity, kind, beacon, credential, entry_path;
  std::vector<std::string> operations;
};

// The findings the records prove, in grouping order. A group is `expected` when a self-test
// declared it (its records carry expected_finding).
std::vector<Finding> group_findings(const std::vector<ResultRecord>& records,
                                    const EntryPaths& doors);

// Matches a self-test scenario's declarations against its groups: a matched group and its
// records become expected; returns a SELFTEST finding per declaration not matched and per WARN
// the scenario does not declare.
std::vector<Finding> match_self_test(const std::string& scenario,
                                     const std::vector<DeclaredFinding>& declared,
                                     std::vector<Finding>& groups,
                                     std::vector<ResultRecord>& records);

// The listing order: severity, then scenario, beacon, credential, entry path, kind and title.
void sort_findings(std::vector<Finding>& findings);

// Counts the summary takes from findings.
struct FindingCounts {
  int selftest_missed = 0, warn = 0;
};
FindingCounts count(const std::vector<Finding>& findings);

// A report re-rendered from results.jsonl: the records' findings (the built-in entry-path
// catalogue) and the recorded ones, in listing order, as report.json lists them.
nlohmann::json findings_of_records(const std::vector<ResultRecord>& records,
                                   const nlohmann::json& recorded);

}  // namespace mtls::engine
