"""An interrupted run leaves no simulated beacon behind: the beacons the engine starts receive
SIGTERM from the kernel when the engine dies (PR_SET_PDEATHSIG), drain and exit."""
import json
import re
import os
import pathlib
import select
import signal
import subprocess

from helpers import BIN, pid_alive as alive


def test_killing_the_engine_stops_its_beacons(tmp_path):
    scenario = tmp_path / "slow.yaml"
    # A slow beacon keeps the run going long enough to be interrupted while beacons are up.
    scenario.write_text("name: slow\nbeacons:\n  - {name: beacon-a, simulated: {client_auth: require, latency_ms: 3000}}\n"
                        "policy: {client_certificate: required}\ncredentials: [valid, none]\n"
                        "operations: all\nentry_paths: [https]\n")
    out = tmp_path / "out"
    run = subprocess.Popen([BIN, "run", str(scenario), "--out", str(out), "--jobs", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The first streamed result proves the beacon is up and checks are running.
        results = out / "results.jsonl"
        first = run.stderr.readline()  # "[1/N] ..." once the first check finished
        assert re.match(rb"\d{4}-\d\d-\d\dT[0-9:.]+Z \[1/", first), first  # timestamped in a log
        ready = next((out / "work").rglob("ready.json"))
        pid = json.loads(ready.read_text())["pid"]
        assert alive(pid)
        beacon_exit = os.pidfd_open(pid)  # readable once the beacon has exited (it is not our child)
        try:
            run.kill()  # SIGKILL: the engine gets no chance to clean up itself
            run.wait(timeout=10)
            ready_to_read, _, _ = select.select([beacon_exit], [], [], 15)
            assert ready_to_read, "the beacon outlived the engine by 15 s"
        finally:
            os.close(beacon_exit)
        assert not alive(pid)
        assert results.exists() and results.read_text().count("\n") >= 1  # what finished is kept
    finally:
        if run.poll() is None:
            run.kill()


def test_ctrl_c_writes_a_partial_report_marked_incomplete(tmp_path):
    scenario = tmp_path / "slow.yaml"
    scenario.write_text("name: slow\nbeacons:\n  - {name: beacon-a, simulated: {client_auth: require, latency_ms: 1000}}\n"
                        "policy: {client_certificate: required}\ncredentials: [valid, none, expired]\n"
                        "operations: all\nentry_paths: [https]\n")
    out = tmp_path / "out"
    cmd = [BIN, "run", str(scenario), "--out", str(out), "--jobs", "1"]
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = run.stderr.readline()
        assert re.match(rb"\d{4}-\d\d-\d\dT[0-9:.]+Z \[1/", first), first  # timestamped in a log
        pid = json.loads(next((out / "work").rglob("ready.json")).read_text())["pid"]
        run.send_signal(signal.SIGINT)  # what Ctrl-C sends
        stdout, stderr = run.communicate(timeout=30)
        diagnostics = f"command: {cmd}\nexit: {run.returncode}\nstderr: {stderr.decode()[-2000:]}"
        assert run.returncode == 3, diagnostics
        assert b"INCOMPLETE" in stderr, diagnostics
        report = json.loads((out / "report.json").read_text())
        assert report["metadata"]["complete"] is False and report["summary"]["complete"] is False
        assert report["summary"]["exit_code"] == 3
        ran, planned = len(report["results"]), report["metadata"]["planned_checks"]
        assert 1 <= ran < planned, (ran, planned)
        assert "INCOMPLETE" in (out / "report.md").read_text()
        import xml.etree.ElementTree as ET
        cases = {c.get("name"): c for c in ET.parse(out / "junit.xml").getroot().iter("testcase")}
        assert cases["run-complete"].find("failure") is not None  # JUnit is red, as the exit code
        assert 'id="incomplete"' in (out / "report.html").read_text()
        assert not alive(pid)  # the beacon was stopped in order
        verify = subprocess.run([BIN, "report", "verify", str(out / "report.json")], capture_output=True)
        assert verify.returncode == 0, verify.stderr
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
