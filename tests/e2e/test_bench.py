"""`mtls-harness bench`: the load generator runs server-only and mTLS interleaved in one run
against our beacon and reports per-mode figures; a handshake counts only when the server
answered (a rejected mTLS handshake is an error by outcome name, never a success); bad input is
a one-line error. No figure is asserted here: performance claims live in BENCHMARKS.md."""
import json
import socket
import subprocess

import pytest

from helpers import BIN, credential_args


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
    # The allocator it names is the one the dynamic linker loaded (the truth: ldd).
    linked = subprocess.run(["ldd", BIN], capture_output=True, text=True).stdout
    assert ("libtcmalloc_minimal" in linked) == result["settings"]["allocator"].startswith("tcmalloc"), \
        (result["settings"], linked)


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


def test_a_closed_port_is_unreachable_never_a_handshake(harness, pki, manifest, tmp_path):
    s = socket.socket()  # bound, not listening: the kernel refuses connections to it
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    try:
        with pytest.raises(ConnectionRefusedError):  # the truth first
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        p = harness("bench", "--target", f"https://127.0.0.1:{port}", "--ca", pki / manifest["trust"]["server_ca_bundle"],
                    "--mode", "server-only", "--duration", "1",
                    "--concurrency", "2", "--out", tmp_path, timeout=60)
    finally:
        s.close()
    assert p.returncode == 3, p.stderr.decode()[-2000:]
    t = json.loads((tmp_path / "bench.json").read_text())["targets"][0]
    assert t["handshakes"] == 0 and set(t["errors"]) == {"UNREACHABLE"}, t


def test_the_narrowed_offer_keeps_tls13_the_group_and_the_certificate(harness, reference_servers, pki, manifest,
                                                                      tmp_path):
    # A TLS 1.3-only server that takes P-256 only and requires a client certificate: the first
    # ClientHello (X25519 key share) gets a retry request; after the first answer the generator
    # offers TLS 1.3, the chosen suite and P-256, with its certificate. Every connection must
    # still be answered.
    server = reference_servers("s_server", "-tls1_3", "-groups", "P-256", "-Verify", "3")
    ca = ["--ca", pki / manifest["trust"]["server_ca_bundle"]]
    p = harness("bench", "--target", server.url, *ca, *credential_args(manifest, pki, "valid"), "--mode", "mtls",
                "--duration", "2", "--concurrency", "2", "--out", tmp_path, timeout=60)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    t = json.loads((tmp_path / "bench.json").read_text())["targets"][0]
    assert t["handshakes"] > 8 and t["errors"] == {}, t  # well past the first answer
    # Without the certificate the same server refuses: the answers above needed it.
    p = harness("bench", "--target", server.url, *ca, "--mode", "server-only", "--duration", "1",
                "--concurrency", "1", "--out", tmp_path / "none", timeout=60)
    t = json.loads((tmp_path / "none" / "bench.json").read_text())["targets"][0]
    assert t["handshakes"] == 0 and t["errors"], t


def test_bench_bad_inputs(harness, tmp_path):
    for args, word in [(["--duration", "0"], "--duration"), (["--duration", "9999"], "--duration"),
                       (["--mode", "fast"], "fast"), (["--concurrency", "0"], "--concurrency"),
                       (["--target", "http://127.0.0.1:1", "--ca", "/etc/hostname"], "https://"),
                       (["--target", "https://127.0.0.1:1"], "--ca"),
                       (["--workers", "0"], "--workers"), (["--concurrency", "2", "--workers", "3"], "--workers"),
                       (["--plan"], "--devices"), (["--plan", "--devices", "10", "--resumed-share", "2"], "--resumed-share"),
                       (["--plan", "--devices", "10", "--peak-factor", "0"], "--peak-factor"),
                       (["--storm", "0"], "--storm"), (["--storm", "5", "--window", "-1"], "--window")]:
        p = harness("bench", *args, "--out", tmp_path / "o")
        lines = [l for l in p.stderr.decode().splitlines() if l.strip()]
        assert p.returncode == 2 and len(lines) == 1 and word in lines[0], (args, lines)


def test_workers_share_the_load_and_sum_their_figures(harness, tmp_path):
    p = harness("bench", "--duration", "2", "--slice", "0.5", "--concurrency", "4", "--workers", "2",
                "--out", tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    result = json.loads((tmp_path / "bench.json").read_text())
    assert result["settings"]["workers"] == 2
    workers = result["generator"]["workers"]
    assert [w["concurrency"] for w in workers] == [2, 2] and all(w["cpu_us"] > 0 for w in workers)
    for t in result["targets"]:
        assert t["handshakes"] > 0 and t["errors"] == {}, t
    assert (tmp_path / "bench.html").read_text().count("<tr>") == 3  # header + two modes


def beacon_connections(out):
    """The connection records of bench's own beacon (its evidence log), by listener."""
    log = out / "work" / "beacon" / "beacon.log.jsonl"
    records = [json.loads(l) for l in log.read_text().splitlines() if l.strip()]
    return [r for r in records if r.get("event") == "connection"]


def test_plan_measures_resumption_and_computes_from_its_own_figures(harness, tmp_path):
    p = harness("bench", "--duration", "3", "--slice", "0.5", "--concurrency", "4", "--workers", "1", "--plan",
                "--devices", "50000", "--checkins-per-day", "24", "--peak-factor", "4", "--resumed-share", "0.5",
                "--beacons", "2", "--cores-per-beacon", "4", "--out", tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    result = json.loads((tmp_path / "bench.json").read_text())
    targets = {t["name"]: t for t in result["targets"]}
    assert set(targets) == {"server-only", "mtls", "mtls-resumed"}
    # The truth, from the beacon's own log: the resumed mode's mTLS connections were resumed (all
    # but the first of each engine), the full mode's never.
    conns = [c for c in beacon_connections(tmp_path) if c["listener"] == "mtls" and c["handshake_completed"]]
    resumed = sum(1 for c in conns if c["resumed"])
    assert resumed >= targets["mtls-resumed"]["handshakes"] - 4, (resumed, targets["mtls-resumed"]["handshakes"])
    assert resumed <= targets["mtls-resumed"]["handshakes"]
    plan = result["plan"]
    cost = {m: targets[m]["server_cpu_us_per_handshake"] for m in targets}
    peak = 50000 * 24 / 86400 * 4
    assert abs(plan["peak_handshakes_per_second"] - peak) < 1e-9
    modes = {m["mode"]: m for m in plan["modes"]}
    mixed = 0.5 * cost["mtls-resumed"] + 0.5 * cost["mtls"]
    for name, us in [("server-only", cost["server-only"]), ("mtls", cost["mtls"]), ("mtls-with-resumption", mixed)]:
        assert abs(modes[name]["server_cpu_us_per_handshake"] - us) < 1e-6, name
        assert abs(modes[name]["cores_needed_at_peak"] - peak * us / 1e6) < 1e-9, name
        assert abs(modes[name]["headroom"] - 8 / (peak * us / 1e6)) < 1e-6, name
    assert "capacity plan:" in p.stdout.decode() and "Capacity plan" in (tmp_path / "bench.html").read_text()


def test_storm_every_device_through_or_counted_as_failed(harness, start_beacon, pki, manifest, tmp_path):
    p = harness("bench", "--storm", "300", "--window", "1", "--concurrency", "50", "--out", tmp_path / "ours",
                timeout=120)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    storm = json.loads((tmp_path / "ours" / "bench.json").read_text())["storm"]
    assert storm["devices"] == 300 and storm["answered"] == 300 and storm["failed"] == 0, storm
    assert storm["peak_in_flight"] <= 50 and storm["seconds_until_all_done"] >= 0.99
    full = [c for c in beacon_connections(tmp_path / "ours") if c["listener"] == "mtls"]
    assert len(full) == 300 and not any(c["resumed"] for c in full)  # full handshakes, every one
    # A beacon that refuses the devices' certificate (none is sent): every device fails, by outcome.
    beacon = start_beacon("require")
    ca = ["--ca", pki / manifest["trust"]["server_ca_bundle"]]
    p = harness("bench", "--target", f"mtls={beacon.url}", *ca, *credential_args(manifest, pki, "expired"),
                "--storm", "40", "--window", "0.5", "--out", tmp_path / "refused", timeout=120)
    assert p.returncode == 3, p.stderr.decode()[-2000:]
    storm = json.loads((tmp_path / "refused" / "bench.json").read_text())["storm"]
    assert storm["answered"] == 0 and storm["failed"] == 40 and sum(storm["errors"].values()) == 40, storm
