"""`mtls-harness run`: the built-in default suite writes its reports, every verdict is backed by a
positive control, the beacons it started are gone afterwards, and a leaky beacon FAILS the run."""
import json
import os
import pathlib

import yaml

from conftest import HOME


def load_results(out):
    lines = (out / "results.jsonl").read_text().splitlines()
    return [json.loads(l) for l in lines]


def expected_check_count(scenario_files):
    total = 0
    for f in scenario_files:
        s = yaml.safe_load(pathlib.Path(f).read_text())
        total += len(s["beacons"]) * len(s["operations"]) * len(s["credentials"]) * len(s["entry_paths"])
    return total


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive for our purposes; only a running beacon would be a leak.
    stat = pathlib.Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_default_run_writes_reports_and_all_checks_pass(harness, tmp_path):
    p = harness("run", cwd=tmp_path)  # no argument: the built-in suite, reports in ./reports/out
    assert p.returncode == 0
    out = tmp_path / "reports" / "out"
    report = json.loads((out / "report.json").read_text())
    results = load_results(out)
    default_files = sorted((HOME / "scenarios" / "default").glob("*.yaml"))
    assert len(results) == expected_check_count(default_files)
    assert report["summary"]["total"] == len(results) == len(report["results"])
    assert report["summary"]["PASS"] == len(results)
    assert [r["check_id"] for r in report["results"]] == [r["check_id"] for r in results]
    by_id = {r["check_id"]: r for r in results}
    assert len(by_id) == len(results), "check ids must be unique"
    for r in results:
        assert r["verdict"] == "PASS", r
        if r["expected"] == "REJECTED":
            control = by_id[r["control_id"]]
            assert control["outcome"] == "ACCEPTED" and control["credential"] == "valid"
            assert (control["beacon"], control["operation"], control["entry_path"]) == \
                   (r["beacon"], r["operation"], r["entry_path"])
        assert r["evidence"]["beacon_log"] is not None, "beacon-side evidence missing"
    assert "PASS" in p.stdout.decode() and str(len(results)) in p.stdout.decode()
    assert all(b["exit"] == "exit 0" for b in report["metadata"]["beacons"]), report["metadata"]
    for ready in (out / "work").glob("*.ready.json"):
        pid = json.loads(ready.read_text())["pid"]
        assert not pid_alive(pid), f"beacon pid {pid} still running after the run"


def test_a_beacon_that_only_requests_certificates_fails_with_exposure(harness, tmp_path):
    scenario = tmp_path / "leaky" / "request-only.yaml"
    scenario.parent.mkdir()
    scenario.write_text(
        "name: request-only\n"
        "beacons:\n  - name: beacon-a\n    simulated: {client_auth: request}\n"
        "policy: {client_certificate: required}\n"
        "credentials: [valid, none]\noperations: [download-policy]\nentry_paths: [https]\n")
    p = harness("run", scenario, "--out", tmp_path / "out")
    assert p.returncode == 1
    results = {r["credential"]: r for r in load_results(tmp_path / "out")}
    assert results["none"]["outcome"] == "ACCEPTED"
    assert results["none"]["verdict"] == "FAIL" and results["none"]["severity"] == "EXPOSURE"
    assert results["valid"]["verdict"] == "PASS"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"]["FAIL"] == 1 and report["summary"]["EXPOSURE"] == 1
    assert report["summary"]["exit_code"] == 1
