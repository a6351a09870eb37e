"""Producers of the errors Kerno detects in the kernel, for test_errors.py.

Every function makes a known number of real errors on 127.0.0.1 (ephemeral
ports only) or in child processes, and cleans up what it set up.
"""

import ctypes
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from asserts import FATAL, log

PYTHON = "/usr/bin/python3"
PR_SET_NAME = 15
# struct tcp_info: 8 one-byte fields, then u32s; tcpi_total_retrans is the 24th.
TCPI_TOTAL_RETRANS_OFFSET = 8 + 23 * 4


def closed_port():
    """A port nobody listens on (bound then released: small race, fine on loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused(n):
    """n connects to a closed port; returns the port."""
    port = closed_port()
    for _ in range(n):
        with socket.socket() as s:
            try:
                s.connect(("127.0.0.1", port))
                FATAL(f"connect to closed port {port} succeeded")
            except ConnectionRefusedError:
                pass
    return port


def retrans_segs():
    """The network namespace's TcpRetransSegs (/proc/net/snmp)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Tcp:")]
    return int(rows[1][rows[0].index("RetransSegs")])


def set_comm(name):
    ctypes.CDLL(None).prctl(PR_SET_NAME, name.encode(), 0, 0, 0)


def _timeouts(n):
    """Inside a namespace of its own: n connects that time out. Their SYNs
    go to a listener whose accept queue is full (backlog 0 and one
    connection never accepted), which drops them; TCP_SYNCNT 1 gives up
    after a few seconds. Returns (port, outcomes, TcpRetransSegs delta)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))
    time.sleep(0.1)  # the filler's handshake is complete: the queue is full
    before = retrans_segs()
    results = []

    def one():
        s = socket.socket()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)
        try:
            s.connect(("127.0.0.1", port))
            results.append("connected")
        except TimeoutError:
            results.append("timeout")
        except OSError as exc:
            results.append(repr(exc))
        finally:
            s.close()

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    delta = retrans_segs() - before
    filler.close()
    listener.close()
    return port, sorted(results), delta


class Netns:
    """A network namespace of the test's own, with lo up; deleted at cleanup."""

    def __init__(self, cleanup):
        self.name = f"kerno-errtest-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        cleanup.callback(subprocess.run, ["ip", "netns", "del", self.name], check=False)
        subprocess.run(["ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up"],
                       check=True)

    def run(self, *args):
        argv = ["ip", "netns", "exec", self.name, PYTHON, os.path.abspath(__file__), *args]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if res.returncode:
            FATAL(f"{' '.join(args)} in {self.name}: {res.stderr.strip()[-500:]}")
        return json.loads(res.stdout)


def timeouts(cleanup, n, comm):
    """n connect timeouts by a process named comm, in a namespace where no
    one else retransmits: returns (port, TcpRetransSegs delta)."""
    out = Netns(cleanup).run("timeouts", str(n), comm)
    if out["outcomes"] != ["timeout"] * n:
        FATAL(f"connects to the full listener: {out['outcomes']}, expected {n} timeouts")
    return out["port"], out["retrans_segs"]


def resets(n):
    """A server that resets n connections (SO_LINGER 0 close) while its
    clients wait in ESTABLISHED. Returns the server's port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(n)
    port = listener.getsockname()[1]
    got = 0
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        s, _ = listener.accept()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        try:
            if c.recv(1) == b"":
                FATAL("the client saw an orderly close, not a reset")
        except ConnectionResetError:
            got += 1
        c.close()
    listener.close()
    if got != n:
        FATAL(f"{got} of {n} clients saw their reset")
    return port


def crash(name, how):
    """A child that renames itself (comm) then dies: how is 'segv' or 'abort'."""
    body = {"segv": "import ctypes; ctypes.string_at(0)", "abort": "import os; os.abort()"}[how]
    code = (f"import ctypes; ctypes.CDLL(None).prctl({PR_SET_NAME}, {name.encode()!r}, 0, 0, 0)\n"
            f"{body}\n")
    res = subprocess.run([PYTHON, "-c", code], capture_output=True)
    return res.returncode


def _cgroup_memory_root():
    """(root, v2?) of a hierarchy with the memory controller."""
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        fstype = fields[fields.index("-") + 1]
        mnt = fields[4]
        if fstype == "cgroup2":
            try:
                if "memory" in open(os.path.join(mnt, "cgroup.controllers")).read().split():
                    return mnt, True
            except OSError:
                pass
        elif fstype == "cgroup" and "memory" in fields[-1].split(","):
            return mnt, False
    return None, False


class MemoryCgroup:
    """A memory-limited cgroup made for one test (v2 memory.max, or v1
    memory.limit_in_bytes where the memory controller is on v1), removed
    at cleanup."""

    def __init__(self, cleanup, limit):
        root, self.v2 = _cgroup_memory_root()
        if not root:
            FATAL("no cgroup hierarchy with the memory controller")
        parent = root
        if self.v2:
            # A child of the root needs the controller enabled in the root's subtree.
            with open(os.path.join(root, "cgroup.subtree_control"), "w") as f:
                f.write("+memory")
        self.path = tempfile.mkdtemp(prefix="kerno-errtest-", dir=parent)
        cleanup.callback(self.remove)
        if self.v2:
            self._write("memory.max", str(limit))
            if os.path.exists(os.path.join(self.path, "memory.swap.max")):
                self._write("memory.swap.max", "0")
        else:
            self._write("memory.limit_in_bytes", str(limit))
            if os.path.exists(os.path.join(self.path, "memory.memsw.limit_in_bytes")):
                self._write("memory.memsw.limit_in_bytes", str(limit))
        log(f"memory cgroup {self.path} limited to {limit} bytes")

    def _write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(value)

    def remove(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)  # a killed process still leaving
        log(f"could not remove {self.path}")

    def oom(self, name, size):
        """A child that joins the cgroup, renames itself and touches `size` bytes."""
        procs = os.path.join(self.path, "cgroup.procs")
        code = (f"import ctypes, os\n"
                f"open({procs!r}, 'w').write(str(os.getpid()))\n"
                f"ctypes.CDLL(None).prctl({PR_SET_NAME}, {name.encode()!r}, 0, 0, 0)\n"
                f"b = b'x' * {size}\n")
        res = subprocess.run([PYTHON, "-c", code], capture_output=True)
        return res.returncode


def main(argv):
    if argv[1] == "timeouts":
        set_comm(argv[3])
        port, outcomes, delta = _timeouts(int(argv[2]))
        print(json.dumps({"port": port, "outcomes": outcomes, "retrans_segs": delta}))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
