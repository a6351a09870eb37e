#!/usr/bin/python3
"""Kerno overhead benchmark (`make bench`; not part of the tests).

nginx (one worker, keep-alive, no access log, `return 200`) pinned to one
core and h2load --h1 at saturation pinned to the other. Each round measures
six configurations back to back, in alternating order so drift does not
favour one: no agent, `kerno run`, `kerno bench-floor` (empty programs at
the same attach points: the cost of the hooks themselves), the agent with
h2load left alone, and the agent and floor with --hook sys_exit. Reports the
median throughput ratios, BPF run time per program from
kernel.bpf_stats_enabled, agent CPU time and peak RSS, as Markdown on stdout
and in build/bench.md.

HTTPS (nginx over TLS) and HTTP/2 (nghttpd h2c, h2load -m 10) rows measure
no agent against the agent the same way.

Environment: BENCH_ROUNDS (7), BENCH_SECONDS (10), BENCH_CLIENTS (32), BENCH_PIN (1),
KERNO (build/kerno), BENCH_ONLY (a comma-separated list of configurations, e.g.
h2_none,h2_agent: only those, and only their medians reported).
BENCH_ONLY=https_cost: the HTTPS pair alone, each h2load -n BENCH_HTTPS_N (50000), with
the CPU time per request of nginx and h2load beside the throughput (holds better than
the throughput on a machine busy with other work); reported alone.
"""

import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "selftests", "host"))

import bpfids  # noqa: E402
import h2load  # noqa: E402
import otlp  # noqa: E402
import tlspeers  # noqa: E402
from servers import Nginx, cpu_seconds, free_port, spawn, wait_listening  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "32"))
KERNO = os.path.abspath(os.environ.get("KERNO", os.path.join(REPO, "build", "kerno")))
# Separate cores for server and load generator, unless BENCH_PIN=0.
PIN = os.environ.get("BENCH_PIN", "1") != "0"
NGINX_CPU, LOAD_CPU = (0, 1) if PIN else (None, None)
def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def prog_ids_held_by(pid):
    return bpfids.ids_held_by(pid, "prog")


def bpf_progs_of(pid):
    """Programs `pid` holds, as dicts from `bpftool prog show -j`."""
    ids = prog_ids_held_by(pid)
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True,
                         check=True).stdout
    return [p for p in json.loads(out or "[]") if p.get("id") in ids]


class Proc:
    """A kerno subcommand in its own process group, stopped with SIGTERM."""

    def __init__(self, argv):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid

    def check_alive(self, what):
        if self.proc.poll() is not None:
            self.log.seek(0)
            output = self.log.read().decode(errors="replace").strip()
            raise RuntimeError(f"{what} exited with {self.proc.returncode}: {output[-300:]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


def start_agent(data_dir, extra=()):
    agent = Proc([KERNO, "run", "--data-dir", data_dir, "--duration", "3600", *extra])
    deadline = time.monotonic() + 60
    while not any(e.get("type") == "hello" for e in _safe_envelopes(data_dir)):
        agent.check_alive("kerno run")
        if time.monotonic() > deadline:
            agent.stop()
            raise RuntimeError("kerno run wrote no hello within 60 s")
        time.sleep(0.1)
    return agent


def _safe_envelopes(data_dir):
    try:
        return otlp.read_envelopes(data_dir)
    except ValueError:
        return []  # a line half written


def start_floor(extra=()):
    """bench-floor has no hello: wait until its program count stops growing."""
    floor = Proc([KERNO, "bench-floor", "--duration", "3600", *extra])
    deadline, last, stable_since = time.monotonic() + 60, -1, time.monotonic()
    while time.monotonic() < deadline:
        floor.check_alive("kerno bench-floor")
        count = len(prog_ids_held_by(floor.pid))
        if count != last:
            last, stable_since = count, time.monotonic()
        elif count > 0 and time.monotonic() - stable_since > 1.0:
            return floor
        time.sleep(0.2)
    floor.stop()
    raise RuntimeError("kerno bench-floor attached no programs within 60 s")


def load(port, scheme="http"):
    return h2load.run(f"{scheme}://127.0.0.1:{port}/ok", duration=SECONDS, warmup=1, clients=CLIENTS,
                      cpu=LOAD_CPU, timeout=SECONDS * 3 + 30).req_per_s


def load_https(port):
    return load(port, "https")


def run_none(port, stats):
    return load(port)


def run_agent(port, stats, extra=(), load_fn=load):
    data_dir = tempfile.mkdtemp(prefix="kerno-bench-")
    try:
        agent = start_agent(data_dir, extra)
        try:
            cpu0, t0 = cpu_seconds(agent.pid), time.monotonic()
            rps = load_fn(port)
            stats["agent_cpu_pct"].append(100 * (cpu_seconds(agent.pid) - cpu0) / (time.monotonic() - t0))
            stats["agent_cpu_us_per_req"].append(1e6 * (cpu_seconds(agent.pid) - cpu0) / (rps * SECONDS))
            stats["agent_hwm_kib"].append(vm_hwm_kib(agent.pid))
        finally:
            stats["agent_rc"].append(agent.stop())
        return rps
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def run_server_only(port, stats):
    """The agent with the load generator left alone (--ignore-process
    h2load): h2load saturates its own core before nginx does, so in the
    plain agent runs the capture's work in h2load's syscalls lowers the
    figure too. This isolates what nginx itself loses."""
    return run_agent(port, {k: [] for k in stats}, extra=("--ignore-process", "h2load"))


def run_floor(port, stats, extra=()):
    if stats.get("floor_error"):
        return None
    try:
        floor = start_floor(extra)
    except RuntimeError as exc:
        stats["floor_error"] = " ".join(str(exc).split())
        print(f"bench: floor unavailable: {stats['floor_error']}", file=sys.stderr)
        return None
    try:
        return load(port)
    finally:
        floor.stop()


# The syscall flavour beside the default one, so that the hook choice is
# argued from figures: agent and floor with --hook sys_exit.
SYS_EXIT = ("--hook", "sys_exit")


def run_agent_sys_exit(port, stats):
    return run_agent(port, {k: [] for k in stats}, extra=SYS_EXIT)


def run_floor_sys_exit(port, stats):
    return run_floor(port, stats, extra=SYS_EXIT)


# HTTPS: nginx over TLS (tlspeers.TlsNginx, its own port) and h2load --h1 over TLS; the agent
# measures it through its uprobes on OpenSSL (README, "TLS").
HTTPS = {}


def run_https_none(port, stats):
    return load_https(HTTPS["port"])


def run_https_agent(port, stats):
    return run_agent(HTTPS["port"], {k: [] for k in stats}, load_fn=load_https)


# HTTP/2: nghttpd (h2c by prior knowledge, pinned like nginx) serving one small file, and
# h2load over HTTP/2 with 10 streams per connection; the agent decodes every header block.
H2 = {}
H2_STREAMS = 10


def start_nghttpd(cleanup):
    docroot = tempfile.mkdtemp(prefix="kerno-bench-h2-")
    cleanup.callback(shutil.rmtree, docroot, ignore_errors=True)
    with open(os.path.join(docroot, "ok"), "w") as f:
        f.write("ok\n")
    for _ in range(5):
        port = free_port()
        argv = ["nghttpd", "--no-tls", "-d", docroot, str(port)]
        if NGINX_CPU is not None:
            argv = ["taskset", "-c", str(NGINX_CPU)] + argv
        proc = spawn(argv, cleanup, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_listening(port, proc):
            return port
    raise RuntimeError("nghttpd did not start")


def load_h2(port):
    argv = ["h2load", "-t", "1", "-c", str(CLIENTS), "-m", str(H2_STREAMS), "-D", str(SECONDS),
            "--warm-up-time", "1", f"http://127.0.0.1:{port}/ok"]
    if LOAD_CPU is not None:
        argv = ["taskset", "-c", str(LOAD_CPU)] + argv
    res = subprocess.run(argv, capture_output=True, text=True, timeout=SECONDS * 3 + 30)
    if res.returncode:
        raise RuntimeError(f"h2load exited {res.returncode}:\n{res.stdout}{res.stderr}")
    return h2load.H2loadResult(res.stdout).req_per_s


def run_h2_none(port, stats):
    return load_h2(H2["port"])


def run_h2_agent(port, stats):
    return run_agent(H2["port"], {k: [] for k in stats}, load_fn=load_h2)


PROG_STATS_RUNS = int(os.environ.get("BENCH_PROG_STATS_RUNS", "3"))


def prog_stats_once(port):
    """One agent run under load with kernel.bpf_stats_enabled=1 (the stats
    cost a little themselves, so the throughput rounds run without): per
    program (name, type, run_cnt, run_time_ns), and the requests served."""
    data_dir = tempfile.mkdtemp(prefix="kerno-bench-")
    old = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
    agent = start_agent(data_dir)
    try:
        subprocess.run(["sysctl", "-q", "-w", "kernel.bpf_stats_enabled=1"], check=True)
        rps = load(port)
        progs = bpf_progs_of(agent.pid)
    finally:
        subprocess.run(["sysctl", "-q", "-w", f"kernel.bpf_stats_enabled={old}"], check=False)
        agent.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return [(p.get("name", "?"), p.get("type", "?"), p.get("run_cnt", 0), p.get("run_time_ns", 0))
            for p in progs], rps * SECONDS


def prog_stats(port):
    """PROG_STATS_RUNS agent runs under load (one run's average strays by 10 %
    on a shared machine): per program its runs in all and the median, lowest
    and highest of the runs' average run times; and the BPF time per request,
    all programs, the median over the runs."""
    per_prog, per_req = {}, []
    for _ in range(PROG_STATS_RUNS):
        progs, requests = prog_stats_once(port)
        per_req.append(sum(ns for _, _, _, ns in progs) / max(requests, 1))
        for name, ptype, cnt, ns in progs:
            entry = per_prog.setdefault(name, [ptype, 0, []])
            entry[1] += cnt
            if cnt:
                entry[2].append(ns / cnt)
    rows = [(name, ptype, cnt, median(avgs) or 0.0, min(avgs or [0.0]), max(avgs or [0.0]))
            for name, (ptype, cnt, avgs) in per_prog.items()]
    return sorted(rows), median(per_req)


PINGPONG = os.path.join(REPO, "build", "pingpong")


def pingpong_ns(runs=5, exchanges=100000):
    """Best of `runs` pingpong timings, ns per exchange: the least disturbed."""
    cmd = [PINGPONG, str(exchanges)]
    if LOAD_CPU is not None:
        cmd = ["taskset", "-c", str(LOAD_CPU)] + cmd
    return min(float(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
               for _ in range(runs))


def pingpong_costs():
    """ns per HTTP exchange (client and server in one thread, see
    pingpong.c) with nothing attached, with the floor, with the agent."""
    costs = {"none": pingpong_ns()}
    floor = start_floor()
    try:
        costs["floor"] = pingpong_ns()
    finally:
        floor.stop()
    data_dir = tempfile.mkdtemp(prefix="kerno-bench-")
    agent = start_agent(data_dir)
    try:
        costs["agent"] = pingpong_ns()
    finally:
        agent.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return costs


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def report(rounds, stats, progs, bpf_ns_per_req, pp):
    ratios_agent = [r["agent"] / r["none"] for r in rounds]
    ratios_floor = [r["floor"] / r["none"] if r["floor"] else None for r in rounds]
    ratios_server = [r["server_only"] / r["none"] for r in rounds]
    ratios_agent_se = [r["agent_sys_exit"] / r["none"] for r in rounds]
    ratios_floor_se = [r["floor_sys_exit"] / r["none"] if r["floor_sys_exit"] else None
                       for r in rounds]
    ratios_https = [r["https_agent"] / r["https_none"] for r in rounds]
    ratios_h2 = [r["h2_agent"] / r["h2_none"] for r in rounds]
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    lines = [
        "# Kerno benchmark",
        "",
        f"Machine: {cpu}, {os.cpu_count()} CPUs, kernel {platform.release()}. nginx (1 worker, keep-alive, "
        f"CPU {fmt(NGINX_CPU, 'd')}) and h2load --h1 -c {CLIENTS} -D {SECONDS} (CPU {fmt(LOAD_CPU, 'd')}); "
        f"{len(rounds)} rounds of none/agent/floor/agent-with-h2load-ignored/agent and floor with "
        f"--hook sys_exit, in alternating order. The agent and floor use the hooks `auto` picks "
        f"(`kerno hooks`).",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| median throughput ratio agent / none | {fmt(median(ratios_agent), '.3f')} |",
        f"| median throughput ratio agent / none, h2load not captured (--ignore-process h2load) | "
        f"{fmt(median(ratios_server), '.3f')} |",
        f"| median throughput ratio floor / none (empty programs, same hooks) | "
        f"{fmt(median(ratios_floor), '.3f')}{' (' + stats['floor_error'] + ')' if stats.get('floor_error') else ''} |",
        f"| median throughput ratio agent / none, --hook sys_exit | "
        f"{fmt(median(ratios_agent_se), '.3f')} |",
        f"| median throughput ratio floor / none, --hook sys_exit | "
        f"{fmt(median(ratios_floor_se), '.3f')} |",
        f"| median throughput ratio agent / none over HTTPS (nginx TLS, h2load --h1 over TLS) | "
        f"{fmt(median(ratios_https), '.3f')} |",
        f"| median HTTPS req/s none / agent | {fmt(median([r['https_none'] for r in rounds]), '.0f')} / "
        f"{fmt(median([r['https_agent'] for r in rounds]), '.0f')} |",
        f"| median throughput ratio agent / none over HTTP/2 (nghttpd h2c, h2load -m {H2_STREAMS}) | "
        f"{fmt(median(ratios_h2), '.3f')} |",
        f"| median HTTP/2 req/s none / agent | {fmt(median([r['h2_none'] for r in rounds]), '.0f')} / "
        f"{fmt(median([r['h2_agent'] for r in rounds]), '.0f')} |",
        f"| median req/s none / agent / floor | {fmt(median([r['none'] for r in rounds]), '.0f')} / "
        f"{fmt(median([r['agent'] for r in rounds]), '.0f')} / {fmt(median([r['floor'] for r in rounds]), '.0f')} |",
        f"| agent CPU, median of runs (% of one core) | {fmt(median(stats['agent_cpu_pct']), '.1f')} |",
        f"| agent CPU per request, median (us) | {fmt(median(stats['agent_cpu_us_per_req']), '.3f')} |",
        f"| agent peak RSS, max VmHWM (MiB) | {fmt(max(stats['agent_hwm_kib'] or [0]) / 1024, '.1f')} |",
        f"| BPF run time per request, all programs (ns) | {fmt(bpf_ns_per_req, '.0f')} |",
        f"| agent exit codes | {sorted(set(stats['agent_rc']))} |",
        "",
        f"| one exchange, ns (pingpong: none / floor / agent) | {pp['none']:.0f} / {pp['floor']:.0f} / "
        f"{pp['agent']:.0f} |",
        f"| added per exchange by the hooks / by the capture's work (ns) | "
        f"{pp['floor'] - pp['none']:.0f} / {pp['agent'] - pp['floor']:.0f} |",
        "",
        f"| BPF program | type | run_cnt ({PROG_STATS_RUNS} runs) | avg run time (ns), median of runs | "
        "lowest / highest run |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {name} | {ptype} | {cnt} | {avg:.0f} | {lo:.0f} / {hi:.0f} |"
              for name, ptype, cnt, avg, lo, hi in progs if cnt]
    lines += ["", "| round | none req/s | agent req/s | floor req/s | h2load ignored req/s | "
              "sys_exit agent req/s | sys_exit floor req/s | agent/none | floor/none | "
              "h2load ignored/none | sys_exit agent/none | sys_exit floor/none |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for i, r in enumerate(rounds, 1):
        lines.append(f"| {i} | {r['none']:.0f} | {r['agent']:.0f} | {fmt(r['floor'], '.0f')} | "
                     f"{r['server_only']:.0f} | {r['agent_sys_exit']:.0f} | "
                     f"{fmt(r['floor_sys_exit'], '.0f')} | {ratios_agent[i - 1]:.3f} | "
                     f"{fmt(ratios_floor[i - 1], '.3f')} | {ratios_server[i - 1]:.3f} | "
                     f"{ratios_agent_se[i - 1]:.3f} | {fmt(ratios_floor_se[i - 1], '.3f')} |")
    return "\n".join(lines) + "\n"


def only_report(rounds, kinds):
    """BENCH_ONLY: the medians of the configurations run, and agent / none where both ran."""
    lines = ["| configuration | median req/s |", "| --- | --- |"]
    lines += [f"| {k} | {median([r[k] for r in rounds]):.0f} |" for k in kinds]
    for none, agent in (("none", "agent"), ("https_none", "https_agent"), ("h2_none", "h2_agent")):
        if none in kinds and agent in kinds:
            lines.append(f"| {agent} / {none} | "
                         f"{median([r[agent] / r[none] for r in rounds]):.3f} |")
    return "\n".join(lines) + "\n"


HTTPS_N = int(os.environ.get("BENCH_HTTPS_N", "50000"))


def https_cost(nginx, agent_args=None):
    """h2load -n HTTPS_N over TLS, with the agent unless agent_args is None:
    (req/s, CPU us per request of nginx's worker and h2load together). The
    CPU time per request holds on a machine busy with other work, where the
    throughput follows whatever else runs."""
    import resource

    agent, data_dir = None, None
    if agent_args is not None:
        data_dir = tempfile.mkdtemp(prefix="kerno-bench-")
        agent = start_agent(data_dir, agent_args)
    try:
        workers = nginx.worker_pids()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu0 = sum(cpu_seconds(w) for w in workers) + ru.ru_utime + ru.ru_stime
        t0 = time.monotonic()
        h2load.run(f"https://127.0.0.1:{nginx.port}/ok", n=HTTPS_N, clients=CLIENTS, cpu=LOAD_CPU,
                   timeout=600)
        elapsed = time.monotonic() - t0
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = sum(cpu_seconds(w) for w in workers) + ru.ru_utime + ru.ru_stime - cpu0
        return HTTPS_N / elapsed, 1e6 * cpu / HTTPS_N
    finally:
        if agent:
            agent.stop()
            shutil.rmtree(data_dir, ignore_errors=True)


def https_only():
    """BENCH_ONLY=https_cost: rounds of the HTTPS pair alone, in alternating order."""
    kinds = {"https_none": None, "https_agent": ()}
    rounds = []
    with contextlib.ExitStack() as cleanup:
        certs_dir = tempfile.mkdtemp(prefix="kerno-bench-tls-")
        cleanup.callback(shutil.rmtree, certs_dir, ignore_errors=True)
        nginx = tlspeers.TlsNginx(cleanup, tlspeers.Certs(certs_dir), cpu=NGINX_CPU)
        https_cost(nginx)  # warm-up run, not reported
        for i in range(ROUNDS):
            order = list(kinds) if i % 2 == 0 else list(kinds)[::-1]
            result = {kind: https_cost(nginx, kinds[kind]) for kind in order}
            print(f"bench: round {i + 1}/{ROUNDS}: " + ", ".join(
                f"{k} {result[k][0]:.0f} req/s {result[k][1]:.1f} us CPU/req" for k in kinds),
                flush=True)
            rounds.append(result)
    ratios = [r["https_agent"][0] / r["https_none"][0] for r in rounds]
    cpu = {k: median([r[k][1] for r in rounds]) for k in kinds}
    print("| figure | value |\n| --- | --- |")
    print(f"| median throughput ratio agent / none over HTTPS (nginx TLS, h2load --h1 -n {HTTPS_N} "
          f"over TLS) | {fmt(median(ratios), '.3f')} |")
    print(f"| median HTTPS req/s none / agent | {fmt(median([r['https_none'][0] for r in rounds]), '.0f')}"
          f" / {fmt(median([r['https_agent'][0] for r in rounds]), '.0f')} |")
    print(f"| median CPU per HTTPS request, nginx + h2load, none / agent (us) | "
          f"{fmt(cpu['https_none'], '.1f')} / {fmt(cpu['https_agent'], '.1f')} |")
    return 0


def main():
    if os.geteuid() != 0:
        print("bench: run as root (loads BPF programs)", file=sys.stderr)
        return 2
    if not os.path.exists(KERNO):
        print(f"bench: {KERNO} not found: run make first", file=sys.stderr)
        return 2
    if os.environ.get("BENCH_ONLY") == "https_cost":
        return https_only()
    runners = {"none": run_none, "agent": run_agent, "floor": run_floor,
               "server_only": run_server_only, "agent_sys_exit": run_agent_sys_exit,
               "floor_sys_exit": run_floor_sys_exit, "https_none": run_https_none,
               "https_agent": run_https_agent, "h2_none": run_h2_none, "h2_agent": run_h2_agent}
    only = [k for k in os.environ.get("BENCH_ONLY", "").split(",") if k]
    if any(k not in runners for k in only):
        print(f"bench: BENCH_ONLY names one of {', '.join(runners)}", file=sys.stderr)
        return 2
    kinds = only or list(runners)
    stats = {"agent_cpu_pct": [], "agent_cpu_us_per_req": [], "agent_hwm_kib": [], "agent_rc": []}
    rounds = []
    with contextlib.ExitStack() as cleanup:
        nginx = Nginx(cleanup, cpu=NGINX_CPU)
        load(nginx.port)  # warm-up run, not reported
        certs_dir = tempfile.mkdtemp(prefix="kerno-bench-tls-")
        cleanup.callback(shutil.rmtree, certs_dir, ignore_errors=True)
        HTTPS["port"] = tlspeers.TlsNginx(cleanup, tlspeers.Certs(certs_dir), cpu=NGINX_CPU).port
        load_https(HTTPS["port"])
        H2["port"] = start_nghttpd(cleanup)
        load_h2(H2["port"])
        for i in range(ROUNDS):
            order = kinds if i % 2 == 0 else kinds[::-1]
            result = {}
            for kind in order:
                result[kind] = runners[kind](nginx.port, stats)
            print(f"bench: round {i + 1}/{ROUNDS}: " + ", ".join(
                f"{k} {fmt(result[k], '.0f')} req/s" for k in kinds),
                flush=True)
            rounds.append(result)
        if only:
            print(only_report(rounds, kinds), end="")
            return 0 if set(stats["agent_rc"]) <= {0} else 1
        progs, bpf_ns_per_req = prog_stats(nginx.port)
    pp = pingpong_costs()
    text = report(rounds, stats, progs, bpf_ns_per_req, pp)
    os.makedirs(os.path.join(REPO, "build"), exist_ok=True)
    with open(os.path.join(REPO, "build", "bench.md"), "w") as f:
        f.write(text)
    print(text)
    return 0 if set(stats["agent_rc"]) == {0} else 1


if __name__ == "__main__":
    sys.exit(main())
