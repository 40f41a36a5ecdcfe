"""`probe` against real servers nobody here wrote (nginx, Apache httpd, lighttpd, HAProxy, Caddy,
stunnel), each started from a small config fixture in `servers/`. Every test first establishes the
truth with the curl CLI (what can a client without a valid certificate actually get or store?), and
fails loudly when a server does not behave as the fixture assumes; only then is the harness's
verdict asserted.

Each test adds a row (server, setup, truth, verdict) to the table that `ci/real-servers-doc`
writes into docs/real-servers.md."""
import hashlib
import json
import os
import pathlib
import socket

import pytest

from helpers import BIN, OP_PATH
from real_servers import ServerFactory

NAME = "beacon-a.mtls-harness.test"
POLICY = OP_PATH
ROWS = []


@pytest.fixture
def servers(pki, manifest, diag):
    factory = ServerFactory(pki, manifest)
    wrapped_start = factory.start

    def start(*args, **kwargs):
        server = wrapped_start(*args, **kwargs)
        diag.add(server.diagnostics)
        return server

    factory.start = start
    yield factory
    factory.close()


@pytest.fixture(scope="session", autouse=True)
def real_servers_table():
    yield
    target = os.environ.get("MTLS_REAL_SERVERS_TABLE")
    if target and ROWS:
        pathlib.Path(target).write_text(json.dumps(ROWS, indent=1))


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curl(peer, server, path, *extra, name=NAME, cert=None, pki=None, manifest=None, sni=True,
         method=None, data=None):
    """The truth, with the curl CLI: (exit code, HTTP status, body bytes). sni=False asks the
    address itself (no TLS name)."""
    out = server.workdir / f"curl-{len(ROWS)}-{os.urandom(4).hex()}.body"
    url = f"https://{name}:{server.port}{path}" if sni else f"https://127.0.0.1:{server.port}{path}"
    cmd = ["curl", "-sS", "-k", "--max-time", "15", "--resolve", f"{name}:{server.port}:127.0.0.1",
           "-o", str(out), "-w", "%{http_code}", *extra]
    if cert:
        cred = manifest["credentials"][cert]
        cmd += ["--cert", str(pki / cred["cert"]), "--key", str(pki / cred["key"])]
    if method:
        cmd += ["-X", method]
    if data is not None:
        cmd += ["--data-binary", data]
    cmd.append(url)
    p = peer(cmd)
    body = out.read_bytes() if out.exists() else b""
    status = p.stdout.decode().strip()
    return p.returncode, int(status) if status.isdigit() else 0, body


def policy_bytes(server):
    return (server.root / POLICY.lstrip("/")).read_bytes()


def probe(harness, pki, manifest, server, tmp_path, *extra, writes=True):
    out = tmp_path / f"probe-{server.kind}-{len(list(tmp_path.glob('probe-*')))}"
    cred = manifest["credentials"]["valid"]
    args = ["probe", "--target", f"https://{NAME}:{server.port}",
            "--resolve", f"{NAME}:{server.port}:127.0.0.1",
            "--ca", pki / manifest["trust"]["server_ca_bundle"],
            "--cert", pki / cred["cert"], "--key", pki / cred["key"],
            "--path", POLICY, "--rate", 100, "--plain-http-port", closed_port(), "--out", out, *extra]
    if writes:
        args.append("--allow-writes")
    p = harness(*args, timeout=300)
    report = json.loads((out / "report.json").read_text())
    return p, report


def finding_set(report):
    return {(f["severity"], f["entry_path"], f["credential"]) for f in report["findings"]}


def record(server, setup, truth, p, report):
    s = report["summary"]
    ROWS.append({"server": server, "setup": setup, "truth": truth, "exit": p.returncode,
                 "verdict": {k: s.get(k) for k in ("PASS", "FAIL", "INCONCLUSIVE", "SKIPPED")},
                 "findings": sorted(f"{f['severity']} {f['entry_path']} ({f['credential']})"
                                    for f in report["findings"])})


# (server, fixture, backend app flags or None, takes uploads): Caddy's file server stores none.
CORRECT = [("nginx", "nginx-correct.conf", None, True),
           ("apache2", "apache2-correct.conf", None, True),
           ("lighttpd", "lighttpd-correct.conf", None, True),
           ("haproxy", "haproxy-correct.conf", [], True),
           ("caddy", "caddy-correct.Caddyfile", None, False),
           ("stunnel", "stunnel-correct.conf", [], True)]


@pytest.mark.parametrize("kind,fixture,backend,uploads", CORRECT, ids=[c[0] for c in CORRECT])
def test_a_correct_setup_passes_with_nothing_inconclusive(kind, fixture, backend, uploads, servers, peer,
                                                           harness, pki, manifest, tmp_path):
    server = servers.start(kind, fixture, backend)
    # The truth: the device gets the policy; no certificate (any name, or none) gets nothing of it.
    rc, status, body = curl(peer, server, POLICY, cert="valid", pki=pki, manifest=manifest)
    assert (rc, status, body) == (0, 200, policy_bytes(server)), "the device must get its policy"
    for sni in (True, False):
        rc, status, body = curl(peer, server, POLICY, sni=sni)
        assert body != policy_bytes(server), f"{kind}: a client without certificate got the policy"
    p, report = probe(harness, pki, manifest, server, tmp_path, writes=uploads)
    verdicts = [r["verdict"] for r in report["results"]]
    record(kind, "correct: client certificate required on every name",
           "curl without certificate gets no policy (with and without SNI); the device gets it", p, report)
    assert p.returncode == 0, [(r["check_id"], r["verdict"], r["reason"]) for r in report["results"]
                               if r["verdict"] not in ("PASS", "SKIPPED")]
    assert "INCONCLUSIVE" not in verdicts and "FAIL" not in verdicts
    # the probe found the other names by itself: every name of the beacon's certificate was tried
    tried = {r["entry_path"] for r in report["results"]}
    assert {"sni:localhost", "sni:open.beacon-a.mtls-harness.test", "sni:mtls-harness-unknown-name.invalid",
            "no-sni"} <= tried
    # nothing a rejected client sent was stored
    stored = list((server.root / "ManageSoftRL").rglob("*"))
    contents = b"".join(f.read_bytes() for f in stored if f.is_file())
    assert b"/none/" not in contents and b"/self-signed/" not in contents and b"/untrusted-ca/" not in contents
