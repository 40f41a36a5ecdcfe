"""Faults on the agent's side: a beacon that dies in the middle of a download, resets, answers
503, or stalls. The agent names the right outcome, fails over to the next beacon as the real agent
does, and never waits beyond its configured timeout. The faulty beacon is a small TLS server of
this test (Python ssl, our PKI's beacon certificate) that answers the selection pings well, so
the device picks it first, and then misbehaves on the download."""
import json
import socket
import ssl
import threading
import time

import pytest

from helpers import credential_args

POLICY = "/ManageSoftDL/Policies/device-0001.npl"


class FaultyBeacon:
    """127.0.0.1, port 0; the socket listens before the constructor returns (no readiness wait)."""

    def __init__(self, pki, manifest, mode):
        beacon = manifest["beacons"]["beacon-a"]
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki / beacon["cert"], pki / beacon["key"])
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.seen = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.handle, args=(raw,), daemon=True).start()

    def handle(self, raw):
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            line = request.split(b"\r\n", 1)[0].decode()
            self.seen.append(line)
            if line.startswith("HEAD"):  # selection ping: answer well and fast
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            elif self.mode == "dies-mid-download":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n<policy>")
                raw.shutdown(socket.SHUT_RDWR)
            elif self.mode == "reset":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n<policy>")
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            elif self.mode == "503":
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")
            elif self.mode == "stall":
                self.stop.wait(30)  # never answers (bounded: the test ends first)
            conn.close()
        except (OSError, ssl.SSLError):
            pass
        finally:
            raw.close()

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.mark.parametrize("mode,outcome", [
    ("dies-mid-download", "PROTOCOL_ERROR"),
    ("reset", "PROTOCOL_ERROR"),
    ("503", "PROTOCOL_ERROR"),
    ("stall", "PROTOCOL_ERROR"),  # reachable (the handshake completed), then silent
])
def test_agent_fails_over_from_a_faulty_beacon(mode, outcome, harness, start_beacon, pki, manifest):
    faulty = FaultyBeacon(pki, manifest, mode)
    good = start_beacon()
    try:
        started = time.monotonic()
        # the faulty beacon first in priority: the agent must try it, then fail over
        p = harness("agent", "--beacon", f"{faulty.url},1", "--beacon", f"{good.url},2",
                    "--ca", pki / manifest["trust"]["server_ca_bundle"], *credential_args(manifest, pki, "valid"),
                    "--op", "download-policy", "--timeout", "3", "--json", timeout=60)
        elapsed = time.monotonic() - started
        record = json.loads(p.stdout)
        assert p.returncode == 0 and record["outcome"] == "ACCEPTED", record
        attempts = record["evidence"]["selection"]["attempts"]
        assert [a["url"] for a in attempts] == [faulty.url, good.url]
        assert attempts[0]["outcome"] == outcome, attempts
        assert any(line.startswith("GET " + POLICY) for line in faulty.seen), faulty.seen
        assert elapsed < 3 + 10, f"waited {elapsed:.1f} s with --timeout 3"  # no hang past the timeout
    finally:
        faulty.close()


def test_a_lone_stalling_beacon_is_named_silent_not_unreachable_within_the_timeout(harness, pki, manifest):
    faulty = FaultyBeacon(pki, manifest, "stall")
    try:
        started = time.monotonic()
        p = harness("agent", "--beacon", faulty.url, "--ca", pki / manifest["trust"]["server_ca_bundle"],
                    *credential_args(manifest, pki, "valid"), "--op", "download-policy", "--timeout", "2",
                    "--json", timeout=60)
        elapsed = time.monotonic() - started
        record = json.loads(p.stdout)
        # it completed the TLS handshake: reachable, then silent (UNREACHABLE is for connect failures)
        assert p.returncode == 3 and record["outcome"] == "PROTOCOL_ERROR", record  # not carried out
        assert record["evidence"]["handshake_completed"] and "no answer" in record["reason"], record
        assert 2 <= elapsed < 2 + 8, elapsed
    finally:
        faulty.close()
