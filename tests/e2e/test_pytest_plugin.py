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
