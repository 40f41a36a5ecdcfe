"""The simulated beacon's behaviours, each observed from outside: how it refuses (every reject
mode, seen by our agent as the outcome the issue names), every credential variant against
ignore/request/require with and without CRL checks (our agent, curl and openssl s_client must
agree), atomic uploads, per-folder client auth by renegotiation, each misconfiguration knob,
TLS versions, timeouts, garbage, and the realism knobs."""
import contextlib
import hashlib
import pathlib
import json
import os
import socket
import ssl
import subprocess
import time

import pytest

import helpers
from helpers import agent_json, credential_args, curl_status

# How each reject mode must look to an agent (the contract for each mode).
REJECT_MODES = {
    "alert:handshake_failure": ("REJECTED_HANDSHAKE", "handshake_failure", None),
    "alert:certificate_required": ("REJECTED_HANDSHAKE", "certificate_required", None),
    "alert:access_denied": ("REJECTED_HANDSHAKE", "access_denied", None),
    "alert:bad_certificate": ("REJECTED_HANDSHAKE", "bad_certificate", None),
    "close": ("REJECTED_AFTER_HANDSHAKE", None, None),
    "http:403": ("REJECTED_HTTP", None, 403),
    "http:400": ("REJECTED_HTTP", None, 400),
}
# Debian's OpenSSL (SECLEVEL 2) will not load an RSA-1024 key, and curl refuses a certificate
# with someone else's key: neither client can present these two, so they are probed elsewhere.
UNPRESENTABLE = {"weak-key", "wrong-key"}


def connection_for(beacon, rec):
    return beacon.connection_for(rec["evidence"]["local_port"])


@pytest.mark.parametrize("mode", sorted(REJECT_MODES))
def test_every_reject_mode_is_recognised(harness, start_beacon, pki, manifest, mode):
    outcome, alert, status = REJECT_MODES[mode]
    beacon = start_beacon("require", args=["--reject", mode])
    _, none = agent_json(harness, beacon.url, pki, manifest, "none")
    _, valid = agent_json(harness, beacon.url, pki, manifest, "valid")
    _, expired = agent_json(harness, beacon.url, pki, manifest, "expired")
    assert valid["outcome"] == "ACCEPTED"
    for rec in (none, expired):
        assert rec["outcome"] == outcome, rec
        assert rec["evidence"]["http_status"] == status
        if alert:
            # Botan reports every bad chain as bad_certificate, whatever the configured alert.
            want = "bad_certificate" if rec is expired else alert
            assert rec["evidence"]["tls_alert"] == want
    beacon.stop()
    conn = connection_for(beacon, none)
    assert conn["rejection"] == "no client certificate"
    bad = connection_for(beacon, expired)
    assert "expired" in bad["verify_error"], bad  # the true reason, which the client is not told


def expected_accepted(manifest, name, mode, crl):
    """What a beacon in `mode` must do with credential `name`, from the manifest's expectations."""
    if mode == "ignore":
        return True  # no CertificateRequest: nobody presents anything
    if mode == "request" and manifest["credentials"][name]["cert"] is None:
        return True  # optional: no certificate is fine, a presented one must be valid
    return manifest["credentials"][name]["expected"]["require_crl" if crl else "require"] == "ACCEPTED"


@pytest.mark.parametrize("mode", ["ignore", "request", "require"])
@pytest.mark.parametrize("crl", [False, True], ids=["no-crl", "crl"])
def test_every_variant_against_every_mode_agrees_across_clients(
        harness, peer, start_beacon, pki, manifest, mode, crl):
    beacon = start_beacon(mode, args=["--revocation", "crl" if crl else "off"])
    names = [n for n, c in manifest["credentials"].items()
             if n not in UNPRESENTABLE and c.get("p12") is None]
    assert len(names) >= 10
    for name in names:
        want = expected_accepted(manifest, name, mode, crl)
        _, rec = agent_json(harness, beacon.url, pki, manifest, name)
        assert (rec["outcome"] == "ACCEPTED") == want, (name, rec["outcome"], rec["reason"])
        if not want:
            assert rec["outcome"].startswith("REJECTED_"), (name, rec["outcome"])
        assert helpers.curl_accepted(peer, beacon.url, pki, manifest, name) == want, f"curl: {name}"
        assert helpers.openssl_accepted(peer, beacon.port, pki, manifest, name) == want, f"s_client: {name}"
    beacon.stop()
    if crl and mode != "ignore":
        revoked = [c for c in beacon.records("connection")
                   if c["client_cert"] and "device-revoked" in c["client_cert"]["subject"]]
        assert revoked and all("revoked" in (c["verify_error"] or "").lower() for c in revoked), revoked


def put(peer, url, pki, manifest, credential, data_file, target, *extra):
    return curl_status(peer, url, pki, manifest, credential, "-T", str(data_file), *extra, url + target)


def stored_files(store):
    return sorted(p.relative_to(store) for p in store.rglob("*") if p.is_file())


def test_uploads_are_stored_whole_with_their_digest(peer, start_beacon, pki, manifest, tmp_path):
    store = tmp_path / "store"
    beacon = start_beacon("require", args=["--store", store])
    payload = tmp_path / "inventory.ndi"
    payload.write_bytes(os.urandom(300_000))
    url = beacon.url + "/ManageSoftRL/Inventories/device-0001.ndi"
    p = peer(["curl", "-sS", "--cacert", str(pki / manifest["trust"]["server_ca_bundle"]),
              *credential_args(manifest, pki, "valid"), "-T", str(payload), "-w", "\n%{http_code}", url])
    body, status = p.stdout.decode().rsplit("\n", 1)
    assert p.returncode == 0 and status == "201"
    digest = hashlib.sha256(payload.read_bytes()).hexdigest()
    assert json.loads(body)["sha256"] == digest
    assert (store / "Inventories" / "device-0001.ndi").read_bytes() == payload.read_bytes()
    assert stored_files(store) == [pathlib.Path("Inventories/device-0001.ndi")]


def test_refused_and_invalid_uploads_leave_nothing(peer, start_beacon, pki, manifest, tmp_path):
    store = tmp_path / "store"
    beacon = start_beacon("require", args=["--store", store])
    payload = tmp_path / "x.ndi"
    payload.write_bytes(b"<Inventory/>" * 1000)
    rc, status = put(peer, beacon.url, pki, manifest, "none", payload, "/ManageSoftRL/a.ndi")
    assert rc != 0 and status == 0  # refused in the handshake
    assert put(peer, beacon.url, pki, manifest, "valid", payload, "/ManageSoftRL/a.exe")[1] == 415
    assert put(peer, beacon.url, pki, manifest, "valid", payload, "/ManageSoftRL/../a.ndi",
               "--path-as-is")[1] == 400
    assert put(peer, beacon.url, pki, manifest, "valid", payload, "/ManageSoftDL/a.ndi")[1] == 405
    assert stored_files(store) == []


def test_upload_size_limit(peer, start_beacon, pki, manifest, tmp_path):
    store = tmp_path / "store"
    config = {"pki": str(pki), "store": str(store), "uploads": {"max_bytes": 1000},
              "listeners": [{"name": "https", "listen": "127.0.0.1:0", "client_auth": "require"}]}
    beacon = start_beacon(config=config)
    big = tmp_path / "big.ndi"
    big.write_bytes(b"x" * 5000)
    small = tmp_path / "small.ndi"
    small.write_bytes(b"x" * 500)
    assert put(peer, beacon.url, pki, manifest, "valid", big, "/ManageSoftRL/big.ndi")[1] == 413
    assert put(peer, beacon.url, pki, manifest, "valid", small, "/ManageSoftRL/small.ndi")[1] == 201
    assert stored_files(store) == [pathlib.Path("small.ndi")]


@contextlib.contextmanager
def tls_connection(beacon, pki, manifest, credential="valid"):
    """A raw TLS connection to the beacon with `credential`, for byte-level client behaviour."""
    ctx = ssl.create_default_context(cafile=str(pki / manifest["trust"]["server_ca_bundle"]))
    cred = manifest["credentials"][credential]
    if cred["cert"]:
        ctx.load_cert_chain(str(pki / cred["cert"]), str(pki / cred["key"]))
    with socket.create_connection(("127.0.0.1", beacon.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            yield s


def send_partial_put(s, name, declared, sent):
    """Starts a PUT that announces `declared` bytes and sends only `sent` of them."""
    s.sendall(f"PUT /ManageSoftRL/{name} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {declared}\r\n\r\n".encode()
              + b"y" * sent)


def test_a_client_that_vanishes_mid_upload_leaves_no_file(start_beacon, pki, manifest, tmp_path):
    store = tmp_path / "store"
    beacon = start_beacon("require", args=["--store", store])
    with tls_connection(beacon, pki, manifest) as s:
        send_partial_put(s, "half.ndi", 200_000, 100_000)
    # Prove the beacon has seen the end of that connection before looking at the store.
    beacon.stop()
    assert any(c["bytes_in"] > 100_000 for c in beacon.records("connection"))
    assert stored_files(store) == [], "a partial upload (or its temp file) was left behind"


def test_plain_http_side_door_serves_without_any_certificate(peer, start_beacon, pki, manifest):
    beacon = start_beacon("require", args=["--plain-http", "127.0.0.1:0"])
    http_url = beacon.url_of("plain-http")
    assert http_url.startswith("http://")
    p = peer(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", http_url + helpers.OP_PATH])
    assert p.returncode == 0 and p.stdout == b"200"  # the side door is open, as configured
    assert not helpers.curl_accepted(peer, beacon.url, pki, manifest, "none")  # the front door is shut
    beacon.stop()
    assert any(c["scheme"] == "http" for c in beacon.records("connection"))


def vhost_config(pki, check_host):
    return {"pki": str(pki), "listeners": [{
        "name": "https", "listen": "127.0.0.1:0", "client_auth": "require", "check_host": check_host,
        "virtual_hosts": [{"name": "open.beacon-a.mtls-harness.test", "client_auth": "ignore"}]}]}


@pytest.mark.parametrize("check_host", [True, False])
def test_sni_host_mismatch(peer, start_beacon, pki, manifest, check_host):
    beacon = start_beacon(config=vhost_config(pki, check_host))
    port = beacon.port
    open_name, mtls_name = "open.beacon-a.mtls-harness.test", "mtls.beacon-a.mtls-harness.test"

    def get(sni, host):
        return curl_status(peer, "", pki, manifest, "none", "--resolve", f"{sni}:{port}:127.0.0.1",
                           "-H", f"Host: {host}", f"https://{sni}:{port}{helpers.OP_PATH}")

    assert get(open_name, open_name) == (0, 200)   # the non-mTLS name serves without a certificate
    assert get(mtls_name, mtls_name)[0] != 0       # the mTLS name refuses in the handshake
    # The side door: SNI names the open host, Host names the mTLS one.
    assert get(open_name, mtls_name) == ((0, 421) if check_host else (0, 200))


def resumption_config(pki, shared, trust_resumed):
    cache = {"session_cache": "shared"} if shared else {}
    return {"pki": str(pki), "listeners": [
        {"name": "open", "listen": "127.0.0.1:0", "client_auth": "ignore", **cache},
        {"name": "mtls", "listen": "127.0.0.1:0", "client_auth": "require",
         "trust_resumed_sessions": trust_resumed, **cache}]}


@pytest.mark.parametrize("shared,trust,resumed,served", [
    (True, True, True, True),      # the CVE-2025-23419 class: resumed past client auth
    (True, False, True, False),    # shared cache, but resumption re-checks: refused
    (False, True, False, False),   # separate caches: no resumption, full handshake, refused
])
def test_cross_listener_resumption(peer, start_beacon, pki, manifest, tmp_path, shared, trust, resumed, served):
    beacon = start_beacon(config=resumption_config(pki, shared, trust))
    sess = tmp_path / "session.pem"
    ca = str(pki / manifest["trust"]["server_ca_bundle"])
    request = f"GET {helpers.OP_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    first = peer(["openssl", "s_client", "-connect", f"127.0.0.1:{beacon.ports['open']}", "-noservername",
                  "-CAfile", ca, "-quiet", "-sess_out", str(sess)], input_bytes=request)
    assert first.returncode == 0 and first.stdout.startswith(b"HTTP/1.1 200") and sess.exists()
    second = peer(["openssl", "s_client", "-connect", f"127.0.0.1:{beacon.ports['mtls']}", "-noservername",
                   "-CAfile", ca, "-quiet", "-sess_in", str(sess)], input_bytes=request)
    assert second.stdout.startswith(b"HTTP/1.1 200") == served
    beacon.stop()
    mtls = [c for c in beacon.records("connection") if c["listener"] == "mtls"]
    assert len(mtls) == 1 and mtls[0]["resumed"] == resumed
    assert mtls[0]["client_cert"] is None


def test_per_folder_client_auth_by_renegotiation(peer, start_beacon, pki, manifest, tmp_path):
    store = tmp_path / "store"
    config = {"pki": str(pki), "store": str(store), "listeners": [{
        "name": "https", "listen": "127.0.0.1:0", "client_auth": "ignore",
        "folders": [{"prefix": "/ManageSoftRL/", "client_auth": "require"}]}]}
    beacon = start_beacon(config=config)
    payload = tmp_path / "status.log"
    payload.write_bytes(b"status change\n")
    assert curl_status(peer, beacon.url, pki, manifest, "none") == (0, 200)  # downloads: open
    rc, status = put(peer, beacon.url, pki, manifest, "none", payload, "/ManageSoftRL/s.log")
    assert status != 201 and stored_files(store) == []                     # uploads: refused
    assert put(peer, beacon.url, pki, manifest, "valid", payload, "/ManageSoftRL/s.log") == (0, 201)
    beacon.stop()
    conns = beacon.records("connection")
    assert [c["renegotiations"] for c in conns if c["requests"] and c["client_cert"]] == [1]
    refused = [c for c in conns if c["renegotiations"] and not c["client_cert"]]
    assert refused and refused[0]["rejection"] == "no client certificate"


@pytest.mark.parametrize("min_tls,tls10_ok", [("1.2", False), ("1.0", True)])
def test_old_tls_versions_only_when_configured(peer, start_beacon, pki, manifest, min_tls, tls10_ok):
    beacon = start_beacon("require", args=["--min-tls", min_tls])
    ok = helpers.openssl_accepted(peer, beacon.port, pki, manifest, "valid", "-tls1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert ok == tls10_ok
    assert helpers.openssl_accepted(peer, beacon.port, pki, manifest, "valid")  # TLS 1.2 always works


def test_silent_clients_and_garbage_do_not_hold_or_break_the_beacon(harness, start_beacon, pki, manifest):
    config = {"pki": str(pki), "timeouts": {"handshake_ms": 300, "idle_ms": 1000},
              "listeners": [{"name": "https", "listen": "127.0.0.1:0", "client_auth": "require"}]}
    beacon = start_beacon(config=config)
    with socket.create_connection(("127.0.0.1", beacon.port), timeout=10) as silent:
        assert silent.recv(1) == b""  # closed by the beacon's handshake timeout, not by us
    with socket.create_connection(("127.0.0.1", beacon.port), timeout=10) as junk:
        junk.sendall(os.urandom(4096))
        try:
            while junk.recv(4096):
                pass
        except ConnectionResetError:
            pass
    _, rec = agent_json(harness, beacon.url, pki, manifest, "valid")
    assert rec["outcome"] == "ACCEPTED"  # still serving
    beacon.stop()
    errors = [c["error"] for c in beacon.records("connection")]
    assert "handshake timeout" in errors


def test_latency_and_failure_knobs(harness, peer, start_beacon, pki, manifest):
    base = {"pki": str(pki), "listeners": [{"name": "https", "listen": "127.0.0.1:0", "client_auth": "require"}]}
    slow = start_beacon(config={**base, "latency_ms": 300})
    _, rec = agent_json(harness, slow.url, pki, manifest, "valid")
    assert rec["outcome"] == "ACCEPTED" and rec["evidence"]["elapsed_ms"] >= 300
    failing = start_beacon(config={**base, "failure": {"rate": 1.0, "mode": "503"}})
    _, rec = agent_json(harness, failing.url, pki, manifest, "valid")
    assert rec["evidence"]["http_status"] == 503 and rec["outcome"] != "ACCEPTED"
    resetting = start_beacon(config={**base, "failure": {"rate": 1.0, "mode": "reset"}})
    rc, status = curl_status(peer, resetting.url, pki, manifest, "valid")
    assert rc != 0 and status == 0


def test_max_connections_refuses_the_extra_client(harness, start_beacon, pki, manifest):
    config = {"pki": str(pki), "max_connections": 1,
              "listeners": [{"name": "https", "listen": "127.0.0.1:0", "client_auth": "require"}]}
    beacon = start_beacon(config=config)
    with socket.create_connection(("127.0.0.1", beacon.port), timeout=10) as holder:
        holder.sendall(b"\x16")  # one byte of a ClientHello: accepted, counted, kept open
        _, rec = agent_json(harness, beacon.url, pki, manifest, "valid")
        assert rec["outcome"] != "ACCEPTED"
    beacon.stop()
    assert any(r.get("reason") == "max_connections" for r in beacon.records("refused"))


def test_bad_beacon_configs_are_one_line_errors(harness, pki, tmp_path):
    cases = {
        "listeners: []\n": "listeners",
        "listeners:\n  - name: a\n    reject: sometimes\n": "reject",
        "listeners:\n  - name: a\n    tls: false\n    client_auth: require\n": "plain-HTTP",
        "listeners:\n  - name: a\n  - name: a\n": "used twice",
        "failure: {rate: 2}\nlisteners:\n  - name: a\n": "failure.rate",
    }
    for text, word in cases.items():
        f = tmp_path / "beacon.yaml"
        f.write_text(text)
        p = harness("beacon", "--pki", pki, "--config", f)
        lines = [l for l in p.stderr.decode().splitlines() if l.strip()]
        assert p.returncode == 2 and len(lines) == 1 and word in lines[0] and "beacon.yaml" in lines[0], (text, lines)
    f.write_text("listeners:\n  - name: a\n")
    p = harness("beacon", "--pki", pki, "--config", f, "--client-auth", "ignore")
    assert p.returncode == 2 and b"--client-auth" in p.stderr


def test_content_and_its_digest_manifest(peer, start_beacon, pki, manifest, tmp_path):
    beacon = start_beacon("require")
    ca = str(pki / manifest["trust"]["server_ca_bundle"])
    creds = credential_args(manifest, pki, "valid")

    def fetch(path):
        out = tmp_path / "fetched"
        p = peer(["curl", "-sS", "--fail", "--cacert", ca, *creds, "-o", str(out), beacon.url + "/ManageSoftDL/" + path])
        assert p.returncode == 0, path
        return out.read_bytes()

    sums = dict(reversed(line.split("  ", 1)) for line in fetch("SHA256SUMS").decode().splitlines())
    for needed in ("Policies/default.npl", "Schedules/MachineSchedule.osd", "Schedules/MachineSchedule.nds"):
        assert needed in sums
    upgrades = [p for p in sums if p.startswith("Upgrade/") and p.endswith(".pkg")]
    assert upgrades
    for path, digest in sums.items():
        body = fetch(path)
        assert hashlib.sha256(body).hexdigest() == digest, path
        if path in upgrades:
            assert len(body) >= 8 * 1024 * 1024


def test_sigterm_during_an_upload_leaves_no_partial_file(start_beacon, pki, manifest, tmp_path):
    store = tmp_path / "store"
    beacon = start_beacon("require", args=["--store", store])
    with tls_connection(beacon, pki, manifest) as s:
        send_partial_put(s, "slow.ndi", 100_000, 1000)
        started = time.monotonic()
        assert beacon.stop() == 0            # SIGTERM: drains, then exits cleanly
        assert time.monotonic() - started < 8  # bounded: the drain does not wait for ever
    assert stored_files(store) == []


def test_a_weak_client_key_is_refused_with_the_reason_logged(peer, start_beacon, pki, manifest):
    # Only a client at OpenSSL security level 0 can even present RSA-1024 (curl and our agent
    # refuse to load it), so s_client stands in for an old device here.
    beacon = start_beacon("require")
    legacy = ["-cipher", "DEFAULT@SECLEVEL=0"]
    assert helpers.openssl_accepted(peer, beacon.port, pki, manifest, "valid", *legacy)  # control
    assert not helpers.openssl_accepted(peer, beacon.port, pki, manifest, "weak-key", *legacy)
    beacon.stop()
    weak = [c for c in beacon.records("connection")
            if c["client_cert"] and "device-weak-key" in c["client_cert"]["subject"]]
    assert len(weak) == 1 and weak[0]["alert_sent"] == "insufficient_security"
    assert "1024" in weak[0]["error"]


def read_status(s):
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return None
        data += chunk
    return int(data.split(b" ")[1])


def test_oversized_headers_are_refused(start_beacon, pki, manifest):
    beacon = start_beacon("require")
    with tls_connection(beacon, pki, manifest) as s:
        s.sendall(b"GET /ManageSoftDL/Policies/x.npl HTTP/1.1\r\nHost: localhost\r\nX-Pad: " +
                  b"a" * 20000 + b"\r\n\r\n")
        assert read_status(s) == 400


def test_a_slow_client_is_cut_off(start_beacon, pki, manifest):
    config = {"pki": str(pki), "timeouts": {"handshake_ms": 5000, "idle_ms": 800},
              "listeners": [{"name": "https", "listen": "127.0.0.1:0", "client_auth": "require"}]}
    beacon = start_beacon(config=config)
    request = b"GET /ManageSoftDL/Policies/x.npl HTTP/1.1\r\nHost: localhost\r\n\r\n"
    sent = 0
    try:
        with tls_connection(beacon, pki, manifest) as s:
            for byte in request:  # one byte every 100 ms: the request would need ~6 s
                s.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.1)
            answered = read_status(s)
    except (ConnectionError, ssl.SSLError, OSError):
        answered = None
    assert answered is None and sent < len(request), "the slow request was served"
    beacon.stop()
    assert "idle timeout" in [c["error"] for c in beacon.records("connection")]


def test_every_alert_the_beacon_sends_is_in_its_log(start_beacon):
    """Botan answers a malformed ClientHello with decode_error by itself; application data before
    any handshake gets no alert at all (Botan has no state to send one with). The log records
    exactly what the client received."""
    import socket
    names = {10: "unexpected_message", 50: "decode_error", 80: "internal_error", 20: "bad_record_mac"}
    beacon = start_beacon()
    received = {}  # client port -> the alert it received (None: closed without one)
    for payload in (b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",  # a ClientHello cut short
                    b"\x17\x03\x03\x00\x10" + b"\x00" * 16):          # application data first
        with socket.create_connection(("127.0.0.1", beacon.port), timeout=5) as s:
            port = s.getsockname()[1]
            s.sendall(payload)
            answer = s.recv(7)
        if answer:
            assert answer[:1] == b"\x15" and len(answer) == 7, answer  # an alert record
        received[port] = names[answer[6]] if answer else None
    beacon.stop()
    logged = {r["peer_port"]: r["alert_sent"] for r in beacon.records("connection")}
    assert sorted(map(str, received.values())) == ["None", "decode_error"], received
    assert logged == received, (logged, received)
