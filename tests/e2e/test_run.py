"""`mtls-harness run`: the built-in default suite (a correct fleet that must find nothing, and
self-tests that must find exactly what they declare) writes its reports; every verdict is backed
by a positive control; a self-test that misses, an undeclared failure and an unreachable beacon
each change the exit code the way the README says; bad scenarios are one-line errors."""
import json
import os
import pathlib

from helpers import HOME, pid_alive


def load_results(out):
    """The check records of results.jsonl (its trailing {"finding": ...} lines left out)."""
    lines = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    return [r for r in lines if "finding" not in r]


def planned(harness, *args):
    p = harness("run", "--list", *args)
    assert p.returncode == 0
    return [json.loads(l) for l in p.stdout.decode().splitlines()]


def test_default_suite(harness, tmp_path):
    p = harness("run", cwd=tmp_path, timeout=300)  # no argument: the built-in suite, into ./reports/out
    assert p.returncode == 0
    # every progress line reads as its final meaning: the self-tests' FAILs say they were declared
    fails = [l for l in p.stderr.decode().splitlines() if "  FAIL" in l]
    assert fails and all(l.endswith("FAIL (declared by the self-test: caught as expected)") for l in fails)
    out = tmp_path / "reports" / "out"
    report = json.loads((out / "report.json").read_text())
    results = load_results(out)
    plan = planned(harness)
    assert len(results) == len(plan) >= 300  # the floor for the default suite
    assert sorted(r["check_id"] + r["scenario"] for r in results) == sorted(c["check_id"] + c["scenario"] for c in plan)
    assert report["summary"]["total"] == len(results) == len(report["results"])
    by_id = {(r["scenario"], r["check_id"]): r for r in results}
    assert len(by_id) == len(results), "check ids must be unique within a scenario"
    for r in results:
        # the beacon's own evidence is the beacon the check ran against (a simulated beacon logs
        # under its scenario name, even when it serves another PKI identity's certificate)
        connection = (r["evidence"]["beacon_log"] or {}).get("connection")
        if connection:
            assert connection["beacon"] == r["beacon"], (r["check_id"], connection["beacon"])
        if r["verdict"] == "FAIL":
            assert r["expected_finding"], r  # every failure of the default suite is a declared self-test finding
        if r["verdict"] == "SKIPPED":
            # only side doors a beacon does not have (no open name, no open listener to resume from)
            assert r["entry_path"] in ("sni-host-mismatch", "resumption-cross-listener"), r
            assert r["reason"] and r["outcome"] is None and r["scenario"] == "default/selftest-side-doors"
            continue
        assert r["verdict"] in ("PASS", "FAIL"), r
        if r["expected"] == "REJECTED" and r["verdict"] == "PASS":
            control = by_id[(r["scenario"], r["control_id"])]
            # the scenario's control credential; a rotation stage's is the first device that must work there
            assert control["outcome"] == "ACCEPTED" and control["expected"] == "ACCEPTED"
            assert control["credential"] == "valid" or "@" in r["beacon"]
            assert control["operation"] == r["operation"]
        assert r["evidence"]["beacon_log"] is not None, r["check_id"]
    correct = [r for r in results if r["scenario"] == "default/fleet-correct"]
    assert correct and all(r["verdict"] in ("PASS", "SKIPPED") for r in correct)
    assert {r["credential"] for r in correct} >= {"valid", "valid-p12", "none", "revoked", "expired"}
    assert any(r["check_id"].startswith("boundary/") for r in correct)
    assert report["findings"] and all(f["expected"] for f in report["findings"])
    assert {(f["scenario"], f["severity"], f["kind"]) for f in report["findings"]} >= {
        ("default/selftest-leaky-fleet", "EXPOSURE", "boundary-leak"),
        ("default/selftest-optional-mode", "EXPOSURE", "check"),
        ("default/selftest-revocation-blind", "EXPOSURE", "check"),
        ("default/selftest-revocation-warn", "WARN", "check")}
    # the side-door self-test: one EXPOSURE per beacon, through its open door, citing its advisory
    doors = {(f["beacon"], f["entry_path"]): f for f in report["findings"]
             if f["scenario"] == "default/selftest-side-doors"}
    assert set(doors) == {("beacon-plain-http", "plain-http"), ("beacon-sni-host", "sni-host-mismatch"),
                          ("beacon-shared-cache", "resumption-cross-listener"),
                          ("beacon-renegotiation", "renegotiation")}
    assert any("CVE-2025-23419" in a for a in doors[("beacon-shared-cache", "resumption-cross-listener")]["advisories"])
    assert any("CVE-2019-0215" in a for a in doors[("beacon-renegotiation", "renegotiation")]["advisories"])
    # wrong-key and weak-key are presented by the protocol-level client and refused in the handshake
    for cred, alert in (("wrong-key", "decrypt_error"), ("weak-key", "insufficient_security")):
        rs = [r for r in correct if r["credential"] == cred and r["entry_path"] == "https" and not r["check_id"].startswith("boundary/")]
        assert rs and all(r["evidence"]["client"] == "botan" and r["outcome"] == "REJECTED_HANDSHAKE" for r in rs)
        assert all(r["evidence"]["beacon_log"]["connection"]["alert_sent"] == alert for r in rs), cred
    assert all(b["exit"] == "exit 0" for b in report["metadata"]["beacons"])
    for ready in (out / "work").rglob("ready.json"):
        assert not pid_alive(json.loads(ready.read_text())["pid"])


def scenario(tmp_path, name, text):
    f = tmp_path / "scenarios" / f"{name}.yaml"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text)
    return f


BASE = "policy: {client_certificate: required}\noperations: [download-policy]\nentry_paths: [https]\n"


def test_an_undeclared_exposure_fails_the_run(harness, tmp_path):
    f = scenario(tmp_path, "request-only", "name: request-only\nbeacons:\n  - {name: beacon-a, simulated: {client_auth: request}}\n"
                 "credentials: [valid, none]\n" + BASE)
    p = harness("run", f, "--out", tmp_path / "out")
    assert p.returncode == 1
    results = {r["credential"]: r for r in load_results(tmp_path / "out")}
    assert results["none"]["outcome"] == "ACCEPTED"
    assert results["none"]["verdict"] == "FAIL" and results["none"]["severity"] == "EXPOSURE"
    assert not results["none"]["expected_finding"]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"]["exit_code"] == 1
    assert [f["severity"] for f in report["findings"]] == ["EXPOSURE"]
    assert b"EXPOSURE" in p.stderr and b"fix:" in p.stderr


def test_a_self_test_that_misses_its_finding_fails_the_run(harness, tmp_path):
    # Declares an exposure that a correctly enforcing beacon cannot produce: the harness must say so.
    f = scenario(tmp_path, "miss", "name: miss\nbeacons:\n  - {name: beacon-a, simulated: {client_auth: require}}\n"
                 "credentials: [valid, none]\n" + BASE +
                 "expect_findings:\n  - {severity: EXPOSURE, beacon: beacon-a, credential: none}\n")
    p = harness("run", f, "--out", tmp_path / "out")
    assert p.returncode == 1
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"]["self_test_misses"] == 1
    assert [f["severity"] for f in report["findings"]] == ["SELFTEST"]
    # every check passed, yet the run failed: JUnit says so through the scenario's findings case
    import xml.etree.ElementTree as ET
    root = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    findings = [c for c in root.iter("testcase") if c.get("name") == "findings"]
    assert len(findings) == 1 and findings[0].find("failure") is not None
    assert int(root.get("failures")) >= 1


def test_a_wrong_ca_says_why_everything_is_inconclusive(harness, start_beacon, pki, manifest, tmp_path):
    """Every check SERVER_UNTRUSTED: the console, report.md and report.html name the cause once,
    with the fix, and never say that every check passed."""
    beacon = start_beacon()
    out = tmp_path / "out"
    p = harness("probe", "--target", beacon.url, "--ca", pki / "ca" / "other-ca.pem",
                "--cert", pki / manifest["credentials"]["valid"]["cert"],
                "--key", pki / manifest["credentials"]["valid"]["key"], "--rate", 100, "--out", out)
    assert p.returncode == 3
    err = p.stderr.decode()
    report = json.loads((out / "report.json").read_text())
    inconclusive = report["summary"]["INCONCLUSIVE"]
    assert f"INCONCLUSIVE: {inconclusive} check(s): the agent does not trust the beacon's certificate" in err, err
    assert "check --ca" in err
    assert "check --ca" in (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "every check" not in html.split('id="no-findings"')[1][:200] and 'id="inconclusive-causes"' in html


def test_an_unreachable_external_beacon_is_inconclusive_not_a_pass(harness, tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    f = scenario(tmp_path, "gone", f"name: gone\nbeacons:\n  - {{name: far, url: 'https://127.0.0.1:{port}'}}\n"
                 "credentials: [valid, none]\n" + BASE)
    p = harness("run", f, "--out", tmp_path / "out")
    assert p.returncode == 3
    assert {r["verdict"] for r in load_results(tmp_path / "out")} == {"INCONCLUSIVE"}


def test_bad_scenarios_are_one_line_errors_and_write_nothing(harness, tmp_path):
    cases = {
        "unknown-cred": ("credentials: [valid, platinum]\n", "platinum"),
        "unknown-key": ("credentials: [valid]\nflavour: x\n", "flavour"),
        "wrong-type": ("credentials: valid\n", "credentials"),
    }
    for name, (extra, word) in cases.items():
        f = scenario(tmp_path / name, name, f"name: {name}\nbeacons:\n  - {{name: beacon-a, simulated: {{}}}}\n" +
                     BASE + extra)
        out = tmp_path / name / "out"
        p = harness("run", f, "--out", out)
        lines = [l for l in p.stderr.decode().splitlines() if l.strip()]
        assert p.returncode == 2 and len(lines) == 1 and word in lines[0], (name, lines)
        assert not out.exists(), f"{name}: output written for a run that could not start"


def test_scenario_ids_do_not_depend_on_how_the_tool_was_called(harness, tmp_path):
    folder = tmp_path / "sc"
    folder.mkdir()
    (folder / "real.yaml").write_text((HOME / "scenarios" / "default" / "selftest-http-status.yaml").read_text())
    ids = []
    for cwd, arg in ((folder, "real.yaml"), (tmp_path, "sc/real.yaml"), (folder, "./real.yaml"),
                     (tmp_path, str(folder / "real.yaml"))):
        p = harness("run", arg, "--list", cwd=cwd)
        assert p.returncode == 0, p.stderr
        ids.append(sorted((c["scenario"], c["check_id"]) for c in map(json.loads, p.stdout.decode().splitlines())))
    assert all(i == ids[0] for i in ids) and ids[0][0][0].startswith("sc/")
