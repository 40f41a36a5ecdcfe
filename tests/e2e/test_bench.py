"""`mtls-harness bench`: the load generator runs server-only and mTLS interleaved in one run
against our beacon and reports per-mode figures; a handshake counts only when the server
answered (a rejected mTLS handshake is an error by outcome name, never a success); bad input is
a one-line error. No figure is asserted here: performance claims live in BENCHMARKS.md."""
import json

from helpers import credential_args


def test_interleaved_modes_against_our_beacon(harness, tmp_path):
    p = harness("bench", "--duration", "3", "--slice", "0.5", "--concurrency", "4", "--out", tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    result = json.loads((tmp_path / "bench.json").read_text())
    names = [t["name"] for t in result["targets"]]
    assert names == ["server-only", "mtls"]
    turns = [s["target"] for s in result["slices"]]
    assert len(turns) >= 4 and all(a != b for a, b in zip(turns, turns[1:])), turns  # they take turns
    for t in result["targets"]:
        assert t["handshakes"] > 0 and t["errors"] == {}, t
        lat = t["latency_ms"]
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], lat
        assert t["server_cpu_us_per_handshake"] is not None and t["server_cpu_us_per_handshake"] > 0
        assert t["generator_cpu_us_per_handshake"] > 0
    assert result["chart"]["rows"] and {r["label"] for r in result["chart"]["rows"]} == set(names)


def test_a_refused_handshake_is_never_counted(harness, start_beacon, pki, manifest, tmp_path):
    beacon = start_beacon("require")
    ca = ["--ca", pki / manifest["trust"]["server_ca_bundle"]]
    # No client certificate against a beacon that requires one: every handshake is refused.
    p = harness("bench", "--target", beacon.url, *ca, "--mode", "server-only", "--duration", "1",
                "--concurrency", "2", "--out", tmp_path / "refused", timeout=60)
    assert p.returncode == 3  # nothing got through: the run could not measure a handshake
    t = json.loads((tmp_path / "refused" / "bench.json").read_text())["targets"][0]
    assert t["handshakes"] == 0 and t["errors"].get("REJECTED_HANDSHAKE", 0) > 0
    # The same beacon with the valid certificate: handshakes count.
    p = harness("bench", "--target", beacon.url, *ca, *credential_args(manifest, pki, "valid"), "--mode", "mtls",
                "--duration", "1", "--concurrency", "2", "--out", tmp_path / "valid", timeout=60)
    assert p.returncode == 0
    t = json.loads((tmp_path / "valid" / "bench.json").read_text())["targets"][0]
    assert t["handshakes"] > 0 and t["errors"] == {}


def test_bench_bad_inputs(harness, tmp_path):
    for args, word in [(["--duration", "0"], "--duration"), (["--duration", "9999"], "--duration"),
                       (["--mode", "fast"], "fast"), (["--concurrency", "0"], "--concurrency"),
                       (["--target", "http://127.0.0.1:1", "--ca", "/etc/hostname"], "https://"),
                       (["--target", "https://127.0.0.1:1"], "--ca")]:
        p = harness("bench", *args, "--out", tmp_path / "o")
        lines = [l for l in p.stderr.decode().splitlines() if l.strip()]
        assert p.returncode == 2 and len(lines) == 1 and word in lines[0], (args, lines)
