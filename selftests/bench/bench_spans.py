#!/usr/bin/python3
"""What spans cost the data path (`make bench-spans`; not part of the tests).

nginx (one worker, keep-alive, `return 200`) and h2load --h1 -n N: every
request is seen four times (nginx's recv and send, h2load's send and recv).
With kernel.bpf_stats_enabled=1, the run time of all the agent's programs
divided by N is the BPF cost of one request, both ends included. Configs,
alternated over BENCH_ROUNDS rounds, medians reported:

  off          --no-spans
  spans        spans on, default 1 % baseline, payloads off (--span-payload-bytes 0)
  payloads     spans on, default 1 % baseline, 1 KiB payloads (the default)

Environment: BENCH_ROUNDS (5), BENCH_REQUESTS (100000), KERNO (build/kerno).
"""

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "selftests", "host"))
sys.path.insert(0, HERE)

import h2load  # noqa: E402
from bench import bpf_progs_of, start_agent  # noqa: E402
from servers import Nginx  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "100000"))
CONFIGS = {
    "off": ["--no-spans"],
    "spans": ["--span-payload-bytes", "0"],
    "payloads": [],
}


def ns_per_request(port, extra):
    data_dir = tempfile.mkdtemp(prefix="kerno-bench-spans-")
    old = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
    agent = start_agent(data_dir, extra)
    try:
        subprocess.run(["sysctl", "-q", "-w", "kernel.bpf_stats_enabled=1"], check=True)
        before = {p["id"]: p.get("run_time_ns", 0) for p in bpf_progs_of(agent.pid)}
        res = h2load.run(f"http://127.0.0.1:{port}/ok", n=REQUESTS, clients=20)
        after = bpf_progs_of(agent.pid)
    finally:
        subprocess.run(["sysctl", "-q", "-w", f"kernel.bpf_stats_enabled={old}"], check=False)
        agent.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    total = sum(p.get("run_time_ns", 0) - before.get(p["id"], 0) for p in after)
    return total / res.done


def main():
    results = {name: [] for name in CONFIGS}
    with contextlib.ExitStack() as cleanup:
        nginx = Nginx(cleanup)
        for r in range(ROUNDS):
            names = list(CONFIGS) if r % 2 == 0 else list(reversed(CONFIGS))
            for name in names:
                results[name].append(ns_per_request(nginx.port, CONFIGS[name]))
                print(f"round {r} {name}: {results[name][-1]:.0f} ns", file=sys.stderr)
    off = statistics.median(results["off"])
    print("| config | BPF ns per request (both ends) | delta vs off |")
    print("|---|---|---|")
    for name in CONFIGS:
        med = statistics.median(results[name])
        print(f"| {name} | {med:.0f} | {med - off:+.0f} |")


if __name__ == "__main__":
    main()
