"""`pki init` and `pki lint` from the command line, cross-checked with OpenSSL (a peer no one here
wrote): `openssl verify` agrees with the manifest on every certificate variant, `openssl pkcs12`
opens the .p12, seeded output is byte-identical, and bad input gets one line and exit 2 without
ever printing a password."""
import json
import os
import subprocess

import pytest

from helpers import split_chain

# What each variant was built to break, from the definitions (not from the manifest).
BREAKS = {
    "expired": "validity", "not-yet-valid": "validity", "untrusted-ca": "chain",
    "self-signed": "chain", "wrong-eku": "eku", "revoked": "revocation", "wrong-key": "key-match",
    "missing-intermediate": "intermediate", "weak-key": "key-strength", "server-ca-issued": "chain",
}




@pytest.mark.parametrize("policy,crl", [("require", False), ("require_crl", True)])
def test_openssl_verify_agrees_with_the_manifest(peer, pki, manifest, tmp_path, policy, crl):
    checked = 0
    for name, cred in manifest["credentials"].items():
        if cred["cert"] is None or cred["defect"] == "key-match":
            continue  # `openssl verify` judges certificates; key possession is not its business
        leaf, rest = split_chain(pki / cred["cert"], tmp_path)
        cmd = ["openssl", "verify", "-CAfile", str(pki / manifest["trust"]["client_ca_roots"]),
               "-purpose", "sslclient", "-auth_level", "2"]
        if rest:
            cmd += ["-untrusted", str(rest)]
        if crl:
            cmd += ["-crl_check_all", "-CRLfile", str(pki / manifest["trust"]["client_crls"])]
        accepted = peer(cmd + [str(leaf)]).returncode == 0
        assert accepted == (cred["expected"][policy] == "ACCEPTED"), f"{name} under {policy}"
        checked += 1
    assert checked >= 10


def test_openssl_opens_the_p12_with_modern_encryption(peer, pki, manifest):
    cred = manifest["credentials"]["valid-p12"]
    p12 = pki / cred["p12"]
    pw = f"file:{pki / cred['password_file']}"
    p = peer(["openssl", "pkcs12", "-in", str(p12), "-passin", pw, "-nodes", "-out", os.devnull])
    assert p.returncode == 0
    assert peer(["openssl", "pkcs12", "-in", str(p12), "-passin", "pass:wrong", "-noout"]).returncode != 0
    # The structure as OpenSSL reads it: PBES2 + AES-256-CBC + HMAC-SHA256 key bag, SHA-256 MAC,
    # no legacy RC2/3DES bags (Windows 10 1709+ and OpenSSL 3 accept this).
    info = peer(["openssl", "pkcs12", "-in", str(p12), "-passin", pw, "-info", "-noout"]).stderr.decode()
    for needle in ("MAC: sha256", "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC", "PRF hmacWithSHA256"):
        assert needle in info, (needle, info)
    for legacy in ("RC2", "3DES", "TripleDES", "MAC: sha1"):
        assert legacy not in info, (legacy, info)
    # The certificate and key inside are the valid credential's.
    certs = peer(["openssl", "pkcs12", "-in", str(p12), "-passin", pw, "-nokeys", "-clcerts"]).stdout
    fp = peer(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input_bytes=certs).stdout.decode()
    want = next(f["sha256"] for f in manifest["files"] if f["path"] == manifest["credentials"]["valid"]["cert"])
    assert fp.strip().split("=")[1].replace(":", "").lower() == want


@pytest.mark.parametrize("variant", sorted(BREAKS))
def test_lint_fails_exactly_the_broken_property(harness, pki, manifest, variant):
    cred = manifest["credentials"][variant]
    p = harness("pki", "lint", "--ca", pki / manifest["trust"]["client_ca_bundle"],
                "--cert", pki / cred["cert"], "--key", pki / cred["key"],
                "--crl", pki / manifest["trust"]["client_crls"], "--json")
    assert p.returncode == 1
    findings = json.loads(p.stdout)["findings"]
    assert [f["property"] for f in findings if f["status"] == "FAIL"] == [BREAKS[variant]]


def test_lint_passes_valid_pem_and_p12(harness, pki, manifest):
    trust = manifest["trust"]
    valid = manifest["credentials"]["valid"]
    p12 = manifest["credentials"]["valid-p12"]
    runs = [
        harness("pki", "lint", "--ca", pki / trust["client_ca_bundle"], "--cert", pki / valid["cert"],
                "--key", pki / valid["key"], "--crl", pki / trust["client_crls"], "--json"),
        harness("pki", "lint", "--ca", pki / trust["client_ca_bundle"], "--p12", pki / p12["p12"],
                "--password-file", pki / p12["password_file"], "--crl", pki / trust["client_crls"], "--json"),
    ]
    for p in runs:
        assert p.returncode == 0
        findings = json.loads(p.stdout)["findings"]
        assert findings and all(f["status"] == "PASS" for f in findings), findings
    assert "p12-open" in [f["property"] for f in json.loads(runs[1].stdout)["findings"]]


def test_seeded_output_is_byte_identical(harness, tmp_path):
    args = ["--seed", "2026", "--now", "2026-03-01T00:00:00Z", "--key-type", "rsa-2048"]
    for d in ("one", "two"):
        assert harness("pki", "init", "--out", tmp_path / d, *args).returncode == 0
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert len(files) >= 35
    for rel in files:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["created"] == "2026-03-01T00:00:00Z" and manifest["key_type"] == "rsa-2048"


def test_p12_password_from_env_is_used_and_never_printed(harness, peer, tmp_path):
    secret = "S3cret-for-the-fleet"
    p = harness("pki", "init", "--out", tmp_path / "pki", "--p12-password-env", "FLEET_P12_PW",
                env={"FLEET_P12_PW": secret})
    assert p.returncode == 0
    m = json.loads((tmp_path / "pki" / "manifest.json").read_text())
    assert m["credentials"]["valid-p12"]["password_file"] is None
    p12 = tmp_path / "pki" / m["credentials"]["valid-p12"]["p12"]
    env = dict(os.environ, FLEET_P12_PW=secret)
    ok = subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-passin", "env:FLEET_P12_PW", "-noout"],
                        env=env, capture_output=True)
    assert ok.returncode == 0
    lint_ok = harness("pki", "lint", "--ca", tmp_path / "pki" / m["trust"]["client_ca_bundle"], "--p12", p12,
                      "--password-env", "FLEET_P12_PW", env={"FLEET_P12_PW": secret})
    lint_bad = harness("pki", "lint", "--ca", tmp_path / "pki" / m["trust"]["client_ca_bundle"], "--p12", p12,
                       "--password-env", "FLEET_P12_PW", env={"FLEET_P12_PW": secret + "x"})
    assert lint_ok.returncode == 0 and lint_bad.returncode == 2
    for run in (p, lint_ok, lint_bad):
        assert secret.encode() not in run.stdout + run.stderr
    assert b"password" in lint_bad.stderr


def one_line_exit_2(p, *words):
    assert p.returncode == 2, p
    lines = [l for l in p.stderr.decode().splitlines() if l.strip()]
    assert len(lines) == 1, lines
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_lint_bad_inputs(harness, pki, manifest, tmp_path):
    trust = manifest["trust"]
    valid = manifest["credentials"]["valid"]
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    ca = ["--ca", pki / trust["client_ca_bundle"]]
    one_line_exit_2(harness("pki", "lint", *ca, "--cert", garbage, "--key", pki / valid["key"]), "garbage.pem")
    one_line_exit_2(harness("pki", "lint", *ca, "--cert", pki / valid["der"]["cert"], "--key", pki / valid["key"]),
                    "DER")
    one_line_exit_2(harness("pki", "lint", *ca, "--cert", tmp_path / "absent.pem", "--key", pki / valid["key"]),
                    "absent.pem")
    one_line_exit_2(harness("pki", "lint", *ca, "--cert", pki / valid["cert"]), "--key")
    one_line_exit_2(harness("pki", "lint", *ca, "--p12", pki / manifest["credentials"]["valid-p12"]["p12"], "--password-env",
                            "NO_SUCH_VAR_FOR_MTLS"), "NO_SUCH_VAR_FOR_MTLS")
    one_line_exit_2(harness("pki", "lint", *ca, "--cert", pki / valid["cert"], "--key", pki / valid["key"],
                            "--now", "tomorrow"), "--now")


def test_init_bad_inputs(harness, tmp_path):
    one_line_exit_2(harness("pki", "init", "--out", tmp_path / "e", "--key-type", "ed25519"), "Ed25519")
    one_line_exit_2(harness("pki", "init", "--out", tmp_path / "n", "--now", "2026-02-30"), "--now")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("x")
    one_line_exit_2(harness("pki", "init", "--out", tmp_path / "full"), "--force")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep"]
    assert not (tmp_path / "e").exists() and not (tmp_path / "n").exists()
