"""Boundaries proven from every subnet: a real nginx requires client certificates except for one
source address. Probed from two vantage points (two --source-address on 127.0.0.0/8) in two
shards each, the four reports merge into one that has exactly one EXPOSURE, attributed to the
vantage point that sees it; a missing shard makes the merged report INCOMPLETE (exit 3); a
report given twice is refused; shards split the checks without overlap."""
import json
import subprocess

import pytest

from helpers import credential_args

POLICY = "/ManageSoftDL/Policies/device-0001.npl"
NAME = "beacon-a.mtls-harness.test"



def curl_from(source, server):
    p = subprocess.run(["curl", "-sS", "-k", "--max-time", "15", "--interface", source, "-o", "/dev/null",
                        "-w", "%{http_code}", "--resolve", f"{NAME}:{server.port}:127.0.0.1",
                        f"https://{NAME}:{server.port}{POLICY}"], capture_output=True, timeout=30)
    return p.stdout.decode()


def probe(harness, pki, manifest, server, out, vantage, source, shard):
    args = ["probe", "--ca", pki / manifest["trust"]["server_ca_bundle"], *credential_args(manifest, pki, "valid"),
            "--target", f"https://{NAME}:{server.port}", "--resolve", f"{NAME}:{server.port}:127.0.0.1",
            "--path", POLICY, "--rate", "50", "--vantage", vantage, "--source-address", source,
            "--shard", shard, "--out", out]
    return harness(*args, timeout=600)


def test_a_door_open_from_one_subnet_only(harness, servers, pki, manifest, tmp_path):
    server = servers.start("nginx", "nginx-source-exception.conf")
    # the truth, with curl: without a certificate, 403 from 127.0.0.1 and 200 from 127.0.0.5
    assert curl_from("127.0.0.1", server) == "403"
    assert curl_from("127.0.0.5", server) == "200"
    reports = []
    for vantage, source in (("site-a", "127.0.0.1"), ("site-b", "127.0.0.5")):
        for shard in ("1/2", "2/2"):
            out = tmp_path / f"{vantage}-{shard.replace('/', 'of')}"
            p = probe(harness, pki, manifest, server, out, vantage, source, shard)
            assert p.returncode in (0, 1), p.stderr.decode()[-2000:]
            doc = json.loads((out / "report.json").read_text())
            assert doc["metadata"]["vantage"] == vantage and doc["metadata"]["shard"]["count"] == 2
            assert all(r["vantage"] == vantage for r in doc["results"])
            reports.append(out / "report.json")
    # the two shards of a vantage point split its checks, without overlap
    a1, a2 = (json.loads(r.read_text())["results"] for r in reports[:2])
    # (a positive control also runs, as a copy, in a shard that judges checks against it)
    ids1 = {r["check_id"] for r in a1 if not r["shard_copy"]}
    ids2 = {r["check_id"] for r in a2 if not r["shard_copy"]}
    assert ids1 and ids2 and not ids1 & ids2
    merged = tmp_path / "merged"
    p = harness("report", "merge", *reports, "--out", merged)
    assert p.returncode == 1, p.stderr.decode()
    doc = json.loads((merged / "report.json").read_text())
    exposures = [f for f in doc["findings"] if f["severity"] == "EXPOSURE"]
    assert len(exposures) == 1, [f["title"] for f in doc["findings"]]
    (f,) = exposures
    assert f["vantages"] == ["site-b"] and f["credential"] == "none"
    assert "from vantage point site-b only" in f["title"]
    assert doc["metadata"]["complete"] and sorted(doc["metadata"]["vantages"]) == ["site-a", "site-b"]
    assert harness("report", "verify", merged / "report.json").returncode == 0
    html = (merged / "report.html").read_text()
    assert "site-b" in html and "from vantage point site-b only" in html
    # a missing shard: INCOMPLETE, exit 3
    p = harness("report", "merge", *reports[:3], "--out", tmp_path / "partial")
    assert p.returncode == 3 and b"site-b': shard 2/2 missing" in p.stderr
    # the same report twice: refused, exit 2
    p = harness("report", "merge", reports[0], reports[0], "--out", tmp_path / "dup")
    assert p.returncode == 2 and b"also" in p.stderr


def test_shards_partition_the_plan_and_bad_flags_are_refused(harness, tmp_path):
    def ids(*extra):
        p = harness("run", "--list", *extra)
        assert p.returncode == 0, p.stderr.decode()
        return [(c["scenario"], c["check_id"]) for c in map(json.loads, p.stdout.decode().splitlines())
                if not c.get("shard_copy")]
    everything = ids()
    parts = [ids("--shard", f"{i}/3") for i in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(everything) and all(parts)
    assert ids("--shard", "2/3") == parts[1]  # deterministic
    for bad in ("0/2", "3/2", "x", "1/2/3"):
        p = harness("run", "--list", "--shard", bad)
        assert p.returncode == 2 and b"--shard" in p.stderr
    p = harness("run", "--list", "--source-address", "not-an-ip")
    assert p.returncode == 2 and b"--source-address" in p.stderr


def test_the_simulated_fleet_across_subnets(harness, tmp_path):
    """The default suite's subnet-exception scenario from two vantage points (source addresses):
    closed from 127.0.0.1, open from 127.0.0.5; merged, the exposure names site-b only."""
    from helpers import HOME
    scenario = HOME / "scenarios/default/subnet-exception.yaml"
    a = harness("run", scenario, "--vantage", "site-a", "--source-address", "127.0.0.1", "--out", tmp_path / "a")
    assert a.returncode == 0, a.stderr.decode()
    b = harness("run", scenario, "--vantage", "site-b", "--source-address", "127.0.0.5", "--out", tmp_path / "b")
    assert b.returncode == 1, b.stderr.decode()  # the scenario expects nothing; from here the door is open
    # the beacon itself saw the connections come from each vantage point's address
    rb = json.loads((tmp_path / "b" / "report.json").read_text())["results"]
    assert {r["evidence"]["beacon_log"]["connection"]["peer_address"] for r in rb} == {"127.0.0.5"}
    p = harness("report", "merge", tmp_path / "a" / "report.json", tmp_path / "b" / "report.json",
                "--out", tmp_path / "m")
    assert p.returncode == 1
    findings = json.loads((tmp_path / "m" / "report.json").read_text())["findings"]
    exposures = [f for f in findings if f["severity"] == "EXPOSURE"]
    # no certificate asked from there: both negative credentials get in, from site-b only
    assert sorted((f["credential"], tuple(f["vantages"])) for f in exposures) == [
        ("none", ("site-b",)), ("self-signed", ("site-b",))], findings
    assert all("from vantage point site-b only" in f["title"] for f in exposures)
