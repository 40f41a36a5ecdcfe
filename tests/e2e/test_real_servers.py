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
import urllib.parse

import pytest
import yaml

from helpers import BIN, HOME, OP_PATH
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


# The other TLS names of the beacon-a certificate (the probe reads them itself), and the name
# nobody configures (the port's default virtual host).
CERT_NAMES = ["localhost", "mtls.beacon-a.mtls-harness.test", "open.beacon-a.mtls-harness.test"]
UNKNOWN = "mtls-harness-unknown-name.invalid"
GET_OP = "get-ManageSoftDL-Policies-device-0001.npl"


def curl_door(peer, server, door, path=POLICY, plain_port=None, mismatch=UNKNOWN):
    """What a client without certificate gets through one door, with the curl CLI:
    (exit code, status, body). The doors are the probe's entry paths curl can express."""
    out = server.workdir / f"door-{os.urandom(4).hex()}.body"
    port = server.port
    cmd = ["curl", "-sS", "-k", "--max-time", "15", "-o", str(out), "-w", "%{http_code}"]
    if door == "https":
        cmd += ["--resolve", f"{NAME}:{port}:127.0.0.1", f"https://{NAME}:{port}{path}"]
    elif door == "no-sni":
        cmd += [f"https://127.0.0.1:{port}{path}"]
    elif door.startswith("sni:"):
        name = door[4:]
        cmd += ["--resolve", f"{name}:{port}:127.0.0.1", f"https://{name}:{port}{path}"]
    elif door == "sni-host-mismatch":
        cmd += ["--connect-to", f"{mismatch}:{port}:127.0.0.1:{port}", "-H", f"Host: {NAME}:{port}",
                f"https://{mismatch}:{port}{path}"]
    elif door == "plain-http":
        cmd += [f"http://127.0.0.1:{plain_port}{path}"]
    elif door == "tls-downgrade":
        cmd += ["--tls-max", "1.1", "--ciphers", "DEFAULT:@SECLEVEL=0", "--resolve",
                f"{NAME}:{port}:127.0.0.1", f"https://{NAME}:{port}{path}"]
    else:
        raise ValueError(door)
    p = peer(cmd)
    body = out.read_bytes() if out.exists() else b""
    status = p.stdout.decode().strip()
    return p.returncode, int(status) if status.isdigit() else 0, body


def open_doors(peer, server, doors, **kw):
    """The truth: the doors through which a client without certificate gets the policy itself."""
    policy = policy_bytes(server)
    out = set()
    for d in doors:
        rc, status, body = curl_door(peer, server, d, **kw)
        if rc == 0 and 200 <= status < 300 and body == policy:
            out.add(d)
    return out


def doors_probed_open(report, doors, op=GET_OP):
    """The doors the probe judged open (FAIL) for the GET, credential none."""
    rs = {r["entry_path"]: r for r in report["results"]
          if r["operation"] == op and r["credential"] == "none" and r["entry_path"] in doors}
    assert set(rs) == set(doors), f"the probe did not try every door: {sorted(set(doors) - set(rs))}"
    return {d for d, r in rs.items() if r["verdict"] == "FAIL"}


def policy_bytes(server):
    return (server.root / POLICY.lstrip("/")).read_bytes()


def probe(harness, pki, manifest, server, tmp_path, *extra, writes=True, env=None):
    out = tmp_path / f"probe-{server.kind}-{len(list(tmp_path.glob('probe-*')))}"
    cred = manifest["credentials"]["valid"]
    args = ["probe", "--target", f"https://{NAME}:{server.port}",
            "--resolve", f"{NAME}:{server.port}:127.0.0.1",
            "--ca", pki / manifest["trust"]["server_ca_bundle"],
            "--cert", pki / cred["cert"], "--key", pki / cred["key"],
            "--path", POLICY, "--rate", 100, "--out", out, *extra]
    if "--plain-http-port" not in extra:
        args += ["--plain-http-port", closed_port()]
    if writes:
        args.append("--allow-writes")
    p = harness(*args, timeout=300, env=env)
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
    doors = ["https", "no-sni", "sni-host-mismatch", *[f"sni:{n}" for n in CERT_NAMES + [UNKNOWN]]]
    assert open_doors(peer, server, doors) == set(), f"{kind}: a client without certificate got the policy"
    p, report = probe(harness, pki, manifest, server, tmp_path, writes=uploads)
    assert doors_probed_open(report, doors) == set()
    verdicts = [r["verdict"] for r in report["results"]]
    record(kind, "correct: client certificate required on every name",
           "curl without certificate gets no policy (with and without SNI); the device gets it", p, report)
    assert p.returncode == 0, [(r["check_id"], r["verdict"], r["reason"]) for r in report["results"]
                               if r["verdict"] not in ("PASS", "SKIPPED")]
    assert "INCONCLUSIVE" not in verdicts and "FAIL" not in verdicts
    assert not report["findings"], report["findings"]  # not even a WARN: the CA list is the client CA
    assert report["metadata"]["tls_survey"][0]["client_certificate_requested"]
    # the probe found the other names by itself: every name of the beacon's certificate was tried
    tried = {r["entry_path"] for r in report["results"]}
    assert {"sni:localhost", "sni:open.beacon-a.mtls-harness.test", "sni:mtls-harness-unknown-name.invalid",
            "no-sni"} <= tried
    if kind == "caddy":  # Go's TLS 1.3: the refusal comes after the handshake (an alert or an HTTP/2 reset)
        none = next(r for r in report["results"] if r["check_id"].endswith(f"/{GET_OP}/none/https"))
        assert none["outcome"] == "REJECTED_AFTER_HANDSHAKE" and none["evidence"]["tls_version"] == "TLSv1.3"
        assert none["evidence"]["curl_code"] in (16, 55, 56, 92), none["evidence"]
    # nothing a rejected client sent was stored
    stored = list((server.root / "ManageSoftRL").rglob("*"))
    contents = b"".join(f.read_bytes() for f in stored if f.is_file())
    assert b"/none/" not in contents and b"/self-signed/" not in contents and b"/untrusted-ca/" not in contents


# Class 1: the same port serves the beacon under another TLS name, or without SNI. Each setup
# says which doors it leaves open; curl confirms it before the probe runs, and the probe (never
# told any name) must find exactly those, each an EXPOSURE naming its door.
OTHER_NAMES = [
    ("nginx", "nginx-open-default-vhost.conf", None, (), {"no-sni", f"sni:{UNKNOWN}", *[f"sni:{n}" for n in CERT_NAMES]}),
    ("apache2", "apache2-open-first-vhost.conf", None, (), {"no-sni", f"sni:{UNKNOWN}", *[f"sni:{n}" for n in CERT_NAMES]}),
    # lighttpd decides client verification by SNI but routes by Host: the mismatch is open too
    ("lighttpd", "lighttpd-host-block.conf", None, (),
     {"no-sni", "sni-host-mismatch", f"sni:{UNKNOWN}", *[f"sni:{n}" for n in CERT_NAMES]}),
    ("haproxy", "haproxy-crt-list.conf", [], ("haproxy-crt-list.txt",),
     {"sni:open.beacon-a.mtls-harness.test", "sni:localhost"}),
    ("caddy", "caddy-open-site.Caddyfile", None, (), {"sni:open.beacon-a.mtls-harness.test"}),
]


@pytest.mark.parametrize("kind,fixture,backend,extras,assumed_open", OTHER_NAMES,
                         ids=[f"{c[0]}-{c[1].split('.')[0]}" for c in OTHER_NAMES])
def test_another_tls_name_or_no_sni_is_found_without_being_told(kind, fixture, backend, extras, assumed_open,
                                                                servers, peer, harness, pki, manifest, tmp_path):
    server = servers.start(kind, fixture, backend, extras)
    doors = ["https", "no-sni", "sni-host-mismatch", *[f"sni:{n}" for n in CERT_NAMES + [UNKNOWN]]]
    truth = open_doors(peer, server, doors)
    assert truth == assumed_open, f"{fixture} does not behave as assumed: open doors {sorted(truth)}"
    p, report = probe(harness, pki, manifest, server, tmp_path, writes=False)
    record(kind, fixture.split(".")[0].replace(f"{kind}-", "").replace("-", " "),
           "curl without certificate gets the policy through: " + ", ".join(sorted(truth)), p, report)
    assert p.returncode == 1
    assert doors_probed_open(report, doors) == truth
    exposed = {f["entry_path"] for f in report["findings"] if f["severity"] == "EXPOSURE"}
    assert exposed == truth, report["findings"]
    for f in report["findings"]:  # each names its door, its bypass class and how to close it
        assert f["remediation"] and f["advisories"], f
        if f["entry_path"].startswith("sni:"):
            assert f["entry_path"][4:] in f["title"] and "CWE-288" in f["advisories"][0], f
        if f["entry_path"] == "no-sni":
            assert "no TLS name" in f["title"] and "CWE-288" in f["advisories"][0], f


def test_an_open_name_outside_the_certificate_needs_open_name(servers, peer, harness, pki, manifest, tmp_path):
    """A name the beacon's certificate does not hold cannot be guessed: --open-name adds it (and
    --resolve makes it reachable before DNS has it)."""
    server = servers.start("nginx", "nginx-open-name.conf")
    doors = ["https", "no-sni", "sni:files.example.test"]
    assert open_doors(peer, server, doors) == {"sni:files.example.test"}, "nginx-open-name.conf: premise"
    p, report = probe(harness, pki, manifest, server, tmp_path, writes=False)
    assert p.returncode == 0 and not report["findings"]  # nothing it could know of was open
    p, report = probe(harness, pki, manifest, server, tmp_path, "--open-name", "files.example.test",
                      "--resolve", f"files.example.test:{server.port}:127.0.0.1", writes=False)
    record("nginx", "another server name, not in the certificate, without client auth",
           "curl gets the policy only under files.example.test", p, report)
    assert p.returncode == 1
    assert {(f["severity"], f["entry_path"]) for f in report["findings"]} == \
        {("EXPOSURE", "sni:files.example.test"), ("EXPOSURE", "sni-host-mismatch")} or \
        {(f["severity"], f["entry_path"]) for f in report["findings"]} == {("EXPOSURE", "sni:files.example.test")}


def curl_put(peer, server, path, data, *extra):
    """A PUT without certificate, with curl: (exit code, status)."""
    cmd = ["curl", "-sS", "-k", "--max-time", "15", "-o", "/dev/null", "-w", "%{http_code}",
           "--resolve", f"{NAME}:{server.port}:127.0.0.1", "-T", "-", *extra,
           f"https://{NAME}:{server.port}{path}"]
    p = peer(cmd, input_bytes=data)
    status = p.stdout.decode().strip()
    return p.returncode, int(status) if status.isdigit() else 0


def negatives(report, op):
    return [r for r in report["results"] if r["operation"] == op and r["expected"] == "REJECTED"
            and r["verdict"] != "SKIPPED"]


# Class 5: soft refusals (HTTP 200 with an error page, a "use https" notice on the cleartext
# port, a 200 to an upload that stored nothing) are refusals, not exposures.
SOFT = [("nginx", "nginx-soft-refusal.conf", None), ("haproxy", "haproxy-soft-refusal.conf", ["--trust-header",
        "X-SSL-Client-Verify", "--soft-refusal"])]


@pytest.mark.parametrize("kind,fixture,backend", SOFT, ids=[s[0] for s in SOFT])
def test_a_200_error_page_is_a_soft_refusal_not_an_exposure(kind, fixture, backend, servers, peer, harness, pki,
                                                             manifest, tmp_path):
    server = servers.start(kind, fixture, backend)
    rc, status, body = curl(peer, server, POLICY)
    assert rc == 0 and status == 200 and body != policy_bytes(server) and b"certificate" in body, \
        f"{fixture}: premise: a client without certificate gets HTTP 200 with an error page"
    probe_file = f"/ManageSoftRL/truth-{os.urandom(3).hex()}.log"
    assert curl_put(peer, server, probe_file, b"curl without a certificate\n")[1] == 200
    assert not (server.root / probe_file.lstrip("/")).exists(), f"{fixture}: premise: nothing stored"
    extra = []
    if server.port2:  # nginx: the cleartext port answers 200 "use https"
        rc, status, body = curl_door(peer, server, "plain-http", plain_port=server.port2)
        assert status == 200 and b"use https" in body
        extra = ["--plain-http-port", server.port2]
    p, report = probe(harness, pki, manifest, server, tmp_path, *extra)
    record(kind, "optional client certificate, HTTP 200 error page for clients without one",
           "curl without certificate: HTTP 200 with an error page, its upload not stored", p, report)
    assert p.returncode == 0, [(r["check_id"], r["verdict"], r["reason"]) for r in report["results"]
                               if r["verdict"] not in ("PASS", "SKIPPED")]
    soft = [r for r in negatives(report, GET_OP) if r["evidence"]["http_status"] == 200]
    assert soft and all(r["outcome"] == "REJECTED_HTTP" and "soft refusal" in r["reason"] for r in soft)
    assert all(r["evidence"]["body_sha256"] and r["evidence"]["body_head"] for r in soft)
    if server.port2:
        plain = [r for r in soft if r["entry_path"] == "plain-http"]
        assert plain and "use https" in plain[0]["reason"]
    # every upload without a valid certificate was answered 200 and read back: nothing stored
    uploads = [r for r in negatives(report, "upload-test") if r["evidence"]["http_status"] == 200]
    assert uploads and all("nothing was stored" in r["reason"] and r["verdict"] == "PASS" for r in uploads)
    stored = (server.root / "ManageSoftRL" / "mtls-harness-probe-test.log").read_bytes()
    assert b"/valid/https" in stored  # the device's own upload is the one kept


# Class 6: refusals in other shapes (a 302 away, a 404) are refusals when the control got in.
SHAPES = [("nginx", "nginx-refusal-shapes.conf", {GET_OP: 302, "upload-test": 404}),
          ("apache2", "apache2-refusal-404.conf", {GET_OP: 404, "upload-test": 404})]


@pytest.mark.parametrize("kind,fixture,statuses", SHAPES, ids=[s[0] for s in SHAPES])
def test_a_redirect_or_404_for_unverified_clients_is_a_refusal(kind, fixture, statuses, servers, peer, harness, pki,
                                                                manifest, tmp_path):
    server = servers.start(kind, fixture)
    assert curl(peer, server, POLICY)[1] == statuses[GET_OP], f"{fixture}: premise"
    assert curl(peer, server, POLICY, cert="valid", pki=pki, manifest=manifest)[1] == 200
    p, report = probe(harness, pki, manifest, server, tmp_path)
    record(kind, f"optional client certificate, HTTP {statuses[GET_OP]} for clients without one",
           f"curl without certificate: HTTP {statuses[GET_OP]}; the device: 200", p, report)
    assert p.returncode == 0, [(r["check_id"], r["verdict"], r["reason"]) for r in report["results"]
                               if r["verdict"] not in ("PASS", "SKIPPED")]
    for op, status in statuses.items():
        front = [r for r in negatives(report, op) if r["entry_path"] == "https" and r["credential"] == "none"]
        assert front and front[0]["outcome"] == "REJECTED_HTTP" and front[0]["evidence"]["http_status"] == status
    if statuses[GET_OP] == 302:
        front = next(r for r in negatives(report, GET_OP) if r["entry_path"] == "https" and r["credential"] == "none")
        assert front["evidence"]["redirect_to"] == "https://help.example.test/client-certificates.html"


# Class 7: a LOCKOUT must be about the certificate. A folder the device gets 403/404 for (no
# listing) proves nothing either way: INCONCLUSIVE with the hint, never a LOCKOUT. A beacon
# that trusts the wrong CA refuses the device's certificate: that is a LOCKOUT.
@pytest.mark.parametrize("kind,fixture", [("nginx", "nginx-correct.conf"), ("apache2", "apache2-correct.conf")])
def test_a_folder_the_device_cannot_list_is_inconclusive_not_a_lockout(kind, fixture, servers, peer, harness, pki,
                                                                        manifest, tmp_path):
    server = servers.start(kind, fixture)
    rc, status, _ = curl(peer, server, "/ManageSoftDL/", cert="valid", pki=pki, manifest=manifest)
    assert rc == 0 and status in (403, 404), f"{fixture}: premise: no listing for the device"
    p, report = probe(harness, pki, manifest, server, tmp_path, "--path", "/ManageSoftDL/", writes=False)
    record(kind, "correct, probed on a folder without a listing (the old default --path)",
           f"the device gets HTTP {status} for the folder", p, report)
    assert p.returncode == 3 and not report["findings"], report["findings"]
    control = next(r for r in report["results"] if r["credential"] == "valid" and "ManageSoftDL/" in r["check_id"]
                   and r["operation"] == "get-ManageSoftDL")
    assert control["verdict"] == "INCONCLUSIVE" and control["severity"] is None
    assert "give --path a file" in control["reason"]


@pytest.mark.parametrize("kind,fixture", [("nginx", "nginx-wrong-ca.conf"), ("apache2", "apache2-wrong-ca.conf")])
def test_a_beacon_trusting_the_wrong_ca_is_a_lockout(kind, fixture, servers, peer, harness, pki, manifest, tmp_path):
    server = servers.start(kind, fixture)
    rc, status, body = curl(peer, server, POLICY, cert="valid", pki=pki, manifest=manifest)
    assert body != policy_bytes(server), f"{fixture}: premise: the device is refused"
    p, report = probe(harness, pki, manifest, server, tmp_path, writes=False)
    record(kind, "client certificates checked against the wrong CA",
           f"curl with the device's certificate is refused (exit {rc}, HTTP {status})", p, report)
    assert p.returncode == 1
    assert {(f["severity"], f["kind"], f["credential"]) for f in report["findings"]} == \
        {("LOCKOUT", "check", "valid"), ("WARN", "client-ca-list", "valid")}  # it names a CA nobody needs


# Class 8: a beacon that completed the handshake and then never answered is reachable: it is
# named (PROTOCOL_ERROR, "no answer"), never UNREACHABLE.
@pytest.mark.parametrize("kind,fixture", [("stunnel", "stunnel-correct.conf"), ("haproxy", "haproxy-correct.conf")])
def test_a_beacon_silent_after_the_handshake_is_not_unreachable(kind, fixture, servers, peer, harness, pki, manifest,
                                                                 tmp_path):
    blackhole = socket.socket()  # accepts TCP connections (the kernel's backlog), answers nothing
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(64)
    try:
        server = servers.start(kind, fixture, backend_port=blackhole.getsockname()[1])
        rc, status, _ = curl(peer, server, POLICY, "--max-time", "3", cert="valid", pki=pki, manifest=manifest)
        assert rc == 28 and status == 0, f"{fixture}: premise: the handshake completes, no answer follows"
        p, report = probe(harness, pki, manifest, server, tmp_path, "--timeout", "2", writes=False)
        record(kind, "correct TLS, a backend that never answers", "curl: handshake done, then time-out (curl 28)",
               p, report)
        assert p.returncode == 3
        control = next(r for r in report["results"] if r["credential"] == "valid")
        assert control["outcome"] == "PROTOCOL_ERROR" and "no answer" in control["reason"], control
        assert control["evidence"]["handshake_completed"]
        assert not [r for r in report["results"] if r["outcome"] == "UNREACHABLE" and r["evidence"]["handshake_completed"]]
    finally:
        blackhole.close()


# Classes 2 and 3: other spellings of the same resource, and identity taken from headers. The
# variants are the probe's own catalogue (fixtures/request_variants.yaml); the test spells each
# one itself and asks curl first, then the probe must judge every variant as curl found it.
VARIANTS = yaml.safe_load((HOME / "fixtures" / "request_variants.yaml").read_text())


def spell(path, kind):
    """The test's own spelling of a path (an oracle written apart from the harness's)."""
    first = path.find("/", 1)
    first = len(path) if first < 0 else first
    if kind == "upper-case":
        return path.upper()
    if kind == "lower-case":
        return path.lower()
    if kind == "percent-encoded-letter":
        i = next(i for i, c in enumerate(path) if c.isalpha())
        return path[:i] + "%%%02X" % ord(path[i]) + path[i + 1:]
    if kind == "percent-encoded-slash":
        return path[:first] + path[first:].replace("/", "%2F")
    if kind == "double-slash":
        return "/" + path
    if kind == "dot-segment":
        return "/." + path
    if kind == "dotdot-segment":
        return "/mtls-harness-x/.." + path
    if kind == "trailing-dot":
        return path[:first] + "." + path[first:]
    if kind == "semicolon-parameter":
        return path[:first] + ";mtls-harness" + path[first:]
    if kind == "backslash":
        return "/" + path[1:].replace("/", "\\")
    raise ValueError(kind)


def open_variants(peer, server, door, manifest, pki):
    """The truth for every GET variant of `door`: the names through which curl, without a
    certificate, gets the policy itself."""
    cert_pem = (pki / manifest["credentials"]["valid"]["cert"]).read_text()
    facts = {"cert_pem_escaped": urllib.parse.quote(cert_pem, safe="-._~"), "cert_sha256": "0" * 64,
             "cert_subject": "CN=valid", "cert_der_base64": "AA=="}
    out = set()
    for name, v in VARIANTS[door].items():
        if "GET" not in v["applies_to"]:
            continue
        path = spell(POLICY, v["spell"]) if v.get("spell") else POLICY
        headers = []
        for h, value in (v.get("headers") or {}).items():
            for k, fact in facts.items():
                value = value.replace("{" + k + "}", fact)
            headers += ["-H", f"{h}: {value}"]
        rc, status, body = curl(peer, server, path, "--path-as-is", *headers)
        if rc == 0 and status == 200 and body == policy_bytes(server):
            out.add(f"{door}:{name}")
    return out


def probed_open(report, door):
    rs = [r for r in report["results"] if r["operation"] == GET_OP and r["entry_path"].startswith(door + ":")]
    names = {f"{door}:{n}" for n, v in VARIANTS[door].items() if "GET" in v["applies_to"]}
    assert {r["entry_path"] for r in rs} == names, "the probe did not try every variant"
    return {r["entry_path"] for r in rs if r["verdict"] == "FAIL"}


BYPASSES = [
    ("haproxy", "haproxy-path-prefix.conf", ["--iis"], "path"),
    ("nginx", "nginx-location-prefix.conf", ["--iis"], "path"),
    ("haproxy", "haproxy-header-passthrough.conf", ["--trust-header", "X-SSL-Client-Verify"], "header"),
    ("nginx", "nginx-header-name-mismatch.conf",
     ["--trust-header", "X-SSL-Client-Verify", "--trust-header", "X-Client-Verify"], "header"),
    ("apache2", "apache2-conditional-header.conf", ["--trust-header", "X-SSL-Client-Verify"], "header"),
]


@pytest.mark.parametrize("kind,fixture,backend,door", BYPASSES, ids=[b[1].split(".")[0] for b in BYPASSES])
def test_another_spelling_or_a_spoofed_header_is_found(kind, fixture, backend, door, servers, peer, harness, pki,
                                                       manifest, tmp_path):
    server = servers.start(kind, fixture, backend)
    assert curl(peer, server, POLICY)[2] != policy_bytes(server), f"{fixture}: premise: the front door is closed"
    assert curl(peer, server, POLICY, cert="valid", pki=pki, manifest=manifest)[2] == policy_bytes(server), \
        f"{fixture}: premise: the device gets in"
    truth = open_variants(peer, server, door, manifest, pki)
    assert truth, f"{fixture}: premise: some {door} variant gets in"
    p, report = probe(harness, pki, manifest, server, tmp_path, writes=False)
    record(kind, fixture.split(".")[0].replace(f"{kind}-", "").replace("-", " "),
           "curl without certificate gets the policy through: " + ", ".join(sorted(truth)), p, report)
    assert p.returncode == 1
    assert probed_open(report, door) == truth
    exposed = {f["entry_path"] for f in report["findings"] if f["severity"] == "EXPOSURE"}
    assert exposed == truth, report["findings"]
    cwe = "CWE-41" if door == "path" else "CWE-290"
    assert all(cwe in f["advisories"][0] for f in report["findings"])


def forge_with_openssl(peer, workdir, pki, manifest):
    """The test's own look-alike of the device certificate (the openssl CLI, apart from the
    harness): a self-signed CA named like the device's issuer, and a clientAuth leaf with the
    device's subject. Returns the PEM chain and the key."""
    valid = pki / manifest["credentials"]["valid"]["cert"]
    names = peer(["openssl", "x509", "-in", str(valid), "-noout", "-subject", "-issuer", "-nameopt", "compat"])
    subject, issuer = [line.split("=", 1)[1] for line in names.stdout.decode().splitlines()]
    d = workdir / "forged-by-openssl"
    d.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    assert peer(["openssl", "req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"),
                 "-subj", issuer, "-days", "2"]).returncode == 0
    assert peer(["openssl", "req", *ec, "-keyout", str(d / "leaf.key"), "-out", str(d / "leaf.csr"),
                 "-subj", subject]).returncode == 0
    (d / "ext").write_text("extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n")
    assert peer(["openssl", "x509", "-req", "-in", str(d / "leaf.csr"), "-CA", str(d / "ca.pem"), "-CAkey",
                 str(d / "ca.key"), "-CAcreateserial", "-out", str(d / "leaf.pem"), "-days", "2",
                 "-extfile", str(d / "ext")]).returncode == 0
    (d / "chain.pem").write_text((d / "leaf.pem").read_text() + (d / "ca.pem").read_text())
    return d / "chain.pem", d / "leaf.key"


# Class 3 (second half): a beacon that admits a certificate by its issuer's or subject's name.
# The probe forges look-alikes of the distributed certificate itself (never told to).
NAME_TRUST = [("nginx", "nginx-trusts-issuer-name.conf", None), ("haproxy", "haproxy-trusts-issuer-name.conf", [])]


@pytest.mark.parametrize("kind,fixture,backend", NAME_TRUST, ids=[n[0] for n in NAME_TRUST])
def test_a_beacon_that_trusts_names_lets_in_a_look_alike(kind, fixture, backend, servers, peer, harness, pki,
                                                          manifest, tmp_path):
    valid = pki / manifest["credentials"]["valid"]["cert"]
    out = peer(["openssl", "x509", "-in", str(valid), "-noout", "-issuer", "-nameopt", "RFC2253"]).stdout.decode()
    issuer_dn = out.strip().split("=", 1)[1]
    issuer_cn = issuer_dn.rsplit("CN=", 1)[1].split(",")[0]
    server = servers.start(kind, fixture, backend, more={"ISSUER_DN": issuer_dn, "ISSUER_CN": issuer_cn})
    assert curl(peer, server, POLICY, cert="valid", pki=pki, manifest=manifest)[2] == policy_bytes(server)
    assert curl(peer, server, POLICY)[2] != policy_bytes(server), f"{fixture}: premise: no certificate, no entry"
    chain, key = forge_with_openssl(peer, server.workdir, pki, manifest)
    rc, status, body = curl(peer, server, POLICY, "--cert", str(chain), "--key", str(key))
    assert body == policy_bytes(server), f"{fixture}: premise: a look-alike made with openssl gets in"
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    p, report = probe(harness, pki, manifest, server, tmp_path, writes=False, env={"TMPDIR": str(private_tmp)})
    record(kind, fixture.split(".")[0].replace(f"{kind}-", "").replace("-", " "),
           "curl with an openssl-made look-alike (same issuer name and subject, another key) gets the policy",
           p, report)
    assert p.returncode == 1
    forged = {f["credential"] for f in report["findings"] if f["severity"] == "EXPOSURE" and f["entry_path"] == "https"}
    assert forged == {"forged-issuer", "forged-serial"}, report["findings"]
    assert all("names" in f["remediation"] for f in report["findings"] if f["credential"].startswith("forged-"))
    assert not list(private_tmp.iterdir()), "the forged keys were not removed"


def s_client_ca_names(peer, server):
    """The CA names a server's CertificateRequest lists, as `openssl s_client` prints them."""
    p = peer(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", NAME,
              "-tls1_2", "-nameopt", "RFC2253"], input_bytes=b"")
    out, names, inside = p.stdout.decode(errors="replace"), [], False
    for line in out.splitlines():
        if line.startswith("Acceptable client certificate CA names"):
            inside = True
            continue
        if inside:
            if not line or line.startswith(("Requested Signature", "Client Certificate Types", "Shared")):
                break
            names.append(line.strip())
    return names


# Class 4: trust that is too broad. The probe reports what the handshake asks for (like testssl.sh)
# and warns when the client CA list holds public roots or CAs the distributed chain does not need.
@pytest.mark.parametrize("kind,fixture", [("nginx", "nginx-broad-client-cas.conf"),
                                          ("apache2", "apache2-broad-client-cas.conf")])
def test_a_client_ca_list_with_public_roots_is_a_warning(kind, fixture, servers, peer, harness, pki, manifest,
                                                          tmp_path):
    bundle = pathlib.Path("/etc/ssl/certs/ca-certificates.crt").read_text()
    public_root = bundle[:bundle.index("-----END CERTIFICATE-----") + 26]
    broad = tmp_path / "broad-client-cas.pem"
    broad.write_text((pki / manifest["trust"]["client_ca_roots"]).read_text() +
                     (pki / "ca" / "other-ca.pem").read_text() + public_root)
    os.chmod(tmp_path, 0o755)
    server = servers.start(kind, fixture, more={"BROAD_CAS": str(broad)})
    listed = s_client_ca_names(peer, server)
    assert len(listed) == 3, f"{fixture}: premise: three CA names in the CertificateRequest: {listed}"
    p, report = probe(harness, pki, manifest, server, tmp_path, writes=False)
    record(kind, "client certificates required, but from a CA list with another CA and a public root",
           "openssl s_client lists 3 acceptable CA names", p, report)
    assert p.returncode == 0  # a warning, not a failure: nothing got in
    warns = [f for f in report["findings"] if f["kind"] == "client-ca-list"]
    assert len(warns) == 1 and warns[0]["severity"] == "WARN", report["findings"]
    client_root = next(n for n in listed if "Client Root" in n)
    assert sorted(warns[0]["ca_names"]) == sorted(n for n in listed if n != client_root)
    assert len(warns[0]["public_roots"]) == 1 and "2 CA(s)" in warns[0]["title"]
    survey = report["metadata"]["tls_survey"][0]
    assert survey["client_certificate_requested"] and sorted(survey["acceptable_client_cas"]) == sorted(listed)
    assert survey["client_auth"] == ("requested" if kind == "nginx" else "required")


def test_a_folder_with_a_listing_gives_the_probe_a_file(servers, peer, harness, pki, manifest, tmp_path):
    server = servers.start("nginx", "nginx-listing.conf")
    rc, status, body = curl(peer, server, "/ManageSoftDL/", cert="valid", pki=pki, manifest=manifest)
    assert status == 200 and b"href=" in body, "nginx-listing.conf: premise: the device gets a listing"
    p, report = probe(harness, pki, manifest, server, tmp_path, "--path", "/ManageSoftDL/", writes=False)
    assert p.returncode == 0, p.stdout.decode()
    # the folder lists only folders; the probe looked one level down and took the first file there
    assert b"/ManageSoftDL/ lists files for the device: /ManageSoftDL/Policies/default.npl" in p.stdout
    ops = {r["operation"] for r in report["results"]}
    assert {"get-ManageSoftDL", "get-ManageSoftDL-Policies-default.npl"} <= ops, ops
