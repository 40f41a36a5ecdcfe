"""The four reports of a run: report.json (valid against reports/report.schema.json, tamper-evident
via `report verify`), junit.xml (read with a real XML parser), report.md, and report.html loaded
in a real browser (headless Debian chromium: a PNG screenshot is kept, and the counts in the DOM
must equal report.json's). Re-rendering, `report diff`, and no secret in any output."""
import json
import pathlib
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import jsonschema
import pytest

from helpers import HOME

SCHEMA = json.loads((HOME / "reports" / "report.schema.json").read_text())
ARTIFACTS = HOME / "build" / "test-artifacts"


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    from helpers import BIN
    out = tmp_path_factory.mktemp("run") / "out"
    p = subprocess.run([BIN, "run", "--out", str(out)], capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    return out


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory):
    from helpers import BIN
    d = tmp_path_factory.mktemp("leaky")
    (d / "leaky.yaml").write_text(
        "name: leaky\nbeacons:\n  - {name: beacon-a, simulated: {client_auth: require}}\n"
        "  - {name: beacon-b, simulated: {client_auth: ignore}}\npolicy: {client_certificate: required}\n"
        "credentials: [valid, none, expired]\noperations: [download-policy, upload-status]\nentry_paths: [https]\n")
    out = d / "out"
    p = subprocess.run([BIN, "run", str(d / "leaky.yaml"), "--out", str(out)], capture_output=True, timeout=300)
    assert p.returncode == 1, p.stderr.decode()[-2000:]
    return out


def doc(out):
    return json.loads((out / "report.json").read_text())


def test_report_json_matches_its_schema(default_run, failing_run):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    for out in (default_run, failing_run):
        jsonschema.validate(doc(out), SCHEMA)
    d = doc(default_run)
    assert d["metadata"]["git_commit"] is None or len(d["metadata"]["git_commit"]) == 40
    assert d["metadata"]["scenarios"] and all(len(s["sha256"]) == 64 for s in d["metadata"]["scenarios"])


def test_verify_detects_a_tampered_report(harness, default_run, tmp_path):
    assert harness("report", "verify", default_run / "report.json").returncode == 0
    tampered = doc(default_run)
    failing = next(r for r in tampered["results"] if r["verdict"] == "FAIL")
    failing["verdict"] = "PASS"  # someone hides a failure
    (tmp_path / "report.json").write_text(json.dumps(tampered))
    p = harness("report", "verify", tmp_path / "report.json")
    assert p.returncode == 1 and b"CHANGED" in p.stdout
    (tmp_path / "junk.json").write_text("{}")
    assert harness("report", "verify", tmp_path / "junk.json").returncode == 2


def test_junit_has_one_testcase_per_check(default_run, failing_run):
    for out in (default_run, failing_run):
        d = doc(out)
        every = list(ET.parse(out / "junit.xml").getroot().iter("testcase"))
        cases = [c for c in every if c.get("name") != "findings"]
        scenarios = {r["scenario"] for r in d["results"]}
        assert len(cases) == d["summary"]["total"] and len(every) == len(cases) + len(scenarios)
        # only the attributes the Jenkins xUnit schema allows; when and where each suite ran
        root = ET.parse(out / "junit.xml").getroot()
        assert set(root.attrib) <= {"name", "time", "tests", "failures", "disabled", "errors"}, root.attrib
        for suite in root.iter("testsuite"):
            assert {"name", "tests", "timestamp", "hostname"} <= set(suite.attrib), suite.attrib
            assert suite.get("timestamp") == d["metadata"]["started"] and suite.get("hostname")
        # red exactly when the run's exit code is not 0
        red = any(c.find("failure") is not None or c.find("error") is not None for c in every)
        assert red == (d["summary"]["exit_code"] != 0), out
        by_name = {(c.get("classname"), c.get("name")): c for c in cases}
        for r in d["results"]:
            c = by_name[(f"{r['scenario']}/{r['beacon']}", r["check_id"])]
            failed = c.find("failure") is not None
            assert failed == (r["verdict"] == "FAIL" and not r["expected_finding"]), r["check_id"]
            assert (c.find("skipped") is not None) == (r["verdict"] == "SKIPPED")
    failures = [c for c in ET.parse(failing_run / "junit.xml").getroot().iter("testcase")
                if c.find("failure") is not None and c.get("name") != "findings"]
    assert failures and all(c.find("failure").get("type") == "EXPOSURE" for c in failures)


@pytest.mark.parametrize("which", ["default_run", "failing_run", "missing_self_test_run"])
def test_junit_validates_against_the_xunit_schema(request, which):
    """xmllint against tests/e2e/schemas/junit.xsd (the Jenkins xUnit plugin's JUnit rules), and
    every executed check has a time, hand-driven clients included."""
    run = request.getfixturevalue(which)
    p = subprocess.run(["xmllint", "--noout", "--schema", HOME / "tests/e2e/schemas/junit.xsd",
                        run / "junit.xml"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    by_id = {r["check_id"]: r for r in doc(run)["results"]}
    for c in ET.parse(run / "junit.xml").getroot().iter("testcase"):
        r = by_id.get(c.get("name"))
        if r and r["verdict"] != "SKIPPED":
            assert float(c.get("time")) > 0, (c.get("name"), r["evidence"]["client"])


def test_the_schema_check_catches_what_xunit_rejects(tmp_path):
    """The schema is not a rubber stamp: the attribute the plugin rejects, and a missing name."""
    for bad in ('<testsuites skipped="1"><testsuite name="s" tests="0"/></testsuites>',
                '<testsuites><testsuite name="s" tests="1"><testcase time="1"/></testsuite></testsuites>'):
        f = tmp_path / "bad.xml"
        f.write_text(bad)
        p = subprocess.run(["xmllint", "--noout", "--schema", HOME / "tests/e2e/schemas/junit.xsd", f],
                           capture_output=True)
        assert p.returncode != 0, bad


SARIF_SCHEMA = json.loads((HOME / "tests/e2e/schemas/sarif-2.1.0-subset.schema.json").read_text())


@pytest.mark.parametrize("which", ["default_run", "failing_run", "missing_self_test_run"])
def test_sarif_has_one_result_per_finding(request, which):
    """report.sarif: valid SARIF 2.1.0 (the subset this project writes, with the standard's
    constraints), one result per finding with a rule, level by severity, the scenario file and
    the line that declares the beacon; findings a self-test declares are suppressed."""
    run = request.getfixturevalue(which)
    sarif = json.loads((run / "report.sarif").read_text())
    jsonschema.validate(sarif, SARIF_SCHEMA, format_checker=jsonschema.FormatChecker())
    d = doc(run)
    (r,) = sarif["runs"]
    rules = [x["id"] for x in r["tool"]["driver"]["rules"]]
    assert len(rules) == len(set(rules))
    assert len(r["results"]) == len(d["findings"])
    files = {sc["id"]: sc["file"] for sc in d["metadata"]["scenarios"]}
    for res, f in zip(r["results"], d["findings"]):
        assert rules[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] == ("warning" if f["severity"] == "WARN" else "error")
        assert f["title"] in res["message"]["text"]
        assert ("suppressions" in res) == f["expected"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith(files[f["scenario"]].lstrip("/"))
        line = loc["region"]["startLine"]
        text = pathlib.Path(files[f["scenario"]]).read_text().splitlines()
        # a rotation stage's beacon (<beacon>@<stage>) is declared by its beacon's line
        assert f"name: {f['beacon'].split('@')[0]}" in text[line - 1], (line, text[line - 1])
    assert r["invocations"][0]["exitCode"] == d["summary"]["exit_code"]


def test_markdown_summary_puts_exposures_first(failing_run):
    md = (failing_run / "report.md").read_text()
    d = doc(failing_run)
    assert md.startswith("# mTLS conformance: FAIL")
    assert f"| {d['summary']['total']} | {d['summary']['PASS']} | {d['summary']['FAIL']} |" in md
    findings = md.split("## Findings")[1].split("##")[0]
    assert findings.strip().startswith("- **EXPOSURE** beacon-b")
    assert "Fix:" in findings


class _Counts(HTMLParser):
    """Reads the counts (id="count-*") and heat-map cells out of a DOM dump."""

    def __init__(self):
        super().__init__()
        self.counts, self.cells, self._in = {}, [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if (a.get("id") or "").startswith("count-"):
            self._in = a["id"][len("count-"):]
        if tag == "td" and "cell" in (a.get("class") or "").split():
            self.cells.append(a.get("data-verdict"))

    def handle_data(self, data):
        if self._in:
            self.counts[self._in] = int(data)
            self._in = None


def chromium(*args, profile):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]
    return subprocess.run(["chromium", *flags, *args], capture_output=True, timeout=120)


@pytest.mark.parametrize("which", ["default", "failing"])
def test_html_in_a_real_browser(default_run, failing_run, tmp_path, which):
    out = default_run if which == "default" else failing_run
    html = (out / "report.html").read_text()
    assert "src=\"http" not in html and "href=\"http" not in html and "@import" not in html  # self-contained
    url = (out / "report.html").as_uri()
    dom = chromium("--dump-dom", url, profile=tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr.decode()[-1000:]
    parsed = _Counts()
    parsed.feed(dom.stdout.decode())
    summary = doc(out)["summary"]
    for key in ("total", "PASS", "FAIL", "INCONCLUSIVE", "SKIPPED", "EXPOSURE", "LOCKOUT"):
        assert parsed.counts[key] == summary[key], key
    assert len(parsed.cells) == summary["total"]
    assert sorted(parsed.cells) == sorted(r["verdict"] for r in doc(out)["results"])
    shot = tmp_path / f"report-{which}.png"
    s = chromium("--window-size=1400,1800", f"--screenshot={shot}", url, profile=tmp_path / "p2")
    assert s.returncode == 0 and shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / shot.name)  # kept for people to look at


def test_rerender_from_results_and_diff(harness, default_run, failing_run, tmp_path):
    p = harness("report", "--in", default_run / "results.jsonl", "--out", tmp_path / "again")
    assert p.returncode == 0
    again = doc(tmp_path / "again")
    assert again["summary"]["total"] == doc(default_run)["summary"]["total"]
    assert again["summary"]["FAIL"] == doc(default_run)["summary"]["FAIL"]
    assert {f for f in ("report.html", "report.md", "junit.xml", "report.json")} <= {x.name for x in (tmp_path / "again").iterdir()}
    assert harness("report", "diff", default_run / "report.json", default_run / "report.json").returncode == 0
    # A later run where a check that passed now fails: a regression, exit 1.
    later = doc(default_run)
    victim = next(r for r in later["results"] if r["verdict"] == "PASS" and r["expected"] == "REJECTED")
    victim.update(verdict="FAIL", severity="EXPOSURE", outcome="ACCEPTED", expected_finding=False)
    (tmp_path / "later.json").write_text(json.dumps(later))
    p = harness("report", "diff", default_run / "report.json", tmp_path / "later.json")
    assert p.returncode == 1
    lines = [l for l in p.stdout.decode().splitlines() if l.startswith("REGRESSION")]
    assert lines == [f"REGRESSION {victim['scenario']} {victim['check_id']}: PASS -> FAIL EXPOSURE (ACCEPTED)"]


@pytest.fixture(scope="module")
def missing_self_test_run(tmp_path_factory):
    """A self-test that declares a finding the harness cannot produce (beacon-a requires
    certificates): a SELFTEST finding that only the run itself can know."""
    from helpers import BIN
    d = tmp_path_factory.mktemp("miss")
    (d / "miss.yaml").write_text(
        "name: miss\nbeacons:\n  - {name: beacon-a, simulated: {client_auth: require}}\n"
        "policy: {client_certificate: required}\ncredentials: [valid, none]\n"
        "operations: [download-policy]\nentry_paths: [https]\nexpect_findings:\n"
        "  - {severity: EXPOSURE, beacon: beacon-a, credential: none}\n")
    out = d / "out"
    p = subprocess.run([BIN, "run", str(d / "miss.yaml"), "--out", str(out)], capture_output=True, timeout=300)
    assert p.returncode == 1, p.stderr.decode()[-2000:]
    return out


@pytest.mark.parametrize("which", ["default_run", "failing_run", "missing_self_test_run"])
def test_rerendered_findings_are_the_runs_byte_for_byte(harness, request, tmp_path, which):
    """One findings module: `report --in results.jsonl` says exactly the findings (titles,
    remediation, self-test results, folding) and the counts the run said."""
    run = request.getfixturevalue(which)
    original = doc(run)
    assert original["findings"], "each of these runs has findings: nothing would be compared"
    p = harness("report", "--in", run / "results.jsonl", "--out", tmp_path / "again")
    assert p.returncode == 0, p.stderr.decode()
    again = doc(tmp_path / "again")
    assert json.dumps(again["findings"], sort_keys=True) == json.dumps(original["findings"], sort_keys=True)
    for key in ("total", "PASS", "FAIL", "INCONCLUSIVE", "SKIPPED", "EXPOSURE", "LOCKOUT",
                "FAIL_declared_by_self_tests", "self_test_misses", "WARN_findings", "exit_code"):
        assert again["summary"][key] == original["summary"][key], key


def test_no_secret_in_any_report(default_run):
    pki = default_run / "work" / "pki"
    m = json.loads((pki / "manifest.json").read_text())
    secrets = [(pki / m["credentials"]["valid-p12"]["password_file"]).read_text().strip().encode()]
    for key in pki.rglob("*.key"):
        body = b"".join(l for l in key.read_bytes().splitlines() if not l.startswith(b"-----"))
        secrets += [body[i:i + 24] for i in range(0, len(body) - 24, 24)]
    outputs = [f for f in default_run.iterdir() if f.is_file()] + list((default_run / "work").rglob("*.jsonl"))
    assert len(outputs) >= 5
    for f in outputs:
        data = f.read_bytes()
        for s in secrets:
            assert s not in data, f"secret material in {f.name}"


def test_bench_results_become_charts_in_the_html(harness, default_run, tmp_path):
    b = harness("bench", "--duration", "1", "--slice", "0.5", "--concurrency", "2", "--out", tmp_path / "bench", timeout=120)
    assert b.returncode == 0
    p = harness("report", "--in", default_run / "report.json", "--bench", tmp_path / "bench" / "bench.json",
                "--out", tmp_path / "with-bench")
    assert p.returncode == 0
    html = (tmp_path / "with-bench" / "report.html").read_text()
    assert "No benchmark ran" not in html and html.count("<svg") == 1
    bench = json.loads((tmp_path / "bench" / "bench.json").read_text())
    for row in bench["chart"]["rows"]:
        assert row["label"] in html.split("<svg")[1].split("</svg>")[0]
    assert harness("report", "--in", default_run / "report.json", "--bench", default_run / "report.json",
                   "--out", tmp_path / "x").returncode == 2


def test_results_csv_has_one_row_per_check(default_run, failing_run):
    import csv
    for out in (default_run, failing_run):
        d = doc(out)
        with open(out / "results.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [(r["check_id"], r["verdict"], r["outcome"]) for r in rows] == \
            [(r["check_id"], r["verdict"], r["outcome"] or "") for r in d["results"]]
        assert all(r["reason"] for r in rows)  # quoted where it holds commas, and read back whole


def test_dash_v_is_the_version(harness):
    v, version = harness("-V"), harness("--version")
    assert v.returncode == 0 and v.stdout == version.stdout and v.stdout.startswith(b"mtls-harness ")


def _with_probe(html_file, tmp_path, script):
    """A copy of report.html with `script` run after the page's own load handlers; the script
    writes its answer as JSON into <body data-probe>, read back from Chromium's DOM dump."""
    copy = tmp_path / "probe.html"
    copy.write_text(html_file.read_text().replace(
        "</body>", "<script>window.addEventListener('load',function(){document.body.setAttribute("
        "'data-probe',JSON.stringify((function(){" + script + "})()));});</script></body>"))
    return copy


def _probe_answer(dom):
    import re
    import html as htmllib
    m = re.search(r'data-probe="([^"]*)"', dom.stdout.decode())
    assert m, "the probe script did not run: " + dom.stderr.decode()[-800:]
    return json.loads(htmllib.unescape(m.group(1)))


def test_html_prints_as_an_auditors_document(default_run, tmp_path):
    """Chromium's print to PDF: the default suite fits in 40 A4 pages, page 1 is the cover (not
    blank: verdict, scope, fingerprints), and only FAIL/INCONCLUSIVE/WARN evidence is printed."""
    pdf = tmp_path / "report.pdf"
    p = chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", (default_run / "report.html").as_uri(),
                 profile=tmp_path / "p")
    assert p.returncode == 0 and pdf.exists(), p.stderr.decode()[-1000:]
    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True, check=True).stdout
    pages = int(next(l for l in info.splitlines() if l.startswith("Pages:")).split()[1])
    assert 1 < pages <= 40, info
    assert "(A4)" in info, info
    # Page 1 as a grey image (PGM): a real page has ink on it.
    subprocess.run(["pdftoppm", "-gray", "-r", "40", "-f", "1", "-l", "1", pdf, tmp_path / "page"], check=True)
    pgm = next(tmp_path.glob("page*.pgm")).read_bytes()
    magic, width, height = pgm.split(maxsplit=3)[:3]  # "P5 <width> <height> 255\n<pixels>"
    assert magic == b"P5"
    pixels = pgm[-int(width) * int(height):]
    dark = sum(1 for b in pixels if b < 128)
    assert dark > len(pixels) // 100, f"page 1 looks blank ({dark} dark pixels of {len(pixels)})"
    page1 = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", pdf, "-"], capture_output=True,
                           text=True, check=True).stdout
    d = doc(default_run)
    assert "mTLS conformance report" in page1 and "exit code" in page1
    assert "SHA-256" in page1 and "caught by self-tests" in page1
    text = subprocess.run(["pdftotext", pdf, "-"], capture_output=True, text=True, check=True).stdout
    printed = [r for r in d["results"] if r["verdict"] in ("FAIL", "INCONCLUSIVE")]
    assert printed, "the default suite has declared FAILs whose evidence must print"
    assert text.count("beacon's own record") >= len(printed)
    passing = next(r for r in d["results"] if r["verdict"] == "PASS" and r["expected"] == "REJECTED")
    assert passing["check_id"] + ": PASS" not in text.replace("\n", "")


@pytest.mark.parametrize("which", ["default_run", "failing_run"])
def test_every_link_in_the_html_lands(request, tmp_path, which):
    """In Chromium: every in-page link has its target; every finding links to each of its checks;
    following a link to a collapsed evidence block opens it."""
    run = request.getfixturevalue(which)
    d = doc(run)
    target = next(i for i, r in enumerate(d["results"]) if r["verdict"] == "PASS")
    probe = _with_probe(run / "report.html", tmp_path, """
      var links=[].slice.call(document.querySelectorAll('a[href]'));
      var broken=links.filter(function(a){var h=a.getAttribute('href');
        return h.charAt(0)!=='#'||h.length<2||!document.getElementById(h.slice(1));})
        .map(function(a){return a.getAttribute('href');});
      var finding=[].slice.call(document.querySelectorAll('.finding')).map(function(f){
        return [].slice.call(f.querySelectorAll('a')).map(function(a){return a.textContent;});});
      var t=document.getElementById(location.hash.slice(1));
      return {links:links.length,broken:broken,finding_links:finding,opened:!!(t&&t.open)};""")
    dom = chromium("--dump-dom", probe.as_uri() + f"#r{target}", profile=tmp_path / "p")
    got = _probe_answer(dom)
    assert got["links"] >= len(d["results"]), got["links"]  # one per matrix cell at least
    assert got["broken"] == []
    assert got["opened"], "a link to a collapsed evidence block must open it"
    linked = {tuple(x) for x in got["finding_links"] if x}
    for f in d["findings"]:
        if f["check_ids"]:
            assert tuple(f["check_ids"]) in linked, f["title"]


def test_html_fits_a_phone(default_run, tmp_path):
    """390 px wide (an iframe of that width: headless Chromium's window is at least 500 px): no
    horizontal page overflow (hashes wrap; matrices scroll in their box) and the matrices' row
    labels stay in view (sticky)."""
    import html as htmllib
    page = tmp_path / "phone.html"
    page.write_text(
        '<!DOCTYPE html><html><body style="margin:0"><iframe id="f" style="width:390px;height:844px;'
        'border:0" srcdoc="' + htmllib.escape((default_run / "report.html").read_text(), quote=True) +
        '"></iframe><script>document.getElementById("f").addEventListener("load",function(){'
        'var d=this.contentDocument,w=this.contentWindow;'
        'var th=d.querySelector("table.heatmap tr th:first-child");'
        'document.body.setAttribute("data-probe",JSON.stringify({page:d.documentElement.scrollWidth,'
        'view:w.innerWidth,sticky:w.getComputedStyle(th).position}));});</script></body></html>')
    dom = chromium("--dump-dom", "--virtual-time-budget=5000", page.as_uri(), profile=tmp_path / "p")
    got = _probe_answer(dom)
    assert got["view"] == 390, got
    assert got["page"] <= got["view"], got
    assert got["sticky"] == "sticky"


def test_html_says_what_it_shows(default_run, failing_run):
    """A legend for every outcome, SKIPPED cells with their reason, scenario descriptions, the
    self-test tile only where there are self-tests, and each beacon's certificate fingerprint."""
    html = (default_run / "report.html").read_text()
    for outcome in ("ACCEPTED", "REJECTED_HANDSHAKE", "REJECTED_AFTER_HANDSHAKE", "REJECTED_HTTP",
                    "CLIENT_CREDENTIAL_ERROR", "SERVER_UNTRUSTED", "UNREACHABLE", "PROTOCOL_ERROR"):
        assert f"<dt><code>{outcome}</code></dt>" in html, outcome
    d = doc(default_run)
    skipped = [r for r in d["results"] if r["verdict"] == "SKIPPED"]
    assert skipped
    for r in skipped:
        assert "SKIPPED: " + r["reason"].replace("'", "&#39;") in html
    for sc in d["metadata"]["scenarios"]:
        if sc["description"]:
            assert sc["description"].replace("'", "&#39;") in html or sc["description"][:30] in html
    assert 'id="count-FAIL_declared_by_self_tests"' in html and 'id="self-tests"' in html
    for b in d["metadata"]["beacons"]:
        fp = b["certificate"]["sha256_fingerprint"].upper()
        assert ":".join(fp[i:i + 2] for i in range(0, len(fp), 2)) in html
    leaky = (failing_run / "report.html").read_text()
    assert "count-FAIL_declared_by_self_tests" not in leaky and "FAIL (dashed)" not in leaky


def test_a_signed_report_says_who_made_it(harness, default_run, tmp_path):
    """report sign (Ed25519 and ECDSA keys made by OpenSSL) puts a signature into report.json and
    on report.html's cover; report verify --pub accepts it with that key only, refuses a changed
    report or signature, and OpenSSL verifies the same signature on its own. No key in any output."""
    import base64
    run = tmp_path / "run"
    shutil.copytree(default_run, run, ignore=shutil.ignore_patterns("work"))
    keys = {}
    for name, algo in (("ed", ["-algorithm", "ed25519"]),
                       ("ec", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                       ("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])):
        subprocess.run(["openssl", "genpkey", *algo, "-out", tmp_path / f"{name}.key"], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", tmp_path / f"{name}.key", "-pubout", "-out",
                        tmp_path / f"{name}.pub"], check=True)
        keys[name] = (tmp_path / f"{name}.key", tmp_path / f"{name}.pub")
    report = run / "report.json"
    p = harness("report", "sign", report, "--key", keys["rsa"][0])
    assert p.returncode == 2 and b"RSA" in p.stderr and b"Ed25519 or ECDSA" in p.stderr
    for name, openssl_check in (("ed", ["pkeyutl", "-verify", "-pubin", "-inkey", keys["ed"][1], "-rawin",
                                        "-in", tmp_path / "msg", "-sigfile", tmp_path / "sig"]),
                                ("ec", ["dgst", "-sha256", "-verify", keys["ec"][1], "-signature",
                                        tmp_path / "sig", tmp_path / "msg"])):
        p = harness("report", "sign", report, "--key", keys[name][0])
        assert p.returncode == 0, p.stderr.decode()
        secret = keys[name][0].read_text().splitlines()[1]
        signed = json.loads(report.read_text())
        for out in (p.stdout + p.stderr, report.read_bytes(), (run / "report.html").read_bytes()):
            assert secret.encode() not in out
        s = signed["signature"]
        assert s["signed_digest"] == signed["integrity"]["sha256"]
        assert s["public_key_sha256"] in (run / "report.html").read_text()
        assert harness("report", "verify", "--pub", keys[name][1], report).returncode == 0
        other = keys["ec" if name == "ed" else "ed"][1]
        p = harness("report", "verify", "--pub", other, report)
        assert p.returncode == 1 and b"NOT signed" in p.stdout
        (tmp_path / "msg").write_text(s["signed_digest"])
        (tmp_path / "sig").write_bytes(base64.b64decode(s["signature_base64"]))
        o = subprocess.run(["openssl", *openssl_check], capture_output=True)
        assert o.returncode == 0, o.stdout + o.stderr
    # A changed result: the checksum no longer matches; a changed signature: refused.
    changed = json.loads(report.read_text())
    changed["results"][0]["verdict"] = "FAIL" if changed["results"][0]["verdict"] == "PASS" else "PASS"
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    assert harness("report", "verify", "--pub", keys["ec"][1], tmp_path / "changed.json").returncode == 1
    forged = json.loads(report.read_text())
    sig = bytearray(base64.b64decode(forged["signature"]["signature_base64"]))
    sig[-3] ^= 1
    forged["signature"]["signature_base64"] = base64.b64encode(bytes(sig)).decode()
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    p = harness("report", "verify", "--pub", keys["ec"][1], tmp_path / "forged.json")
    assert p.returncode == 1 and b"does not verify" in p.stdout
