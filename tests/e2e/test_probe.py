"""`mtls-harness probe` against beacons it did not start, as a user runs it against their own:
our simulated beacon with a plain-HTTP binding left on, nginx with verification forgotten on the
upload folder, a failover list with one leaky beacon. Safe by default (GET only; --allow-writes
sends one marked test file), rate-limited, --dry-run sends nothing, bad input is a one-line
error, a beacon that is down is INCONCLUSIVE (exit 3), Ctrl-C leaves a partial report."""
import json
import re
import signal
import socket
import subprocess
from datetime import datetime

from conftest import nginx_optional_on_uploads
from helpers import BIN, credential_args


def probe_args(pki, manifest, *targets, credential="valid"):
    args = ["probe", "--ca", pki / manifest["trust"]["server_ca_bundle"], *credential_args(manifest, pki, credential)]
    for t in targets:
        args += ["--target", t]
    return args


def findings(out):
    report = json.loads((out / "report.json").read_text())
    return report, {(f["severity"], f["kind"], f["credential"], f["entry_path"], tuple(sorted(f["operations"])))
                    for f in report["findings"]}


def test_probe_finds_the_plain_http_binding_and_respects_its_rate(harness, start_beacon, pki, manifest, tmp_path):
    beacon = start_beacon(args=("--plain-http", "127.0.0.1:0"))
    plain_port = next(l["port"] for l in beacon.ready["listeners"] if l["scheme"] == "http")
    out = tmp_path / "out"
    p = harness(*probe_args(pki, manifest, beacon.url), "--plain-http-port", plain_port, "--rate", 10,
                "--out", out)
    assert p.returncode == 1, p.stderr
    report, got = findings(out)
    assert got == {("EXPOSURE", "check", "none", "plain-http", ("get-ManageSoftDL",))}
    assert (out / "probe-scenario.yaml").exists() and "report.html" in p.stdout.decode()
    # the finding names the class of bypass in every human report
    assert "CWE-319" in (out / "report.md").read_text() and "CWE-319" in (out / "report.html").read_text()
    # SARIF locates a probe's finding at the target it probed; the cover shows the certificate the
    # beacon presented (its SHA-256 fingerprint, as openssl prints it)
    sarif = json.loads((out / "report.sarif").read_text())
    (res,) = sarif["runs"][0]["results"]
    assert res["ruleId"] == "mtls/door/plain-http" and res["level"] == "error"
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == beacon.url
    der = subprocess.run(["openssl", "x509", "-outform", "DER", "-in",
                          pki / manifest["beacons"]["beacon-a"]["cert"]], capture_output=True, check=True).stdout
    import hashlib
    fp = hashlib.sha256(der).hexdigest()
    (b,) = report["metadata"]["beacons"]
    assert b["certificate"]["sha256_fingerprint"] == fp
    assert ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper() in (out / "report.html").read_text()
    # GET only: no upload reached the beacon
    assert {r["method"] for r in beacon.records("request")} <= {"GET"}
    # at most 10 connections per second: in any one-second window the beacon saw at most 10 (+1 for
    # the window's edge), and none came in a burst. Seen from the beacon (a connection record is
    # written at its end: its start is ts - duration, to the millisecond, after its accept queue).
    starts = sorted(datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp() - r["duration_ms"] / 1000
                    for r in beacon.records("connection"))
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    in_a_second = max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts)
    assert len(starts) >= 5 and in_a_second <= 11 and min(gaps) >= 0.05, (in_a_second, gaps)
    # the distributed credential is the positive control of every refusal
    valid = [r for r in report["results"] if r["credential"] == "valid"]
    assert valid and all(r["verdict"] == "PASS" for r in valid)


def test_probe_with_pkcs12_and_writes_against_nginx(nginx, harness, pki, manifest, tmp_path, monkeypatch):
    server = nginx("optional", nginx_optional_on_uploads)
    p12 = manifest["credentials"]["valid-p12"]
    monkeypatch.setenv("PROBE_P12_PASSWORD", (pki / p12["password_file"]).read_text().strip())
    base = ["probe", "--ca", pki / manifest["trust"]["server_ca_bundle"], "--target", server.url,
            "--p12", pki / p12["p12"], "--p12-password-env", "PROBE_P12_PASSWORD",
            "--plain-http-port", server.port, "--rate", 50]
    # dry run: the plan, and not one byte sent
    dry = harness(*base, "--allow-writes", "--dry-run")
    assert dry.returncode == 0 and b"nothing is sent" in dry.stdout and b"upload-test" in dry.stdout
    access_log = server.workdir / "logs" / "access.log"
    assert not access_log.exists() or access_log.read_text() == ""
    out = tmp_path / "out"
    p = harness(*base, "--allow-writes", "--out", out)
    assert p.returncode == 1
    report, got = findings(out)
    # only the forgotten upload folder is open, to a device with no certificate; the side doors
    # that let it in too (any TLS name, no SNI) are named in the front door's finding
    assert got == {("EXPOSURE", "check", "none", "https", ("upload-test",))}
    front = report["findings"][0]
    assert {"renegotiation", "no-sni"} <= set(front["also_through"]) or \
        {"renegotiation", "sni:localhost"} <= set(front["also_through"]), front
    # each negative upload that got 2xx was read back with the valid credential: it was stored
    stored = [r for r in report["results"] if r["operation"] == "upload-test" and r["verdict"] == "FAIL"]
    assert stored and all("stored" in r["reason"] for r in stored), [r["reason"] for r in stored]
    uploaded = (server.workdir / "www" / "ManageSoftRL" / "mtls-harness-probe-test.log").read_text()
    assert "test upload, safe to delete" in uploaded
    password = (pki / p12["password_file"]).read_text().strip()
    for f in out.rglob("*"):
        if f.is_file():
            assert password.encode() not in f.read_bytes(), f


def test_probe_of_a_failover_list_reports_the_boundary_leak(harness, start_beacon, pki, manifest, tmp_path):
    good = start_beacon(name="beacon-a")
    leaky = start_beacon(name="beacon-b", client_auth="request")
    targets = tmp_path / "beacons.txt"
    targets.write_text(f"# the agents' failover list\n{good.url}\n\n{leaky.url}\n")
    out = tmp_path / "out"
    p = harness("probe", "--ca", pki / manifest["trust"]["server_ca_bundle"], *credential_args(manifest, pki, "valid"),
                "--targets", targets, "--rate", 50, "--out", out)
    assert p.returncode == 1
    report, got = findings(out)
    leak = {f for f in got if f[1] == "boundary-leak"}
    assert leak == {("EXPOSURE", "boundary-leak", "none", "https", ("get-ManageSoftDL",))}
    assert all(f["beacon"] == "127.0.0.1:%d" % leaky.port for f in report["findings"])


def test_probe_bad_input_and_a_beacon_that_is_down(harness, pki, manifest, tmp_path):
    cases = [(["--target", "http://127.0.0.1:1"], "not an https"),
             (["--target", "https://127.0.0.1:1", "--rate", "0"], "--rate"),
             (["--target", "https://127.0.0.1:1", "--path", "ManageSoftDL"], "--path"),
             (["--targets", tmp_path / "missing.txt"], "missing.txt"),
             ([], "give the beacons")]
    for extra, words in cases:
        p = harness("probe", "--ca", pki / manifest["trust"]["server_ca_bundle"],
                    *credential_args(manifest, pki, "valid"), *extra)
        err = p.stderr.decode()
        assert p.returncode == 2 and words in err and err.count("\n") == 1, (extra, err)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "down"
    p = harness(*probe_args(pki, manifest, f"https://127.0.0.1:{port}"), "--plain-http-port", port, "--out", out)
    assert p.returncode == 3
    report, got = findings(out)
    assert got == set() and "PASS" not in {r["verdict"] for r in report["results"]}


def test_ctrl_c_during_a_probe_leaves_a_partial_report(start_beacon, pki, manifest, tmp_path):
    beacon = start_beacon()
    out = tmp_path / "out"
    cmd = [BIN, *map(str, probe_args(pki, manifest, beacon.url)), "--path", "/ManageSoftDL/", "--path",
           "/ManageSoftDL/Policies/default.npl", "--rate", "2", "--out", str(out)]
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert re.match(rb"\d{4}-\d\d-\d\dT[0-9:.]+Z \[1/", run.stderr.readline())
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=30)
        assert run.returncode == 3, err
        report = json.loads((out / "report.json").read_text())
        assert report["metadata"]["complete"] is False
        assert len(report["results"]) < report["metadata"]["planned_checks"]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
