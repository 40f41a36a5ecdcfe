"""Every bad input of tests/e2e/bad_inputs.yaml, tried for real: the exit code, one line on
stderr naming the problem (exit 2), nothing half-written; and docs/bad-inputs.md is generated
from the same file (`python3 tests/e2e/test_bad_inputs.py --markdown > docs/bad-inputs.md`).
Beyond the table: a full disk (RLIMIT_FSIZE) for reports and for the beacon's upload store."""
import json
import os
import pathlib
import resource
import signal
import socket
import subprocess
import sys

import pytest
import yaml

HERE = pathlib.Path(__file__).resolve().parent
CASES = yaml.safe_load((HERE / "bad_inputs.yaml").read_text())
DOC = HERE.parent.parent / "docs" / "bad-inputs.md"


def markdown():
    out = ["# Bad inputs: what you see, and the exit code", "",
           "Generated from `tests/e2e/bad_inputs.yaml` (every row is tried by "
           "`tests/e2e/test_bad_inputs.py`). Exit 2: one line on stderr naming the file, flag or "
           "field, and nothing started or half-written; exit 1/3: a result, not an error. "
           "Placeholders: see the YAML file.", "",
           "| case | command | what you see | exit |", "|---|---|---|---|"]
    for c in CASES:
        cmd = " ".join(str(a) for a in c["cmd"]).replace("|", "\\|")
        out.append(f"| {c['id']} | `mtls-harness {cmd}` | {c['sees']} | {c['exit']} |")
    out += ["", "Also tried (tests/e2e): a full disk for the reports (`run` exits 2 naming the file, "
            "no partial report.json) and for the upload store (the beacon answers 500, keeps nothing, "
            "and goes on serving); an interrupted `run`/`probe` (Ctrl-C: partial report marked "
            "incomplete, exit 3); a beacon that dies, resets or stalls under the agent "
            "(`test_agent_faults.py`); a scenario, credential, request or report file of random bytes "
            "(the fuzz targets, `fuzz/`).", ""]
    return "\n".join(out)


@pytest.fixture(scope="module")
def world(tmp_path_factory, pki, manifest):
    tmp = tmp_path_factory.mktemp("bad")
    (tmp / "garbage.txt").write_text("this is not a certificate, a URL or a report\n")
    (tmp / "empty.pem").write_text("")
    (tmp / "afile").write_text("a file where a folder is expected\n")
    (tmp / "bad.yaml").write_text("name: [unclosed\n")
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    (tmp / "twice.yaml").write_text(  # a scenario giving `policy` twice: the second must not vanish
        "name: twice\ndescription: d\npolicy: {client_certificate: required}\n"
        "policy: {client_certificate: required, revocation: crl}\n"
        "beacons: [{name: a, url: 'https://a.example'}]\ncredentials: [valid]\n"
        "operations: [download-policy]\nentry_paths: [https]\n")
    corpus_report = HERE.parent.parent / "fuzz" / "corpus" / "report" / "report.json"
    run_dir = tmp / "a-run"  # a run's folder: its full report.json and its results.jsonl
    run_dir.mkdir()
    (run_dir / "report.json").write_text(corpus_report.read_text())
    (run_dir / "results.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in json.loads(corpus_report.read_text())["results"]))
    yield {"tmp": tmp, "pki": pki, "ca": pki / manifest["trust"]["server_ca_bundle"],
           "cert": pki / manifest["credentials"]["valid"]["cert"],
           "key": pki / manifest["credentials"]["valid"]["key"],
           "p12": pki / manifest["credentials"]["valid-p12"]["p12"],
           "garbage": tmp / "garbage.txt", "empty": tmp / "empty.pem", "file": tmp / "afile",
           "bad_yaml": tmp / "bad.yaml", "twice_yaml": tmp / "twice.yaml", "busy_port": holder.getsockname()[1], "closed_port": closed,
           "report": corpus_report, "report_dir": run_dir, "results": run_dir / "results.jsonl"}
    holder.close()


def fill(arg, values):
    text = str(arg)
    for k, v in values.items():
        text = text.replace("{" + k + "}", str(v))
    return text


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(case, world, harness, start_beacon):
    values = dict(world)
    if "{plain_as_https}" in json.dumps(case["cmd"]):
        beacon = start_beacon(args=("--plain-http", "127.0.0.1:0"))
        plain = next(l["port"] for l in beacon.ready["listeners"] if l["scheme"] == "http")
        values["plain_as_https"] = f"https://127.0.0.1:{plain}"
    args = [fill(a, values) for a in case["cmd"]]
    env = dict(os.environ, **case.get("env", {}))
    p = harness(*args, env=env, cwd=world["tmp"])
    err = p.stderr.decode()
    assert p.returncode == case["exit"], f"{args}: exit {p.returncode}\n{err}"
    if case["exit"] == 2:
        lines = [l for l in err.splitlines() if l.strip()]
        assert len(lines) == 1, f"expected one line, got: {err!r}"
        for word in case.get("mention", []):
            assert fill(word, values) in lines[0], f"{word!r} not in {lines[0]!r}"
    for word in case.get("stdout", []):
        assert word in p.stdout.decode(), p.stdout
    if "absent" in case:
        assert not pathlib.Path(fill(case["absent"], values)).exists(), "nothing may be written"


def test_the_doc_lists_every_case():
    assert DOC.read_text() == markdown() + "\n" or DOC.read_text() == markdown(), \
        "docs/bad-inputs.md is stale: python3 tests/e2e/test_bad_inputs.py --markdown > docs/bad-inputs.md"


def limited(max_bytes):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return apply


def test_full_disk_for_the_reports(tmp_path, pki, manifest):
    from helpers import BIN
    scenario = HERE.parent.parent / "scenarios" / "default" / "selftest-http-status.yaml"
    out = tmp_path / "out"
    p = subprocess.run([BIN, "run", str(scenario), "--out", str(out), "--pki", str(pki)],
                       capture_output=True, timeout=120, preexec_fn=limited(64 * 1024))
    err = p.stderr.decode()
    assert p.returncode in (2, 3), (p.returncode, err[-2000:])
    last = [l for l in err.splitlines() if l.strip()][-1]
    assert "error" in last and str(out) in last, last
    # no report that looks whole: report.json is written atomically or not at all
    if (out / "report.json").exists():
        json.loads((out / "report.json").read_text())


def test_full_disk_for_the_upload_store(tmp_path, pki, manifest):
    from helpers import BIN, credential_args
    store = tmp_path / "store"
    ready = tmp_path / "ready.json"
    beacon = subprocess.Popen([BIN, "beacon", "--pki", str(pki), "--store", str(store), "--ready-file", str(ready)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limited(200 * 1024))
    try:
        port = json.loads(beacon.stdout.readline())["listeners"][0]["port"]
        big = tmp_path / "big.ndi"
        big.write_bytes(b"<inventory>" + b"x" * (1024 * 1024) + b"</inventory>")
        url = f"https://127.0.0.1:{port}/ManageSoftRL/Inventories/big.ndi"
        cred = credential_args(manifest, pki, "valid")
        put = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                              str(pki / manifest["trust"]["server_ca_bundle"]), "--cert", cred[1], "--key", cred[3],
                              "-T", str(big), url], capture_output=True, timeout=60)
        assert put.stdout == b"500", put
        assert not list(store.rglob("*.ndi")) and not [f for f in store.rglob("*") if f.is_file()], \
            "a failed upload leaves nothing behind"
        small = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                                str(pki / manifest["trust"]["server_ca_bundle"]), "--cert", cred[1], "--key", cred[3],
                                "--data-binary", "<inventory/>", "-X", "PUT",
                                url.replace("big.ndi", "small.ndi")], capture_output=True, timeout=60)
        assert small.stdout == b"201", small  # the beacon goes on serving
    finally:
        beacon.send_signal(signal.SIGTERM)
        beacon.communicate(timeout=20)
    assert beacon.returncode == 0


if __name__ == "__main__" and "--markdown" in sys.argv:
    print(markdown())
