#!/usr/bin/python3
"""suite_time.py: wall time of the built-in default suite (`mtls-harness run`, no argument),
against a baseline measured in the same run: a one-check scenario (its fixed cost: a fresh PKI and
one beacon start). Medians of --repeat runs each. Prints one JSON object; BENCHMARKS.md records it.

usage: bench/suite_time.py --bin build/ci/harness/mtls-harness [--repeat 5]
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ONE_CHECK = """name: one-check
beacons: [{name: beacon-a, simulated: {client_auth: require}}]
policy: {client_certificate: required}
credentials: [valid]
operations: [download-policy]
entry_paths: [https]
"""


def timed(cmd):
    started = time.monotonic()
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode()[-500:]}")
    return time.monotonic() - started


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="mtls-suite-"))
    (work / "one.yaml").write_text(ONE_CHECK)
    checks = len(subprocess.run([args.bin, "run", "--list"], capture_output=True, check=True).stdout.splitlines())
    suite, one = [], []
    for _ in range(args.repeat):  # interleaved, so that machine noise hits both alike
        suite.append(timed([args.bin, "run", "--out", str(work / "suite")]))
        one.append(timed([args.bin, "run", str(work / "one.yaml"), "--out", str(work / "one")]))
    s, o = statistics.median(suite), statistics.median(one)
    print(json.dumps({"checks": checks, "suite_median_s": round(s, 2), "suite_runs_s": [round(x, 2) for x in suite],
                      "one_check_median_s": round(o, 2), "suite_over_one_check": round(s / o, 1),
                      "checks_per_second": round(checks / s, 1)}))


if __name__ == "__main__":
    main()
