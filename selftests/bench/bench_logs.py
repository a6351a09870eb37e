#!/usr/bin/python3
"""`make bench`, log row: lines/s and MiB/s per core from file to gzip objects, and agent RSS.

A file of realistic lines (ten templates with variable fields, one line in
ten thousand an error, about 120 bytes each) is generated once, then moved
into a directory `kerno run --logs` watches, after the agent is up. The
agent's own CPU time (utime + stime of every thread, from /proc) from that
moment until its checkpoint covers the whole file gives the per-core rates;
VmHWM gives its peak RSS. Two modes: the default edge filtering (errors, new
templates and a 1 % baseline are stored) and --log-keep-all (every line is
stored: JSON encoding and gzip dominate).

    bench_logs.py [--kerno build/kerno] [--lines N] [--runs N]
"""

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TEMPLATES = [
    "GET /api/v1/users/{n} 200 {m}ms user-agent=Mozilla/5.0 region=eu-west-1 cache=hit",
    "INFO  [worker-{m}] processed batch id={n} items={m} duration={m}ms queue=orders",
    "level=info msg=\"connection accepted\" remote=10.0.{m}.{m}:{n} proto=h2 tls=1.3",
    "{{\"level\":\"info\",\"ts\":\"2026-11-26T12:00:00Z\",\"msg\":\"cache refresh\",\"keys\":{n}}}",
    "DEBUG sql: SELECT * FROM orders WHERE customer_id = {n} LIMIT {m} -- took {m} us",
    "kube-proxy: syncing iptables rules for service default/svc-{m} endpoints={m} id={n}",
    "2026-11-26 12:00:00,123 INFO scheduler: job {n} scheduled in {m} ms on node-{m}",
    "I1126 12:00:00.000000 {m} reflector.go:{m}] watch of *v1.Pod ended id={n}",
    "audit: user=svc-{m} verb=get resource=configmaps ns=kube-system rv={n} ok",
    "metrics flushed series={n} samples={m} exporter=prometheus remote_write=ok",
]
ERROR = "ERROR payment gateway returned 502 for order {n} after {m} ms"


def make_file(path, n_lines):
    rng = random.Random(1)
    with open(path, "w") as f:
        block = []
        for i in range(n_lines):
            tpl = ERROR if i % 10000 == 5000 else TEMPLATES[rng.randrange(10)]
            block.append(tpl.format(n=i, m=rng.randrange(1000)))
            if len(block) == 100000:
                f.write("\n".join(block) + "\n")
                block = []
        if block:
            f.write("\n".join(block) + "\n")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def checkpoint_of(data_dir, ino):
    try:
        with open(os.path.join(data_dir, "logs", "checkpoints")) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return 0
    pending = [ln[8:] for ln in lines if ln.startswith("pending ")]
    stored = pending and os.path.exists(os.path.join(data_dir, "objects", pending[0]))
    for ln in lines[1:]:
        fields = ln.split(" ")
        if len(fields) >= 7 and fields[1] == str(ino):
            return int(fields[5] if stored else fields[4])
    return 0


def run_once(kerno, source, keep_all):
    work = tempfile.mkdtemp(prefix="kerno-bench-logs-")
    try:
        watched = os.path.join(work, "logs")
        data = os.path.join(work, "data")
        os.mkdir(watched)
        staged = os.path.join(work, "staged.log")
        shutil.copyfile(source, staged)
        size = os.path.getsize(staged)
        argv = [kerno, "run", "--data-dir", data, "--interval", "1", "--duration", "600",
                "--logs", f"{watched}/*.log", "--log-pods-root", "", "--log-docker-root", "",
                "--log-rate-limit", "0", "--object-max-age", "1"]
        if keep_all:
            argv.append("--log-keep-all")
        env = dict(os.environ)
        env.setdefault("KERNO_PIN_DIR", "/sys/fs/bpf/kerno-bench-logs")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while not os.path.exists(os.path.join(data, "uplink")) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # the capture is attached, the log thread idles
            cpu0 = cpu_seconds(proc.pid)
            t0 = time.monotonic()
            final = os.path.join(watched, "app.log")
            os.rename(staged, final)
            ino = os.stat(final).st_ino
            deadline = time.monotonic() + 600
            while checkpoint_of(data, ino) < size:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("agent died or did not catch up: "
                                       + proc.stderr.read().decode(errors="replace")[-500:])
                time.sleep(0.05)
            wall = time.monotonic() - t0
            cpu = cpu_seconds(proc.pid) - cpu0
            rss = peak_rss_mib(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        objects = 0
        gz = 0
        for root, _, files in os.walk(os.path.join(data, "objects", "logs")):
            for name in files:
                objects += 1
                gz += os.path.getsize(os.path.join(root, name))
        return {"cpu": cpu, "wall": wall, "rss": rss, "bytes": size, "objects": objects, "gz": gz}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kerno", default="build/kerno")
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    kerno = os.path.abspath(args.kerno)
    src_dir = tempfile.mkdtemp(prefix="kerno-bench-src-")
    try:
        source = os.path.join(src_dir, "source.log")
        make_file(source, args.lines)
        print(f"log bench: {args.lines} lines, {os.path.getsize(source) / 2**20:.0f} MiB, "
              f"{args.runs} runs per mode, medians", flush=True)
        print(f"{'mode':<12} {'lines/s/core':>13} {'MiB/s/core':>11} {'wall lines/s':>13} "
              f"{'peak RSS MiB':>13} {'objects':>8} {'gzip MiB':>9}")
        for mode, keep_all in (("edge", False), ("keep-all", True)):
            runs = [run_once(kerno, source, keep_all) for _ in range(args.runs)]
            cpu = statistics.median(r["cpu"] for r in runs)
            wall = statistics.median(r["wall"] for r in runs)
            size = runs[0]["bytes"]
            print(f"{mode:<12} {args.lines / cpu:>13,.0f} {size / 2**20 / cpu:>11.1f} "
                  f"{args.lines / wall:>13,.0f} {max(r['rss'] for r in runs):>13.1f} "
                  f"{runs[0]['objects']:>8} {runs[0]['gz'] / 2**20:>9.2f}", flush=True)
    finally:
        shutil.rmtree(src_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
