#!/usr/bin/python3
"""storm.py: the reconnect storm side by side, in one run, on the same certificates: after a beacon
restart every device reconnects within a window (`mtls-harness bench --storm N --window S`, full
mTLS handshakes, at most --in-flight connections at once), against our beacon and against
Debian's nginx (one worker, the mTLS server of bench/compare.py). Per server: how long until all
devices got through, how many failed and how, connection latency percentiles, server CPU per
handshake. Loopback only; bounded by N (at most 100,000) and the window. Prints one JSON object.

usage: bench/storm.py --bin build/ci/harness/mtls-harness [--devices 5000] [--window 5]
"""
import argparse
import json
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import compare  # noqa: E402  (start_nginx: the same nginx configuration)


def storm(binary, out, devices, window, in_flight, *args):
    p = subprocess.run([binary, "bench", "--storm", str(devices), "--window", str(window), "--concurrency",
                        str(in_flight), "--out", str(out), *map(str, args)], capture_output=True,
                       timeout=window + 600)
    if p.returncode not in (0, 3):
        sys.exit(f"bench --storm failed ({p.returncode}): {p.stderr.decode()[-800:]}")
    return json.loads((out / "bench.json").read_text())["storm"]


def summary(s):
    return {k: s[k] for k in ("devices", "window_s", "answered", "failed", "errors", "seconds_until_all_done",
                              "handshakes_per_second", "connection_ms", "start_delay_ms", "peak_in_flight",
                              "server_cpu_us_per_handshake")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--devices", type=int, default=5000)
    ap.add_argument("--window", type=float, default=5)
    ap.add_argument("--in-flight", type=int, default=500)
    a = ap.parse_args()
    if not (1 <= a.devices <= 100000 and 0 <= a.window <= 600 and 1 <= a.in_flight <= 1000):
        sys.exit("--devices 1..100000, --window 0..600, --in-flight 1..1000")
    work, pki, m = compare.make_pki(a.bin, "mtls-storm-")
    ca, valid = pki / m["trust"]["server_ca_bundle"], m["credentials"]["valid"]
    ours = storm(a.bin, work / "ours", a.devices, a.window, a.in_flight)
    nginx, ports, worker = compare.start_nginx(work / "nginx", pki, m)
    try:
        theirs = storm(a.bin, work / "nginx-storm", a.devices, a.window, a.in_flight, "--target",
                       f"mtls=https://127.0.0.1:{ports['mtls']}", "--ca", ca, "--cert", pki / valid["cert"],
                       "--key", pki / valid["key"], "--pid", worker)
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
    print(json.dumps({"beacon": summary(ours), "nginx": summary(theirs)}, indent=1))


if __name__ == "__main__":
    main()
