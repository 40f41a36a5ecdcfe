#!/usr/bin/python3
"""audit_bench.py: `mtls-harness audit` on a fleet of N distinct device certificates (default
100,000, one PEM file each, issued by one CA through an intermediate shipped in each file),
against `openssl verify` deciding the same files with the same trust in the same run.

The fleet is made with python3-cryptography (one device key for all certificates: the audit's cost
is reading and verifying certificates, which are all distinct; keys are not generated per device
to keep the set-up short) and cached in --work by N. Both tools are timed on a warm page cache
(a first untimed pass reads the files). `openssl verify` is one process per batch of files, run on
as many processes at once as the audit has threads, so both use every core. Prints one JSON
object: wall seconds and CPU seconds of each, and the ratios ours/openssl.

usage: bench/audit_bench.py --bin build/ci/harness/mtls-harness [--devices 100000] [--work DIR]
"""
import argparse
import datetime
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_fleet(work, n):
    done = work / f"fleet-{n}.done"
    if done.exists():
        return
    now = datetime.datetime.now(datetime.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (x509.CertificateBuilder().subject_name(name("Bench Root")).issuer_name(name("Bench Root"))
            .public_key(root_key.public_key()).serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(root_key, hashes.SHA256()))
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = (x509.CertificateBuilder().subject_name(name("Bench Issuing")).issuer_name(root.subject)
             .public_key(inter_key.public_key()).serial_number(2).not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=1825))
             .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
             .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
             .sign(root_key, hashes.SHA256()))
    (work / "ca.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    inter_pem = inter.public_bytes(serialization.Encoding.PEM)
    device_key = ec.generate_private_key(ec.SECP256R1())
    fleet = work / f"fleet-{n}"
    fleet.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cert = (x509.CertificateBuilder().subject_name(name(f"device-{i:06d}")).issuer_name(inter.subject)
                .public_key(device_key.public_key()).serial_number(1000 + i)
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30 + i % 700))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(inter_key, hashes.SHA256()))
        (fleet / f"d{i // 1000:03d}").mkdir(exist_ok=True)
        (fleet / f"d{i // 1000:03d}" / f"device-{i:06d}.pem").write_bytes(
            cert.public_bytes(serialization.Encoding.PEM) + inter_pem)
    done.write_text("ok\n")


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(run):
    cpu0, t0 = children_cpu(), time.perf_counter()
    out = run()
    return time.perf_counter() - t0, children_cpu() - cpu0, out


def openssl_verify_all(work, files, procs):
    """openssl verify over every file, `procs` processes at once; returns how many verified OK."""
    batches = [files[i:i + 2000] for i in range(0, len(files), 2000)]
    ok, running = 0, []
    for b in batches:
        # each file holds its device certificate, then the intermediate: -untrusted from the file
        # itself would need one process per file; one shared intermediate file does the same.
        running.append(subprocess.Popen(["openssl", "verify", "-purpose", "sslclient", "-CAfile",
                                         str(work / "ca.pem"), "-untrusted", str(work / "inter.pem"), *map(str, b)],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
        if len(running) >= procs:
            ok += running.pop(0).communicate()[0].count(b": OK")
    for p in running:
        ok += p.communicate()[0].count(b": OK")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--devices", type=int, default=100000)
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "mtls-audit-bench"))
    args = ap.parse_args()
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    make_fleet(work, args.devices)
    setup = time.perf_counter() - t0
    fleet = work / f"fleet-{args.devices}"
    files = sorted(str(p) for p in fleet.rglob("*.pem"))
    first = pathlib.Path(files[0]).read_text()
    (work / "inter.pem").write_text(first[first.index("-----BEGIN", 10):])
    cores = os.cpu_count() or 1
    audit = [args.bin, "audit", str(fleet), "--ca", str(work / "ca.pem"), "--out", str(work / "report")]
    subprocess.run(audit, capture_output=True)  # warm the page cache
    wall, cpu, p = timed(lambda: subprocess.run(audit, capture_output=True))
    summary = json.loads((work / "report" / "audit.json").read_text())["summary"]
    if p.returncode != 0 or summary["accepted_now"] != args.devices:
        sys.exit(f"audit did not accept the fleet: exit {p.returncode}, {summary['accepted_now']} accepted")
    o_wall, o_cpu, ok = timed(lambda: openssl_verify_all(work, files, cores))
    if ok != args.devices:
        sys.exit(f"openssl verify accepted {ok} of {args.devices}")
    print(json.dumps({"devices": args.devices, "cores": cores, "fleet_setup_seconds": round(setup, 1),
                      "audit": {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)},
                      "openssl_verify": {"wall_s": round(o_wall, 2), "cpu_s": round(o_cpu, 2), "processes": cores},
                      "ratio_wall": round(wall / o_wall, 2), "ratio_cpu": round(cpu / o_cpu, 2)}, indent=1))


if __name__ == "__main__":
    main()
