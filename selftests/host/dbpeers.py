"""Real database and DNS peers for the protocol tests, each in a temporary
directory on 127.0.0.1 and a free port, stopped by the test's cleanup:
redis-server, PostgreSQL (initdb + postgres as the postgres user), MariaDB
(mariadb-install-db + mariadbd) and dnsmasq with a small local zone."""

import os
import pwd
import shutil
import subprocess
import tempfile
import time

from asserts import ASSERT_EQ
from servers import PYTHON, free_port, spawn, stop_group, wait_listening


def _tmpdir(cleanup, prefix, owner=None):
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    if owner:
        pw = pwd.getpwnam(owner)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    cleanup.callback(shutil.rmtree, path, ignore_errors=True)
    return path


def _start(cleanup, argv_for_port, what, attempts=5, **kwargs):
    """Starts argv_for_port(port) until it listens on its port: (proc, port)."""
    for _ in range(attempts):
        port = free_port()
        proc = spawn(argv_for_port(port), cleanup, **kwargs)
        if wait_listening(port, proc, timeout=30):
            return proc, port
        stop_group(proc)
    raise RuntimeError(f"{what} did not start")


class Redis:
    """redis-server without persistence. `.port`, `.pid`."""

    def __init__(self, cleanup):
        self.dir = _tmpdir(cleanup, "kerno-redis-")
        self.proc, self.port = _start(
            cleanup, lambda port: ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", self.dir],
            "redis-server", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid


# A cluster that pg_template() made, which Postgres() copies rather than run
# initdb: in the test VM, initdb's bootstrap takes about a minute under TCG;
# selftests/vmtest.sh makes the template on the host, natively, in seconds.
PG_TEMPLATE_ENV = "KERNO_PG_TEMPLATE"


def _initdb(data):
    subprocess.run(["runuser", "-u", Postgres.USER, "--", "initdb", "-D", data, "-A", "trust",
                    "-U", Postgres.USER, "--no-sync"], stdout=subprocess.DEVNULL, check=True)


def pg_template(path):
    """A fresh cluster at path (which must not exist), for Postgres() to copy."""
    os.mkdir(path, 0o700)
    pw = pwd.getpwnam(Postgres.USER)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    _initdb(path)


class Postgres:
    """A fresh cluster (trust authentication) run by the postgres user. `.port`, `.pid`
    (the postmaster; each connection is served by a child of it)."""

    USER = "postgres"

    def __init__(self, cleanup):
        self.dir = _tmpdir(cleanup, "kerno-pg-", owner=self.USER)
        data = os.path.join(self.dir, "data")
        template = os.environ.get(PG_TEMPLATE_ENV)
        if template:
            subprocess.run(["cp", "-a", template, data], check=True)
        else:
            _initdb(data)
        self.proc, self.port = _start(
            cleanup, lambda port: ["runuser", "-u", self.USER, "--", "postgres", "-D", data,
                                   "-k", self.dir, "-h", "127.0.0.1", "-p", str(port),
                                   "-c", "fsync=off"],
            "postgres", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        # Listening is not accepting: the startup process may still be recovering.
        deadline = time.monotonic() + 30
        while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                             check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("postgres does not accept connections")
            time.sleep(0.1)

    def children(self):
        """The postmaster's child processes right now (backends among them)."""
        postmaster = int(open(os.path.join(self.dir, "data", "postmaster.pid")).readline())
        with open(f"/proc/{postmaster}/task/{postmaster}/children") as f:
            return [int(p) for p in f.read().split()]


class MariaDB:
    """A fresh MariaDB data dir, mariadbd as root on a TCP port, no grant checks
    beyond the root user's socket-less login. `.port`, `.pid`."""

    def __init__(self, cleanup):
        self.dir = _tmpdir(cleanup, "kerno-mariadb-", owner="mysql")
        data = os.path.join(self.dir, "data")
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}",
                        "--user=mysql", "--auth-root-authentication-method=normal",
                        "--skip-test-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        self.proc, self.port = _start(
            cleanup, lambda port: ["mariadbd", "--no-defaults", f"--datadir={data}",
                                   "--user=mysql", "--bind-address=127.0.0.1",
                                   f"--port={port}", f"--socket={self.dir}/mysqld.sock",
                                   f"--pid-file={self.dir}/mysqld.pid", "--skip-log-bin",
                                   "--innodb-flush-log-at-trx-commit=0"],
            "mariadbd", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid


SERVFAIL_UPSTREAM = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    query, peer = s.recvfrom(4096)
    if len(query) >= 12:
        # QR, the query's opcode and RD; RA and RCODE 2 (SERVFAIL); the question echoed.
        head = bytes([query[0], query[1], 0x80 | (query[2] & 0x79), 0x80 | 2])
        s.sendto(head + query[4:], peer)
"""


class ServfailUpstream:
    """A DNS server over UDP that answers SERVFAIL to every query: the broken
    upstream dnsmasq forwards to. `.port`, `.pid`."""

    def __init__(self, cleanup):
        self.proc = spawn([PYTHON, "-c", SERVFAIL_UPSTREAM], cleanup, stdout=subprocess.PIPE,
                          text=True)
        self.port = int(self.proc.stdout.readline())
        self.pid = self.proc.pid


class Dnsmasq:
    """dnsmasq answering for the zone `test` alone: `*.ok.test` has A 10.0.0.1,
    every other name in it is NXDOMAIN. UDP and TCP on `.port`. With
    `servfail_upstream` (a port), names under `broken.example` are forwarded
    there (UDP), whose SERVFAIL dnsmasq passes on."""

    def __init__(self, cleanup, servfail_upstream=None):
        self.dir = _tmpdir(cleanup, "kerno-dnsmasq-")
        forward = [f"--server=/broken.example/127.0.0.1#{servfail_upstream}"] \
            if servfail_upstream else []
        self.proc, self.port = _start(
            cleanup, lambda port: ["dnsmasq", "-k", "--conf-file=/dev/null", f"--port={port}",
                                   "--listen-address=127.0.0.1", "--bind-interfaces",
                                   "--no-resolv", "--no-hosts", "--local=/test/",
                                   "--address=/ok.test/10.0.0.1",
                                   f"--pid-file={self.dir}/dnsmasq.pid"] + forward,
            "dnsmasq", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid


def run_client(argv, **kwargs):
    """Runs a client to completion: (pid, CompletedProcess-like stdout text, rc)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **kwargs)
    out, _ = proc.communicate(timeout=240)
    return proc.pid, out, proc.returncode


def dig(dns, names, tcp=False):
    """A queries for `names` from one dig process against dnsmasq `dns`: (pid, output)."""
    path = os.path.join(dns.dir, f"queries-{'tcp' if tcp else 'udp'}")
    with open(path, "w") as f:
        f.write("".join(f"{name} A\n" for name in names))
    argv = ["dig", "@127.0.0.1", "-p", str(dns.port), "+tries=1", "+time=5", "-f", path]
    if tcp:
        argv.append("+tcp")
    pid, out, rc = run_client(argv)
    ASSERT_EQ(rc, 0, "dig exit code")
    return pid, out


def settle():
    """Lets the last exchanges' connections close before the agent stops."""
    time.sleep(1.5)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "pg-template":
        sys.exit("usage: dbpeers.py pg-template DIR")
    pg_template(sys.argv[2])
