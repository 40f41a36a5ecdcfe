"""Real servers nobody here wrote (Debian's nginx, Apache httpd, lighttpd, HAProxy, Caddy, stunnel),
each started on loopback from a small config fixture in `servers/`, serving a copy of the beacon
content with the test PKI's certificates.

A fixture is the server's own config language with @NAME@ placeholders: @PORT@, @DIR@ (the
server's folder), @ROOT@ (document root), @CERT@/@KEY@ (the beacon's certificate and key),
@CERTKEY@ (both in one file, for HAProxy), @FULLCHAIN@ (the certificate
and its CA, for lighttpd), @CLIENT_CA@ (the client CA root), @CLIENT_CA_BUNDLE@,
@CRL@, @BACKEND@ (the port of a Python beacon app behind a TLS terminator), @OTHER_CA@.

Ports: nginx, lighttpd and HAProxy take a listening socket the test binds itself (127.0.0.1 port
0), so the port is known and connections queue before the server runs. Apache httpd, Caddy and
stunnel cannot inherit a socket: they get a port the kernel just chose (bound, then released), and
readiness is their own signal (Apache's pid file, written after it listens) or the port accepting
connections, waited for with a deadline, never a fixed sleep."""
import json
import os
import pathlib
import re
import selectors
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

from helpers import HOME
from helpers import read_text as _read

READY_TIMEOUT_S = 30
SERVERS = pathlib.Path(__file__).resolve().parent / "servers"


class RealServer:
    def __init__(self, kind, workdir, cmd, proc, port, logs, root, config):
        self.kind, self.workdir, self.cmd, self.proc, self.port = kind, workdir, cmd, proc, port
        self.logs, self.root, self.config = logs, root, config
        self.url = f"https://127.0.0.1:{port}"
        self.backend = None

    def stop(self):
        for p in (self.proc, self.backend):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)

    def diagnostics(self):
        logs = "\n".join(f"  {p.name}:\n{_read(p)}" for p in self.logs if pathlib.Path(p).exists())
        return (f"{self.kind}: {shlex.join(self.cmd)}\n  exit: {self.proc.poll()}\n"
                f"  config:\n{self.config}\n{logs}")


def content_root(root):
    """The beacon's download folder (a copy of the fixture content, plus the policy of
    device-0001) and an empty upload folder, readable by a server's unprivileged worker."""
    shutil.copytree(HOME / "fixtures" / "content" / "ManageSoftDL", root / "ManageSoftDL")
    policies = root / "ManageSoftDL" / "Policies"
    (policies / "device-0001.npl").write_bytes((policies / "default.npl").read_bytes())
    (root / "ManageSoftRL").mkdir()
    for d, _, files in os.walk(root):
        os.chmod(d, 0o777 if "ManageSoftRL" in d else 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    return root


def trust_of(manifest):
    return manifest["trust"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_socket():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


def _wait_accepting(port, proc, deadline):
    """Until 127.0.0.1:port accepts a connection (the server's readiness), or it exits."""
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            sel = selectors.DefaultSelector()  # wait a little without a sleep call: on nothing
            sel.select(timeout=0.05)
            sel.close()
    return False


def _wait_file(path, proc, deadline):
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.stat().st_size > 0:
            return True
        sel = selectors.DefaultSelector()
        sel.select(timeout=0.05)
        sel.close()
    return False


def start_py_beacon(root, workdir, *flags):
    """The Python beacon app on 127.0.0.1 port 0; returns (process, port)."""
    cmd = ["/usr/bin/python3", str(pathlib.Path(__file__).resolve().parent / "py_beacon.py"),
           "--root", str(root), *flags]
    err = open(workdir / "py_beacon.stderr", "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    err.close()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    ready = sel.select(timeout=READY_TIMEOUT_S)
    sel.close()
    line = proc.stdout.readline() if ready else b""
    if not line:
        proc.kill()
        raise RuntimeError(f"py_beacon did not start: {shlex.join(cmd)}\n{_read(workdir / 'py_beacon.stderr')}")
    return proc, json.loads(line)["port"]


class ServerFactory:
    """start(kind, fixture, backend_flags=None) -> RealServer; every server stopped by close()."""

    def __init__(self, pki, manifest):
        self.pki, self.manifest = pki, manifest
        self.base = pathlib.Path(tempfile.mkdtemp(prefix="mtls-real-"))
        os.chmod(self.base, 0o755)  # Apache's worker (www-data) must reach the document root
        self.started = []

    def close(self):
        for s in self.started:
            s.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def values(self, workdir, root, port):
        beacon = self.manifest["beacons"]["beacon-a"]
        tls = workdir / "tls"
        tls.mkdir()
        cert = tls / "beacon.pem"
        key = tls / "beacon.key"
        shutil.copy(self.pki / beacon["cert"], cert)
        shutil.copy(self.pki / beacon["key"], key)
        certkey = tls / "beacon-and-key.pem"
        certkey.write_text(cert.read_text() + key.read_text())
        fullchain = tls / "beacon-fullchain.pem"
        fullchain.write_text(cert.read_text() + (self.pki / trust_of(self.manifest)["server_ca_bundle"]).read_text())
        trust = self.manifest["trust"]
        return {"PORT": str(port), "DIR": str(workdir), "ROOT": str(root), "CERT": str(cert),
                "KEY": str(key), "CERTKEY": str(certkey), "FULLCHAIN": str(fullchain),
                "CLIENT_CA": str(self.pki / trust["client_ca_roots"]),
                "CLIENT_CA_BUNDLE": str(self.pki / "ca" / "client-ca-bundle.pem"),
                "CRL": str(self.pki / trust["client_crls"]),
                "OTHER_CA": str(self.pki / "ca" / "other-ca.pem")}

    def start(self, kind, fixture, backend_flags=None, extras=(), backend_port=None, more=None):
        """`extras`: more fixture files the config names (e.g. a HAProxy crt-list), written into
        the server's folder with the same placeholders filled in. `backend_port`: @BACKEND@ is
        this port (a backend the test runs itself) instead of a Python beacon app. `more`: other
        placeholders the fixture names, with their values. An nginx
        fixture that names @PORT2@ gets a second listening socket (a plain-HTTP listener)."""
        workdir = self.base / f"{kind}-{len(self.started)}"
        workdir.mkdir()
        os.chmod(workdir, 0o755)
        root = content_root(workdir / "www")
        (workdir / "logs").mkdir()
        (workdir / "dav").mkdir(mode=0o777)  # a lock database an unprivileged worker can write
        os.chmod(workdir / "dav", 0o777)
        template = (SERVERS / fixture).read_text()
        inherited = _listening_socket() if kind in ("nginx", "lighttpd", "haproxy") else None
        port = inherited.getsockname()[1] if inherited else _free_port()
        values = self.values(workdir, root, port)
        second = _listening_socket() if kind == "nginx" and "@PORT2@" in template else None
        if second:
            values["PORT2"] = str(second.getsockname()[1])
        if backend_port is not None:
            values["BACKEND"] = str(backend_port)
        values.update(more or {})
        backend = None
        if backend_flags is not None:
            backend, values["BACKEND"] = start_py_beacon(root, workdir, *backend_flags)
            values["BACKEND"] = str(values["BACKEND"])
        config = template
        for k, v in values.items():
            config = config.replace(f"@{k}@", v)
        left = re.findall(r"@[A-Z_]+@", config)
        assert not left, f"{fixture}: placeholders left unfilled: {left}"
        conf = workdir / SERVERS.joinpath(fixture).name
        conf.write_text(config)
        for extra in extras:
            text = (SERVERS / extra).read_text()
            for k, v in values.items():
                text = text.replace(f"@{k}@", v)
            (workdir / extra).write_text(text)
            config += f"\n--- {extra}:\n{text}"
        logs = [workdir / "logs" / "stderr", workdir / "logs" / "error.log", workdir / "logs" / "access.log"]
        env = dict(os.environ, HOME=str(workdir), XDG_DATA_HOME=str(workdir / "data"),
                   XDG_CONFIG_HOME=str(workdir / "config"))
        pass_fds = ()
        if kind == "nginx":
            cmd = ["nginx", "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "logs" / "error.log")]
            socks = [inherited] + ([second] if second else [])
            env["NGINX"] = "".join(f"{x.fileno()};" for x in socks)
            pass_fds = tuple(x.fileno() for x in socks)
        elif kind in ("lighttpd", "haproxy"):
            # The inherited socket as fd 3 (systemd's convention, which lighttpd reads from
            # LISTEN_PID/LISTEN_FDS; HAProxy binds "fd@3").
            run = (["lighttpd", "-D", "-f", str(conf), "-m", "/usr/lib/lighttpd"] if kind == "lighttpd"
                   else ["haproxy", "-db", "-f", str(conf)])
            cmd = ["/bin/bash", "-c", f'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@" 3<&{inherited.fileno()}',
                   "bash", *run]
            pass_fds = (inherited.fileno(),)
        elif kind == "apache2":
            cmd = ["apache2", "-d", str(workdir), "-f", str(conf), "-DFOREGROUND"]
        elif kind == "caddy":
            cmd = ["caddy", "run", "--config", str(conf), "--adapter", "caddyfile"]
        elif kind == "stunnel":
            cmd = ["stunnel4", str(conf)]
        else:
            raise ValueError(kind)
        with open(workdir / "logs" / "stderr", "wb") as err:
            proc = subprocess.Popen(cmd, env=env, pass_fds=pass_fds, stdout=err, stderr=err,
                                    stdin=subprocess.DEVNULL, cwd=workdir)
        for x in (inherited, second):
            if x:
                x.close()  # the server holds its own copy
        server = RealServer(kind, workdir, cmd, proc, port, logs, root, config)
        server.backend = backend
        server.port2 = int(values["PORT2"]) if second else None
        self.started.append(server)
        deadline = time.monotonic() + READY_TIMEOUT_S
        ready = True
        if kind == "apache2":
            ready = _wait_file(workdir / "httpd.pid", proc, deadline)
        elif kind in ("caddy", "stunnel"):
            ready = _wait_accepting(port, proc, deadline)
        if not ready or proc.poll() is not None:
            raise RuntimeError(f"{kind} did not start\n{server.diagnostics()}")
        return server
