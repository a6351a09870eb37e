#!/usr/bin/python3
"""`make bench`, errors row: BPF time per run of each error detector (kern/errors.bpf.c).

With `kerno run` up, three loads on loopback: short connections that all
succeed (the detectors' common path: state changes that are no error),
connects to a closed port (a refusal and a reset sent each), and resets
(SO_LINGER 0 closes). The kernel's own statistics (kernel.bpf_stats_enabled,
switched on for the run and restored) give run_time_ns / run_cnt per
program and load.

    bench_errors.py [--kerno build/kerno] [-n N]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "host"))
import bpfids  # noqa: E402

STATS = "/proc/sys/kernel/bpf_stats_enabled"


def prog_stats(pid):
    """{name: (run_time_ns, run_cnt)} of the error detectors the agent `pid` holds."""
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True,
                         check=True).stdout
    held = bpfids.ids_held_by(pid, "prog")
    return {p["name"]: (p.get("run_time_ns", 0), p.get("run_cnt", 0))
            for p in json.loads(out) if p.get("name", "").startswith("err_") and p["id"] in held}


def ok_connections(n):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    port = listener.getsockname()[1]

    def accept():
        for _ in range(n):
            c, _ = listener.accept()
            c.close()

    t = threading.Thread(target=accept)
    t.start()
    for _ in range(n):
        socket.create_connection(("127.0.0.1", port)).close()
    t.join()
    listener.close()


def refused(n):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    for _ in range(n):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
        except ConnectionRefusedError:
            pass


def resets(n):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    port = listener.getsockname()[1]
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        s, _ = listener.accept()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        c.close()
    listener.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kerno", default="build/kerno")
    ap.add_argument("-n", type=int, default=5000)
    args = ap.parse_args()
    old = open(STATS).read().strip()
    data = tempfile.mkdtemp(prefix="kerno-bench-errors-")
    env = dict(os.environ, KERNO_PIN_DIR=os.environ.get("KERNO_PIN_DIR", "/sys/fs/bpf/kerno-bench"))
    agent = subprocess.Popen([args.kerno, "run", "--data-dir", data, "--interval", "1",
                              "--duration", "300"], env=env, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        with open(STATS, "w") as f:
            f.write("1")
        deadline = time.monotonic() + 60
        while not prog_stats(agent.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"{'load':<22} {'program':<20} {'runs':>8} {'ns/run':>8}")
        for name, load in (("ok connections", ok_connections), ("refused connects", refused),
                           ("resets (SO_LINGER 0)", resets)):
            before = prog_stats(agent.pid)
            load(args.n)
            after = prog_stats(agent.pid)
            for prog, (ns, cnt) in sorted(after.items()):
                dns, dcnt = ns - before.get(prog, (0, 0))[0], cnt - before.get(prog, (0, 0))[1]
                if dcnt:
                    print(f"{name:<22} {prog:<20} {dcnt:>8} {dns / dcnt:>8.0f}")
    finally:
        with open(STATS, "w") as f:
            f.write(old)
        os.killpg(agent.pid, signal.SIGTERM)
        agent.wait()
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
