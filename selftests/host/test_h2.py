"""HTTP/2 and gRPC counted exactly: nghttpd and h2load over prior-knowledge h2c
and over TLS (h2 by ALPN, its plaintext from the OpenSSL uprobes), and a
Python grpcio server and client (unary calls, some failing, and a streaming
call). The kernel times the streams; their header blocks are decoded in
userspace (user/h2streams.c)."""

import os
import subprocess
import tempfile
import time
from collections import Counter

import h2load
import otlp
import scale
import tlspeers
from asserts import ASSERT_EQ, ASSERT_TRUE, FATAL, log
from servers import PYTHON, free_port, spawn, wait_listen_socket
from test_agent import start_top
from test_errors import counts as group_counts
from test_errors import groups
from test_http1 import client_counts, process_drops, server_counts
from test_spans import counters as span_counters
from test_spans import read_spans

HERE = os.path.dirname(os.path.abspath(__file__))
# The Done-when criteria: h2load -n 20000; 1000 unary gRPC calls, 100 of them failing.
N = scale.requests(20000) // 2 * 2
CALLS = scale.requests(1000)
FAILING = CALLS // 10
HTTP = ("http.server.request.duration", "http.client.request.duration")
TCP = ("kerno.tcp.client.connection.duration", "kerno.tcp.server.connection.duration")
RPC_KEYS = ("rpc.service", "rpc.method", "rpc.grpc.status_code")


def _workdir(ctx):
    d = tempfile.mkdtemp(prefix="kerno-h2-")
    ctx.cleanup.callback(subprocess.run, ["rm", "-rf", "--", d], check=False)
    return d


class Nghttpd:
    """nghttpd serving a directory (index.html: 200, anything else: 404), h2c or TLS."""

    def __init__(self, ctx, docroot, certs=None, attempts=5):
        for _ in range(attempts):
            self.port = free_port()
            argv = ["nghttpd", "-d", docroot, str(self.port)]
            argv += [certs.key, certs.cert] if certs else ["--no-tls"]
            self.proc = spawn(argv, ctx.cleanup, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
            # No probe connection: it would be nghttpd's, and over TLS count as plain TCP.
            if wait_listen_socket(self.port, self.proc):
                self.pid = self.proc.pid
                return
        FATAL("nghttpd did not start")


def _h2load(urls, n):
    """h2load over HTTP/2 (h2c by prior knowledge for http://, ALPN h2 for https://)."""
    argv = ["h2load", "-t", "1", "-c", "4", "-m", "4", "-n", str(n), *urls]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    out, _ = proc.communicate(timeout=300)
    if proc.returncode:
        raise RuntimeError(f"h2load exited {proc.returncode}:\n{out}")
    res = h2load.H2loadResult(out, proc.pid)
    ASSERT_TRUE("Application protocol: h2" in out or "h2c" in out, "h2load spoke HTTP/2", out)
    return res


def _check_clean(points, pids, what):
    """Nothing lost of these processes' traffic and nothing of it counted as plain TCP
    or as HTTP/1.x (every HTTP point of theirs says HTTP/2)."""
    ASSERT_EQ({pid: process_drops(points, pid) for pid in pids}, {pid: {} for pid in pids},
              f"drops of the {what} processes")
    tcp = [p.metric for p in points if p.metric in TCP and p.get("process.pid") in pids]
    ASSERT_EQ(tcp, [], f"{what} connections counted as plain TCP")
    versions = {p.get("network.protocol.version") for p in points
                if p.metric in HTTP and p.get("process.pid") in pids}
    ASSERT_TRUE(versions <= {"2"}, f"{what} requests all HTTP/2", str(versions))


def _h2_run(ctx, certs=None):
    docroot = _workdir(ctx)
    with open(os.path.join(docroot, "index.html"), "w") as f:
        f.write("kerno\n")
    agent = ctx.agent()
    server = Nghttpd(ctx, docroot, certs)
    scheme = "https" if certs else "http"
    base = f"{scheme}://127.0.0.1:{server.port}"
    # Two URIs: h2load sends to each in turn, n/2 each.
    res = _h2load([f"{base}/index.html", f"{base}/items/12345"], N)
    log(f"h2load: {res.done} done, {res.status_classes}, {res.req_per_s} req/s")
    ASSERT_EQ((res.done, res.status_classes["2xx"], res.status_classes["4xx"]),
              (N, N // 2, N // 2), "h2load's own totals")
    agent.stop()
    points = agent.points()
    expected = {("GET", "/index.html", 200): N // 2, ("GET", "/items/{id}", 404): N // 2}
    ASSERT_EQ(server_counts(points, {"process.pid": server.pid}), expected,
              "nghttpd's streams by (method, route, status)")
    ASSERT_EQ(client_counts(points, {"process.pid": res.pid}), expected,
              "h2load's streams by (method, url.template, status)")
    _check_clean(points, [server.pid, res.pid], "nghttpd and h2load")


def test_h2_h2c(ctx):
    _h2_run(ctx)


def test_h2_tls(ctx):
    certs = tlspeers.Certs(_workdir(ctx))
    _h2_run(ctx, certs)


def test_h2_bad_ringbuf_size(ctx):
    """Not a power of two: a one-line message and exit code 2."""
    out = subprocess.run([ctx.kerno, "run", "--h2-ringbuf-bytes", "5000", "--duration", "1"],
                         capture_output=True, text=True, timeout=60)
    ASSERT_EQ(out.returncode, 2, "exit code")
    ASSERT_TRUE("--h2-ringbuf-bytes" in out.stderr, "message names the option", out.stderr)
    ASSERT_EQ(len(out.stderr.strip().splitlines()), 1, f"one line on stderr: {out.stderr!r}")


# Streams sent one connection at a time after the lossy burst (nghttp, h2c by prior knowledge).
AFTER = 20


def test_h2_events_lost(ctx):
    """A ring buffer far too small for h2load's burst: the events it cannot
    hold are counted (h2_events_lost), a stream that lost one is not counted,
    and once the burst is over the streams all count again."""
    docroot = _workdir(ctx)
    with open(os.path.join(docroot, "index.html"), "w") as f:
        f.write("kerno\n")
    agent = ctx.agent(extra_args=["--h2-ringbuf-bytes", "8192"])
    server = Nghttpd(ctx, docroot)
    base = f"http://127.0.0.1:{server.port}"
    res = _h2load([f"{base}/index.html"], N)
    ASSERT_EQ(res.done, N, "h2load requests done")
    # The reader's backlog is one ring buffer at most: a second is ten of its polls.
    time.sleep(1)
    for i in range(AFTER):
        out = subprocess.run(["nghttp", "-s", f"{base}/after/{1000 + i}"], capture_output=True,
                             text=True, timeout=60)
        ASSERT_EQ(out.returncode, 0, f"nghttp exit code (request {i}): {out.stderr[-300:]}")
    agent.stop()
    points = agent.points()
    burst = ("GET", "/index.html", 200)
    lost, uncounted = {}, 0
    for name, where, counts_of in (("nghttpd", server.pid, server_counts),
                                   ("h2load", res.pid, client_counts)):
        lost[name] = process_drops(points, where).get("h2_events_lost", 0)
        counted = counts_of(points, {"process.pid": where}).get(burst, 0)
        log(f"{name}: {lost[name]} events lost, {counted} of {N} streams counted")
        ASSERT_TRUE(N - lost[name] <= counted <= N,
                    f"{name}: each stream not counted lost an event",
                    f"{counted} counted, {lost[name]} events lost")
        uncounted += N - counted
    ASSERT_TRUE(sum(lost.values()) > 0, "an 8 KiB ring lost events of the burst (the test can fail)",
                str(lost))
    # A stream not counted lost its end (never read) or a header block: h2_no_headers.
    node = otlp.sum_values(otlp.select(points, "kerno.capture.drops", {"service.name": "kerno"}),
                           "reason")
    log(f"h2_no_headers {node.get('h2_no_headers')}, {uncounted} streams not counted")
    ASSERT_TRUE(node.get("h2_no_headers", 0) <= uncounted,
                "streams reported as ended without their header blocks, at most those not counted",
                f"{node.get('h2_no_headers')} of {uncounted}")
    after = server_counts(points, {"process.pid": server.pid})
    after.pop(burst, None)
    ASSERT_EQ(after, {("GET", "/after/{id}", 404): AFTER},
              "nghttpd's streams after the burst, one connection at a time")


def _grpc_server(ctx):
    proc = spawn([PYTHON, os.path.join(HERE, "grpcpeer.py"), "serve"], ctx.cleanup,
                 stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        FATAL(f"grpcpeer did not start (said {line!r})")
    return proc.pid, int(line.split()[1])


def test_h2_grpc(ctx):
    agent = ctx.agent()
    server_pid, port = _grpc_server(ctx)
    proc = subprocess.Popen([PYTHON, os.path.join(HERE, "grpcpeer.py"), "call", str(port),
                             str(CALLS), str(FAILING)], stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=300)
    ASSERT_EQ(proc.returncode, 0, "grpcpeer call exit code")
    got = {tuple(line.split()[:2]): int(line.split()[2]) for line in out.splitlines()}
    ASSERT_EQ(got, {("Get", "OK"): CALLS - FAILING, ("Get", "NOT_FOUND"): FAILING,
                    ("Watch", "OK"): 1}, "calls the client made, by its own account")
    agent.stop()
    points = agent.points()
    expected = {("kerno.test.Echo", "Get", 0): CALLS - FAILING,
                ("kerno.test.Echo", "Get", 5): FAILING,
                ("kerno.test.Echo", "Watch", 0): 1}
    for metric, pid in (("rpc.server.duration", server_pid), ("rpc.client.duration", proc.pid)):
        ASSERT_EQ(otlp.counts_by(otlp.select(points, metric, {"process.pid": pid,
                                                               "rpc.system": "grpc"}),
                                 *RPC_KEYS),
                  expected, f"{metric} of pid {pid} by (service, method, grpc-status)")
    _check_clean(points, [server_pid, proc.pid], "gRPC")
    http = [p for p in points if p.metric in HTTP and p.get("process.pid") in (server_pid,
                                                                                proc.pid)]
    ASSERT_EQ(http, [], "gRPC calls counted as plain HTTP/2")
    gs = groups(agent)
    ASSERT_EQ(group_counts(gs, "rpc.grpc.error", **{"local.port": port}), {(5, "5"): FAILING},
              "the server's gRPC error group")
    ASSERT_EQ(group_counts(gs, "rpc.grpc.error", **{"server.port": port}),
              {(5, "5"): FAILING}, "the client's gRPC error group")


def _grpc_calls(port, calls, failing, *flags):
    proc = subprocess.Popen([PYTHON, os.path.join(HERE, "grpcpeer.py"), "call", str(port),
                             str(calls), str(failing), *flags], stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=300)
    ASSERT_EQ(proc.returncode, 0, "grpcpeer call exit code")
    return proc.pid, {tuple(line.split()[:2]): int(line.split()[2]) for line in out.splitlines()}


def _span_view(span):
    """What a test can know of an HTTP/2 or gRPC span in advance."""
    a = span["attrs"]
    return (span["kind"], span["name"], a.get("http.route", a.get("url.template")),
            a.get("http.response.status_code"), a.get("rpc.service"), a.get("rpc.method"),
            a.get("rpc.grpc.status_code"), a.get("error.type"), a.get("kerno.sample.reason"),
            a.get("kerno.parent.source"), span["status"].get("code", 0),
            a.get("network.protocol.version"))


def _spans_by_pid(spans, pid):
    return Counter(_span_view(s) for s in spans if s["resource"].get("process.pid") == pid)


def _linked(spans, server_pid, client_pid):
    """How many of server_pid's spans are children of one of client_pid's (same trace)."""
    clients = {(s["traceId"], s["spanId"]) for s in spans
               if s["resource"].get("process.pid") == client_pid}
    return sum((s["traceId"], s["parentSpanId"]) in clients for s in spans
               if s["resource"].get("process.pid") == server_pid)


def test_h2_spans(ctx):
    """HTTP/2 streams and gRPC calls become spans in userspace, where their header
    blocks are decoded, sampled by the kernel's rules. With no baseline and a slow
    threshold out of reach, exactly the failed ones are kept, at both ends: the
    404s of h2load against nghttpd and the NOT_FOUND calls of a gRPC caller. The
    caller's traceparent names each call's trace, the server span's parent and the
    client span's own id; without one, the server end of a stream on this node is
    the child of its client end. With a full baseline, every call is kept."""
    n, calls, failing = 96, 60, 12  # h2load -c 4: 24 requests a connection, half of them 404
    agent = ctx.agent(extra_args=["--span-baseline", "0", "--span-slow-ms", "600000",
                                  "--span-rate-cap", "0"])
    docroot = _workdir(ctx)
    with open(os.path.join(docroot, "index.html"), "w") as f:
        f.write("kerno\n")
    server = Nghttpd(ctx, docroot)
    base = f"http://127.0.0.1:{server.port}"
    res = _h2load([f"{base}/index.html", f"{base}/items/12345"], n)
    ASSERT_EQ((res.done, res.status_classes["4xx"]), (n, n // 2), "h2load's own totals")
    grpc_pid, port = _grpc_server(ctx)
    caller, got = _grpc_calls(port, calls, failing, "traced")
    ASSERT_EQ(got, {("Get", "OK"): calls - failing, ("Get", "NOT_FOUND"): failing,
                    ("Watch", "OK"): 1}, "calls the client made, by its own account")
    agent.stop()
    spans = read_spans(agent.data_dir)
    _, _, stored = span_counters(agent.points())
    log(f"spans stored {len(spans)}, events {stored}")
    miss = ("GET /items/{id}", "/items/{id}", 404, None, None, None, None, "client_error")
    ASSERT_EQ(_spans_by_pid(spans, server.pid), {(2, *miss, "connection", 0, "2"): n // 2},
              "nghttpd's spans: its 404s, a client's error (status unset), each linked")
    ASSERT_EQ(_spans_by_pid(spans, res.pid), {(3, *miss, "none", 2, "2"): n // 2},
              "h2load's spans: its 404s, errors of the client")
    ASSERT_EQ(_linked(spans, server.pid, res.pid), n // 2,
              "nghttpd's spans that are children of h2load's (same stream)")
    call = ("kerno.test.Echo/Get", None, None, "kerno.test.Echo", "Get", 5, "NOT_FOUND",
            "client_error", "traceparent")
    ASSERT_EQ(_spans_by_pid(spans, grpc_pid), {(2, *call, 0, "2"): failing},
              "the gRPC server's spans: the NOT_FOUND calls, a caller's error (status unset)")
    ASSERT_EQ(_spans_by_pid(spans, caller), {(3, *call, 2, "2"): failing},
              "the gRPC caller's spans: the NOT_FOUND calls, errors of the client")
    traced = range(calls - failing, calls)
    ids = [(f"{0x5eed0000 + i:032x}", f"{0xca11 + i:016x}") for i in traced]
    pid_of = {s["spanId"]: s["resource"].get("process.pid") for s in spans}
    ASSERT_EQ(sorted((s["traceId"], s["parentSpanId"]) for s in spans
                     if pid_of[s["spanId"]] == grpc_pid), ids,
              "server spans: trace and parent from the caller's traceparent")
    ASSERT_EQ(sorted((s["traceId"], s["spanId"]) for s in spans
                     if s["resource"].get("process.pid") == caller and not s["parentSpanId"]),
              ids, "client spans: the traceparent's trace and span id, no parent")
    ASSERT_EQ((stored.get("h2_sampled"), stored.get("h2_lost"), stored.get("appended")),
              (2 * (n // 2 + failing), 0, len(spans)), "spans kept here, lost, stored")

    agent = ctx.agent(extra_args=["--span-baseline", "10000", "--span-rate-cap", "0"])
    caller, got = _grpc_calls(port, 20, 0)
    agent.stop()
    spans = read_spans(agent.data_dir)
    kinds = Counter((s["kind"], s["name"], s["attrs"].get("kerno.sample.reason"),
                     s["attrs"].get("kerno.parent.source"))
                    for s in spans if s["resource"].get("process.pid") in (grpc_pid, caller))
    ASSERT_EQ(kinds, {(2, "kerno.test.Echo/Get", "baseline", "connection"): 20,
                      (3, "kerno.test.Echo/Get", "baseline", "none"): 20,
                      (2, "kerno.test.Echo/Watch", "baseline", "connection"): 1,
                      (3, "kerno.test.Echo/Watch", "baseline", "none"): 1},
              "a full baseline: every call, at both ends, the server's linked")
    ASSERT_EQ(_linked(spans, grpc_pid, caller), 21,
              "the gRPC server's spans that are children of the caller's (same stream)")


def test_top_h2(ctx):
    """kerno top beside a running agent shows the HTTP/2 streams and gRPC
    calls, which the agent decodes and counts in userspace (h2_series): both
    ends of each, exactly those of its one refresh period, as a rate, with
    the error share of each protocol."""
    docroot = _workdir(ctx)
    with open(os.path.join(docroot, "index.html"), "w") as f:
        f.write("kerno\n")
    agent = ctx.agent()
    server = Nghttpd(ctx, docroot)
    grpc_pid, grpc_port = _grpc_server(ctx)
    refresh, n, calls, failing = 5, 40, 10, 2
    top = start_top(ctx, refresh)
    base = f"http://127.0.0.1:{server.port}"
    res = _h2load([f"{base}/index.html", f"{base}/items/12345"], n)
    ASSERT_EQ((res.done, res.status_classes["2xx"], res.status_classes["4xx"]),
              (n, n // 2, n // 2), "h2load's own totals")
    caller = subprocess.Popen([PYTHON, os.path.join(HERE, "grpcpeer.py"), "call", str(grpc_port),
                               str(calls), str(failing)], stdout=subprocess.PIPE, text=True)
    out, _ = caller.communicate(timeout=60)
    ASSERT_EQ(caller.returncode, 0, "grpcpeer call exit code")
    out, _ = top.communicate(timeout=refresh + 10)
    ASSERT_EQ(top.returncode, 0, "kerno top exit code")
    agent.stop()
    rows = [line.split() for line in out.splitlines()]
    found = {(int(r[0]),) + tuple(r[2:6]): (float(r[7]), r[8]) for r in rows[1:] if len(r) == 11}
    mine = {k: v for k, v in found.items() if k[0] in (server.pid, res.pid, grpc_pid, caller.pid)}

    def rate(count):
        return round(count / refresh, 1)

    half = n // 2
    ASSERT_EQ(mine, {
        (server.pid, "server", "http2", "GET", "/index.html"): (rate(half), "0.0%"),
        (server.pid, "server", "http2", "GET", "/items/{id}"): (rate(half), "0.0%"),
        (res.pid, "client", "http2", "GET", "/index.html"): (rate(half), "0.0%"),
        (res.pid, "client", "http2", "GET", "/items/{id}"): (rate(half), "100.0%"),
        (grpc_pid, "server", "grpc", "Get", "kerno.test.Echo"): (rate(calls), "20.0%"),
        (grpc_pid, "server", "grpc", "Watch", "kerno.test.Echo"): (rate(1), "0.0%"),
        (caller.pid, "client", "grpc", "Get", "kerno.test.Echo"): (rate(calls), "20.0%"),
        (caller.pid, "client", "grpc", "Watch", "kerno.test.Echo"): (rate(1), "0.0%"),
    }, f"top's rows of nghttpd, h2load and the gRPC peers (REQ/S, ERR%) in {out!r}")
