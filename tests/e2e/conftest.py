"""Fixtures for the end-to-end suite: the mtls-harness binary, a test PKI, and simulated beacons
started on loopback (port 0) that are waited for on their ready signal, never with sleeps.

When a test fails, its report gets a "mtls-harness diagnostics" section: every command the test
ran (command line, exit code, stdout, stderr) and every beacon's command line, exit status,
stderr and JSONL log.
"""
import json
import os
import pathlib
import selectors
import shlex
import shutil
import signal
import subprocess

import pytest

from helpers import BIN, HOME
from helpers import read_text as _read_text
READY_TIMEOUT_S = 30


class Diagnostics:
    """What a failing test prints: commands run and processes started."""

    def __init__(self):
        self.entries = []

    def add(self, text):
        self.entries.append(text)

    def text(self):
        return "\n\n".join(e() if callable(e) else e for e in self.entries)


class Beacon:
    """A `mtls-harness beacon` child process on 127.0.0.1, ports chosen by the kernel.

    `args` are extra flags (e.g. ["--reject", "http:403"]); `config` is a dict written as the
    beacon's YAML config (then the listener flags are not used)."""

    def __init__(self, workdir, pki, client_auth="require", name="beacon-a", args=(), config=None):
        workdir = pathlib.Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.ready_file = workdir / f"{name}.ready.json"
        self.log = workdir / f"{name}.log.jsonl"
        self.stderr_path = workdir / f"{name}.stderr"
        self.cmd = [BIN, "beacon", "--pki", str(pki), "--name", name,
                    "--ready-file", str(self.ready_file), "--log", str(self.log)]
        if config is not None:
            import yaml
            config_file = workdir / f"{name}.yaml"
            config_file.write_text(yaml.safe_dump(config))
            self.cmd += ["--config", str(config_file)]
        else:
            self.cmd += ["--listen", "127.0.0.1:0", "--client-auth", client_auth]
        self.cmd += [str(a) for a in args]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=err,
                                         stdin=subprocess.DEVNULL, bufsize=0)
        line = self._read_ready_line()
        if line is None:
            self.stop()
            raise RuntimeError("beacon did not become ready\n" + self.diagnostics())
        self.ready = json.loads(line)
        self.ports = {l["name"]: l["port"] for l in self.ready["listeners"]}
        listener = self.ready["listeners"][0]
        self.port = listener["port"]
        self.url = f"https://127.0.0.1:{self.port}"

    def url_of(self, listener):
        scheme = next(l["scheme"] for l in self.ready["listeners"] if l["name"] == listener)
        return f"{scheme}://127.0.0.1:{self.ports[listener]}"

    def _read_ready_line(self):
        """Block on the beacon's stdout until its JSON ready line, its exit, or the timeout."""
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout=READY_TIMEOUT_S):
                return None
            line = self.proc.stdout.readline()
            return line.decode() if line else None
        finally:
            sel.close()

    def stop(self):
        """SIGTERM (the beacon drains and flushes its log), SIGKILL if it does not exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def records(self, event=None):
        out = []
        if self.log.exists():
            for line in self.log.read_text().splitlines():
                rec = json.loads(line)
                if event is None or rec.get("event") == event:
                    out.append(rec)
        return out

    def connection_for(self, local_port):
        for rec in self.records("connection"):
            if rec["peer_port"] == local_port:
                return rec
        return None

    def diagnostics(self):
        return (f"beacon: {shlex.join(self.cmd)}\n  exit: {self.proc.poll()}\n"
                f"  stderr:\n{_read_text(self.stderr_path)}\n  log:\n{_read_text(self.log)}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    diag = getattr(item, "_mtls_diag", None)
    if rep.failed and diag is not None and diag.entries:
        rep.sections.append(("mtls-harness diagnostics", diag.text()))


@pytest.fixture
def diag(request):
    d = Diagnostics()
    request.node._mtls_diag = d
    return d


@pytest.fixture
def harness(diag):
    """Runs mtls-harness with arguments; returns the CompletedProcess and records it for failures."""

    def run(*args, cwd=None, env=None, timeout=120):
        cmd = [BIN, *map(str, args)]
        full_env = dict(os.environ, **(env or {}))
        p = subprocess.run(cmd, capture_output=True, cwd=cwd, env=full_env, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        diag.add(f"command: {shlex.join(cmd)}\n  exit: {p.returncode}\n"
                 f"  stdout:\n{p.stdout.decode(errors='replace')}\n"
                 f"  stderr:\n{p.stderr.decode(errors='replace')}")
        return p

    return run


@pytest.fixture
def peer(diag):
    """Runs a reference peer (curl, openssl) and records it for failures."""

    def run(cmd, input_bytes=None, timeout=30):
        p = subprocess.run(cmd, capture_output=True, input=input_bytes, timeout=timeout)
        diag.add(f"peer: {shlex.join(cmd)}\n  exit: {p.returncode}\n"
                 f"  stdout:\n{p.stdout[:2000].decode(errors='replace')}\n"
                 f"  stderr:\n{p.stderr[:2000].decode(errors='replace')}")
        return p

    return run


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """One test PKI for the session, made by `mtls-harness pki init`."""
    out = tmp_path_factory.mktemp("pki") / "pki"
    p = subprocess.run([BIN, "pki", "init", "--out", str(out)], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return out


@pytest.fixture(scope="session")
def manifest(pki):
    return json.loads((pki / "manifest.json").read_text())


@pytest.fixture
def start_beacon(tmp_path, pki, diag):
    """Factory: start_beacon(client_auth) -> Beacon; every beacon is stopped after the test."""
    started = []

    def start(client_auth="require", name="beacon-a", args=(), config=None):
        b = Beacon(tmp_path / f"{name}-{client_auth}-{len(started)}", pki, client_auth, name, args, config)
        started.append(b)
        diag.add(b.diagnostics)
        return b

    yield start
    # A beacon must exit 0 on SIGTERM: a crash or a sanitizer report (ASan build) fails the test.
    bad = [b for b in started if b.stop() != 0]
    assert not bad, "beacon did not exit cleanly:\n" + "\n".join(b.diagnostics() for b in bad)


class ReferenceServer:
    """A TLS server no one here wrote, on 127.0.0.1 with a kernel-chosen port.

    nginx: the test binds the listening socket itself (port 0) and hands it to nginx through
    nginx's inherited-socket variable, so the port is known and connections queue before nginx
    has even started (no readiness polling). openssl s_server: `-accept 127.0.0.1:0` prints
    "ACCEPT host:port" once it listens; that line is the ready signal."""

    def __init__(self, workdir, cmd, proc, port, logs):
        self.workdir, self.cmd, self.proc, self.port, self.logs = workdir, cmd, proc, port, logs
        self.url = f"https://127.0.0.1:{port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def diagnostics(self):
        logs = "\n".join(f"  {p.name}:\n{_read_text(p)}" for p in self.logs)
        return f"reference server: {shlex.join(self.cmd)}\n  exit: {self.proc.poll()}\n{logs}"


def _content_root(workdir):
    """A document root serving the policy path, for servers that serve plain files."""
    root = workdir / "www"
    target = root / "ManageSoftDL" / "Policies"
    target.mkdir(parents=True, exist_ok=True)
    (target / "device-0001.npl").write_bytes(
        (HOME / "fixtures" / "content" / "ManageSoftDL" / "Policies" / "default.npl").read_bytes())
    return root


def launch_nginx(workdir, http_block, sockets=1):
    """Debian nginx on loopback with `sockets` listening sockets the test binds itself (port 0)
    and hands over through nginx's inherited-socket variable: the ports are known before nginx
    starts, so no readiness polling. `http_block(ports)` returns the http {} body."""
    import socket as _socket
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)
    listeners = []
    for _ in range(sockets):
        listener = _socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listeners.append(listener)
    ports = [l.getsockname()[1] for l in listeners]
    conf = workdir / "nginx.conf"
    conf.write_text(f"""
daemon off; master_process on; worker_processes 1; user root;
error_log {workdir}/logs/error.log info; pid {workdir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log {workdir}/logs/access.log;
  client_body_temp_path {workdir}/body;
{http_block(ports)}
}}
""")
    cmd = ["nginx", "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "logs" / "error.log")]
    env = dict(os.environ, NGINX="".join(f"{l.fileno()};" for l in listeners))
    with open(workdir / "logs" / "stderr", "wb") as err:
        proc = subprocess.Popen(cmd, env=env, pass_fds=[l.fileno() for l in listeners], stderr=err,
                                stdin=subprocess.DEVNULL)
    for l in listeners:
        l.close()  # nginx holds its own copies
    server = ReferenceServer(workdir, cmd, proc, ports[0],
                             [workdir / "logs" / "stderr", workdir / "logs" / "error.log", conf])
    server.ports = ports
    return server


def start_nginx(workdir, pki, manifest, protocols="TLSv1.2 TLSv1.3", verify="on"):
    root = _content_root(workdir)
    beacon = manifest["beacons"]["beacon-a"]
    return launch_nginx(workdir, lambda ports: f"""
  server {{
    listen 127.0.0.1:{ports[0]} ssl;
    ssl_certificate {pki / beacon['cert']}; ssl_certificate_key {pki / beacon['key']};
    ssl_client_certificate {pki / manifest['trust']['client_ca_roots']};
    ssl_verify_client {verify}; ssl_verify_depth 3; ssl_protocols {protocols};
    root {root};
  }}""")


def start_s_server(workdir, pki, manifest, *extra):
    workdir.mkdir(parents=True, exist_ok=True)
    root = _content_root(workdir)
    beacon = manifest["beacons"]["beacon-a"]
    cmd = ["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", str(pki / beacon["cert"]),
           "-key", str(pki / beacon["key"]), "-CAfile", str(pki / manifest["trust"]["client_ca_roots"]),
           "-WWW", *extra]
    err_path = workdir / "s_server.stderr"
    with open(err_path, "wb") as err:
        # Unbuffered: readline() must not pull the next line into a Python buffer that select()
        # cannot see (s_server prints a DH line before the ACCEPT line).
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                bufsize=0)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    port = None
    while port is None and sel.select(timeout=READY_TIMEOUT_S):
        line = proc.stdout.readline().decode()
        if not line:
            break
        if line.startswith("ACCEPT"):
            port = int(line.rsplit(":", 1)[1])
    sel.close()
    server = ReferenceServer(workdir, cmd, proc, port, [err_path])
    if port is None:
        server.stop()
        raise RuntimeError("s_server did not start\n" + server.diagnostics())
    return server


@pytest.fixture
def reference_servers(tmp_path, pki, manifest, diag):
    """Factory: reference_servers("nginx", protocols=...) or ("s_server", *flags); stopped after."""
    count = iter(range(1000))

    def start(kind, *args, **kwargs):
        workdir = tmp_path / f"{kind}-{next(count)}"
        return (start_nginx(workdir, pki, manifest, *args, **kwargs) if kind == "nginx"
                else start_s_server(workdir, pki, manifest, *args))

    yield from _servers_stopped_after(diag, start)


def _servers_stopped_after(diag, start):
    """For a server-factory fixture: yields `start` wrapped so that every server it starts has its
    diagnostics printed on failure and is stopped when the test ends."""
    started = []

    def tracked(*args, **kwargs):
        server = start(*args, **kwargs)
        started.append(server)
        diag.add(server.diagnostics)
        return server

    yield tracked
    for s in started:
        s.stop()


@pytest.fixture
def nginx(tmp_path, pki, manifest, diag):
    """Factory: nginx(name, servers(ports, tls, root, uploads), sockets) serving a copy of the
    beacon content with our PKI (tls: the certificate, client CA, CRL lines); uploads are WebDAV
    PUTs under /ManageSoftRL/. Stopped after the test."""
    def start(name, servers, sockets=1):
        workdir = tmp_path / name
        root = workdir / "www"
        shutil.copytree(HOME / "fixtures" / "content" / "ManageSoftDL", root / "ManageSoftDL")
        (root / "ManageSoftDL" / "Policies" / "device-0001.npl").write_bytes(
            (root / "ManageSoftDL" / "Policies" / "default.npl").read_bytes())
        (root / "ManageSoftDL" / "index.html").write_text("beacon\n")
        (root / "ManageSoftRL").mkdir()
        beacon = manifest["beacons"]["beacon-a"]
        tls = (f"ssl_certificate {pki / beacon['cert']}; ssl_certificate_key {pki / beacon['key']};\n"
               f"    ssl_client_certificate {pki / manifest['trust']['client_ca_roots']};\n"
               f"    ssl_crl {pki / manifest['trust']['client_crls']}; ssl_verify_depth 3;")
        uploads = "location /ManageSoftRL/ { dav_methods PUT; create_full_put_path on; }"
        return launch_nginx(workdir, lambda ports: servers(ports, tls, root, uploads), sockets)

    yield from _servers_stopped_after(diag, start)


def nginx_optional_on_uploads(ports, tls, root, uploads):
    """An nginx server block (for the `nginx` fixture) that asks for client certificates
    (`optional`) and checks $ssl_client_verify on the download folder only: the upload folder
    was forgotten, the bad setup both the side-door and the probe tests must catch."""
    return f"""
  server {{
    listen 127.0.0.1:{ports[0]} ssl;
    {tls}
    ssl_verify_client optional;
    root {root};
    location /ManageSoftDL/ {{ if ($ssl_client_verify != SUCCESS) {{ return 403; }} }}
    {uploads}
  }}"""


@pytest.fixture
def servers(pki, manifest, diag):
    """Factory of real servers (tests/e2e/real_servers.py) started from small config fixtures;
    every one is stopped after the test, and its command line and logs printed on failure."""
    from real_servers import ServerFactory
    factory = ServerFactory(pki, manifest)
    wrapped = factory.start

    def start(*args, **kwargs):
        server = wrapped(*args, **kwargs)
        diag.add(server.diagnostics)
        return server

    factory.start = start
    yield factory
    factory.close()
