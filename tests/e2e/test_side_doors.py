"""Side doors against reference beacons no one here wrote: Debian nginx on loopback, configured
with our test PKI in a correct mTLS setup (TLS 1.2 and 1.3) and in the bad setups real
deployments have. `mtls-harness run --pki` must pass the correct ones with no finding and report
exactly the EXPOSURE each bad one has (nothing more). Every nginx is started with sockets the test
bound itself (port 0) and stopped after the test; its config and logs are printed on failure."""
import json

import pytest

from conftest import nginx_optional_on_uploads
from helpers import HOME

ALL_PATHS = "[https, plain-http, sni-host-mismatch, resumption-cross-listener, renegotiation, tls-downgrade]"
OPEN_NAME = "open.beacon-a.mtls-harness.test"
CREDS = ["valid", "valid-p12", "none", "expired", "untrusted-ca", "wrong-key"]
OPS = ["select-beacon", "download-policy", "download-schedule", "upload-inventory"]


def run_scenario(harness, tmp_path, pki, name, beacon_yaml):
    f = tmp_path / f"{name}.yaml"
    f.write_text(f"name: {name}\nbeacons:\n  - {beacon_yaml}\npolicy: {{revocation: crl}}\n"
                 f"credentials: [{', '.join(CREDS)}]\noperations: [{', '.join(OPS)}]\n"
                 f"entry_paths: {ALL_PATHS}\nside_door_credentials: [none]\n")
    out = tmp_path / f"out-{name}"
    p = harness("run", f, "--pki", pki, "--out", out, timeout=300)
    report = json.loads((out / "report.json").read_text())
    findings = {(f["severity"], f["credential"], f["entry_path"], tuple(sorted(f["operations"])))
                for f in report["findings"]}
    return p, report, findings


def verdicts(report, **match):
    return {r["verdict"] for r in report["results"]
            if all(r[k] == v for k, v in match.items())}


@pytest.mark.parametrize("protocols", ["TLSv1.2", "TLSv1.3"])
def test_correct_nginx_passes_with_no_finding(nginx, harness, tmp_path, pki, protocols):
    server = nginx("correct", lambda ports, tls, root, up: f"""
  server {{
    listen 127.0.0.1:{ports[0]} ssl; ssl_protocols {protocols};
    {tls}
    ssl_verify_client on;
    root {root}; {up}
  }}""")
    p, report, findings = run_scenario(
        harness, tmp_path, pki, "nginx-correct",
        f"{{name: nginx, url: 'https://127.0.0.1:{server.port}', plain_http_url: 'http://127.0.0.1:{server.port}'}}")
    assert findings == set()
    if protocols == "TLSv1.2":
        assert p.returncode == 0, report["summary"]
        assert verdicts(report, entry_path="https") == {"PASS"}
    else:
        # Botan 2's client speaks TLS 1.2 only: the forged CertificateVerify cannot be presented
        # to a TLS 1.3-only beacon; the harness says so (SKIPPED, with why) instead of counting
        # a refusal it did not cause
        assert p.returncode == 0, report["summary"]
        skipped = [r for r in report["results"] if r["verdict"] == "SKIPPED" and r["entry_path"] == "https"]
        assert skipped and {r["credential"] for r in skipped} == {"wrong-key"}
        assert all("TLS 1.2" in r["reason"] and r["outcome"] is None for r in skipped)
        assert {r["verdict"] for r in report["results"] if r["entry_path"] == "https"} == {"PASS", "SKIPPED"}
    # nginx answers the front door with HTTP 400 after the handshake, never with an alert
    # (badssl.com's finding), except for a forged CertificateVerify, which OpenSSL catches
    refused = [r for r in report["results"] if r["expected"] == "REJECTED" and r["entry_path"] == "https"]
    assert {r["outcome"] for r in refused if r["credential"] != "wrong-key"} == {"REJECTED_HTTP"}, \
        {r["check_id"]: r["outcome"] for r in refused}
    if protocols == "TLSv1.2":
        assert {r["evidence"]["tls_alert"] for r in refused if r["credential"] == "wrong-key"} == {"decrypt_error"}
    else:
        assert {r["evidence"]["tls_version"] for r in refused if r["evidence"]["client"] == "libcurl"} == {"TLSv1.3"}
    # the doors it has are closed; the ones it does not have are SKIPPED with a reason
    # (without a known open name, sni-host-mismatch presents a name nobody configured: the port's
    # default virtual host, with Host naming the beacon)
    for door in ("plain-http", "renegotiation", "tls-downgrade", "sni-host-mismatch"):
        assert verdicts(report, entry_path=door) == {"PASS"}, door
    assert verdicts(report, entry_path="resumption-cross-listener") == {"SKIPPED"}


def test_optional_verification_on_the_upload_folder_is_an_exposure(nginx, harness, tmp_path, pki):
    # downloads check $ssl_client_verify; the upload folder was forgotten
    server = nginx("optional", nginx_optional_on_uploads)
    p, report, findings = run_scenario(
        harness, tmp_path, pki, "nginx-optional",
        f"{{name: nginx, url: 'https://127.0.0.1:{server.port}', plain_http_url: 'http://127.0.0.1:{server.port}'}}")
    assert p.returncode == 1
    up = ("upload-inventory",)
    # nginx's `optional` still answers 400 to a certificate that fails verification: only a
    # device with no certificate gets in, through the front door and on a connection that asks
    # an unprotected path first (the renegotiation probe: nginx never renegotiates)
    # The side doors that let it in too join the front door's finding instead of repeating it.
    assert findings == {("EXPOSURE", "none", "https", up)}
    front = next(f for f in report["findings"] if f["entry_path"] == "https")
    assert {"renegotiation", "sni-host-mismatch"} <= set(front["also_through"]), front
    assert "renegotiation" in front["title"]
    assert verdicts(report, operation="download-policy", entry_path="https") == {"PASS"}


def test_two_server_blocks_sharing_a_session_cache(nginx, harness, tmp_path, pki):
    # mTLS on the default server block, none on the open name, one port, one shared cache
    server = nginx("shared-cache", lambda ports, tls, root, up: f"""
  ssl_session_cache shared:SSL:1m; ssl_session_tickets on;
  server {{
    listen 127.0.0.1:{ports[0]} ssl default_server; server_name mtls.beacon-a.mtls-harness.test;
    {tls}
    ssl_verify_client on;
    root {root}; {up}
  }}
  server {{
    listen 127.0.0.1:{ports[0]} ssl; server_name {OPEN_NAME};
    {tls}
    ssl_verify_client off;
    root {root}; {up}
  }}""")
    p, report, findings = run_scenario(
        harness, tmp_path, pki, "nginx-shared-cache",
        f"{{name: nginx, url: 'https://127.0.0.1:{server.port}', plain_http_url: 'http://127.0.0.1:{server.port}', "
        f"open_server_name: {OPEN_NAME}}}")
    resumption = [r for r in report["results"] if r["entry_path"] == "resumption-cross-listener"]
    sni = [r for r in report["results"] if r["entry_path"] == "sni-host-mismatch"]
    # nginx refuses a Host naming another server block than the TLS name: 421
    assert {r["evidence"]["http_status"] for r in sni} == {421} and verdicts(report, entry_path="sni-host-mismatch") == {"PASS"}
    # The session made under the open name (TLS 1.3 ticket) IS resumed at the mTLS server block:
    # the CVE-2025-23419 precondition. Debian's nginx 1.22.1 still answers 400, because it checks
    # the client certificate on every request; the harness shows both facts.
    doors = [r["evidence"]["side_door"] for r in resumption]
    assert resumption and all(d["session_obtained"] and d["source_http_status"] == 200 for d in doors), doors
    assert all(d["resumed"] for d in doors), doors
    assert {r["outcome"] for r in resumption} == {"REJECTED_HTTP"}
    assert findings == set() and p.returncode == 0, findings


def test_plain_http_server_left_on(nginx, harness, tmp_path, pki):
    server = nginx("plain", lambda ports, tls, root, up: f"""
  server {{
    listen 127.0.0.1:{ports[0]} ssl;
    {tls}
    ssl_verify_client on;
    root {root}; {up}
  }}
  server {{
    listen 127.0.0.1:{ports[1]};
    root {root}; {up}
  }}""", sockets=2)
    p, report, findings = run_scenario(
        harness, tmp_path, pki, "nginx-plain",
        f"{{name: nginx, url: 'https://127.0.0.1:{server.port}', plain_http_url: 'http://127.0.0.1:{server.ports[1]}'}}")
    assert p.returncode == 1
    assert findings == {("EXPOSURE", "none", "plain-http", tuple(sorted(OPS)))}
    assert verdicts(report, entry_path="https") == {"PASS"}
