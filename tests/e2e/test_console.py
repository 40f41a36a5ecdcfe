"""What run, probe, bench and agent print for people and for CI: --format json (one JSON object
on stdout, nothing else), --quiet, colour only where wanted (a terminal without NO_COLOR, or
--color always; never with --color never), a progress bar on a terminal (run, bench, agent
--agents) and timestamped check lines in a log. A terminal is a real pseudo-terminal (pty)."""
import json
import os
import pty
import re
import select
import subprocess

from helpers import BIN, credential_args

ESC = b"\x1b["
STAMP = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[\d+/\d+\] ")

LEAKY = ("name: leaky\nbeacons:\n  - {name: beacon-a, simulated: {client_auth: ignore}}\n"
         "policy: {client_certificate: required}\ncredentials: [valid, none]\n"
         "operations: [download-policy]\nentry_paths: [https]\n")


def scenario(tmp_path):
    f = tmp_path / "leaky.yaml"
    f.write_text(LEAKY)
    return f


def on_terminal(args, env=None, timeout=120):
    """Runs the binary with stdout and stderr on one pseudo-terminal; returns (exit, bytes)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([BIN, *map(str, args)], stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=slave, env={**os.environ, **(env or {})}, close_fds=True)
    os.close(slave)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            assert ready, f"no output for {timeout} s: {args}"
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
    return p.wait(timeout=timeout), out


def clean_env():
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm"
    return env


def test_format_json_prints_one_object_that_agrees_with_the_report(harness, tmp_path):
    out = tmp_path / "out"
    p = harness("run", scenario(tmp_path), "--out", out, "--format", "json")
    assert p.returncode == 1
    (line,) = p.stdout.decode().splitlines()  # one object, nothing else on stdout
    got = json.loads(line)
    report = json.loads((out / "report.json").read_text())
    assert got["exit_code"] == p.returncode == report["summary"]["exit_code"]
    assert got["verdict"] == "FAIL" and got["complete"] is True
    for k in ("total", "PASS", "FAIL", "INCONCLUSIVE", "SKIPPED", "EXPOSURE", "LOCKOUT"):
        assert got["summary"][k] == report["summary"][k], k
    assert [f["title"] for f in got["findings"]] == [f["title"] for f in report["findings"]]
    assert "report.sarif" in got["reports"]["files"] and got["reports"]["folder"] == str(out)
    assert not STAMP.search(p.stderr)  # no progress lines either


def test_quiet_prints_findings_and_summary_only(harness, tmp_path):
    p = harness("run", scenario(tmp_path), "--out", tmp_path / "out", "--quiet")
    assert p.returncode == 1
    err = p.stderr.decode()
    assert "EXPOSURE: beacon-a lets in" in err and "fix:" in err
    assert not any(STAMP.match(l.encode()) for l in err.splitlines())
    assert p.stdout.decode().startswith("mtls-harness run: FAIL: ")


def test_check_lines_in_a_log_are_timestamped_and_uncoloured(harness, tmp_path):
    p = harness("run", scenario(tmp_path), "--out", tmp_path / "out")
    checks = [l for l in p.stderr.splitlines() if STAMP.match(l)]
    assert len(checks) == 2, p.stderr.decode()  # one per check, each with its time
    assert ESC not in p.stderr + p.stdout  # a pipe: no colour by default


def test_colour_on_a_terminal_unless_no_color(tmp_path):
    args = ["run", scenario(tmp_path), "--out", tmp_path / "out"]
    code, out = on_terminal(args, env=clean_env())
    assert code == 1
    assert ESC + b"1;31mEXPOSURE" in out and ESC + b"1;31mFAIL" in out
    assert b"\r[" in out and b"] 2/2 checks" in out  # the bar, redrawn in place
    code, out = on_terminal(args, env={**clean_env(), "NO_COLOR": "1"})
    assert code == 1 and ESC + b"1;31m" not in out and ESC + b"32m" not in out
    code, out = on_terminal(args + ["--color", "never"], env=clean_env())
    assert code == 1 and ESC + b"1;31m" not in out


def test_color_always_colours_a_pipe_and_bad_color_is_refused(harness, tmp_path):
    p = harness("run", scenario(tmp_path), "--out", tmp_path / "out", "--color", "always")
    assert ESC + b"1;31mFAIL" in p.stdout and ESC + b"1;31mEXPOSURE" in p.stderr
    p = harness("run", scenario(tmp_path), "--out", tmp_path / "o2", "--color", "sometimes")
    assert p.returncode == 2 and b"--color" in p.stderr


def test_bench_shows_a_progress_bar_on_a_terminal(tmp_path):
    code, out = on_terminal(["bench", "--duration", "2", "--slice", "0.5", "--concurrency", "2",
                             "--out", tmp_path / "bench"], env=clean_env())
    assert code == 0, out.decode(errors="replace")[-2000:]
    assert b"\r[" in out and b" handshakes" in out and b"/2 s" in out


def test_a_fleet_shows_a_progress_bar_on_a_terminal(start_beacon, pki, manifest, tmp_path):
    b = start_beacon("require")
    code, out = on_terminal(["agent", "--beacon", b.url, "--ca", pki / manifest["trust"]["server_ca_bundle"],
                             *credential_args(manifest, pki, "valid"), "--agents", "12",
                             "--cycle", "download-policy"], env=clean_env())
    assert code == 0, out.decode(errors="replace")[-2000:]
    assert b"] 12/12 devices" in out
