"""The agent as a program: CLI contract, pinned maps, signals, uplink."""

import json
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time

import bpfids
import capture_h
import dbpeers
import hooks
import httpclient
import otlp
from asserts import ASSERT_EQ, ASSERT_GE, ASSERT_GT, ASSERT_TRUE, FATAL, log
from test_http1 import CLIENT, SERVER

# The agent pins where KERNO_PIN_DIR says (tests run side by side use their own).
PIN_DIR = os.environ.get("KERNO_PIN_DIR", "/sys/fs/bpf/kerno")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def run_cli(argv, timeout=30):
    """Runs a command to completion; a hang comes back as returncode None."""
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(argv, None, exc.stdout or "",
                                           f"(still running after {timeout}s)")


def check_usage_error(res, what, mention=None):
    """Exit code 2 and exactly one non-empty line on stderr."""
    lines = res.stderr.strip().splitlines()
    ASSERT_EQ(res.returncode, 2, f"exit code of {what}")
    ASSERT_EQ(len(lines), 1, f"stderr lines of {what} (stderr: {res.stderr!r})")
    if mention and lines:
        ASSERT_TRUE(re.search(mention, lines[0], re.I), f"stderr of {what} names /{mention}/",
                    repr(lines[0]))


def test_cli_errors(ctx):
    if not os.path.exists(ctx.kerno):
        FATAL(f"kerno binary not found: {ctx.kerno}")
    data = tempfile.mkdtemp(prefix="kerno-cli-")
    ctx.cleanup.callback(subprocess.run, ["rm", "-rf", "--", data], check=False)
    os.chmod(data, 0o777)  # the unprivileged run must fail on privilege, not on the dir
    base = [ctx.kerno, "run", "--data-dir", data, "--duration", "1"]

    check_usage_error(run_cli([ctx.kerno, "run", "--bogus"]), "kerno run --bogus")
    check_usage_error(run_cli(base + ["--config", "/nonexistent/kerno.conf"]),
                      "--config of a missing file")
    check_usage_error(run_cli(base + ["--config", data]), "--config of a directory")
    check_usage_error(run_cli(NOBODY + base), "kerno run as uid 65534",
                      mention=r"CAP_BPF|CAP_PERFMON|CAP_SYS_ADMIN|root|privilege")

    # Each help must exit 0 and mention what it documents.
    for args, mention in ((["--help"], "run"), (["run", "--help"], "--data-dir")):
        res = run_cli([ctx.kerno] + args)
        what = "kerno " + " ".join(args)
        ASSERT_EQ(res.returncode, 0, f"exit code of {what}")
        ASSERT_TRUE(mention in res.stdout, f"{what} mentions {mention} on stdout", res.stdout[:400])


def dump_pinned(name):
    """bpftool's JSON dump of a pinned map as [(key, [per-CPU value])]."""
    res = run_cli(["bpftool", "map", "dump", "pinned", f"{PIN_DIR}/{name}", "-j"])
    if res.returncode != 0:
        FATAL(f"bpftool map dump pinned {PIN_DIR}/{name} failed: {(res.stdout + res.stderr).strip()}")
    entries = []
    for entry in json.loads(res.stdout):
        if "formatted" not in entry:
            FATAL(f"{PIN_DIR}/{name} has no BTF: bpftool printed raw bytes only")
        fmt = entry["formatted"]
        values = [v["value"] for v in fmt["values"]] if "values" in fmt else [fmt["value"]]
        entries.append((fmt["key"], values))
    return entries


def pinned_map_id(name):
    res = run_cli(["bpftool", "map", "show", "pinned", f"{PIN_DIR}/{name}", "-j"])
    return json.loads(res.stdout).get("id") if res.returncode == 0 else None


def map_ids_held_by(pid):
    return bpfids.ids_held_by(pid, "map")


def c_string(value):
    """A char array as bpftool prints it: a string, or a list of bytes."""
    if isinstance(value, str):
        return value
    raw = bytes(int(b, 0) if isinstance(b, str) else b for b in value)
    return raw.split(b"\0", 1)[0].decode("latin-1")


def test_pinned_maps(ctx):
    server = ctx.pyserver()
    agent = ctx.agent()
    n = 5
    ASSERT_EQ(httpclient.get(server.port, "/ok", n), [200] * n, "statuses")
    # Stale pins of an earlier run must not pass for this agent's maps.
    held = map_ids_held_by(agent.pid)
    for name in ("series", "counters"):
        ASSERT_TRUE(pinned_map_id(name) in held, f"{PIN_DIR}/{name} is a map of agent pid {agent.pid}",
                    f"pinned id {pinned_map_id(name)}, agent holds {sorted(held)}")
    series = dump_pinned("series")
    counters = dump_pinned("counters")
    ASSERT_TRUE(agent.running(), "agent running while maps were dumped")
    agent.stop()

    fields = {"cgroup_id", "tgid", "server_port", "status", "role", "method", "family",
              "peer_addr", "path"}
    ASSERT_TRUE(series, "series map has entries")
    if series:
        ASSERT_EQ(fields - set(series[0][0]), set(), "series key fields missing")
    ours = [(k, v) for k, v in series
            if k.get("tgid") == server.pid and k.get("role") == 2]
    ASSERT_EQ(sorted((k["server_port"], k["status"], c_string(k["path"])) for k, _ in ours),
              [(server.port, 200, "/ok")], "server-role series of pyhttpd (port, status, path)")
    count = sum(cpu["count"] for _, values in ours for cpu in values)
    ASSERT_EQ(count, n, "per-CPU counts summed for that series")

    ASSERT_EQ(len(counters), capture_h.counter_count(), "entries in counters (enum kerno_counter)")
    by_index = {k: sum(values) for k, values in counters}
    log(f"counters: {by_index}")
    ASSERT_GE(by_index.get(capture_h.counter_index("requests"), 0), 2 * n,
              "counter requests (server and client side)")
    ASSERT_GT(by_index.get(capture_h.counter_index("accepted"), 0), 0, "counter accepted")


def _flush_on(ctx, sig):
    server = ctx.pyserver()
    # A long interval: only the signal's flush can bring these requests out.
    agent = ctx.agent(interval=60)
    n = 7
    ASSERT_EQ(httpclient.get(server.port, "/ok", n), [200] * n, "statuses")
    agent.stop(sig)
    points = agent.points()
    ASSERT_EQ(otlp.total_count(otlp.select(points, SERVER, {"process.pid": server.pid})), n,
              f"server-side count flushed by {sig.name}")
    ASSERT_EQ(otlp.total_count(otlp.select(points, CLIENT, {"process.pid": os.getpid(),
                                                           "server.port": server.port})), n,
              f"client-side count flushed by {sig.name}")


def test_signal_flush(ctx):
    _flush_on(ctx, signal.SIGTERM)


def test_signal_flush_sigint(ctx):
    _flush_on(ctx, signal.SIGINT)


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def test_uplink_contract(ctx):
    """Envelopes as docs/metrics.md says; --duration exits 0 by itself; the
    agent's own resource reports every drop reason and connection event."""
    server = ctx.pyserver()
    agent = ctx.agent(duration=4)
    ASSERT_EQ(httpclient.get(server.port, "/ok", 3), [200] * 3, "statuses")
    started = time.monotonic()
    rc = agent.wait_exit(30)
    ASSERT_EQ(rc, 0, "exit code after --duration 4")
    ASSERT_TRUE(time.monotonic() - started < 10, "exited within --duration (+ grace)")
    agent.stop()
    envs = agent.envelopes()
    ASSERT_TRUE(envs, "uplink envelopes written")
    if not envs:
        return
    ASSERT_EQ(envs[0].get("type"), "hello", "type of the first envelope")
    ASSERT_EQ([e.get("seq") for e in envs], list(range(1, len(envs) + 1)), "seq numbers")
    ASSERT_EQ({e.get("v") for e in envs}, {1}, "envelope versions")
    bad_ts = [e.get("ts") for e in envs if not RFC3339.match(str(e.get("ts")))]
    ASSERT_EQ(bad_ts, [], "timestamps that are not RFC3339")
    ASSERT_GE(sum(e.get("type") == "metrics" for e in envs), 2, "metrics envelopes in 4 s at --interval 1")

    points = agent.points()
    drops = otlp.select(points, "kerno.capture.drops", {"service.name": "kerno"})
    conns = otlp.select(points, "kerno.capture.connections", {"service.name": "kerno"})
    ASSERT_EQ(sorted(set(otlp.sum_values(drops, "reason"))), sorted(capture_h.drop_reasons()),
              "drop reasons reported (enum kerno_counter KERNO_DROP_*)")
    ASSERT_EQ(sorted(set(otlp.sum_values(conns, "event"))), sorted(capture_h.conn_events()),
              "connection events reported (enum kerno_counter KERNO_EV_*)")
    server_pts = otlp.select(points, SERVER, {"process.pid": server.pid})
    ASSERT_EQ(otlp.total_count(server_pts), 3, "server-side count")
    for p in server_pts[:1]:
        # Semantic conventions: the Name in /proc/PID/status, i.e. the comm.
        ASSERT_TRUE(p.resource.get("process.executable.name") in ("python3", "python3.11"),
                    "process.executable.name of pyhttpd", repr(p.resource.get("process.executable.name")))
        ASSERT_TRUE(p.resource.get("host.name"), "host.name present")
        ASSERT_EQ(p.get("server.port"), server.port, "server.port")
        ASSERT_EQ(p.get("client.address"), "127.0.0.1", "client.address")


def start_top(ctx, refresh):
    """`kerno top` for one screen of `refresh` seconds, started (its baseline taken)."""
    top = subprocess.Popen([ctx.kerno, "top", "--refresh", str(refresh), "--iterations", "1"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    ctx.cleanup.callback(top.kill)
    ready = top.stderr.readline()
    ASSERT_TRUE(ready.startswith("kerno top: watching"), "kerno top started", repr(ready))
    return top


def _lines(stream):
    """The lines of a text stream as they come, from a thread, in a queue."""
    lines = queue.Queue()

    def pump():
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _read_until(lines, pred, timeout, what, seen):
    """Lines (kept in seen) up to and including the first one for which pred holds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            FATAL(f"no {what} within {timeout}s; top said: {''.join(seen)!r}")
        seen.append(line)
        if pred(line):
            return line


def test_top_follows_agent_restart(ctx):
    """kerno top outlives the agent it watches: once another agent has pinned
    its maps, top says so and counts that agent's requests, exactly."""
    nginx = ctx.nginx()
    worker = nginx.worker_pids()[0]
    agent = ctx.agent()
    refresh, n = 2, 60
    top = subprocess.Popen([ctx.kerno, "top", "--refresh", str(refresh)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    ctx.cleanup.callback(top.kill)
    ready = top.stderr.readline()
    ASSERT_TRUE(ready.startswith("kerno top: watching"), "kerno top started", repr(ready))
    agent.stop()
    agent = ctx.agent()
    lines, seen = _lines(top.stdout), []
    _read_until(lines, lambda l: l.startswith("(a new agent started"), 30,
                "word of the new agent", seen)
    with httpclient.Client(nginx.port) as c:
        statuses = [c.request("GET", "/ok").status for _ in range(n)]
    ASSERT_EQ(statuses, [200] * n, "nginx statuses")
    # The requests may straddle two screens: add the worker's rows up.
    counted = 0
    deadline = time.monotonic() + 5 * refresh
    while counted < n and time.monotonic() < deadline:
        row = _read_until(lines, lambda l: l.split()[:1] == [str(worker)] or
                          l.startswith("(no requests"), 5 * refresh, "a screen", seen).split()
        if len(row) == 11 and row[2:6] == ["server", "http", "GET", "/ok"]:
            counted += round(float(row[7]) * refresh)
    top.kill()
    agent.stop()
    ASSERT_EQ(counted, n, f"requests top showed for nginx's worker after the restart in {''.join(seen)!r}")


def test_top(ctx):
    """kerno top beside a running agent: the nginx, Redis, PostgreSQL and DNS
    rows show exactly the requests made in its one refresh period, as a
    rate, with the error share, each named in its protocol's terms."""
    nginx = ctx.nginx()
    redis = dbpeers.Redis(ctx.cleanup)
    pg = dbpeers.Postgres(ctx.cleanup)
    dns = dbpeers.Dnsmasq(ctx.cleanup)
    agent = ctx.agent()
    refresh, n_ok, n_fail, n_set, n_bad = 5, 300, 100, 30, 12
    n_select, n_div0, n_names, n_nx = 20, 10, 15, 5
    sql = os.path.join(pg.dir, "top.sql")
    with open(sql, "w") as f:
        f.write("SELECT 1;\n" * n_select + "SELECT 1/0;\n" * n_div0)
    top = start_top(ctx, refresh)
    with httpclient.Client(nginx.port) as c:
        statuses = [c.request("GET", "/ok").status for _ in range(n_ok)]
        statuses += [c.request("GET", "/fail").status for _ in range(n_fail)]
    ASSERT_EQ(statuses, [200] * n_ok + [500] * n_fail, "nginx statuses")
    cli = subprocess.Popen(["redis-cli", "-h", "127.0.0.1", "-p", str(redis.port)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    replies, _ = cli.communicate("SET kerno:top v\n" * n_set + "NOSUCHCMD a\n" * n_bad, timeout=30)
    ASSERT_EQ(replies.count("ERR unknown command"), n_bad, "ERR replies redis-cli printed")
    psql_pid, out, _ = dbpeers.run_client(["psql", "-X", "-q", "-f", sql, "-h", "127.0.0.1",
                                           "-p", str(pg.port), "-U", pg.USER, "postgres"])
    ASSERT_EQ(out.count("division by zero"), n_div0, "errors psql printed")
    dig_pid, out = dbpeers.dig(dns, [f"h{i}.ok.test" for i in range(n_names)] +
                               [f"h{i}.nx.test" for i in range(n_nx)])
    ASSERT_EQ(out.count("status: NXDOMAIN"), n_nx, "NXDOMAIN answers dig printed")
    out, _ = top.communicate(timeout=refresh + 10)
    ASSERT_EQ(top.returncode, 0, "kerno top exit code")
    agent.stop()
    rows = [line.split() for line in out.splitlines()]
    header = rows[0] if rows else []
    ASSERT_EQ(header[:6], ["PID", "PROCESS", "ROLE", "PROTO", "OPERATION", "ENDPOINT"],
              f"top header in {out!r}")
    # By pid: redis-server is an alias of another executable. The clients
    # and the PostgreSQL backend have exited by the time top draws its screen:
    # named from the agent's procs map, which keeps them for a while.
    found = {(int(r[0]),) + tuple(r[2:6]): r for r in rows[1:] if len(r) == 11}

    def check(key, n, err, name=None):
        row = found.get(key)
        ASSERT_TRUE(row is not None, f"a row {key}", out)
        if row:
            ASSERT_EQ((float(row[7]), row[8]), (round(n / refresh, 1), err),
                      f"REQ/S and ERR% of {key}")
            if name:
                ASSERT_EQ(row[1], name, f"PROCESS of {key}")

    def share(errors, n):
        return f"{100.0 * errors / n:.1f}%"

    worker = nginx.worker_pids()[0]
    check((worker, "server", "http", "GET", "/ok"), n_ok, "0.0%", "nginx")
    check((worker, "server", "http", "GET", "/fail"), n_fail, "100.0%", "nginx")
    for pid, role, name in ((redis.pid, "server", None), (cli.pid, "client", "redis-cli")):
        check((pid, role, "redis", "SET", "-"), n_set, "0.0%", name)
        check((pid, role, "redis", "NOSUCHCMD", "-"), n_bad, "100.0%", name)
    # Every SQLSTATE of an operation is one row.
    n_sql = n_select + n_div0
    check((psql_pid, "client", "postgresql", "SELECT", "-"), n_sql, share(n_div0, n_sql), "psql")
    backend = [k for k in found if k[1:] == ("server", "postgresql", "SELECT", "-")]
    ASSERT_EQ(len(backend), 1, f"PostgreSQL server rows in {out!r}")
    for key in backend:
        check(key, n_sql, share(n_div0, n_sql), "postgres")
    n_dns = n_names + n_nx
    for pid, role, name in ((dig_pid, "client", "dig"), (dns.pid, "server", "dnsmasq")):
        check((pid, role, "dns", "A", "-"), n_dns, share(n_nx, n_dns), name)


def test_verifier_report(ctx):
    """kerno verifier-report loads every flavour this kernel has: each of
    their programs is listed, the others are named as missing, no program
    takes more than half of the verifier's limit, and a flavour's programs
    (what one agent start verifies, TLS included) take less than one
    program's limit together: the parsers are verified once per hook
    prototype (kern/capture.bpf.c, "One parser per hook"), not once per
    entry program. Measured: at most 46 % for one program (sys_exit, 6.18)
    and 830 K for a flavour (fexit on 6.1, whose send and receive hooks
    need a parser each)."""
    flavours = hooks.listing(ctx.kerno)
    res = run_cli([ctx.kerno, "verifier-report"], timeout=300)
    ASSERT_EQ(res.returncode, 0, f"exit code (stderr: {res.stderr!r})")
    rows = [line.split() for line in res.stdout.splitlines()[1:]]
    got = {(r[0], r[1]): (int(r[2]), int(r[3])) for r in rows if len(r) == 5 and r[2].isdigit()}
    missing = sorted(r[0] for r in rows if len(r) > 1 and r[1] == "(not")
    expected = []
    for name, ok, _ in flavours:
        if ok:
            expected += [(name, prog) for prog in hooks.programs(name) + hooks.tls_programs(name)]
    if ("fexit", "kerno_tcp_recvmsg") in expected and hooks.has_function("tcp_sendpage"):
        expected.append(("fexit", "kerno_tcp_sendpage"))
    ASSERT_EQ(sorted(got), sorted(expected), "programs reported")
    ASSERT_EQ(missing, sorted(name for name, ok, _ in flavours if not ok),
              "flavours reported as not on this kernel")
    totals = {}
    for (flavour, prog), (verified, limit) in sorted(got.items()):
        log(f"{flavour} {prog}: {verified} of {limit}")
        ASSERT_GT(verified, 0, f"{flavour} {prog} verified instructions")
        ASSERT_TRUE(verified <= 0.5 * limit, f"{flavour} {prog} within 50 % of the limit",
                    f"{verified} of {limit}")
        totals[flavour] = totals.get(flavour, 0) + verified
    for flavour, total in sorted(totals.items()):
        log(f"{flavour}: {total} in all")
        ASSERT_TRUE(total < 1000000, f"{flavour}: one agent start verifies under 1 M instructions",
                    total)


def test_hooks_listing(ctx):
    """`kerno hooks` puts the flavours in the agent's order of preference and
    marks the first available one as chosen; --disable-hooks takes one away
    as if the kernel lacked it, and --hook of a missing one is a usage error."""
    rows = hooks.listing(ctx.kerno)
    ASSERT_EQ([r[0] for r in rows], ["sock", "fexit", "sys_exit", "raw_tp"], "order of preference")
    avail = [name for name, ok, _ in rows if ok]
    ASSERT_EQ([name for name, _, chosen in rows if chosen], avail[:1], "the chosen flavour")
    ASSERT_TRUE("raw_tp" in avail, "raw_tp is available everywhere", avail)
    rows = hooks.listing(ctx.kerno, "--disable-hooks", avail[0])
    ASSERT_EQ([name for name, _, chosen in rows if chosen], avail[1:2],
              f"chosen with {avail[0]} disabled")
    for name in [n for n, ok, _ in hooks.listing(ctx.kerno) if not ok] + [avail[0]]:
        args = ["--hook", name] + (["--disable-hooks", name] if name == avail[0] else [])
        check_usage_error(run_cli([ctx.kerno, "run", "--duration", "1", *args]),
                          f"kerno run {' '.join(args)}", mention="cannot attach")
    check_usage_error(run_cli([ctx.kerno, "run", "--hook", "bogus"]), "kerno run --hook bogus",
                      mention="unknown")
    check_usage_error(run_cli([ctx.kerno, "run", "--disable-hooks", "sock,bogus"]),
                      "kerno run --disable-hooks sock,bogus", mention="unknown")
