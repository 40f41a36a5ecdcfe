"""bench/compare.py runs end to end on loopback (nginx, openssl s_time and s_server as the peers
no one here wrote): every target serves handshakes, and against a TLS 1.3 server that refuses a
client without a certificate, `s_time` counts "connections" while `bench` counts none; and nginx
answered every request of both generators (by its access log). Figures
are not asserted (they live in BENCHMARKS.md); these properties are what makes them honest."""
import json
import subprocess

from helpers import BIN, HOME


def test_compare_runs_and_counts_only_answered_handshakes():
    p = subprocess.run(["/usr/bin/python3", str(HOME / "bench" / "compare.py"), "--bin", BIN, "--seconds", "1"],
                       capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    r = json.loads(p.stdout)
    cpu = r["server_cpu_us_per_handshake"]
    for server in ("beacon", "nginx"):
        for mode in ("server-only", "mtls"):
            assert cpu[server][mode] and cpu[server][mode] > 0, (server, mode, cpu)
    g = r["generator_cpu_us_per_mtls_handshake"]
    assert g["openssl_s_time"] is not None
    # The generator comparison is like for like only if nginx answered both clients' requests:
    # s_time sends its leaf alone, which nginx must still be able to verify (it once got 400s).
    assert g["like_for_like"], g
    assert g["nginx_statuses_under_s_time"].get("200", 0) > 0, g
    t = r["tls13_refused_without_certificate"]
    assert t["s_time_reported_connections"] > 0  # the pitfall, shown for real
    assert t["bench_counted_handshakes"] == 0 and t["bench_errors"].get("REJECTED_AFTER_HANDSHAKE", 0) > 0
    # Section 4: the generator with one and two workers against nginx pinned to one core; both
    # counted answered handshakes in both modes, and the ratios are computed from them.
    w = r["generator_workers_against_pinned_nginx"]
    for n in ("workers_1", "workers_2"):
        for mode in ("server-only", "mtls"):
            assert w[n][mode]["handshakes_per_second"] > 0 and w[n][mode]["generator_cpu_us_per_handshake"] > 0, w
    assert set(w["generator_cpu_2_over_1"]) == {"server-only", "mtls"}
    # Section 3 needs tls-perf's source (--tls-perf): without it, the report says so.
    assert r["generator_cpu_us_per_server_only_handshake_vs_tls_perf"].startswith("not measured")
