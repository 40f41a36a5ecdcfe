#!/usr/bin/python3
"""hold_connections.py: how much memory one simulated beacon spends per open keep-alive mTLS
connection. Starts a beacon (loopback, port 0), measures its resident memory after a warm-up
request (the baseline), opens N mutual-TLS connections with the valid client certificate, each
doing a keep-alive GET, measures again, then checks every connection still answers a second GET.
Prints one JSON object; BENCHMARKS.md records it. Bounded: N connections, 10 s per socket operation.

usage: bench/hold_connections.py --bin build/ci/harness/mtls-harness [--connections 1000]
"""
import argparse
import json
import pathlib
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time

REQUEST = b"GET /ManageSoftDL/Policies/device-0001.npl HTTP/1.1\r\nHost: localhost\r\n\r\n"


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def get(sock):
    """One keep-alive GET; returns the HTTP status."""
    sock.sendall(REQUEST)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ")[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--connections", type=int, default=1000)
    args = ap.parse_args()
    if not 1 <= args.connections <= 10000:
        sys.exit("--connections must be 1..10000")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = pathlib.Path(tempfile.mkdtemp(prefix="mtls-hold-"))
    subprocess.run([args.bin, "pki", "init", "--out", str(work / "pki")], check=True, capture_output=True)
    manifest = json.loads((work / "pki" / "manifest.json").read_text())
    (work / "beacon.yaml").write_text(json.dumps({
        "pki": str(work / "pki"), "threads": 2, "max_connections": args.connections + 10,
        "timeouts": {"handshake_ms": 30000, "idle_ms": 300000},
        "listeners": [{"name": "https", "listen": "127.0.0.1:0", "client_auth": "require"}]}))
    beacon = subprocess.Popen([args.bin, "beacon", "--config", str(work / "beacon.yaml")],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        port = json.loads(beacon.stdout.readline())["listeners"][0]["port"]
        ctx = ssl.create_default_context(cafile=str(work / "pki" / manifest["trust"]["server_ca_bundle"]))
        valid = manifest["credentials"]["valid"]
        ctx.load_cert_chain(str(work / "pki" / valid["cert"]), str(work / "pki" / valid["key"]))

        def connect():
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            return ctx.wrap_socket(raw, server_hostname="localhost")

        with connect() as warm:
            assert get(warm) == 200
        baseline = rss_kib(beacon.pid)
        started = time.monotonic()
        socks = []
        for _ in range(args.connections):
            s = connect()
            assert get(s) == 200
            socks.append(s)
        opened_s = time.monotonic() - started
        held = rss_kib(beacon.pid)
        alive = sum(1 for s in socks if get(s) == 200)
        for s in socks:
            s.close()
        print(json.dumps({
            "connections": args.connections, "seconds_to_open": round(opened_s, 2),
            "rss_baseline_kib": baseline, "rss_holding_kib": held,
            "per_connection_kib": round((held - baseline) / args.connections, 1),
            "holding_over_baseline": round(held / baseline, 2), "still_answering": alive}))
        return 0 if alive == args.connections else 1
    finally:
        beacon.terminate()
        beacon.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
