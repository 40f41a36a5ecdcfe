"""The pytest plugin (python/mtls_harness_pytest.py): scenarios become test items named by their
check ids, -k selects them, --junitxml reports them (read back with a real XML parser), and a
check that fails fails the pytest run with its check id."""
import subprocess
import sys
import xml.etree.ElementTree as ET

from helpers import BIN, HOME


def pytest_run(*args, cwd=HOME):
    env = {"MTLS_HARNESS_BIN": BIN, "PATH": "/usr/bin:/bin"}
    return subprocess.run(["/usr/bin/python3", "-m", "pytest", "-q", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, timeout=600)


def plan_ids(scenario):
    import json
    p = subprocess.run([BIN, "run", "--list", str(scenario)], capture_output=True, check=True)
    return [json.loads(l)["check_id"] for l in p.stdout.decode().splitlines()]


def test_checks_are_items_in_junit(tmp_path):
    scenario = HOME / "scenarios" / "default" / "selftest-optional-mode.yaml"
    junit = tmp_path / "junit.xml"
    p = pytest_run(scenario, f"--junitxml={junit}")
    assert p.returncode == 0, p.stdout.decode()[-2000:]
    names = [tc.get("name") for tc in ET.parse(junit).getroot().iter("testcase")]
    assert sorted(names) == sorted(plan_ids(scenario) + ["findings"])


def test_k_selects_by_check_id(tmp_path):
    scenario = HOME / "scenarios" / "default" / "selftest-optional-mode.yaml"
    junit = tmp_path / "junit.xml"
    p = pytest_run(scenario, "-k", "download-policy", f"--junitxml={junit}")
    assert p.returncode == 0
    names = [tc.get("name") for tc in ET.parse(junit).getroot().iter("testcase")]
    assert names and all("download-policy" in n for n in names)


def test_a_failing_check_fails_pytest_with_its_id(tmp_path):
    d = tmp_path / "fleet"
    d.mkdir()
    (d / "leaky.yaml").write_text(
        "name: leaky\nbeacons:\n  - {name: beacon-a, simulated: {client_auth: ignore}}\n"
        "policy: {client_certificate: required}\ncredentials: [valid, none]\noperations: [download-policy]\n"
        "entry_paths: [https]\n")
    junit = tmp_path / "junit.xml"
    p = pytest_run(f"--mtls-scenarios={d}", f"--junitxml={junit}", "-n", "2")
    assert p.returncode == 1
    failed = [tc.get("name") for tc in ET.parse(junit).getroot().iter("testcase") if tc.find("failure") is not None]
    assert failed == ["beacon-a/download-policy/none/https"]


def test_reports_are_kept_and_named_and_keys_removed(tmp_path):
    scenario = HOME / "scenarios" / "default" / "selftest-optional-mode.yaml"
    keep = tmp_path / "kept"
    p = pytest_run(scenario, f"--mtls-reports={keep}", "-rA")
    assert p.returncode == 0, p.stdout.decode()[-2000:]
    out = keep / scenario.stem
    assert (out / "report.html").exists() and (out / "report.sarif").exists()
    assert f"{out}/report.html" in p.stdout.decode()  # printed in the terminal summary
    assert not (out / "work" / "pki").exists()
    assert not [f for f in out.rglob("*") if f.is_file() and b"PRIVATE KEY" in f.read_bytes()]


def test_a_missing_binary_is_said_once_with_the_fix(tmp_path):
    env = {"MTLS_HARNESS_BIN": str(tmp_path / "nowhere"), "PATH": "/usr/bin:/bin"}
    p = subprocess.run(["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        HOME / "scenarios" / "default"], cwd=tmp_path, env=env, capture_output=True,
                       timeout=120)
    text = p.stdout.decode() + p.stderr.decode()
    assert p.returncode == 4, text[-2000:]
    assert text.count("mtls-harness binary not found") == 1 and "MTLS_HARNESS_BIN" in text


def test_inconclusive_is_an_error_in_both_junit_outputs(tmp_path):
    """A beacon nobody listens on: the harness's junit.xml says <error>; so does pytest's."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = tmp_path / "gone"
    d.mkdir()
    (d / "gone.yaml").write_text(
        f"name: gone\nbeacons:\n  - {{name: beacon-a, url: 'https://127.0.0.1:{port}'}}\n"
        "policy: {client_certificate: required}\ncredentials: [valid, none]\n"
        "operations: [download-policy]\nentry_paths: [https]\n")
    junit, keep = tmp_path / "junit.xml", tmp_path / "kept"
    p = pytest_run(f"--mtls-scenarios={d}", f"--junitxml={junit}", f"--mtls-reports={keep}")
    assert p.returncode == 1, p.stdout.decode()[-2000:]
    ours = {tc.get("name"): tc for tc in ET.parse(keep / "gone" / "junit.xml").getroot().iter("testcase")}
    theirs = {tc.get("name"): tc for tc in ET.parse(junit).getroot().iter("testcase")}
    checks = [n for n in ours if n != "findings"]
    assert checks
    for name in checks:
        assert (ours[name].find("error") is not None) == (theirs[name].find("error") is not None), name
        assert ours[name].find("error") is not None and theirs[name].find("failure") is None, name
