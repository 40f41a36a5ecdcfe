"""pytest plugin for mtls-harness scenarios: `pytest scenarios/` (or `pytest --mtls-scenarios=DIR`)
collects every scenario file and every check in it as a test item named by its stable check_id,
so -k, --junitxml and -n (pytest-xdist; prefer --dist loadfile) work. It drives the mtls-harness
binary and holds no check logic: `mtls-harness run --list FILE` names the items, one
`mtls-harness run FILE` per scenario (per worker) produces the verdicts the items report.

Outcomes map as in the harness's own junit.xml: PASS (and a FAIL a self-test declares) passes,
FAIL fails, INCONCLUSIVE is an error (the check could not be carried out), SKIPPED is skipped.
Each scenario's reports are kept (--mtls-reports DIR, default a new temporary folder) and their
folder is printed at the end; the run's test PKI (private keys) is removed once the run is read.

The binary: $MTLS_HARNESS_BIN, else build/release, build/ci or build under the project root.
"""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    group = parser.getgroup("mtls-harness")
    group.addoption("--mtls-scenarios", action="append", default=[], metavar="DIR",
                    help="collect mtls-harness scenario files (*.yaml) under DIR")
    group.addoption("--mtls-jobs", default=None, help="checks in flight per scenario run (run --jobs)")
    group.addoption("--mtls-reports", default=None, metavar="DIR",
                    help="keep each scenario's reports in DIR/<scenario> (default: a new temporary folder)")


def pytest_configure(config):
    config.addinivalue_line("markers", "mtls_check: a check expanded from an mtls-harness scenario")
    dirs = [str(pathlib.Path(d).resolve()) for d in config.getoption("--mtls-scenarios")]
    if dirs:
        # Given no path of its own, pytest collects only the scenario folders.
        if config.args in ([], [str(config.invocation_params.dir)]):
            config.args[:] = dirs
        else:
            config.args.extend(dirs)


class MissingBinary(Exception):
    pass


def _binary():
    """The binary, or MissingBinary saying what to do."""
    given = os.environ.get("MTLS_HARNESS_BIN")
    candidates = [given] if given else [
        str(ROOT / b / "harness" / "mtls-harness") for b in ("build/release", "build/ci", "build")]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    raise MissingBinary("mtls-harness binary not found" +
                        (f" (MTLS_HARNESS_BIN={given} is not executable)" if given else "") +
                        ": build it with ci/conformance, or set MTLS_HARNESS_BIN to its path")


def _reports_root(config):
    root = getattr(config, "_mtls_reports_root", None)
    if root is None:
        given = config.getoption("--mtls-reports")
        root = pathlib.Path(given).resolve() if given else pathlib.Path(tempfile.mkdtemp(prefix="mtls-pytest-"))
        config._mtls_reports_root = root
    return root


def pytest_runtest_logreport(report):
    """Remembers where the reports of the scenarios that ran are (from workers too)."""
    for name, value in getattr(report, "user_properties", []):
        if name == "mtls_reports":
            _REPORT_DIRS.add(value)


_REPORT_DIRS = set()


def pytest_terminal_summary(terminalreporter):
    if _REPORT_DIRS:
        terminalreporter.section("mtls-harness reports")
        for d in sorted(_REPORT_DIRS):
            terminalreporter.write_line(f"{d}/report.html (and report.md, junit.xml, report.sarif, report.json)")


def _is_scenario(path, config):
    if path.suffix not in (".yaml", ".yml"):
        return False
    roots = [pathlib.Path(d).resolve() for d in config.getoption("--mtls-scenarios")]
    under = any(r == path or r in path.parents for r in roots) or "scenarios" in path.parts
    if not under:
        return False
    head = path.read_text(errors="replace")
    return "\nbeacons:" in "\n" + head and "\npolicy:" in "\n" + head


def pytest_collect_file(file_path, parent):
    if not _is_scenario(pathlib.Path(file_path).resolve(), parent.config):
        return None
    try:
        _binary()
    except MissingBinary as e:  # said once, after collection, not as an error per file
        parent.config._mtls_missing = str(e)
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def pytest_collection_modifyitems(session, config, items):
    missing = getattr(config, "_mtls_missing", None)
    if missing:
        raise pytest.UsageError(missing)


class ScenarioFile(pytest.File):
    def collect(self):
        p = subprocess.run([_binary(), "run", "--list", str(self.path)], capture_output=True, timeout=300)
        if p.returncode != 0:
            raise pytest.Collector.CollectError(p.stderr.decode().strip())
        checks = [json.loads(line) for line in p.stdout.decode().splitlines()]
        for c in checks:
            yield CheckItem.from_parent(self, name=c["check_id"], check=c)
        yield FindingsItem.from_parent(self, name="findings")

    def run_once(self):
        """Runs the scenario (once per process) and returns (records by check_id, report)."""
        cached = getattr(self, "_mtls_run", None)
        if cached is None:
            worker = os.environ.get("PYTEST_XDIST_WORKER")
            out = _reports_root(self.config) / (self.path.stem + (f"-{worker}" if worker else ""))
            cmd = [_binary(), "run", str(self.path), "--out", str(out)]
            jobs = self.config.getoption("--mtls-jobs")
            if jobs:
                cmd += ["--jobs", str(jobs)]
            p = subprocess.run(cmd, capture_output=True, timeout=1800)
            shutil.rmtree(out / "work" / "pki", ignore_errors=True)  # private keys: not kept
            self.reports = str(out)
            if p.returncode not in (0, 1, 3):
                cached = RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode().strip()}")
            else:
                report = json.loads((out / "report.json").read_text())
                cached = ({r["check_id"]: r for r in report["results"]}, report)
            self._mtls_run = cached
        if isinstance(cached, Exception):
            raise cached
        return cached


class CheckFailed(Exception):
    pass


class CheckInconclusive(Exception):
    """Raised in setup: pytest reports an error, as the harness's junit.xml does."""


class _ScenarioItem(pytest.Item):
    """An item of a scenario file: failures print the harness's words, not a Python traceback."""

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, (CheckFailed, CheckInconclusive)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def setup(self):
        self.parent.run_once()
        self.user_properties.append(("mtls_reports", self.parent.reports))

    def reportinfo(self):
        return self.path, None, f"{self.parent.name}::{self.name}"


class CheckItem(_ScenarioItem):
    def __init__(self, *, check, **kwargs):
        super().__init__(**kwargs)
        self.check = check
        self.add_marker(pytest.mark.mtls_check)

    def setup(self):
        super().setup()
        records, _ = self.parent.run_once()
        r = records.get(self.name)
        if r is not None and r["verdict"] == "INCONCLUSIVE":
            raise CheckInconclusive(f"INCONCLUSIVE ({r['outcome']}): {r['reason']}")

    def runtest(self):
        records, _ = self.parent.run_once()
        r = records.get(self.name)
        if r is None:
            raise CheckFailed("the run produced no record for this check")
        self.user_properties.append(("outcome", r["outcome"]))
        self.user_properties.append(("verdict", r["verdict"]))
        if r["verdict"] == "SKIPPED":
            pytest.skip(r["reason"])
        if r["verdict"] == "PASS" or (r["verdict"] == "FAIL" and r["expected_finding"]):
            return
        ev = r["evidence"]
        raise CheckFailed(f"{r['verdict']} {r['severity'] or ''}: expected {r['expected']}, got {r['outcome']}\n"
                          f"  {r['reason']}\n  curl {ev['curl_code']}, TLS alert {ev['tls_alert']}, "
                          f"HTTP {ev['http_status']}")


class FindingsItem(_ScenarioItem):
    """The scenario's findings: a self-test must find exactly what it declares."""

    def runtest(self):
        _, report = self.parent.run_once()
        bad = [f for f in report["findings"] if f["severity"] == "SELFTEST"]
        if bad:
            raise CheckFailed("\n".join(f["title"] for f in bad))
