#!/usr/bin/python3
"""fleet.py: how many simulated devices one agent process carries through a full cycle
(select, policy, schedule, 9 MiB upgrade, three uploads) against one local beacon, and what each
costs in memory. Runs a 1-device cycle first (the baseline, same run), then N devices on curl's
multi interface. Prints one JSON object; BENCHMARKS.md records it. Loopback only, bounded by N.

usage: bench/fleet.py --bin build/ci/harness/mtls-harness [--agents 1000]
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--agents", type=int, default=1000)
    args = ap.parse_args()
    if not 1 <= args.agents <= 10000:
        sys.exit("--agents must be 1..10000")
    work = pathlib.Path(tempfile.mkdtemp(prefix="mtls-fleet-"))
    subprocess.run([args.bin, "pki", "init", "--out", str(work / "pki")], check=True, capture_output=True)
    m = json.loads((work / "pki" / "manifest.json").read_text())
    beacon = subprocess.Popen([args.bin, "beacon", "--pki", str(work / "pki"), "--listen", "127.0.0.1:0",
                               "--store", str(work / "store")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        port = json.loads(beacon.stdout.readline())["listeners"][0]["port"]
        valid = m["credentials"]["valid"]
        base = [args.bin, "agent", "--beacon", f"https://127.0.0.1:{port}",
                "--ca", str(work / "pki" / m["trust"]["server_ca_bundle"]),
                "--cert", str(work / "pki" / valid["cert"]), "--key", str(work / "pki" / valid["key"]), "--json"]
        one = json.loads(subprocess.run(base + ["--agents", "1"], check=True, capture_output=True).stdout)
        many = json.loads(subprocess.run(base + ["--agents", str(args.agents)], capture_output=True).stdout)
        print(json.dumps({"baseline_one_device": one, "fleet": many,
                          "fleet_over_one_device_throughput": round(many["cycles_per_second"] / one["cycles_per_second"], 2)}))
        return 0 if many["cycles_failed"] == 0 else 1
    finally:
        beacon.terminate()
        beacon.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
