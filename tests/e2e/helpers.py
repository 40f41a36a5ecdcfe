"""Clients for the end-to-end tests: our agent, and reference peers no one here wrote (the curl
CLI, `openssl s_client`), each reduced to one structured answer."""
import json
import os
import pathlib

HOME = pathlib.Path(os.environ.get("MTLS_HARNESS_HOME", pathlib.Path(__file__).resolve().parents[2]))
BIN = str(pathlib.Path(os.environ.get("MTLS_HARNESS_BIN", HOME / "build" / "harness" / "mtls-harness")).resolve())
OP_PATH = "/ManageSoftDL/Policies/device-0001.npl"


def credential_args(manifest, pki, name):
    cred = manifest["credentials"][name]
    if cred["cert"] is None:
        return []
    return ["--cert", str(pki / cred["cert"]), "--key", str(pki / cred["key"])]


def agent_json(harness, url, pki, manifest, credential, *extra):
    """Runs `mtls-harness agent --json`; returns (exit code, result record)."""
    p = harness("agent", "--beacon", url, "--ca", pki / manifest["trust"]["server_ca_bundle"],
                *credential_args(manifest, pki, credential), "--credential-name", credential,
                "--op", "download-policy", "--json", *extra)
    # 0/1: as expected or not; 3: not carried out (unreachable, protocol error); 2 would be an error
    assert p.returncode in (0, 1, 3), "agent must report an outcome, not fail"
    record = json.loads(p.stdout)
    undecided = record["outcome"] in ("UNREACHABLE", "PROTOCOL_ERROR", "SERVER_UNTRUSTED")
    assert (p.returncode == 3) == undecided, (p.returncode, record["outcome"])
    return p.returncode, json.loads(p.stdout)


def curl_status(peer, url, pki, manifest, credential, *extra):
    """(curl exit code, HTTP status or 0) for a GET of the policy (or what `extra` asks)."""
    cmd = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
           "--cacert", str(pki / manifest["trust"]["server_ca_bundle"]),
           *credential_args(manifest, pki, credential), *extra]
    if not any(str(e).startswith("http") for e in extra):
        cmd.append(url + OP_PATH)
    p = peer(cmd)
    out = p.stdout.decode().strip()
    return p.returncode, int(out) if out.isdigit() else 0


def curl_accepted(peer, url, pki, manifest, credential):
    rc, status = curl_status(peer, url, pki, manifest, credential)
    return rc == 0 and status == 200


def openssl_accepted(peer, port, pki, manifest, credential, *extra):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
           "-CAfile", str(pki / manifest["trust"]["server_ca_bundle"]), "-verify_return_error",
           "-quiet", *credential_args(manifest, pki, credential), *extra]
    if manifest["credentials"][credential]["cert"]:
        # s_client sends only the first certificate of -cert; the chain file sends the intermediate.
        cmd += ["-cert_chain", str(pki / manifest["credentials"][credential]["cert"])]
    request = f"GET {OP_PATH} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
    p = peer(cmd, input_bytes=request)
    return p.returncode == 0 and p.stdout.startswith(b"HTTP/1.1 200")


def pid_alive(pid):
    """True while process `pid` runs (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = pathlib.Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def read_text(path):
    """A file's text for diagnostics, or why it cannot be read."""
    try:
        return pathlib.Path(path).read_text(errors="replace")
    except OSError as e:
        return f"({e})"


def split_chain(pem_file, tmp_path):
    """leaf.pem and, if the file carries them, a file with the rest of the chain (else None)."""
    blocks = pem_file.read_text().split("-----END CERTIFICATE-----")
    certs = [b.strip() + "\n-----END CERTIFICATE-----\n" for b in blocks if "BEGIN CERTIFICATE" in b]
    leaf = tmp_path / f"{pem_file.stem}.leaf.pem"
    leaf.write_text(certs[0])
    rest = None
    if len(certs) > 1:
        rest = tmp_path / f"{pem_file.stem}.chain.pem"
        rest.write_text("".join(certs[1:]))
    return leaf, rest
