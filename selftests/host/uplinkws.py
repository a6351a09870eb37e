"""Fixtures for the WebSocket uplink tests: a test PKI, the scripted cloud
server (wsserver.py) that can be killed and restarted on its port, an HTTP
CONNECT proxy on loopback, and `kerno run` pointed at them."""

import glob
import json
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time

import httpclient
from agent import Agent
from asserts import FATAL, log
from servers import PYTHON, spawn, stop_group

HERE = os.path.dirname(os.path.abspath(__file__))


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pki:
    """A CA and a server certificate for 127.0.0.1 signed by it, plus an
    unrelated CA with its own server certificate (the "wrong CA" case)."""

    def __init__(self, cleanup):
        self.dir = tempfile.mkdtemp(prefix="kerno-pki-")
        cleanup.callback(subprocess.run, ["rm", "-rf", "--", self.dir], check=False)
        ext = os.path.join(self.dir, "server.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n")
        for name in ("good", "other"):
            _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-keyout", f"{name}-ca.key", "-out", f"{name}-ca.pem", "-days",
                     "2", "-subj", f"/CN=kerno test {name} CA", cwd=self.dir)
            _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", f"{name}-server.key", "-out", f"{name}-server.csr", "-subj",
                     "/CN=127.0.0.1", cwd=self.dir)
            _openssl("x509", "-req", "-in", f"{name}-server.csr", "-CA", f"{name}-ca.pem",
                     "-CAkey", f"{name}-ca.key", "-CAcreateserial", "-days", "2", "-out",
                     f"{name}-server.pem", "-extfile", "server.ext", cwd=self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)


class WsServer:
    """wsserver.py in its own process group. The log and event files live
    in `dir` and outlast restarts, as a real server's storage would."""

    def __init__(self, cleanup, pki, token=None, deflate="on"):
        self.cleanup = cleanup
        self.pki = pki
        self.token = token
        self.deflate = deflate
        self.dir = tempfile.mkdtemp(prefix="kerno-ws-")
        cleanup.callback(subprocess.run, ["rm", "-rf", "--", self.dir], check=False)
        self.log_path = os.path.join(self.dir, "received.ndjson")
        self.events_path = os.path.join(self.dir, "events.ndjson")
        self.port = 0
        self.proc = None
        self.starts = 0

    def start(self, mode="normal", ca="good", deflate=None):
        """Starts the server (on the same port as before, if any)."""
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        argv = [PYTHON, os.path.join(HERE, "wsserver.py"), "--cert",
                self.pki.path(f"{ca}-server.pem"), "--key", self.pki.path(f"{ca}-server.key"),
                "--port", str(self.port), "--port-file", port_file, "--log", self.log_path,
                "--events", self.events_path, "--mode", mode, "--deflate",
                deflate or self.deflate]
        if self.token is not None:
            argv += ["--token", self.token]
        self.starts += 1
        self.events_mark = len(self.events())
        errlog = open(os.path.join(self.dir, f"server{self.starts}.stderr"), "w")
        deadline = time.monotonic() + 15
        while True:
            self.proc = spawn(argv, self.cleanup, stdin=subprocess.DEVNULL, stdout=errlog,
                              stderr=errlog)
            while not os.path.exists(port_file) and self.proc.poll() is None:
                if time.monotonic() > deadline:
                    FATAL("wsserver did not start")
                time.sleep(0.02)
            if os.path.exists(port_file):
                break
            # The port may still be held for a moment after a kill: retry.
            if time.monotonic() > deadline:
                FATAL(f"wsserver exited: {open(errlog.name).read()[-2000:]}")
            time.sleep(0.2)
        with open(port_file) as f:
            self.port = int(f.read())
        log(f"wsserver mode={mode} ca={ca} on port {self.port}")

    def kill(self):
        """SIGKILL: no close frame, no goodbye, as a crash."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc:
            stop_group(self.proc)

    def pause(self):
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.killpg(self.proc.pid, signal.SIGCONT)

    def events(self, since_start=False):
        try:
            with open(self.events_path) as f:
                evs = [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []
        return evs[self.events_mark:] if since_start else evs

    def wait_event(self, pred, timeout, what):
        """The first event since the last start for which pred holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev in self.events(since_start=True):
                if pred(ev):
                    return ev
            time.sleep(0.05)
        evs = self.events()
        FATAL(f"no {what} within {timeout}s; {len(evs)} events, mark {self.events_mark}, "
              f"last ones: {evs[-12:]}")
        return None

    def received(self):
        """Envelopes the server accepted, in order of arrival."""
        try:
            with open(self.log_path) as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []

    def url(self):
        return f"wss://127.0.0.1:{self.port}/v1/uplink"


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on loopback (a thread): tunnels bytes
    both ways and records every CONNECT target."""

    def __init__(self, cleanup):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.targets = []
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        cleanup.callback(self.close)

    def close(self):
        self.stopping = True
        self.sock.close()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn):
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(4096)
            if not data:
                conn.close()
                return
            head += data
        line = head.split(b"\r\n", 1)[0].decode()
        m = re.match(r"CONNECT (\S+):(\d+) HTTP/1\.1$", line)
        if not m:
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.close()
            return
        self.targets.append(f"{m.group(1)}:{m.group(2)}")
        try:
            up = socket.create_connection((m.group(1), int(m.group(2))), timeout=5)
        except OSError:
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            conn.close()
            return
        conn.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        self._pump(conn, up)

    @staticmethod
    def _pump(a, b):
        socks = [a, b]
        try:
            while True:
                readable, _, _ = select.select(socks, [], [], 1.0)
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            pass
        finally:
            a.close()
            b.close()


class CloudAgent(Agent):
    """`kerno run --cloud-url ...`: ready once the server holds its hello."""

    def __init__(self, kerno, cleanup, server, data_dir=None, token_file=None, extra=(),
                 interval=1, ping=2, heartbeat=2, prefix=()):
        self.server = server
        self.hello_mark = len([e for e in server.received() if e["type"] == "hello"])
        args = ["--cloud-url", server.url(), "--cloud-ca-file", server.pki.path("good-ca.pem"),
                "--cloud-ping", str(ping), "--cloud-heartbeat", str(heartbeat),
                "--cloud-close-timeout", "2", "--cloud-flush-timeout", "10"]
        if token_file:
            args += ["--cloud-token-file", token_file]
        if data_dir:  # a later --data-dir wins over the fixture's own
            args += ["--data-dir", data_dir]
        self.cloud_dir = data_dir
        super().__init__(kerno, cleanup, interval=interval, extra_args=[*args, *extra],
                         prefix=prefix)
        if not data_dir:
            self.cloud_dir = self.data_dir

    def _wait_hello(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            hellos = [e for e in self.server.received() if e["type"] == "hello"]
            if len(hellos) > self.hello_mark:
                log(f"agent pid {self.pid} attached, hello seq {hellos[-1]['seq']}")
                return
            if self.proc.poll() is not None:
                FATAL(f"agent exited with {self.proc.returncode} before hello:\n"
                      f"{self.stderr_tail()}")
            time.sleep(0.05)
        FATAL(f"no hello at the server within 60s:\n{self.stderr_tail()}")

    def wait_started(self):
        """For agents that cannot reach the server yet: wait for the queue."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.queued():
                return
            if self.proc.poll() is not None:
                FATAL(f"agent exited with {self.proc.returncode}:\n{self.stderr_tail()}")
            time.sleep(0.05)
        FATAL(f"agent queued nothing within 60s:\n{self.stderr_tail()}")

    def queued(self):
        """Sequence numbers of the envelopes in the disk queue."""
        names = glob.glob(os.path.join(self.cloud_dir or self.data_dir, "uplink", "queue",
                                       "*.env"))
        return sorted(int(os.path.basename(n)[:-4]) for n in names)

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.stderr())
            if m:
                return m.group(0)
            time.sleep(0.05)
        FATAL(f"agent did not log {what} (/{pattern}/) within {timeout}s:\n"
              f"{self.stderr_tail(30)}")
        return None


class CloudAgentPending(CloudAgent):
    """A cloud agent whose server is not reachable (yet): started once it has queued its hello."""

    def _wait_hello(self):
        self.wait_started()


class Load:
    """HTTP requests in a thread against `port` until stopped, so metrics
    envelopes carry real series."""

    def __init__(self, cleanup, port):
        self.port = port
        self.count = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        cleanup.callback(self.stop)

    def _run(self):
        paths = ["/ok", "/users/1", "/users/22", "/missing", "/fail"]
        while not self.stopping:
            try:
                with httpclient.Client(self.port) as c:
                    for i in range(200):
                        if self.stopping:
                            return
                        c.request("GET", paths[i % len(paths)])
                        self.count += 1
                        if i % 10 == 9:  # about 2000 requests/s: load, not a CPU hog
                            time.sleep(0.005)
            except (OSError, ConnectionError):
                time.sleep(0.1)

    def stop(self):
        self.stopping = True
        self.thread.join(5)


def agent_sockets(pid):
    """(established TCP peers, listening sockets) of pid and its threads, from ss."""
    out = subprocess.run(["ss", "-tanpH"], capture_output=True, text=True, check=True).stdout
    peers, listening = [], []
    for line in out.splitlines():
        if f"pid={pid}," not in line:
            continue
        fields = line.split()
        if fields[0] == "LISTEN":
            listening.append(line)
        elif fields[0] == "ESTAB":
            peers.append(fields[4])
    out = subprocess.run(["ss", "-uanpH"], capture_output=True, text=True, check=True).stdout
    listening += [line for line in out.splitlines() if f"pid={pid}," in line]
    return peers, listening


def seqs_of(envelopes):
    return [e["seq"] for e in envelopes]
