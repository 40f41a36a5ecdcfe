"""Safety of the tool itself: the beacon binds loopback unless told otherwise, private keys and
the PKCS#12 password are written 0600, and a small soak (tests/soak/soak.py: valid uploads, every
bad credential, slow clients, vanishing uploads, TLS garbage at once) loses nothing, lets no one
in, and leaves the beacon with its descriptors back at the baseline and still answering."""
import json
import stat
import subprocess
import sys

from helpers import BIN, HOME


def test_the_beacon_binds_loopback_by_default(pki, tmp_path):
    p = subprocess.Popen([BIN, "beacon", "--pki", str(pki), "--plain-http", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready = json.loads(p.stdout.readline())
        assert {l["address"] for l in ready["listeners"]} == {"127.0.0.1"}, ready
    finally:
        p.terminate()
        p.communicate(timeout=20)


def test_private_keys_and_the_p12_password_are_0600(pki, manifest):
    secret = [f for f in pki.rglob("*") if f.is_file() and (f.suffix in (".key", ".p12") or f.name.endswith(".password")
                                                          or f.name.endswith(".key.der"))]
    assert len(secret) >= 14
    for f in secret:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_a_small_soak_loses_nothing():
    cmd = [sys.executable, str(HOME / "tests" / "soak" / "soak.py"), "--bin", BIN, "--handshakes", "1500",
           "--slow", "4", "--slow-seconds", "4", "--vanish", "30", "--garbage", "60", "--max-seconds", "240"]
    p = subprocess.run(cmd, capture_output=True, timeout=300)
    diagnostics = f"command: {' '.join(cmd)}\nexit: {p.returncode}\nstdout: {p.stdout.decode()}\nstderr: {p.stderr.decode()[-3000:]}"
    assert p.returncode == 0, diagnostics
    r = json.loads(p.stdout)
    assert r["bad"]["let_in"] == 0 and r["bad"]["refused"] == r["bad"]["handshakes"], diagnostics
    assert r["valid"]["accepted"] == r["valid"]["uploads"] == r["store"]["files"] == r["store"]["byte_identical"]
    assert r["after"]["fds"] <= r["baseline"]["fds"] + 2 and r["still_answers"] and r["beacon_exit"] == 0
