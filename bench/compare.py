#!/usr/bin/python3
"""compare.py: the handshake figures side by side, in one run, on the same certificates:
  1. our beacon vs nginx (Debian nginx-light, TLS 1.2, same cipher and curve): server CPU per
     handshake, server-only and mTLS, measured by `mtls-harness bench` for both;
  2. our generator vs `openssl s_time` against nginx's mTLS port: generator CPU per handshake.
     `s_time` cannot send a certificate chain (its -cert loads the leaf only), so nginx's mTLS server
     trusts the client CA bundle (root + issuing CA) and verifies the same path either way; nginx's
     access log (status only) says what each client's requests got, so that only answered (200)
     handshakes are compared;
  3. our generator vs tls-perf (Tempesta's TLS handshake generator: C++, OpenSSL, handshakes only, no
     HTTP, no client certificate) against nginx's server-only port (nginx pinned to the last core,
     the generators to the first), one thread each, 16 connections in flight, taking turns three
     times: generator CPU per handshake, each round and the medians (ours also sends one GET and
     counts only answered handshakes); tls-perf also with tcmalloc preloaded, the allocator our
     binary links, to show the allocator's share. Only with --tls-perf DIR (its source folder, built here with
     `make`, or the binary); it is a third-party tool, not part of the project;
  4. generator workers: nginx pinned to the last core (taskset), `bench --workers 1` then
     `--workers 2` against it, server-only and mTLS: handshakes/s and generator CPU per handshake;
  5. why a handshake must count only when the server answered: against a TLS 1.3 server that
     requires a client certificate (`openssl s_server -Verify`), `s_time` without a certificate
     reports "connections" while `bench` reports zero handshakes and the refusals by outcome.
Loopback only, bounded by --seconds per measurement. Prints one JSON object.

usage: bench/compare.py --bin build/ci/harness/mtls-harness [--seconds 6] [--tls-perf DIR]
"""
import argparse
import collections
import json
import os
import pathlib
import re
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time


CLIENT = ["openssl"]  # set from --client in main()


def pinned(cpu):
    """The command prefix that runs a program on core `cpu` (nothing when None)."""
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


def bench(binary, out, *args, seconds, cpu=None):
    # One generator worker unless asked (section 4 compares 1 and 2): the server has the other core.
    workers = [] if "--workers" in args else ["--workers", "1"]
    p = subprocess.run([*pinned(cpu), binary, "bench", "--duration", str(seconds), "--out", str(out), "--client", CLIENT[0],
                        *workers, *map(str, args)],
                       capture_output=True, timeout=seconds * 4 + 60)
    if p.returncode not in (0, 3):
        sys.exit(f"bench failed ({p.returncode}): {p.stderr.decode()[-800:]}")
    return {t["name"]: t for t in json.loads((out / "bench.json").read_text())["targets"]}


def listening_socket():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(512)
    return s


def start_nginx(work, pki, m, cpu=None):
    (work / "logs").mkdir(parents=True, exist_ok=True)
    plain, mutual = listening_socket(), listening_socket()
    ports = {"server-only": plain.getsockname()[1], "mtls": mutual.getsockname()[1]}
    b = m["beacons"]["beacon-a"]
    common = (f"ssl_certificate {pki / b['cert']}; ssl_certificate_key {pki / b['key']}; "
              "ssl_protocols TLSv1.2; ssl_ciphers ECDHE-ECDSA-CHACHA20-POLY1305; ssl_ecdh_curve X25519:prime256v1; "
              "location /ManageSoftDL/ { return 200 \"ManageSoftDL\\n\"; }")
    # The mTLS server trusts the bundle (root + issuing CA): a client that sends only its leaf
    # (s_time) is verified along the same path as one that sends its chain (bench).
    (work / "nginx.conf").write_text(f"""
daemon off; master_process on; worker_processes 1; user root; worker_rlimit_nofile 4096;
error_log {work}/logs/error.log warn; pid {work}/nginx.pid;
events {{ worker_connections 2048; }}
http {{
  log_format status_only '$status';
  access_log {work}/logs/access.log status_only;
  server {{ listen 127.0.0.1:{ports['server-only']} ssl; {common} }}
  server {{ listen 127.0.0.1:{ports['mtls']} ssl; {common}
           ssl_client_certificate {pki / m['trust']['client_ca_bundle']}; ssl_verify_client on; ssl_verify_depth 3; }}
}}""")
    env = dict(os.environ, NGINX=f"{plain.fileno()};{mutual.fileno()};")
    proc = subprocess.Popen([*pinned(cpu), "nginx", "-p", str(work), "-c", str(work / "nginx.conf")], env=env,
                            pass_fds=[plain.fileno(), mutual.fileno()], stderr=subprocess.DEVNULL)
    plain.close()
    mutual.close()
    # The worker is the master's child: its pid, for CPU accounting. The master writes it once
    # forked; reading the children file waits on nothing but the kernel's bookkeeping.
    # Bounded by time, not by a count of tries: on a loaded machine (the sanitizer build's tests
    # run two at a time) the fork can take longer than a few thousand yields.
    children = pathlib.Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    worker = ""
    deadline = time.monotonic() + 30
    while not worker and time.monotonic() < deadline and proc.poll() is None:
        worker = children.read_text().split()[0] if children.exists() and children.read_text().split() else ""
        if not worker:
            os.sched_yield()
    if not worker:
        proc.terminate()
        sys.exit(f"nginx did not fork its worker within 30 s (exit status {proc.poll()}; "
                 f"log {work}/logs/error.log)")
    return proc, ports, int(worker)


class AccessLog:
    """nginx's status-only access log, read phase by phase: the statuses logged since the last call."""

    def __init__(self, path):
        self.path, self.offset = path, 0

    def since_last(self):
        data = self.path.read_bytes() if self.path.exists() else b""
        new, self.offset = data[self.offset:], len(data)
        return dict(collections.Counter(new.decode().split()))


def proc_cpu_us(pid):
    """utime + stime of a process, from /proc/<pid>/stat, in microseconds."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e6 / os.sysconf("SC_CLK_TCK")


def s_time(args, seconds):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(["openssl", "s_time", "-new", "-time", str(seconds), *map(str, args)],
                       capture_output=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_us = ((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)) * 1e6
    # s_time's summary line ("N connections in T real seconds") is its only report of the count.
    m = re.search(rb"(\d+) connections in [\d.]+s", p.stdout) or re.search(rb"(\d+) connections in", p.stdout)
    connections = int(m.group(1)) if m else 0
    return connections, cpu_us


def make_pki(binary, prefix):
    """A fresh test PKI in a new temporary folder: (work folder, pki folder, manifest)."""
    work = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    subprocess.run([binary, "pki", "init", "--out", str(work / "pki")], check=True, capture_output=True)
    return work, work / "pki", json.loads((work / "pki" / "manifest.json").read_text())


def ratio_of(x, y):
    return round(x / y, 2) if x and y else None


def build_tls_perf(source, work):
    """The tls-perf binary: given, or built from its source folder (a copy, under `work`)."""
    source = pathlib.Path(source)
    if source.is_file():
        return source
    if not (source / "main.cc").exists():
        sys.exit(f"--tls-perf {source}: neither the tls-perf binary nor its source folder (main.cc)")
    build = work / "tls-perf-build"
    subprocess.run(["cp", "-r", str(source), str(build)], check=True)
    p = subprocess.run(["make", "-C", str(build)], capture_output=True)
    if p.returncode != 0 or not (build / "tls-perf").exists():
        sys.exit("tls-perf did not build: " + p.stderr.decode()[-800:])
    return build / "tls-perf"


def tls_perf(binary, port, seconds, cpu=None, preload=None):
    """tls-perf, one thread, 16 connections, TLS 1.2 like nginx's configuration: (handshakes, CPU us).
    `preload`: a shared library run in it (LD_PRELOAD), e.g. the allocator our binary links."""
    env = dict(os.environ, LD_PRELOAD=str(preload)) if preload else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([*pinned(cpu), str(binary), "-q", "-t", "1", "-l", "16", "-T", str(seconds), "-c",
                        "ECDHE-ECDSA-CHACHA20-POLY1305", "-C", "X25519:prime256v1", "127.0.0.1", str(port)],
                       capture_output=True, timeout=seconds + 60, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_us = ((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)) * 1e6
    m = re.search(rb"HANDSHAKES (\d+)", p.stdout)
    if not m:
        sys.exit("tls-perf printed no total: " + (p.stdout + p.stderr).decode()[-800:])
    return int(m.group(1)), cpu_us


def versus_tls_perf(binary, work, pki, m, ca, source, seconds, rounds=3):
    """Section 3: nginx pinned to the last core, each generator pinned to the first (when there are
    two), taking turns `rounds` times: generator CPU per server-only handshake, each round and the
    medians. Turns, not one run each: the machine's speed drifts over a minute by more than the
    difference measured."""
    binary_tp = build_tls_perf(source, work)
    # Our binary links tcmalloc (bench.json's settings.allocator); tls-perf as its Makefile builds it
    # runs on glibc's malloc. The target compares the tools as built; the same tls-perf with
    # tcmalloc preloaded is measured too, so that the allocator's share is plain to see.
    tcmalloc = pathlib.Path("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4")
    last = os.cpu_count() - 1
    gen_cpu = 0 if last > 0 else None
    nginx, ports, worker = start_nginx(work / "nginx-tls-perf", pki, m, cpu=last if last > 0 else None)
    theirs, theirs_tc, ours, ours_hs, allocator = [], [], [], [], None
    try:
        for i in range(rounds):
            tp_hs, tp_cpu = tls_perf(binary_tp, ports["server-only"], seconds, cpu=gen_cpu)
            theirs.append(tp_cpu / tp_hs if tp_hs else 0)
            if tcmalloc.exists():
                tp_hs, tp_cpu = tls_perf(binary_tp, ports["server-only"], seconds, cpu=gen_cpu, preload=tcmalloc)
                theirs_tc.append(tp_cpu / tp_hs if tp_hs else 0)
            r = bench(binary, work / f"gen-so-{i}", "--target", f"server-only=https://127.0.0.1:{ports['server-only']}",
                      "--ca", ca, "--workers", "1", "--pid", worker, seconds=seconds, cpu=gen_cpu)["server-only"]
            ours.append(r["generator_cpu_us_per_handshake"])
            ours_hs.append(r["handshakes"])
            allocator = json.loads((work / f"gen-so-{i}" / "bench.json").read_text())["settings"]["allocator"]
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
    med_ours, med_theirs = statistics.median(ours), statistics.median(theirs)
    return {"rounds": rounds,
            "tls_perf_cpu_us_per_handshake": [round(x, 1) for x in theirs],
            "ours_cpu_us_per_handshake": [round(x, 1) for x in ours],
            "ours_handshakes": ours_hs,
            "ours_over_tls_perf_each_round": [ratio_of(o, t) for o, t in zip(ours, theirs)],
            "median_tls_perf_cpu_us_per_handshake": round(med_theirs, 1),
            "median_ours_cpu_us_per_handshake": round(med_ours, 1),
            "ours_over_tls_perf": ratio_of(med_ours, med_theirs),
            "our_allocator": allocator,
            "median_tls_perf_with_tcmalloc_cpu_us_per_handshake":
                round(statistics.median(theirs_tc), 1) if theirs_tc else "not measured (no libtcmalloc_minimal.so.4)",
            "ours_over_tls_perf_with_tcmalloc": ratio_of(med_ours, statistics.median(theirs_tc)) if theirs_tc else None}


def workers_scaling(binary, work, pki, m, ca, cert, key, seconds):
    """nginx pinned to the last core; our generator with 1 then 2 workers against it."""
    last = os.cpu_count() - 1
    nginx, ports, worker = start_nginx(work / "nginx-pinned", pki, m, cpu=last)
    out = {"nginx_cpu": last}
    try:
        for n in (1, 2):
            r = bench(binary, work / f"workers-{n}", "--target", f"server-only=https://127.0.0.1:{ports['server-only']}",
                      "--target", f"mtls=https://127.0.0.1:{ports['mtls']}", "--ca", ca, "--cert", cert,
                      "--key", key, "--pid", worker, "--workers", n, seconds=seconds)
            out[f"workers_{n}"] = {k: {"handshakes_per_second": round(v["handshakes_per_second"], 1),
                                      "generator_cpu_us_per_handshake": round(v["generator_cpu_us_per_handshake"], 1),
                                      "server_cpu_us_per_handshake": round(v["server_cpu_us_per_handshake"], 1)}
                                  for k, v in r.items()}
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
    out["generator_cpu_2_over_1"] = {
        k: round(out["workers_2"][k]["generator_cpu_us_per_handshake"] / out["workers_1"][k]["generator_cpu_us_per_handshake"], 2)
        for k in out["workers_1"]}
    out["handshakes_per_second_2_over_1"] = {
        k: round(out["workers_2"][k]["handshakes_per_second"] / out["workers_1"][k]["handshakes_per_second"], 2)
        for k in out["workers_1"]}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--tls-perf", metavar="DIR", help="tls-perf's source folder (or binary): compare generators")
    ap.add_argument("--client", default="openssl", choices=["openssl", "curl"],
                    help="bench's generator engine (default openssl; curl: the agent's libcurl stack)")
    a = ap.parse_args()
    CLIENT[0] = a.client
    if not 1 <= a.seconds <= 120:
        sys.exit("--seconds must be 1..120")
    work, pki, m = make_pki(a.bin, "mtls-compare-")
    ca, valid = pki / m["trust"]["server_ca_bundle"], m["credentials"]["valid"]
    cert, key = pki / valid["cert"], pki / valid["key"]

    ours = bench(a.bin, work / "ours", seconds=a.seconds * 2)
    nginx, ports, worker = start_nginx(work / "nginx", pki, m)
    access = AccessLog(work / "nginx" / "logs" / "access.log")
    try:
        theirs = bench(a.bin, work / "theirs", "--target", f"server-only=https://127.0.0.1:{ports['server-only']}",
                       "--target", f"mtls=https://127.0.0.1:{ports['mtls']}", "--ca", ca, "--cert", cert,
                       "--key", key, "--pid", worker, seconds=a.seconds * 2)
        ours_on_nginx = bench(a.bin, work / "gen", "--target", f"mtls=https://127.0.0.1:{ports['mtls']}", "--ca", ca,
                              "--cert", cert, "--key", key, "--concurrency", "1", "--pid", worker,
                              seconds=a.seconds)["mtls"]
        access.since_last()  # nginx logs a request when it ends: the runs above are over
        statuses_ours = ours_on_nginx.get("http_statuses", {})
        nginx_before = proc_cpu_us(worker)
        st_conn, st_cpu = s_time(["-connect", f"127.0.0.1:{ports['mtls']}", "-CAfile", ca, "-cert", cert, "-key", key,
                                  "-www", "/ManageSoftDL/"], a.seconds)
        nginx_under_s_time = (proc_cpu_us(worker) - nginx_before) / st_conn if st_conn else None
        statuses_s_time = access.since_last()
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)

    scaling = workers_scaling(a.bin, work, pki, m, ca, cert, key, a.seconds * 2)
    perf = versus_tls_perf(a.bin, work, pki, m, ca, a.tls_perf, a.seconds) if a.tls_perf else None

    # TLS 1.3 with a required certificate: the refusal arrives after the client's Finished.
    root = work / "www" / "ManageSoftDL"
    root.mkdir(parents=True)
    (root / "index").write_text("ok\n")
    b = m["beacons"]["beacon-a"]
    srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_3", "-Verify", "1",
                            "-cert", str(pki / b["cert"]), "-key", str(pki / b["key"]), "-CAfile",
                            str(pki / m["trust"]["client_ca_roots"]), "-WWW"], cwd=work / "www",
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    try:
        sel = selectors.DefaultSelector()
        sel.register(srv.stdout, selectors.EVENT_READ)
        port = None
        while port is None and sel.select(timeout=30):
            line = srv.stdout.readline().decode()
            if line.startswith("ACCEPT"):
                port = int(line.rsplit(":", 1)[1])
        st13_conn, _ = s_time(["-connect", f"127.0.0.1:{port}", "-CAfile", ca, "-www", "/ManageSoftDL/index"], 2)
        ours13 = bench(a.bin, work / "tls13", "--target", f"server-only=https://127.0.0.1:{port}", "--ca", ca,
                       "--concurrency", "1", seconds=2)["server-only"]
    finally:
        srv.terminate()
        srv.wait(timeout=30)

    ratio = ratio_of

    print(json.dumps({
        "server_cpu_us_per_handshake": {
            "beacon": {k: round(v["server_cpu_us_per_handshake"], 1) for k, v in ours.items()},
            "nginx": {k: round(v["server_cpu_us_per_handshake"], 1) for k, v in theirs.items()},
            "beacon_over_nginx": {k: ratio(ours[k]["server_cpu_us_per_handshake"], theirs[k]["server_cpu_us_per_handshake"]) for k in ours},
            "mtls_over_server_only": {
                "beacon": ratio(ours["mtls"]["server_cpu_us_per_handshake"], ours["server-only"]["server_cpu_us_per_handshake"]),
                "nginx": ratio(theirs["mtls"]["server_cpu_us_per_handshake"], theirs["server-only"]["server_cpu_us_per_handshake"])}},
        "generator_cpu_us_per_mtls_handshake": {
            "mtls_harness_bench": round(ours_on_nginx["generator_cpu_us_per_handshake"], 1),
            "openssl_s_time": round(st_cpu / st_conn, 1) if st_conn else None,
            "ours_over_s_time": ratio(ours_on_nginx["generator_cpu_us_per_handshake"], st_cpu / st_conn if st_conn else 0),
            # the server's side of the same two one-connection-at-a-time runs
            "nginx_cpu_us_per_handshake_under_ours": round(ours_on_nginx["server_cpu_us_per_handshake"], 1),
            "nginx_cpu_us_per_handshake_under_s_time": round(nginx_under_s_time, 1) if nginx_under_s_time else None,
            # what nginx answered each client: like for like only when both got 200 throughout
            "nginx_statuses_under_ours": statuses_ours,
            "nginx_statuses_under_s_time": statuses_s_time,
            "like_for_like": set(statuses_ours) == {"200"} and set(statuses_s_time) == {"200"}},
        "generator_cpu_us_per_server_only_handshake_vs_tls_perf": perf if perf else "not measured (give --tls-perf DIR)",
        "generator_workers_against_pinned_nginx": scaling,
        "tls13_refused_without_certificate": {
            "s_time_reported_connections": st13_conn,
            "bench_counted_handshakes": ours13["handshakes"],
            "bench_errors": ours13["errors"]}}))


if __name__ == "__main__":
    main()
