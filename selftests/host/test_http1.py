"""Exact HTTP/1.x RED metrics: counts, statuses, latency, message shapes."""

import json
import math
import os
import shutil
import subprocess
import tempfile

import bpfids
import h2load
import hooks
import httpclient
import syscalls
import otlp
import scale
from asserts import ASSERT_EQ, ASSERT_GE, ASSERT_TRUE, ASSERT_WITHIN, log

SERVER = "http.server.request.duration"
CLIENT = "http.client.request.duration"
# The Done-when criteria load each nginx location with 20000 requests (a
# share of them in the emulated VM: scale.py).
H2LOAD_N = scale.requests(20000)
NGINX_PATHS = (("/ok", 200), ("/missing", 404), ("/fail", 500))


def server_counts(points, where):
    return otlp.counts_by(otlp.select(points, SERVER, where),
                          "http.request.method", "http.route", "http.response.status_code")


def client_counts(points, where):
    return otlp.counts_by(otlp.select(points, CLIENT, where),
                          "http.request.method", "url.template", "http.response.status_code")


def process_drops(points, pid):
    """{reason: count} of what was lost of one process's traffic (non-zero only)."""
    drops = otlp.sum_values(otlp.select(points, "kerno.capture.drops", {"process.pid": pid}), "reason")
    return {r: n for r, n in drops.items() if n}


def check_no_parse_drops(points, pids):
    """This traffic is all well-formed: nothing of these processes' may count
    as unparsable (or be lost any other way)."""
    drops = {pid: process_drops(points, pid) for pid in pids}
    log(f"drops: {drops}")
    ASSERT_EQ(drops, {pid: {} for pid in pids}, "drops of the processes under test")


def _status_counts(ctx, pipeline, n=H2LOAD_N, agent_args=(), hello=None):
    nginx = ctx.nginx()
    workers = nginx.worker_pids()
    agent = ctx.agent(extra_args=agent_args)
    if hello:
        got = {k: agent.envelopes()[0]["data"].get(k) for k in hello}
        ASSERT_EQ(got, hello, "hook choice reported in the hello envelope")
    runs = {}
    for path, status in NGINX_PATHS:
        res = h2load.run(f"http://127.0.0.1:{nginx.port}{path}", n=n, clients=20,
                         pipeline=pipeline)
        log(f"h2load {path}: {res.status_classes}, {res.req_per_s:.0f} req/s")
        ASSERT_EQ(res.done, n, f"h2load requests done for {path}")
        runs[path] = res
    agent.stop()
    points = agent.points()

    expected = {("GET", path, status): runs[path].status_class_count(status)
                for path, status in NGINX_PATHS}
    ASSERT_EQ(server_counts(points, {"process.executable.name": "nginx", "server.port": nginx.port}),
              expected, "nginx server-side counts by (method, route, status)")
    for path, status in NGINX_PATHS:
        res = runs[path]
        ASSERT_EQ(client_counts(points, {"process.pid": res.pid}),
                  {("GET", path, status): res.status_class_count(status)},
                  f"h2load (pid {res.pid}) client-side counts for {path}")
        ASSERT_EQ(otlp.total_count(otlp.select(points, CLIENT, {"process.pid": res.pid,
                                                               "server.port": nginx.port})),
                  res.done, f"h2load client-side count with server.port={nginx.port} for {path}")
    check_no_parse_drops(points, workers + [r.pid for r in runs.values()])


def test_http1_status_counts(ctx):
    _status_counts(ctx, pipeline=1)


def test_http1_status_counts_pipelined(ctx):
    _status_counts(ctx, pipeline=8)


def test_http1_sys_exit(ctx):
    """The sys_exit flavour (kernels before 6.3, without the sock_*_length
    tracepoints) finds the socket from the fd: the same exact counts."""
    _status_counts(ctx, pipeline=8, n=scale.requests(5000), agent_args=("--hook", "sys_exit"),
                   hello={"hook": "sys_exit"})


def test_http1_hook_fallback(ctx):
    """The best flavour of this kernel taken away (as on a kernel without it):
    the agent falls back to the next one, with the same exact counts."""
    avail = hooks.available(ctx.kerno)
    _status_counts(ctx, pipeline=8, n=scale.requests(5000), agent_args=("--disable-hooks", avail[0]),
                   hello={"hook": avail[1]})


def test_http1_raw_tp(ctx):
    """The raw_tp flavour, for kernels without tp_btf: the same exact counts."""
    _status_counts(ctx, pipeline=1, n=scale.requests(5000), agent_args=("--hook", "raw_tp"),
                   hello={"hook": "raw_tp"})


def _syscall_variants(ctx, hook):
    """Every data syscall family carries two exchanges on its own connection
    (its own path): each is counted exactly on both sides, peeked bytes once.
    A request sent with sendfile never was in user memory: the server counts
    it, the client side counts its bytes as opaque and its response as
    unmatched, and nothing else is lost."""
    nginx = ctx.nginx()
    (worker,) = nginx.worker_pids()
    agent = ctx.agent(extra_args=("--hook", hook))
    ASSERT_EQ(agent.envelopes()[0]["data"]["hook"],
              hooks.available(ctx.kerno)[0] if hook == "auto" else hook, "flavour attached")
    got = {v: syscalls.exchange(v, nginx.port, f"/v/{v}") for v in syscalls.VARIANTS}
    agent.stop()
    ASSERT_EQ(got, {v: [404, 404] for v in syscalls.VARIANTS}, "statuses received per variant")
    points = agent.points()
    ASSERT_EQ(server_counts(points, {"process.executable.name": "nginx", "server.port": nginx.port}),
              {("GET", f"/v/{v}", 404): 2 for v in syscalls.VARIANTS},
              "nginx server-side counts per variant")
    ASSERT_EQ(client_counts(points, {"process.pid": os.getpid(), "server.port": nginx.port}),
              {("GET", f"/v/{v}", 404): 2 for v in syscalls.VARIANTS if v != "sendfile"},
              "client-side counts per variant")
    ASSERT_EQ(process_drops(points, os.getpid()), {"opaque_bytes": 2, "unmatched_response": 2},
              "client drops: only the sendfile requests' bytes and their responses")
    ASSERT_EQ(process_drops(points, worker), {}, "nginx drops")


def test_http1_syscalls(ctx):
    _syscall_variants(ctx, "auto")


def test_http1_syscalls_sys_exit(ctx):
    _syscall_variants(ctx, "sys_exit")


def test_http1_syscalls_raw_tp(ctx):
    _syscall_variants(ctx, "raw_tp")


def order_statistic(values, q):
    """The q-quantile of values: the smallest with at least q of them at or below it."""
    ranked = sorted(values)
    return ranked[max(math.ceil(q * len(ranked)), 1) - 1]


def test_latency_percentiles(ctx):
    """A server with a fixed 20 ms delay: the p50 reported on each side is
    within 10 % of 20 ms, and the p50 and p99 within 10 % of the true ones,
    which the server and h2load time themselves (a shared 2-core machine
    adds a real tail: p99 of 22 to 28 ms measured)."""
    server = ctx.pyserver()
    agent = ctx.agent()
    # One connection at a time: the server's own scheduling jitter under
    # concurrency would otherwise widen the true p99 beyond what is measured.
    n = 200
    log_dir = tempfile.mkdtemp(prefix="kerno-latency-")
    ctx.cleanup.callback(shutil.rmtree, log_dir, ignore_errors=True)
    log_file = os.path.join(log_dir, "h2load-requests.tsv")
    res = h2load.run(f"http://127.0.0.1:{server.port}/delay", n=n, clients=1,
                     log_file=log_file)
    ASSERT_EQ(res.status_classes["2xx"], n, "h2load 2xx responses from /delay")
    agent.stop()
    with httpclient.Client(server.port) as c:
        served = [int(us) / 1e6 for us in c.request("GET", "/delay-log").body.split()]
    truth = {"server": served, "client": h2load.request_times(log_file)}
    points = agent.points()
    for side, metric, where in (("server", SERVER, {"process.pid": server.pid}),
                                ("client", CLIENT, {"process.pid": res.pid})):
        ASSERT_EQ(len(truth[side]), n, f"{side}'s own timings of /delay requests")
        sel = otlp.select(points, metric, where)
        ASSERT_EQ(otlp.total_count(sel), n, f"{side}-side count of /delay requests")
        if not sel or len(truth[side]) != n:
            continue
        buckets = otlp.merged_buckets(sel)
        log(f"{side} buckets (s): {buckets}")
        reported = {q: otlp.percentile(buckets, q) for q in (0.50, 0.99)}
        ASSERT_WITHIN(reported[0.50], 0.020, 0.10, f"{side}-side p50 (s)")
        for q, value in reported.items():
            true = order_statistic(truth[side], q)
            ASSERT_WITHIN(value, true, 0.10, f"{side}-side p{q * 100:.0f} (s) against the true one")


def test_http1_shapes(ctx):
    """Chunked, HEAD, 204, 304, 100-continue, byte-split responses and
    keep-alive: each exchange counted once, with its own status."""
    server = ctx.pyserver()
    agent = ctx.agent()
    with httpclient.Client(server.port) as c:
        got = [
            ("GET", "/chunked", c.request("GET", "/chunked").status),
            ("HEAD", "/head", c.request("HEAD", "/head").status),
            ("GET", "/nocontent", c.request("GET", "/nocontent").status),
            ("GET", "/notmodified", c.request("GET", "/notmodified").status),
            ("POST", "/upload", c.upload_expect_continue("/upload", b"x" * 3000).status),
            ("GET", "/split", c.request("GET", "/split").status),
        ]
        got += [("GET", "/ok", r.status) for r in c.pipeline(["/ok", "/ok", "/ok"])]
        got += [("GET", "/ok", c.request("GET", "/ok").status) for _ in range(2)]
    agent.stop()
    expected = {}
    for key in got:
        expected[key] = expected.get(key, 0) + 1
    ASSERT_EQ(expected, {("GET", "/chunked", 200): 1, ("HEAD", "/head", 200): 1,
                         ("GET", "/nocontent", 204): 1, ("GET", "/notmodified", 304): 1,
                         ("POST", "/upload", 200): 1, ("GET", "/split", 200): 1,
                         ("GET", "/ok", 200): 5}, "statuses the client received")
    points = agent.points()
    ASSERT_EQ(server_counts(points, {"process.pid": server.pid}), expected,
              "server-side counts by (method, route, status)")
    ASSERT_EQ(client_counts(points, {"process.pid": os.getpid(), "server.port": server.port}),
              expected, "client-side counts by (method, url.template, status)")


def test_endpoint_templates(ctx):
    """/users/1, /users/22 and /users/333?x=1 are one series /users/{id}."""
    nginx = ctx.nginx()
    agent = ctx.agent()
    with httpclient.Client(nginx.port) as c:
        statuses = [c.request("GET", p).status for p in ("/users/1", "/users/22", "/users/333?x=1")]
    agent.stop()
    ASSERT_EQ(statuses, [200, 200, 200], "nginx statuses for /users/<n>")
    points = agent.points()
    ASSERT_EQ(server_counts(points, {"process.executable.name": "nginx", "server.port": nginx.port}),
              {("GET", "/users/{id}", 200): 3}, "nginx server-side series")
    ASSERT_EQ(client_counts(points, {"process.pid": os.getpid(), "server.port": nginx.port}),
              {("GET", "/users/{id}", 200): 3}, "client-side series")
    ASSERT_TRUE(all(p.get("server.address") == "127.0.0.1"
                    for p in otlp.select(points, CLIENT, {"process.pid": os.getpid()})),
                "client-side server.address is 127.0.0.1")


def test_ignore_process(ctx):
    """--ignore-process h2load: nginx's side counted exactly, h2load's side
    not at all, and its connections counted as ignored."""
    nginx = ctx.nginx()
    agent = ctx.agent(extra_args=("--ignore-process", "h2load"))
    n, clients = scale.requests(3000), 10
    res = h2load.run(f"http://127.0.0.1:{nginx.port}/ok", n=n, clients=clients)
    agent.stop()
    points = agent.points()
    ASSERT_EQ(server_counts(points, {"process.executable.name": "nginx", "server.port": nginx.port}),
              {("GET", "/ok", 200): res.status_class_count(200)}, "nginx server-side counts")
    ASSERT_EQ(otlp.total_count(otlp.select(points, CLIENT, {"process.pid": res.pid})), 0,
              "client-side count of the ignored h2load")
    events = otlp.sum_values(otlp.select(points, "kerno.capture.connections"), "event")
    ASSERT_EQ(events.get("ignored"), clients, "kerno.capture.connections event=ignored")


def _bpftool(*args):
    res = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, timeout=60)
    ASSERT_EQ(res.returncode, 0, f"bpftool {' '.join(args)} (stderr: {res.stderr.strip()!r})")
    return json.loads(res.stdout) if res.stdout.strip() else None


def _parser_jumps(agent_pid):
    """{jump table name: (map id, id of the parser program in it)} of the agent's."""
    held = bpfids.ids_held_by(agent_pid, "map")
    jumps = {}
    for m in _bpftool("map", "show"):
        if m["id"] in held and m.get("name") in ("parse_tx_jmp", "parse_rx_jmp"):
            value = _bpftool("map", "lookup", "id", str(m["id"]), "key", "0", "0", "0", "0")["value"]
            jumps[m["name"]] = (m["id"], int.from_bytes(bytes(int(b, 16) for b in value), "little"))
    return jumps


def test_http1_tail_call_lost(ctx):
    """The sock and fexit flavours' entry programs tail-call a parser program
    (kern/capture.bpf.c, "One parser per hook"). With the parsers taken out of
    their jump tables, as if the tail call failed, the calls are counted as
    tail_call drops and nothing is measured; put back, the same exchanges are
    measured exactly again."""
    nginx = ctx.nginx()
    agent = ctx.agent()
    hook = agent.envelopes()[0]["data"]["hook"]
    if hook not in ("sock", "fexit"):
        log(f"the {hook} flavour parses in its entry program: no tail call to lose")
        agent.stop()
        return
    jumps = _parser_jumps(agent.pid)
    ASSERT_EQ(sorted(jumps), ["parse_rx_jmp", "parse_tx_jmp"], "the agent's jump tables")
    for map_id, _ in jumps.values():
        _bpftool("map", "delete", "id", str(map_id), "key", "0", "0", "0", "0")
    lost = syscalls.exchange("read_write", nginx.port, "/lost")
    for map_id, prog_id in jumps.values():
        _bpftool("map", "update", "id", str(map_id), "key", "0", "0", "0", "0", "value", "id",
                 str(prog_id))
    kept = syscalls.exchange("read_write", nginx.port, "/kept")
    agent.stop()
    ASSERT_EQ((lost, kept), ([404, 404], [404, 404]), "statuses received")
    points = agent.points()
    ASSERT_EQ(server_counts(points, {"process.executable.name": "nginx", "server.port": nginx.port}),
              {("GET", "/kept", 404): 2}, "nginx server-side counts")
    ASSERT_EQ(client_counts(points, {"process.pid": os.getpid(), "server.port": nginx.port}),
              {("GET", "/kept", 404): 2}, "client-side counts")
    node = otlp.sum_values(otlp.select(points, "kerno.capture.drops", {"service.name": "kerno"}),
                           "reason")
    # Each side wrote two messages and read two (the rest of the machine may add more).
    ASSERT_GE(node.get("tail_call", 0), 8, "tail_call drops, node-wide")
