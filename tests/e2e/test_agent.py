"""The simulated agent end to end: every operation of the catalogue against our beacon (payloads
verified, uploads stored byte-identical), every credential form and trust setting, each outcome
of the closed set produced for real (against our beacon, a real nginx with TLS 1.2 and 1.3, and
openssl s_server for TLS 1.3's certificate_required), beacon selection and failover, bad input,
and a fleet of simulated devices on curl's multi interface."""
import gzip
import hashlib
import json
import shutil
import socket
import subprocess
import threading

import pytest
import yaml

from helpers import HOME
from helpers import agent_json, credential_args

CATALOGUE = yaml.safe_load((HOME / "fixtures" / "operations.yaml").read_text())["operations"]


def run_op(harness, url, pki, manifest, credential, op, *extra):
    p = harness("agent", "--beacon", url, "--ca", pki / manifest["trust"]["server_ca_bundle"],
                *credential_args(manifest, pki, credential), "--op", op, "--json", *extra)
    assert p.returncode in (0, 1, 3), p
    return json.loads(p.stdout)


@pytest.mark.parametrize("op", sorted(CATALOGUE))
def test_every_operation_gets_through_with_its_payload_verified(harness, start_beacon, pki, manifest, tmp_path, op):
    store = tmp_path / "store"
    beacon = start_beacon("require", args=["--store", store])
    rec = run_op(harness, beacon.url, pki, manifest, "valid", op, "--device", "dev-42")
    assert rec["outcome"] == "ACCEPTED", rec["reason"]
    steps = rec["evidence"]["steps"]
    requests = CATALOGUE[op]["requests"]
    assert [s["path"] for s in steps if "SHA256SUMS" not in s["path"]] == \
           [r["path"].replace("{device}", "dev-42") for r in requests]
    for step, spec in zip([s for s in steps if "SHA256SUMS" not in s["path"]], requests):
        if spec["method"] == "GET":
            assert step["payload_verified"] is True, step
            want = "sha256" if spec.get("digest") == "sha256sums" else f"format:{spec.get('format', 'any')}"
            assert step["payload_check"] == want, step
        if spec["method"] == "PUT":
            assert step["payload_check"] == "upload-digest" and step["payload_verified"] is True, step
            stored = store / spec["path"].replace("{device}", "dev-42").removeprefix("/ManageSoftRL/")
            template = (HOME / "fixtures" / spec["payload"]).read_bytes().replace(b"{device}", b"dev-42")
            body = stored.read_bytes()
            assert (gzip.decompress(body) if spec.get("gzip") else body) == template


def test_upgrade_digest_mismatch_is_caught(harness, start_beacon, pki, manifest):
    beacon = start_beacon("require")
    rec = run_op(harness, beacon.url, pki, manifest, "valid", "download-upgrade", "--expect-sha256", "0" * 64)
    assert rec["outcome"] == "PROTOCOL_ERROR" and rec["evidence"]["payload_verified"] is False


def test_pkcs12_credential_from_file_and_env(harness, start_beacon, pki, manifest):
    beacon = start_beacon("require")
    p12 = manifest["credentials"]["valid-p12"]
    password = (pki / p12["password_file"]).read_text().strip()
    base = ["agent", "--beacon", beacon.url, "--ca", pki / manifest["trust"]["server_ca_bundle"],
            "--p12", pki / p12["p12"], "--op", "download-policy", "--json"]
    from_file = harness(*base, "--p12-password-file", pki / p12["password_file"])
    from_env = harness(*base, "--p12-password-env", "DEVICE_PW", env={"DEVICE_PW": password})
    wrong = harness(*base, "--p12-password-env", "DEVICE_PW", env={"DEVICE_PW": "not-" + password})
    assert json.loads(from_file.stdout)["outcome"] == "ACCEPTED"
    assert json.loads(from_env.stdout)["outcome"] == "ACCEPTED"
    assert json.loads(wrong.stdout)["outcome"] == "CLIENT_CREDENTIAL_ERROR"
    for p in (from_file, from_env, wrong):
        assert password.encode() not in p.stdout + p.stderr


def test_trust_settings(harness, peer, start_beacon, pki, manifest, tmp_path):
    beacon = start_beacon("require")
    cred = credential_args(manifest, pki, "valid")
    hashed = tmp_path / "hashed"
    hashed.mkdir()
    shutil.copy(pki / manifest["trust"]["server_ca_bundle"], hashed / "server-ca.pem")
    assert peer(["openssl", "rehash", str(hashed)]).returncode == 0

    def outcome(*trust, b=beacon):
        p = harness("agent", "--beacon", b.url, *trust, *cred, "--op", "download-policy", "--json")
        return json.loads(p.stdout)["outcome"]

    assert outcome("--ca-path", hashed) == "ACCEPTED"                                 # SSLCACertificatePath
    assert outcome("--ca", pki / manifest["trust"]["client_ca_bundle"]) == "SERVER_UNTRUSTED"
    assert outcome("--ca", pki / manifest["trust"]["client_ca_bundle"],
                   "--no-check-server-certificate") == "ACCEPTED"                     # CheckServerCertificate
    revoked = start_beacon("require", name="beacon-revoked")
    ca = ["--ca", pki / manifest["trust"]["server_ca_bundle"]]
    assert outcome(*ca, b=revoked) == "ACCEPTED"                                      # revocation not checked
    assert outcome(*ca, "--crl", pki / manifest["trust"]["server_crl"], b=revoked) == "SERVER_UNTRUSTED"
    assert outcome(*ca, "--crl", pki / manifest["trust"]["server_crl"]) == "ACCEPTED"  # beacon-a is not revoked


@pytest.mark.parametrize("protocols", ["TLSv1.2", "TLSv1.3"])
def test_real_nginx_rejects_with_http_400(harness, reference_servers, pki, manifest, protocols):
    nginx = reference_servers("nginx", protocols=protocols)
    valid = agent_json(harness, nginx.url, pki, manifest, "valid")[1]
    none = agent_json(harness, nginx.url, pki, manifest, "none")[1]
    expired = agent_json(harness, nginx.url, pki, manifest, "expired")[1]
    assert valid["outcome"] == "ACCEPTED", valid
    assert valid["evidence"]["tls_version"] == protocols.replace("TLSv", "TLSv")
    for rec in (none, expired):
        assert rec["outcome"] == "REJECTED_HTTP" and rec["evidence"]["http_status"] == 400, rec
        assert rec["evidence"]["handshake_completed"] is True


def test_tls13_certificate_required_arrives_after_the_handshake(harness, reference_servers, pki, manifest):
    server = reference_servers("s_server", "-tls1_3", "-Verify", "3")  # -Verify: a certificate is required
    none = agent_json(harness, server.url, pki, manifest, "none")[1]
    assert none["outcome"] == "REJECTED_AFTER_HANDSHAKE", none
    ev = none["evidence"]
    assert ev["tls_alert"] == "certificate_required" and ev["alert_after_handshake"] is True
    assert ev["tls_version"] == "TLSv1.3" and ev["handshake_completed"] is True
    server2 = reference_servers("s_server", "-tls1_3", "-Verify", "3")
    valid = agent_json(harness, server2.url, pki, manifest, "valid")[1]
    assert valid["outcome"] == "ACCEPTED", valid


def test_every_outcome_is_produced_for_real(harness, start_beacon, reference_servers, pki, manifest):
    seen = {}
    beacon = start_beacon("require", args=["--reject", "close"])
    http = start_beacon("require", args=["--reject", "http:403"])
    alert = start_beacon("require")
    s13 = reference_servers("s_server", "-tls1_3", "-Verify", "3")
    for url, cred in [(alert.url, "valid"), (alert.url, "none"), (beacon.url, "none"), (http.url, "none"),
                      (s13.url, "none")]:
        rec = agent_json(harness, url, pki, manifest, cred)[1]
        seen[rec["outcome"]] = rec
    seen["CLIENT_CREDENTIAL_ERROR"] = agent_json(harness, alert.url, pki, manifest, "wrong-key")[1]
    untrusted = harness("agent", "--beacon", alert.url, "--ca", pki / manifest["trust"]["client_ca_bundle"],
                        "--op", "download-policy", "--json")
    seen["SERVER_UNTRUSTED"] = json.loads(untrusted.stdout)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed_port = free.getsockname()[1]
    seen["UNREACHABLE"] = agent_json(harness, f"https://127.0.0.1:{closed_port}", pki, manifest, "valid")[1]
    with GarbageServer() as garbage:
        seen["PROTOCOL_ERROR"] = agent_json(harness, garbage.url, pki, manifest, "valid")[1]
    assert sorted(seen) == sorted(["ACCEPTED", "REJECTED_HANDSHAKE", "REJECTED_AFTER_HANDSHAKE", "REJECTED_HTTP",
                                   "CLIENT_CREDENTIAL_ERROR", "SERVER_UNTRUSTED", "UNREACHABLE", "PROTOCOL_ERROR"])
    for name, rec in seen.items():
        assert rec["outcome"] == name, (name, rec["outcome"], rec["reason"])


class GarbageServer:
    """A loopback 'beacon' that answers every connection with bytes that are not TLS."""

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nthis is not TLS at all\r\n" * 20)

    def __exit__(self, *exc):
        self.sock.close()
        self.thread.join(timeout=5)


def failover(harness, pki, manifest, urls, credential="valid"):
    args = [a for u in urls for a in ("--beacon", u)]
    p = harness("agent", *args, "--ca", pki / manifest["trust"]["server_ca_bundle"],
                *credential_args(manifest, pki, credential), "--op", "download-policy", "--json")
    return json.loads(p.stdout)


def test_selection_picks_the_fastest_beacon(harness, start_beacon, pki, manifest):
    base = {"pki": str(pki), "listeners": [{"name": "https", "listen": "127.0.0.1:0", "client_auth": "require"}]}
    slow = start_beacon(config={**base, "latency_ms": 400})
    fast = start_beacon(config=base)
    rec = failover(harness, pki, manifest, [slow.url, fast.url])
    sel = rec["evidence"]["selection"]
    assert rec["outcome"] == "ACCEPTED" and sel["used"] == fast.url
    assert [r["url"] for r in sel["ranking"]] == [fast.url, slow.url]
    assert all(r["answered"] == 3 for r in sel["ranking"])
    assert len(sel["attempts"]) == 1


def test_failover_when_the_fastest_is_down_or_rejecting(harness, start_beacon, pki, manifest):
    base = {"pki": str(pki), "listeners": [{"name": "https", "listen": "127.0.0.1:0", "client_auth": "require"}]}
    slow = start_beacon(config={**base, "latency_ms": 300})
    # The only beacon that checks revocation (and refuses with HTTP 403): it refuses the device's
    # revoked certificate, which the others still accept.
    rejecting = start_beacon(config={**base, "listeners": [
        {**base["listeners"][0], "reject": "http:403", "revocation": "crl"}]})
    down = start_beacon(config=base)
    down_url = down.url
    down.stop()
    # The rejecting beacon answers pings fastest; it is tried first, refuses, and the agent moves on.
    rec = failover(harness, pki, manifest, [slow.url, down_url, rejecting.url], credential="revoked")
    sel = rec["evidence"]["selection"]
    assert rec["outcome"] == "ACCEPTED" and sel["used"] == slow.url
    assert [r["url"] for r in sel["ranking"]] == [rejecting.url, slow.url, down_url]
    assert sel["ranking"][2]["answered"] == 0 and sel["ranking"][2]["last_error"]
    assert [a["outcome"] for a in sel["attempts"]] == ["REJECTED_HTTP", "ACCEPTED"]
    assert "failing over" in rec["reason"]
    # Every beacon refuses a device without a certificate: it ends on the last one's refusal.
    rec = failover(harness, pki, manifest, [slow.url, down_url, rejecting.url], credential="none")
    assert rec["outcome"] != "ACCEPTED"
    assert len(rec["evidence"]["selection"]["attempts"]) == 3


def test_a_fleet_of_devices_completes_its_cycles(harness, start_beacon, pki, manifest, tmp_path):
    store = tmp_path / "store"
    a = start_beacon("require", args=["--store", store])
    b = start_beacon("require", name="beacon-b", args=["--store", store])
    p = harness("agent", "--beacon", a.url, "--beacon", b.url, "--ca", pki / manifest["trust"]["server_ca_bundle"],
                *credential_args(manifest, pki, "valid"), "--agents", "40", "--json", timeout=300)
    summary = json.loads(p.stdout)
    assert p.returncode == 0 and summary["cycles_accepted"] == 40, summary
    assert summary["operations_by_outcome"] == {"ACCEPTED": 40 * 6}
    uploads = sorted(f.name for f in store.rglob("*") if f.is_file())
    assert len(uploads) == 40 * 3 and len({u.split(".")[0] for u in uploads}) == 40  # distinct devices


def test_agent_bad_inputs(harness, start_beacon, pki, manifest, tmp_path):
    ca = ["--ca", pki / manifest["trust"]["server_ca_bundle"]]
    for args, word in [(["--beacon", "ftp://x", *ca], "ftp://x"),
                       (["--beacon", "https://", *ca], "no host"),
                       (["--beacon", "https://127.0.0.1:1,first", *ca], "PRIORITY"),
                       (["--beacon", "https://127.0.0.1:1"], "--ca"),
                       (["--beacon", "https://127.0.0.1:1", "--ca-path", tmp_path / "none"], "--ca-path"),
                       (["--beacon", "https://127.0.0.1:1", *ca, "--p12", pki / "x.p12"], "password"),
                       (["--beacon", "https://127.0.0.1:1", *ca, "--agents", "0"], "--agents"),
                       (["--beacon", "https://127.0.0.1:1", *ca, "--op", "fly"], "fly")]:
        p = harness("agent", *args, "--op" if "--op" not in args else "--json", *(["download-policy"] if "--op" not in args else []))
        lines = [l for l in p.stderr.decode().splitlines() if l.strip()]
        assert p.returncode == 2 and len(lines) == 1 and word in lines[0], (args, lines)
    # An unreadable certificate is the device's problem, reported as an outcome (against a live
    # beacon, so that loading the certificate is the only thing that can fail).
    beacon = start_beacon("require")
    p = harness("agent", "--beacon", beacon.url, *ca, "--cert", tmp_path / "no.pem",
                "--key", tmp_path / "no.key", "--op", "download-policy", "--json")
    rec = json.loads(p.stdout)
    assert p.returncode == 1 and rec["outcome"] == "CLIENT_CREDENTIAL_ERROR", rec
