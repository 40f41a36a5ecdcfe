"""`mtls-harness audit`: the fleet readiness audit. A folder mixing PEM, PEM bundles, DER and
PKCS#12 files (and files that are no certificates), judged against the beacons' trust; for every
device the verdict must be what `openssl verify` (purpose sslclient, security level 2, with the
CRL) says of the same certificate and chain. Duplicates, a later date (--at), the exit code, the
reports, the pinned model, and no password in any output."""
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from helpers import HOME


def openssl(*args):
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, timeout=60)


def pem_blocks(path):
    text = path.read_text()
    return [b.strip() + "\n-----END CERTIFICATE-----\n" for b in text.split("-----END CERTIFICATE-----")
            if "BEGIN CERTIFICATE" in b]


def openssl_accepts(leaf_pem, chain_pems, ca, crl, tmp):
    leaf, rest = tmp / "leaf.pem", tmp / "rest.pem"
    leaf.write_text(leaf_pem)
    cmd = ["verify", "-purpose", "sslclient", "-auth_level", "2", "-CAfile", ca]
    if chain_pems:
        rest.write_text("".join(chain_pems))
        cmd += ["-untrusted", rest]
    if crl:
        cmd += ["-crl_check", "-CRLfile", crl]
    return openssl(*cmd, leaf).returncode == 0


@pytest.fixture
def fleet(tmp_path, pki, manifest):
    """A fleet folder: PEM devices, a DER one, the PKCS#12 one, a bundle of two devices, and a
    private key and a note that are no certificates."""
    d = tmp_path / "fleet"
    (d / "site-a").mkdir(parents=True)
    (d / "site-b").mkdir()
    creds = manifest["credentials"]
    for name in ("valid", "expired", "revoked", "wrong-eku", "weak-key", "missing-intermediate"):
        shutil.copy(pki / creds[name]["cert"], d / "site-a" / f"{name}.pem")
    for i in (1, 2):
        shutil.copy(pki / creds["valid"]["cert"], d / "site-b" / f"copy-{i}.pem")
    shutil.copy(pki / creds["valid"]["der"]["cert"], d / "site-b" / "valid.der")
    shutil.copy(pki / creds["valid-p12"]["p12"], d / "site-b" / "valid.p12")
    (d / "site-b" / "bundle.pem").write_text((pki / creds["untrusted-ca"]["cert"]).read_text() +
                                             (pki / creds["self-signed"]["cert"]).read_text())
    shutil.copy(pki / creds["valid"]["key"], d / "site-b" / "device.key")
    (d / "site-b" / "README.txt").write_text("inventory notes\n")
    return d


def test_audit_agrees_with_openssl_on_a_mixed_fleet(harness, fleet, pki, manifest, tmp_path):
    ca, crl = pki / manifest["trust"]["client_ca_roots"], pki / manifest["trust"]["client_crls"]
    password = (pki / manifest["credentials"]["valid-p12"]["password_file"]).read_text().strip()
    out = tmp_path / "out"
    p = harness("audit", fleet, "--ca", ca, "--crl", crl, "--p12-password-env", "FLEET_P12", "--out", out,
                env={"FLEET_P12": password})
    assert p.returncode == 1, p.stderr.decode()  # some devices would be locked out
    doc = json.loads((out / "audit.json").read_text())
    import jsonschema
    jsonschema.validate(doc, json.loads((HOME / "reports" / "audit.schema.json").read_text()))
    devices = {e["device"]: e for e in doc["devices"]}
    assert len(devices) == 12 and doc["summary"]["devices"] == 12
    assert {pathlib_name(x) for x in doc["metadata"]["skipped_files"]} == {"device.key", "README.txt"}
    # the truth for each device, from openssl verify on the same certificate and chain
    p12_pem = openssl("pkcs12", "-in", fleet / "site-b/valid.p12", "-passin", f"pass:{password}", "-nokeys")
    assert p12_pem.returncode == 0
    (tmp_path / "p12.pem").write_bytes(p12_pem.stdout)
    der_pem = openssl("x509", "-inform", "DER", "-in", fleet / "site-b/valid.der").stdout.decode()
    truth_tmp = tmp_path / "truth"
    truth_tmp.mkdir()
    for device, e in devices.items():
        path, _, index = device.partition("#")
        source = tmp_path / "p12.pem" if path.endswith(".p12") else None
        blocks = pem_blocks(source) if source else ([der_pem] if path.endswith(".der") else pem_blocks(pathlib_path(path)))
        leaves = [b for b in blocks if not is_ca(b)]
        chain = [b for b in blocks if is_ca(b)]
        leaf = leaves[int(index) - 1 if index else 0]
        assert e["accepted_now"] == openssl_accepts(leaf, chain, ca, crl, truth_tmp), (device, e["reasons_now"])
    assert devices[str(fleet / "site-a/valid.pem")]["accepted_now"]
    assert [r["property"] for r in devices[str(fleet / "site-a/revoked.pem")]["reasons_now"]] == ["revocation"]
    assert [r["property"] for r in devices[str(fleet / "site-a/expired.pem")]["reasons_now"]] == ["validity"]
    assert "eku" in [r["property"] for r in devices[str(fleet / "site-a/wrong-eku.pem")]["reasons_now"]]
    # one certificate on five devices (three PEM copies, the DER, the PKCS#12): said once, with its date
    (dup,) = doc["summary"]["duplicates"]
    assert dup["devices"] == 5 and dup["not_after"] in dup["note"]
    assert password.encode() not in p.stdout + p.stderr
    for f in out.iterdir():
        assert password.encode() not in f.read_bytes(), f


def pathlib_name(p):
    return os.path.basename(p)


def pathlib_path(p):
    import pathlib
    return pathlib.Path(p)


def is_ca(pem):
    text = openssl_stdin(["x509", "-noout", "-ext", "basicConstraints"], pem)
    return "CA:TRUE" in text


def openssl_stdin(args, text):
    return subprocess.run(["openssl", *args], input=text.encode(), capture_output=True).stdout.decode()


def test_a_ready_fleet_exits_0_and_a_later_date_finds_the_expiry(harness, pki, manifest, tmp_path):
    d = tmp_path / "ready"
    d.mkdir()
    for i in range(3):
        shutil.copy(pki / manifest["credentials"]["valid"]["cert"], d / f"dev{i}.pem")
    ca = pki / manifest["trust"]["client_ca_roots"]
    p = harness("audit", d, "--ca", ca, "--out", tmp_path / "now")
    assert p.returncode == 0, p.stderr.decode()
    not_after = json.loads((tmp_path / "now" / "audit.json").read_text())["devices"][0]["not_after"]
    year = int(not_after[:4]) + 1
    p = harness("audit", d, "--ca", ca, "--at", f"{year}-01-01T00:00:00Z", "--out", tmp_path / "later")
    assert p.returncode == 1
    doc = json.loads((tmp_path / "later" / "audit.json").read_text())
    assert doc["summary"]["locked_out_now"] == 0 and doc["summary"]["locked_out_at"] == 3
    assert b"LOCKED OUT at" in p.stderr and b"validity" in p.stderr


def test_audit_reports(harness, fleet, pki, manifest, tmp_path):
    out = tmp_path / "out"
    harness("audit", fleet / "site-a", "--ca", pki / manifest["trust"]["client_ca_roots"], "--out", out)
    doc = json.loads((out / "audit.json").read_text())
    html = (out / "audit.html").read_text()
    assert 'id="expiry-chart"' in html and "<rect" in html and 'id="verdict"' in html
    x = subprocess.run(["xmllint", "--noout", "--schema", HOME / "tests/e2e/schemas/junit.xsd", out / "junit.xml"],
                       capture_output=True)
    assert x.returncode == 0, x.stderr.decode()
    cases = list(ET.parse(out / "junit.xml").getroot().iter("testcase"))
    assert len(cases) == len(doc["devices"])
    assert sum(c.find("failure") is not None for c in cases) == doc["summary"]["locked_out_now"]
    rows = (out / "audit.csv").read_bytes().decode().strip().split("\r\n")
    assert len(rows) == 1 + len(doc["devices"])
    assert "# Fleet readiness audit" in (out / "audit.md").read_text()


def test_the_pinned_model(harness, tmp_path):
    root = tmp_path / "pki"
    assert harness("pki", "init", "--out", root, "--trust-model", "pinned-self-signed").returncode == 0
    m = json.loads((root / "manifest.json").read_text())
    d = tmp_path / "fleet"
    d.mkdir()
    for name, c in m["credentials"].items():
        if c["cert"]:
            shutil.copy(root / c["cert"], d / f"{name}.pem")
    out = tmp_path / "out"
    harness("audit", d, "--ca", root / m["trust"]["client_ca_roots"], "--out", out)
    got = {os.path.basename(e["device"])[:-4]: e["accepted_now"] for e in
           json.loads((out / "audit.json").read_text())["devices"]}
    truth_tmp = tmp_path / "t"
    truth_tmp.mkdir()
    for name, accepted in got.items():
        blocks = pem_blocks(d / f"{name}.pem")
        assert accepted == openssl_accepts(blocks[0], blocks[1:], root / m["trust"]["client_ca_roots"], None,
                                           truth_tmp), name
    assert got["valid"] and not got["same-subject"] and not got["same-serial"] and not got["expired"]


def test_audit_bad_input(harness, tmp_path, pki, manifest):
    ca = pki / manifest["trust"]["client_ca_roots"]
    p = harness("audit", tmp_path / "nowhere", "--ca", ca)
    assert p.returncode == 2 and b"nowhere" in p.stderr
    (tmp_path / "note.txt").write_text("hello\n")
    p = harness("audit", tmp_path / "note.txt", "--ca", ca)
    assert p.returncode == 2 and b"note.txt" in p.stderr and b"no device certificate" in p.stderr
    shutil.copy(pki / manifest["credentials"]["valid-p12"]["p12"], tmp_path / "d.p12")
    p = harness("audit", tmp_path / "d.p12", "--ca", ca)
    assert p.returncode == 2 and b"password" in p.stderr
    p = harness("audit", tmp_path / "d.p12", "--ca", ca, "--p12-password-env", "WRONG", env={"WRONG": "nope"})
    assert p.returncode == 2 and b"does not open" in p.stderr and b"nope" not in p.stderr



def curl_as(server, pki, manifest, cred, agent):
    cmd = ["curl", "-sS", "-k", "--max-time", "15", "-o", "/dev/null", "-w", "%{http_code}", "-A", agent,
           "--resolve", f"beacon-a.mtls-harness.test:{server.port}:127.0.0.1"]
    if cred:
        c = manifest["credentials"][cred]
        cmd += ["--cert", str(pki / c["cert"]), "--key", str(pki / c["key"])]
    cmd.append(f"https://beacon-a.mtls-harness.test:{server.port}/ManageSoftDL/Policies/device-0001.npl")
    return subprocess.run(cmd, capture_output=True, timeout=30)


@pytest.mark.parametrize("kind,fixture", [("nginx", "nginx-optional-audit-log.conf"),
                                          ("apache2", "apache2-optional-audit-log.conf")])
def test_access_logs_of_real_servers_name_who_would_be_locked_out(harness, servers, pki, manifest, tmp_path,
                                                                   kind, fixture):
    """A real server that only requests client certificates, logging in the documented format:
    a device with the valid certificate and one without get in today; one with an untrusted
    certificate is refused by nginx with a 400 (and logged) and by Apache in the handshake (not
    logged). The audit of the log names exactly the devices the switch would lock out."""
    server = servers.start(kind, fixture)
    # the truth, with curl: what each device gets today
    for cred, agent in (("valid", "agent-good"), (None, "agent-none")):
        p = curl_as(server, pki, manifest, cred, agent)
        assert p.stdout.decode() == "200", (cred, p.stdout, p.stderr)
    bad = curl_as(server, pki, manifest, "self-signed", "agent-bad")
    logged_bad = bad.stdout.decode() == "400"
    assert logged_bad == (kind == "nginx"), (bad.stdout, bad.stderr)
    server.stop()  # flush the log
    log = server.workdir / "logs" / "access.log"
    fmt = "nginx" if kind == "nginx" else "apache"
    p = harness("audit", "--access-log", log, "--log-format", fmt, "--out", tmp_path / "out")
    assert p.returncode == 1, p.stderr.decode() + log.read_text()
    doc = json.loads((tmp_path / "out" / "audit.json").read_text())
    import jsonschema
    jsonschema.validate(doc, json.loads((HOME / "reports" / "audit.schema.json").read_text()))
    clients = doc["access_logs"]["clients_without_a_valid_certificate"]
    want = ["agent-bad", "agent-none"] if logged_bad else ["agent-none"]
    assert sorted(c["user_agent"] for c in clients) == want, log.read_text()
    assert all(c["address"] == "127.0.0.1" and c["host"].startswith("beacon-a.mtls-harness.test") for c in clients)
    presented = {c["user_agent"]: list(c["presented"]) for c in clients}
    assert presented["agent-none"] == ["NONE"]
    assert not logged_bad or presented["agent-bad"][0].startswith("FAILED")
    assert doc["access_logs"]["addresses_with_a_valid_certificate"] == 1
    assert b"NO VALID CERTIFICATE: 127.0.0.1" in p.stderr


def test_iis_and_our_beacons_logs(harness, start_beacon, pki, manifest, tmp_path):
    """IIS: W3C lines with the enhanced-logging fields (sample lines, as IIS writes them); our
    beacon: its own JSON log in request mode."""
    iis = tmp_path / "u_ex261127.log"
    iis.write_text(
        "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n"
        "#Date: 2026-11-27 10:00:00\r\n"
        "#Fields: date time s-ip cs-method cs-uri-stem sc-status c-ip cs(User-Agent) cs-host "
        "CERT_SUBJECT CERT_SERIALNUMBER\r\n"
        "2026-11-27 10:00:01 10.0.0.5 GET /ManageSoftDL/Policies/a.npl 200 10.1.1.20 ManageSoft+Agent/9 "
        "beacon-a CN=device-fleet-client 6d:1f:aa\r\n"
        "2026-11-27 10:00:02 10.0.0.5 GET /ManageSoftDL/Policies/b.npl 200 10.1.1.21 ManageSoft+Agent/8 "
        "beacon-a - -\r\n")
    p = harness("audit", "--access-log", iis, "--log-format", "iis", "--out", tmp_path / "iis")
    assert p.returncode == 1
    (c,) = json.loads((tmp_path / "iis" / "audit.json").read_text())["access_logs"]["clients_without_a_valid_certificate"]
    assert c["address"] == "10.1.1.21" and c["user_agent"] == "ManageSoft Agent/8"
    b = start_beacon("request")
    for cred in ("valid", "none"):
        from helpers import agent_json
        agent_json(harness, b.url, pki, manifest, cred)
    b.stop()
    p = harness("audit", "--access-log", b.log, "--log-format", "mtls-harness", "--out", tmp_path / "ours")
    assert p.returncode == 1
    doc = json.loads((tmp_path / "ours" / "audit.json").read_text())
    (c,) = doc["access_logs"]["clients_without_a_valid_certificate"]
    assert list(c["presented"]) == ["NONE"] and doc["access_logs"]["addresses_with_a_valid_certificate"] == 1


def test_a_log_line_in_another_format_is_refused_with_its_line(harness, tmp_path):
    log = tmp_path / "access.log"
    log.write_text('127.0.0.1 - - [27/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12\n')
    p = harness("audit", "--access-log", log, "--log-format", "nginx")
    assert p.returncode == 2 and f"{log}:1".encode() in p.stderr and b"documented" in p.stderr
