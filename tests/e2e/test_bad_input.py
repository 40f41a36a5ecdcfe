"""Bad input gets one clear line naming the problem and exit code 2: no crash, no hang, no
half-written output."""
import socket

import pytest


def assert_clean_usage_error(p, *must_mention):
    assert p.returncode == 2, f"exit {p.returncode}"
    err = p.stderr.decode()
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    for word in must_mention:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"


def test_beacon_with_missing_pki_folder(harness, tmp_path):
    p = harness("beacon", "--pki", tmp_path / "no-such-pki", "--ready-file", tmp_path / "ready")
    assert_clean_usage_error(p, "no-such-pki")
    assert not (tmp_path / "ready").exists()


def test_beacon_with_unreadable_manifest(harness, tmp_path):
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "manifest.json").write_text("{ not json")
    p = harness("beacon", "--pki", tmp_path / "pki")
    assert_clean_usage_error(p, "manifest.json")


def test_beacon_on_a_busy_port(harness, pki, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = harness("beacon", "--pki", pki, "--listen", f"127.0.0.1:{port}",
                    "--ready-file", tmp_path / "ready")
    assert_clean_usage_error(p, "--listen", str(port))
    assert not (tmp_path / "ready").exists()


@pytest.mark.parametrize("args,mention", [
    (["--client-auth", "sometimes"], "sometimes"),
    (["--listen", "127.0.0.1"], "--listen"),
    (["--listen", "127.0.0.1:70000"], "70000"),
    (["--threads", "0"], "--threads"),
])
def test_beacon_bad_flag_values(harness, pki, args, mention):
    assert_clean_usage_error(harness("beacon", "--pki", pki, *args), mention)


def test_agent_unknown_operation(harness, pki, manifest):
    p = harness("agent", "--beacon", "https://127.0.0.1:1", "--ca", pki / manifest["trust"]["server_ca_bundle"],
                "--op", "download-everything")
    assert_clean_usage_error(p, "download-everything", "download-policy")


def test_agent_unreadable_ca_file(harness, tmp_path):
    p = harness("agent", "--beacon", "https://127.0.0.1:1", "--ca", tmp_path / "nope.pem",
                "--op", "download-policy")
    assert_clean_usage_error(p, "nope.pem")


def test_agent_malformed_url(harness, pki, manifest):
    p = harness("agent", "--beacon", "ftp://x", "--ca", pki / manifest["trust"]["server_ca_bundle"],
                "--op", "download-policy")
    assert_clean_usage_error(p, "ftp://x")


def test_pki_init_refuses_a_non_empty_folder(harness, tmp_path):
    (tmp_path / "keep.txt").write_text("user data")
    p = harness("pki", "init", "--out", tmp_path)
    assert_clean_usage_error(p, str(tmp_path), "--force")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["keep.txt"]


def test_pki_init_unknown_key_type(harness, tmp_path):
    assert_clean_usage_error(harness("pki", "init", "--out", tmp_path / "p", "--key-type", "dsa"), "dsa")
    assert not (tmp_path / "p").exists()


def test_run_with_missing_scenario(harness, tmp_path):
    p = harness("run", tmp_path / "missing.yaml", "--out", tmp_path / "out")
    assert_clean_usage_error(p, "missing.yaml")
    assert not (tmp_path / "out").exists(), "nothing may be written for a run that cannot start"


def test_unknown_subcommand_and_flag(harness):
    assert_clean_usage_error(harness("fly"), "fly")
    assert_clean_usage_error(harness("run", "--bogus-flag"), "--bogus-flag")
