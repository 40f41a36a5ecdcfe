"""The vendor's trust model and the user's own trust (issue: before the switch). A PKI in the
pinned-self-signed model (one self-signed clientAuth certificate the beacons trust directly);
`pki lint`'s chain verdict agrees with `openssl verify` on every credential of both models; a
simulated beacon trusts a CA bundle and CRL made by the openssl CLI (not by us), or a pinned
device certificate, and nothing else."""
import json
import subprocess

import pytest

from helpers import split_chain, BIN, HOME, agent_json


@pytest.fixture(scope="module")
def pinned(tmp_path_factory):
    d = tmp_path_factory.mktemp("pinned") / "pki"
    p = subprocess.run([BIN, "pki", "init", "--out", str(d), "--trust-model", "pinned-self-signed"],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return d, json.loads((d / "manifest.json").read_text())




def openssl(*args, input_bytes=None):
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, input=input_bytes, timeout=60)


@pytest.mark.parametrize("model", ["ca", "pinned-self-signed"])
def test_lint_chain_agrees_with_openssl_verify(harness, pki, manifest, pinned, tmp_path, model):
    root, m = (pki, manifest) if model == "ca" else pinned
    ca = root / m["trust"]["client_ca_roots"]
    compared = 0
    for name, cred in m["credentials"].items():
        if cred["cert"] is None:
            continue
        leaf, rest = split_chain(root / cred["cert"], tmp_path)
        cmd = ["verify", "-no_check_time", "-CAfile", ca] + (["-untrusted", rest] if rest else []) + [leaf]
        openssl_ok = openssl(*cmd).returncode == 0
        p = harness("pki", "lint", "--ca", ca, "--cert", root / cred["cert"], "--key", root / cred["key"], "--json")
        assert p.returncode in (0, 1), p.stderr.decode()
        chain = next(f for f in json.loads(p.stdout)["findings"] if f["property"] == "chain")
        assert (chain["status"] == "PASS") == openssl_ok, (name, chain, openssl(*cmd).stdout)
        compared += 1
    assert compared >= 10


def test_the_pinned_certificate_lints_clean_and_says_so(harness, pinned):
    root, m = pinned
    valid = m["credentials"]["valid"]
    # the truth first: OpenSSL takes the certificate in -CAfile as its own trust anchor
    assert openssl("verify", "-purpose", "sslclient", "-CAfile", root / valid["cert"], root / valid["cert"]).returncode == 0
    p = harness("pki", "lint", "--ca", root / valid["cert"], "--cert", root / valid["cert"],
                "--key", root / valid["key"], "--json")
    got = json.loads(p.stdout)
    assert p.returncode == 0 and not [f for f in got["findings"] if f["status"] == "FAIL"], got
    assert "trusted directly (pinned)" in next(f["detail"] for f in got["findings"] if f["property"] == "chain")


def test_openssl_verify_agrees_with_the_pinned_manifest(pinned, tmp_path):
    root, m = pinned
    ca = root / m["trust"]["client_ca_roots"]
    for name, cred in m["credentials"].items():
        if cred["cert"] is None or cred["defect"] in ("key-match",):
            continue
        leaf, _ = split_chain(root / cred["cert"], tmp_path)
        ok = openssl("verify", "-purpose", "sslclient", "-auth_level", "2", "-CAfile", ca, leaf).returncode == 0
        assert ok == (cred["expected"]["require"] == "ACCEPTED"), name


def test_a_pinned_fleet_runs_clean(harness, tmp_path):
    """The default suite's pinned scenario: the PEM and PKCS#12 exports get in, every look-alike
    (same subject, same serial, another key, expired copy) is refused."""
    out = tmp_path / "out"
    p = harness("run", HOME / "scenarios/default/fleet-pinned.yaml", "--out", out, timeout=600)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    results = json.loads((out / "report.json").read_text())["results"]
    by = {(r["beacon"], r["operation"], r["credential"], r["entry_path"]): r for r in results}
    for cred in ("valid", "valid-p12"):
        assert by[("beacon-a", "download-policy", cred, "https")]["outcome"] == "ACCEPTED"
    for cred in ("same-subject", "same-serial", "wrong-key", "expired"):
        assert by[("beacon-a", "upload-inventory", cred, "https")]["outcome"].startswith("REJECTED"), cred
    assert (out / "work" / "pki-pinned-self-signed" / "manifest.json").exists()


OPENSSL_CA_CONF = """
[ca]
default_ca = own
[own]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/new
serial = {d}/serial
crlnumber = {d}/crlnumber
certificate = {d}/ca.pem
private_key = {d}/ca.key
default_md = sha256
default_days = 30
default_crl_days = 7
policy = any
copy_extensions = copy
[any]
commonName = supplied
"""


@pytest.fixture(scope="module")
def users_pki(tmp_path_factory):
    """A CA, two devices and a CRL revoking one, made with the openssl CLI only."""
    d = tmp_path_factory.mktemp("own-ca")
    (d / "new").mkdir()
    (d / "index.txt").write_text("")
    (d / "serial").write_text("1000\n")
    (d / "crlnumber").write_text("1000\n")
    conf = d / "ca.cnf"
    conf.write_text(OPENSSL_CA_CONF.format(d=d))
    def ok(*args):
        p = openssl(*args)
        assert p.returncode == 0, (args, p.stderr.decode())
    ok("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", d / "ca.key",
       "-out", d / "ca.pem", "-days", "60", "-subj", "/CN=Customer Device CA",
       "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for dev in ("device", "revoked"):
        ok("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", d / f"{dev}.key",
           "-out", d / f"{dev}.csr", "-subj", f"/CN=customer-{dev}",
           "-addext", "extendedKeyUsage=clientAuth", "-addext", "keyUsage=digitalSignature")
        ok("ca", "-batch", "-config", conf, "-in", d / f"{dev}.csr", "-out", d / f"{dev}.pem", "-notext")
    ok("ca", "-config", conf, "-revoke", d / "revoked.pem")
    ok("ca", "-config", conf, "-gencrl", "-out", d / "crl.pem")
    ok("x509", "-in", d / "ca.pem", "-outform", "DER", "-out", d / "ca.der")
    return d


def test_a_beacon_trusts_the_users_own_ca_and_crl(harness, start_beacon, pki, manifest, users_pki, tmp_path):
    d = users_pki
    # the truth first: OpenSSL says the device is good and the revoked one is revoked
    assert openssl("verify", "-CAfile", d / "ca.pem", "-crl_check", "-CRLfile", d / "crl.pem", d / "device.pem").returncode == 0
    assert openssl("verify", "-CAfile", d / "ca.pem", "-crl_check", "-CRLfile", d / "crl.pem", d / "revoked.pem").returncode != 0
    for ca in (d / "ca.pem", d / "ca.der"):  # PEM or DER
        b = start_beacon("require", args=["--client-ca", ca, "--crl", d / "crl.pem", "--revocation", "crl"])
        ca_args = ["--ca", pki / manifest["trust"]["server_ca_bundle"]]
        p = harness("agent", "--beacon", b.url, *ca_args, "--cert", d / "device.pem", "--key", d / "device.key")
        assert p.returncode == 0, p.stdout.decode()
        p = harness("agent", "--beacon", b.url, *ca_args, "--cert", d / "revoked.pem", "--key", d / "revoked.key",
                    "--expect", "REJECTED", "--json")
        assert p.returncode == 0 and json.loads(p.stdout)["outcome"].startswith("REJECTED"), p.stdout
        # the test PKI's own client CA is no longer trusted: its valid device is refused
        code, rec = agent_json(harness, b.url, pki, manifest, "valid", "--expect", "REJECTED")
        assert code == 0 and rec["outcome"].startswith("REJECTED"), rec
        # the beacon says why, in its own words
        reasons = {r.get("verify_error") for r in b.records("connection")}
        assert any(r and "revoked" in r.lower() for r in reasons), reasons


def test_a_beacon_trusts_a_pinned_device_certificate_only(harness, start_beacon, pki, manifest, tmp_path):
    def selfsigned(name, key_from=None):
        key = key_from or tmp_path / f"{name}.key"
        args = ["req", "-x509", "-nodes", "-out", tmp_path / f"{name}.pem", "-days", "30",
                "-subj", "/CN=fleet-device", "-addext", "extendedKeyUsage=clientAuth",
                "-addext", "keyUsage=digitalSignature", "-addext", "basicConstraints=CA:FALSE"]
        args += ["-key", key] if key_from else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", key]
        assert openssl(*args).returncode == 0
        return tmp_path / f"{name}.pem", key
    device, device_key = selfsigned("device")
    impostor, impostor_key = selfsigned("impostor")  # the same subject, another key
    b = start_beacon("require", args=["--client-ca", device])
    ca = ["--ca", pki / manifest["trust"]["server_ca_bundle"]]
    assert harness("agent", "--beacon", b.url, *ca, "--cert", device, "--key", device_key).returncode == 0
    p = harness("agent", "--beacon", b.url, *ca, "--cert", impostor, "--key", impostor_key, "--expect", "REJECTED")
    assert p.returncode == 0, p.stdout.decode()


def test_a_scenario_gives_a_simulated_beacon_the_users_trust(harness, users_pki, tmp_path):
    """client_trust in a scenario (a path relative to it): the beacon trusts the user's CA, so
    the run's own distributed credential is locked out, which the run says."""
    (tmp_path / "trust").mkdir()
    (tmp_path / "trust" / "ca.pem").write_bytes((users_pki / "ca.pem").read_bytes())
    f = tmp_path / "own.yaml"
    f.write_text("name: own\nbeacons:\n  - name: beacon-a\n    simulated: {client_auth: require, "
                 "client_trust: {ca: trust/ca.pem}}\npolicy: {client_certificate: required}\n"
                 "credentials: [valid, none]\noperations: [download-policy]\nentry_paths: [https]\n")
    p = harness("run", f, "--out", tmp_path / "out")
    assert p.returncode == 1
    findings = json.loads((tmp_path / "out" / "report.json").read_text())["findings"]
    assert [(x["severity"], x["credential"]) for x in findings] == [("LOCKOUT", "valid")]


def test_a_rotation_rehearsal_finds_the_stranded_devices(harness, tmp_path):
    """Stage by stage (before, overlap, cutover): who gets in. The default suite's self-test
    strands the devices still holding the current certificate at the cutover: exactly that
    LOCKOUT. Said otherwise (they need not work any more), the same rotation finds nothing."""
    src = HOME / "scenarios/default/selftest-rotation-cutover.yaml"
    out = tmp_path / "out"
    p = harness("run", src, "--out", out, timeout=300)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    report = json.loads((out / "report.json").read_text())
    got = {(r["beacon"], r["credential"]): r["outcome"] for r in report["results"] if r["operation"] == "download-policy"}
    assert got[("beacon-a@before", "valid")] == "ACCEPTED" and got[("beacon-a@before", "valid-next")] != "ACCEPTED"
    assert got[("beacon-a@overlap", "valid")] == "ACCEPTED" and got[("beacon-a@overlap", "valid-next")] == "ACCEPTED"
    assert got[("beacon-a@cutover", "valid")] != "ACCEPTED" and got[("beacon-a@cutover", "valid-next")] == "ACCEPTED"
    assert [(f["severity"], f["beacon"], f["credential"], f["expected"]) for f in report["findings"]] == \
        [("LOCKOUT", "beacon-a@cutover", "valid", True)]
    migrated = tmp_path / "migrated.yaml"
    migrated.write_text(src.read_text().replace("must_work: [valid-next, valid]", "must_work: [valid-next]")
                        .replace("expect_findings:\n  - {severity: LOCKOUT, beacon: beacon-a@cutover, credential: valid}\n",
                                 "expect_findings: []\n"))
    p = harness("run", migrated, "--out", tmp_path / "out2", timeout=300)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    assert json.loads((tmp_path / "out2" / "report.json").read_text())["findings"] == []


def test_an_expiring_distributed_certificate_is_a_warning(harness, tmp_path):
    src = HOME / "scenarios/default/fleet-pinned.yaml"
    p = harness("run", src, "--out", tmp_path / "a", "--quiet", timeout=300)
    assert p.returncode == 0 and b"WARN" not in p.stderr  # a year left: nothing to say
    p = harness("run", src, "--out", tmp_path / "b", "--quiet", "--expiry-warning", "400", timeout=300)
    assert p.returncode == 0
    (f,) = json.loads((tmp_path / "b" / "report.json").read_text())["findings"]
    assert f["severity"] == "WARN" and f["kind"] == "expiry" and f["not_after"] in f["title"]
    assert b"WARN: the distributed certificate 'valid'" in p.stderr
