"""Fixtures of the cluster tests: a test PKI, `kerno nanobe`, `kerno preon`,
cgroup v2 directories, traffic from inside a cgroup."""

import glob
import json
import os
import re
import signal
import subprocess
import tempfile
import time

import otlp
from asserts import ASSERT_EQ, ASSERT_TRUE, FATAL, log

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"


def _cgroup2_mount():
    """Where cgroup v2 is mounted: /sys/fs/cgroup, or .../unified on hybrid hosts."""
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    return None


CGROUP_ROOT = _cgroup2_mount()
TOKEN = "test-token-0123456789abcdef"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
SAFETY_DURATION_S = 900
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def tmpdir(cleanup, prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    cleanup.callback(subprocess.run, ["rm", "-rf", "--", d], check=False)
    return d


def run(argv, **kw):
    return subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, capture_output=True, **kw)


class Pki:
    """A CA made for this test, a server certificate for 127.0.0.1 and localhost
    signed by it, and the shared token."""

    def __init__(self, cleanup, names=("127.0.0.1",)):
        self.dir = tmpdir(cleanup, "kerno-pki-")
        d = self.dir
        self.ca = os.path.join(d, "ca.crt")
        self.cert = os.path.join(d, "server.crt")
        self.key = os.path.join(d, "server.key")
        self.token = os.path.join(d, "token")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        run(["openssl", "req", "-x509", *ec, "-keyout", os.path.join(d, "ca.key"), "-out",
             self.ca, "-days", "1", "-subj", "/CN=kerno-test-ca"])
        run(["openssl", "req", *ec, "-keyout", self.key, "-out", os.path.join(d, "server.csr"),
             "-subj", "/CN=nanobe"])
        sans = ",".join(f"IP:{n}" if re.match(r"^[0-9.]+$", n) else f"DNS:{n}" for n in names)
        with open(os.path.join(d, "ext"), "w") as f:
            f.write(f"subjectAltName={sans},DNS:localhost\n")
        run(["openssl", "x509", "-req", "-in", os.path.join(d, "server.csr"), "-CA", self.ca,
             "-CAkey", os.path.join(d, "ca.key"), "-CAcreateserial", "-out", self.cert,
             "-days", "1", "-extfile", os.path.join(d, "ext")])
        with open(self.token, "w") as f:
            f.write(TOKEN + "\n")


def _env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


class Proc:
    """A kerno subcommand in its own process group, stderr to a file."""

    def __init__(self, kerno, cleanup, argv, stderr_path):
        self.argv = [kerno, *argv]
        self.stderr_path = stderr_path
        self.cleanup = cleanup
        self.proc = None
        self.start()
        cleanup.callback(self.kill)

    def start(self):
        log(f"starting {' '.join(self.argv)}")
        with open(self.stderr_path, "a") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=err,
                                         stderr=err, env=_env(), start_new_session=True)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, expect_rc=0, what="kerno"):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
                FATAL(f"{what} ignored {signal.Signals(sig).name} for {STOP_TIMEOUT_S}s")
        err = self.stderr()
        if expect_rc is not None and not ASSERT_EQ(self.proc.returncode, expect_rc,
                                                   f"{what} exit code"):
            print(f"    {what} stderr:\n{err[-3000:]}", flush=True)
        ASSERT_TRUE(not any(m in err for m in SANITIZER_MARKS),
                    f"no sanitizer report from {what}", err[-3000:])
        return self.proc.returncode


class Nanobe(Proc):
    """`kerno nanobe` on 127.0.0.1, an ephemeral port (kept across restarts)."""

    def __init__(self, kerno, cleanup, pki, interval=1, extra=(), port=0):
        self.data_dir = tmpdir(cleanup, "kerno-nanobe-")
        self.pki = pki
        self.interval = interval
        self.extra = list(extra)
        self.port = port
        super().__init__(kerno, cleanup, self._argv(), os.path.join(self.data_dir, "stderr"))
        self._wait_listening()

    def _argv(self):
        return ["nanobe", "--listen", f"127.0.0.1:{self.port}", "--tls-cert", self.pki.cert,
                "--tls-key", self.pki.key, "--token-file", self.pki.token, "--data-dir",
                self.data_dir, "--interval", str(self.interval), "--host-name", "nanobe-test",
                "--duration", str(SAFETY_DURATION_S), *self.extra]

    def _wait_listening(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            m = re.findall(r"nanobe listening on [0-9.]+:(\d+)", self.stderr())
            if m and len(m) >= self.starts:
                self.port = int(m[-1])
                log(f"nanobe pid {self.proc.pid} on port {self.port}")
                return
            if self.proc.poll() is not None:
                FATAL(f"nanobe exited with {self.proc.returncode}:\n{self.stderr()[-3000:]}")
            time.sleep(0.05)
        FATAL(f"nanobe did not listen within {START_TIMEOUT_S}s:\n{self.stderr()[-3000:]}")

    def start(self):
        self.starts = getattr(self, "starts", 0) + 1
        super().start()

    def restart(self, sig=signal.SIGKILL):
        """Stops (by default abruptly) and starts again on the same port and data."""
        self.stop(sig, expect_rc=None if sig == signal.SIGKILL else 0, what="nanobe")
        self.argv = [self.argv[0], *self._argv()]
        self.start()
        self._wait_listening()

    def envelopes(self):
        return otlp.read_envelopes(self.data_dir)

    def points(self):
        return otlp.metric_points(self.envelopes())


class Preon(Proc):
    """`kerno preon` with its own data and pin dir, measuring one cgroup subtree."""

    def __init__(self, kerno, cleanup, nanobe_port, pki, node, cgroup, interval=1, extra=()):
        self.data_dir = tmpdir(cleanup, f"kerno-preon-{node}-")
        base = os.environ.get("KERNO_PIN_DIR", "/sys/fs/bpf/kerno")
        self.pin_dir = f"{base}-{node}"
        argv = ["preon", "--nanobe", f"127.0.0.1:{nanobe_port}", "--ca-file", pki.ca,
                "--token-file", pki.token, "--host-name", node, "--cgroup", cgroup,
                "--data-dir", self.data_dir, "--pin-dir", self.pin_dir, "--interval",
                str(interval), "--duration", str(SAFETY_DURATION_S), "--kube-api", "off",
                *extra]
        super().__init__(kerno, cleanup, argv, os.path.join(self.data_dir, "stderr"))
        cleanup.callback(subprocess.run, ["rm", "-rf", "--", self.pin_dir], check=False)
        self._wait_hello()

    def _wait_hello(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for env in otlp.read_envelopes(self.data_dir):
                if env.get("type") == "hello":
                    log(f"preon pid {self.proc.pid} attached")
                    return
            if self.proc.poll() is not None:
                FATAL(f"preon exited with {self.proc.returncode}:\n{self.stderr()[-3000:]}")
            time.sleep(0.05)
        FATAL(f"no hello from preon within {START_TIMEOUT_S}s:\n{self.stderr()[-3000:]}")

    def spooled(self):
        return len(glob.glob(os.path.join(self.data_dir, "preon-spool", "b-*.seal")))


class Cgroup:
    """A cgroup v2 directory made for the test under a parent of its own;
    removed at the end, its processes moved back to the root first."""

    def __init__(self, cleanup, parent, name):
        self.path = os.path.join(parent, name)
        os.makedirs(self.path)
        cleanup.callback(self.remove)

    def remove(self):
        for d, _, _ in sorted(os.walk(self.path), key=lambda t: -len(t[0])):
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    pids = f.read().split()
                for pid in pids:
                    with open(os.path.join(CGROUP_ROOT, "cgroup.procs"), "w") as f:
                        f.write(pid)
                os.rmdir(d)
            except OSError:
                pass


def cgroup_parent_for_tests(cleanup):
    if not CGROUP_ROOT:
        FATAL("no cgroup v2 mount (selftests/setup.sh mounts one)")
    parent = tempfile.mkdtemp(prefix="kerno-test-", dir=CGROUP_ROOT)

    def remove():
        for d, _, _ in sorted(os.walk(parent), key=lambda t: -len(t[0])):
            try:
                os.rmdir(d)
            except OSError:
                pass
    cleanup.callback(remove)
    return parent


def serve(cleanup, host="127.0.0.1"):
    """The HTTP server of clusterpeer.py; returns (proc, port)."""
    proc = subprocess.Popen([PYTHON, os.path.join(HERE, "clusterpeer.py"), "serve", host],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    cleanup.callback(lambda: (proc.kill(), proc.wait()))
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        FATAL(f"clusterpeer serve did not start: {line!r}")
    return proc, int(line.split()[1])


def client(cgroup, host, port, n, path="/ok"):
    """n GETs from a process inside cgroup; waits for it."""
    res = subprocess.run([PYTHON, os.path.join(HERE, "clusterpeer.py"), "client", cgroup, host,
                          str(port), str(n), path], capture_output=True, text=True, timeout=120)
    ASSERT_EQ(res.returncode, 0, f"client in {cgroup} ({res.stderr.strip()[-500:]})")
    return res.stdout
