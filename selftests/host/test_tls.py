"""HTTPS measured like plain HTTP: uprobes on OpenSSL (shared and linked in),
BoringSSL and Go crypto/tls, found in processes started after the agent."""

import http.client
import os
import signal
import ssl
import subprocess
import tempfile
import time

import hooks
import httpclient
import otlp
import scale
import test_spans
import tlspeers
from asserts import ASSERT_EQ, ASSERT_TRUE, FATAL, log
from servers import PYTHON
from test_http1 import check_no_parse_drops, client_counts, process_drops, server_counts

HERE = os.path.dirname(os.path.abspath(__file__))
# The Done-when criteria: 1000 HTTPS requests per client.
N = scale.requests(1000)
SERVER = "http.server.request.duration"


def _workdir(ctx):
    d = tempfile.mkdtemp(prefix="kerno-tls-")
    ctx.cleanup.callback(subprocess.run, ["rm", "-rf", "--", d], check=False)
    return d


def _run_client(argv, n):
    """Runs a client to its end: (pid, {status: count}) as it reports them."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=120)
    if proc.returncode:
        raise RuntimeError(f"{argv[0]} exited with {proc.returncode}: {err[-2000:]}")
    got = tlspeers.status_lines(out)
    ASSERT_EQ(sum(got.values()), n, f"responses {os.path.basename(argv[0])} received")
    return proc.pid, got


def _curl(port, ca, workdir, n, paths=tlspeers.PATHS):
    """curl, one process, n requests over its reused connection."""
    config = os.path.join(workdir, "curl.conf")
    with open(config, "w") as f:
        for i in range(n):
            f.write(f'url = "https://127.0.0.1:{port}{paths[i % len(paths)][0]}"\n'
                    'output = "/dev/null"\n')
    proc = subprocess.Popen(["curl", "-s", "--cacert", ca, "-w", "%{http_code}\n", "-K", config],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=120)
    if proc.returncode:
        raise RuntimeError(f"curl exited with {proc.returncode}: {err[-2000:]}")
    got = {}
    for line in out.split():
        got[int(line)] = got.get(int(line), 0) + 1
    ASSERT_EQ(sum(got.values()), n, "responses curl received")
    return proc.pid, got


def _expected(n):
    return {("GET", path, status): c for (path, status), c in tlspeers.expected_statuses(n).items()}


def _check_client(points, pid, n, name, reported):
    expected = _expected(n)
    ASSERT_EQ(reported, {s: c for (_, _, s), c in expected.items()}, f"{name}: statuses received")
    ASSERT_EQ(client_counts(points, {"process.pid": pid}), expected,
              f"{name} (pid {pid}) client-side counts by (method, url.template, status)")


def _check_first_of_file(points, pids, name):
    for pid in pids:
        _check_first_process(points, pid, name)


def _check_first_process(points, pid, name):
    """The first processes of an executable new to the agent race the probes'
    attachment (tls_probe.c): each one's request is counted, or its connection
    is counted as tls_unseen; never anything else."""
    counts = client_counts(points, {"process.pid": pid})
    drops = process_drops(points, pid)
    log(f"{name}, first process of its file (pid {pid}): {counts}, drops {drops}")
    ASSERT_TRUE((counts, drops) in (({("GET", "/ok", 200): 1}, {}), ({}, {"tls_unseen": 1})),
                f"{name}'s first process: its request counted or its connection tls_unseen",
                f"{counts}, {drops}")


def _probed(agent, path):
    with open(agent.stderr_path, errors="replace") as f:
        return any("TLS probes on " in line and line.split(" (")[0].endswith(path) for line in f)


def _wait_probed(agent, path, timeout=30):
    """Until the agent says it probed the file at path (its one line per file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _probed(agent, path):
            return True
        time.sleep(0.02)
    return False


def _warm_up(agent, argv, name, attempts=5):
    """One request from a process of this executable, then the wait for its
    file's probes: every later process is measured (see _check_first_of_file).
    A process that exits before the agent has read its mappings leaves its
    file unprobed: then another one runs."""
    pids = []
    for _ in range(attempts):
        pid, _ = _run_client(argv + ["1", "/ok"], 1)
        pids.append(pid)
        if _wait_probed(agent, argv[0], timeout=5):
            return pids, name
    FATAL(f"the agent did not probe {argv[0]} after {attempts} processes:\n{agent.stderr_tail()}")


def _nginx_case(ctx, name, client_argv, warm_up=False, check_agent=None):
    """n requests from one client against nginx over TLS, both sides counted.
    warm_up: the client is an executable with its own TLS library, new to
    the agent (see _check_first_of_file)."""
    workdir = _workdir(ctx)
    certs = tlspeers.Certs(workdir)
    nginx = tlspeers.TlsNginx(ctx.cleanup, certs)
    workers = nginx.worker_pids()
    agent = ctx.agent()
    warm = None
    if client_argv is None:
        pid, got = _curl(nginx.port, certs.ca, workdir, N)
    else:
        argv = client_argv(workdir) + ["127.0.0.1", str(nginx.port), certs.ca]
        if warm_up:
            warm = _warm_up(agent, argv, name)
        pid, got = _run_client(argv + [str(N)] + [p for p, _ in tlspeers.PATHS], N)
    log(f"{name}: {got}")
    agent.stop()
    if check_agent:
        check_agent(agent)
    points = agent.points()
    _check_client(points, pid, N, name, got)
    expected = _expected(N)
    if warm:
        _check_first_of_file(points, *warm)
        expected[("GET", "/ok", 200)] += len(warm[0])  # nginx was probed before them
    ASSERT_EQ(server_counts(points, {"process.executable.name": "nginx", "server.port": nginx.port}),
              expected, "nginx server-side counts by (method, route, status)")
    check_no_parse_drops(points, workers + [pid])


def _check_links(agent):
    """The system's OpenSSL: its 10 probe points (5 functions, entry and
    return) on uprobe_multi links where the kernel has them (6.6), one per
    program (the 5 entries' and the returns' one), else one perf-event
    uprobe each."""
    major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    links = 6 if (major, minor) >= (6, 6) else 10
    with open(agent.stderr_path, errors="replace") as f:
        said = [line.split(" (", 1)[1].split(", ")[:3] for line in f
                if line.startswith("kerno: TLS probes on /usr/lib/x86_64-linux-gnu/libssl.so")]
    ASSERT_EQ(said, [["openssl", "10 points", f"{links} links"]],
              "the system libssl's probes: library, points, links")


def test_tls_curl_nginx(ctx):
    _nginx_case(ctx, "curl", None, check_agent=_check_links)


def test_tls_static_openssl_nginx(ctx):
    _nginx_case(ctx, "static OpenSSL client",
                lambda d: [tlspeers.build_c_clients(d)["static-openssl"]], warm_up=True)


def test_tls_boringssl_nginx(ctx):
    _nginx_case(ctx, "BoringSSL client", lambda d: [tlspeers.build_c_clients(d)["boringssl"]])


def test_tls_static_boringssl_nginx(ctx):
    """BoringSSL linked into the client's executable: its SSL_read and
    SSL_write found in the executable's own symbol table."""
    _nginx_case(ctx, "static BoringSSL client",
                lambda d: [tlspeers.build_c_clients(d)["static-boringssl"]], warm_up=True)


def _go_case(ctx, name, client):
    """N requests from one of tlsgo's clients against the Go server, both
    sides counted."""
    workdir = _workdir(ctx)
    certs = tlspeers.Certs(workdir)
    go = tlspeers.build_go(workdir)
    agent = ctx.agent()
    server = tlspeers.GoServer(ctx.cleanup, go["server"], certs)
    if not _wait_probed(agent, go["server"]):
        FATAL(f"the agent did not probe {go['server']}:\n{agent.stderr_tail()}")
    argv = [go[client], f"https://127.0.0.1:{server.port}", certs.ca]
    warm = _warm_up(agent, argv, name)
    pid, got = _run_client(argv + [str(N)] + [p for p, _ in tlspeers.PATHS], N)
    log(f"{name}: {got}")
    agent.stop()
    points = agent.points()
    _check_client(points, pid, N, name, got)
    _check_first_of_file(points, *warm)
    expected = _expected(N)
    expected[("GET", "/ok", 200)] += len(warm[0])  # the server was probed before them
    ASSERT_EQ(server_counts(points, {"process.pid": server.pid}), expected,
              "Go server-side counts by (method, route, status)")
    check_no_parse_drops(points, [pid, server.pid])


def test_tls_go_client_server(ctx):
    """Go's crypto/tls on both sides: Go client against the Go server."""
    _go_case(ctx, "Go client", "client")


def test_tls_go_stack_growth(ctx):
    """Each request written by a new goroutine one call deeper than the last:
    some (*tls.Conn).Write finds its stack short and the runtime runs it
    again from its first instruction. Its bytes are parsed once: the probe
    sits past the prologue's stack check (tls_elf.c), else a request parsed
    twice leaves every later response matched to the request before its own."""
    _go_case(ctx, "Go deep-write client", "deepwrite")


def test_tls_first_request(ctx):
    """Processes started after the agent, one request each. curl and the
    BoringSSL client load shared libraries the agent probed when it started:
    each is counted from its first request. The static OpenSSL, static
    BoringSSL and Go clients are executables new to the agent: their first process races the
    probes (counted, or tls_unseen), every later one is counted."""
    workdir = _workdir(ctx)
    certs = tlspeers.Certs(workdir)
    clients = tlspeers.build_c_clients(workdir)
    go_client = tlspeers.build_go(workdir)["client"]
    nginx = tlspeers.TlsNginx(ctx.cleanup, certs)
    agent = ctx.agent()
    argvs = {
        "static-openssl": [clients["static-openssl"], "127.0.0.1", str(nginx.port), certs.ca],
        "boringssl": [clients["boringssl"], "127.0.0.1", str(nginx.port), certs.ca],
        "static-boringssl": [clients["static-boringssl"], "127.0.0.1", str(nginx.port), certs.ca],
        "go": [go_client, f"https://127.0.0.1:{nginx.port}", certs.ca],
    }
    exact, first = {}, {}
    for r in range(3):
        pid, _ = _curl(nginx.port, certs.ca, workdir, 1)
        exact[pid] = "curl"
        for name, argv in argvs.items():
            if r == 0 and name in ("static-openssl", "static-boringssl", "go"):
                first[name] = _warm_up(agent, argv, name)[0]
            else:
                pid, _ = _run_client(argv + ["1", "/ok"], 1)
                exact[pid] = name
    agent.stop()
    points = agent.points()
    got = {pid: (name, client_counts(points, {"process.pid": pid})) for pid, name in exact.items()}
    ASSERT_EQ(got, {pid: (name, {("GET", "/ok", 200): 1}) for pid, name in exact.items()},
              "each client's one request counted, by pid")
    check_no_parse_drops(points, list(exact))
    for name, pids in first.items():
        _check_first_of_file(points, pids, name)


def test_tls_no_conn(ctx):
    """TLS over memory BIOs, no socket under it (tlsmembio.py): its plaintext
    belongs to no TCP connection the capture knows. Every SSL_write_ex and
    SSL_read_ex call with data is counted as tls_no_conn, and nothing else."""
    workdir = _workdir(ctx)
    certs = tlspeers.Certs(workdir)
    n = 50
    agent = ctx.agent()
    proc = subprocess.Popen([PYTHON, os.path.join(HERE, "tlsmembio.py"), certs.ca, certs.cert,
                             certs.key, str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    out, err = proc.communicate(timeout=120)
    ASSERT_EQ((proc.returncode, out.strip()), (0, f"calls {4 * n}"),
              f"tlsmembio.py's exit code and account: {err[-500:]}")
    agent.stop()
    points = agent.points()
    # The process never touched a socket: the capture does not know it, and
    # counts its drops for the node only (kern/tls.bpf.c, count_tgid()).
    node = otlp.sum_values(otlp.select(points, "kerno.capture.drops", {"service.name": "kerno"}),
                           "reason")
    ASSERT_EQ(node.get("tls_no_conn"), 4 * n, "tls_no_conn on the node: every plaintext call")
    ASSERT_EQ(process_drops(points, proc.pid), {}, "drops attributed to the unknown process")


# The exec() notices' ring buffer (kern/tls.bpf.c, exec_events): 64 KiB of
# 16-byte records, less one (a reservation that would fill it whole fails).
EXEC_RING_NOTICES = 64 * 1024 // 16 - 1


def test_tls_exec_lost(ctx):
    """An agent that cannot run (stopped, as a starved container's would be)
    while processes start: the exec() notices past what the ring buffer holds
    are counted (exec_lost), and the agent goes on capturing once it runs."""
    server = ctx.pyserver()
    agent = ctx.agent()
    execs = EXEC_RING_NOTICES + 1000
    os.kill(agent.pid, signal.SIGSTOP)
    try:
        loop = subprocess.run(["/bin/sh", "-c", f"i=0; while [ $i -lt {execs} ]; do /bin/true; "
                               "i=$((i + 1)); done"], timeout=300)
    finally:
        os.kill(agent.pid, signal.SIGCONT)
    ASSERT_EQ(loop.returncode, 0, "exit code of the exec loop")
    ASSERT_EQ(httpclient.get(server.port, "/ok", 3), [200] * 3, "statuses after the stop")
    agent.stop()
    points = agent.points()
    node = otlp.sum_values(otlp.select(points, "kerno.capture.drops", {"service.name": "kerno"}),
                           "reason")
    log(f"exec_lost {node.get('exec_lost')} of at least {execs} execs")
    # The loop's shell and its execs, less what the ring holds; a few more if
    # other processes of this host started meanwhile.
    lost = node.get("exec_lost", 0)
    ASSERT_TRUE(execs + 1 - EXEC_RING_NOTICES <= lost <= execs + 1 - EXEC_RING_NOTICES + 20,
                f"exec notices lost: the {execs + 1 - EXEC_RING_NOTICES} past the ring's "
                f"{EXEC_RING_NOTICES}", str(lost))
    ASSERT_EQ(server_counts(points, {"process.pid": server.pid}), {("GET", "/ok", 200): 3},
              "the server's requests after the stop")


def test_tls_every_flavour(ctx):
    """The socket hooks of every flavour this kernel has attribute the SSL
    calls' I/O and leave the ciphertext alone: curl against nginx counted
    exactly through each (the VM runs fexit and the pre-5.12 twins)."""
    workdir = _workdir(ctx)
    certs = tlspeers.Certs(workdir)
    nginx = tlspeers.TlsNginx(ctx.cleanup, certs)
    workers = nginx.worker_pids()
    n = scale.requests(300)
    for flavour in hooks.available(ctx.kerno):
        agent = ctx.agent(extra_args=("--hook", flavour))
        pid, got = _curl(nginx.port, certs.ca, workdir, n)
        agent.stop()
        points = agent.points()
        log(f"{flavour}: curl {got}")
        _check_client(points, pid, n, f"curl through {flavour}", got)
        ASSERT_EQ(server_counts(points, {"process.executable.name": "nginx",
                                         "server.port": nginx.port}),
                  _expected(n), f"nginx server-side counts through {flavour}")
        check_no_parse_drops(points, workers + [pid])


# ---- spans ---------------------------------------------------------------

# Every trace kept, on every process of the machine: a ring buffer with room
# for what other work on a shared machine sends through it meanwhile.
SPAN_ARGS = ["--span-baseline", "10000", "--span-rate-cap", "0",
             "--span-ringbuf-bytes", str(64 << 20)]


def _span_counts(spans):
    """{(name, path or template, status): count} of spans."""
    out = {}
    for s in spans:
        a = s["attrs"]
        k = (s["name"], a.get("http.route", a.get("url.template")), a["http.response.status_code"])
        out[k] = out.get(k, 0) + 1
    return out


def _expected_spans(n):
    return {(f"GET {path}", path, status): c
            for (path, status), c in tlspeers.expected_statuses(n).items()}


def test_tls_spans_nginx(ctx):
    """HTTPS requests are spans like plain ones: curl against nginx over TLS
    with every trace kept, one server span per request with its route,
    status and plaintext request payload, one client span per request, each
    server span the child of the curl span that sent it."""
    workdir = _workdir(ctx)
    certs = tlspeers.Certs(workdir)
    nginx = tlspeers.TlsNginx(ctx.cleanup, certs)
    agent = ctx.agent(extra_args=SPAN_ARGS)
    pid, got = _curl(nginx.port, certs.ca, workdir, N)
    agent.stop()
    spans = test_spans.read_spans(agent.data_dir)
    test_spans.check_accounting(agent.points(), spans)
    servers = [s for s in spans if s["kind"] == 2 and s["attrs"]["server.port"] == nginx.port]
    clients = [s for s in spans if s["kind"] == 3 and s["resource"]["process.pid"] == pid]
    log(f"curl {got}: {len(servers)} nginx spans, {len(clients)} curl spans")
    ASSERT_EQ(_span_counts(servers), _expected_spans(N),
              "nginx server spans by (name, http.route, status)")
    ASSERT_EQ(_span_counts(clients), _expected_spans(N),
              "curl client spans by (name, url.template, status)")
    ASSERT_EQ({s["resource"]["service.name"] for s in servers}, {"nginx"}, "server spans' service")
    ASSERT_EQ(sorted({s["attrs"]["kerno.sample.reason"].split(",")[-1] for s in servers}),
              ["baseline"], "every server span kept by the baseline (10000 bp)")
    ASSERT_EQ([s["attrs"]["url.path"] for s in servers if not s["attrs"].get(
        "kerno.payload.request", "").startswith(f"GET {s['attrs']['url.path']} HTTP/1.1\r\n")],
              [], "server spans whose request payload is not the request's plaintext")
    _check_connection_links(servers, clients, "nginx", "curl")


def _check_connection_links(servers, clients, server_name, client_name, check_trace=True):
    """Server spans and the local client span that sent them: no server span
    names another span as parent, and at least 99 % name theirs, in its
    trace. A client's SSL_write is parsed when it returns: the server, woken
    by the ciphertext onto the client's CPU, often answers before the client
    runs again, and is linked late, in userspace (docs/traces.md)."""
    by_id = {s["spanId"]: s for s in clients}
    linked, same_trace, wrong = 0, 0, []
    for s in servers:
        parent = by_id.get(s["parentSpanId"])
        if not s["parentSpanId"]:
            continue
        if s["attrs"]["kerno.parent.source"] != "connection" or not parent or \
                parent["attrs"]["url.path"] != s["attrs"]["url.path"]:
            wrong.append((s["attrs"]["url.path"], s["attrs"]["kerno.parent.source"],
                          parent and parent["attrs"]["url.path"]))
            continue
        linked += 1
        same_trace += parent["traceId"] == s["traceId"]
    log(f"{server_name} spans the child of their {client_name} span: {linked} of {len(servers)}, "
        f"{same_trace} in its trace")
    ASSERT_EQ(wrong[:5], [], f"{server_name} spans with a wrong parent (path, source, parent's path)")
    ASSERT_TRUE(linked * 100 >= 99 * len(servers),
                f"at least 99 % of {server_name} spans the child of their {client_name} span",
                f"{linked} of {len(servers)}")
    if check_trace:
        ASSERT_TRUE(same_trace * 100 >= 99 * len(servers),
                    f"at least 99 % of {server_name} spans in their {client_name} span's trace",
                    f"{same_trace} of {len(servers)}")


def test_tls_spans_tiers(ctx):
    """Three tiers over HTTPS (spantiers.py --tls, Python's ssl on OpenSSL):
    the front's call to the back from its serving thread (or a thread it
    creates) is the child of the front's server span, and the back's server
    span the child of that call."""
    workdir = _workdir(ctx)
    certs = tlspeers.Certs(workdir)
    tls = ["--tls", certs.cert, certs.key, certs.ca]
    back = test_spans.Tier(ctx.cleanup, *tls, "back")
    front = test_spans.Tier(ctx.cleanup, *tls, "front", str(back.port))
    agent = ctx.agent(extra_args=SPAN_ARGS)
    n = scale.requests(300, minimum=100)
    kinds = ("front", "thread")
    tls_ctx = ssl.create_default_context(cafile=certs.ca)
    for i in range(n):
        conn = http.client.HTTPSConnection("127.0.0.1", front.port, timeout=10, context=tls_ctx)
        try:
            conn.request("GET", f"/{kinds[i % 2]}/{i}")
            resp = conn.getresponse()
            resp.read()
            ASSERT_EQ(resp.status, 200, f"request {i}")
        finally:
            conn.close()
    agent.stop()
    spans = test_spans.read_spans(agent.data_dir)
    points = agent.points()
    _, node_drops = test_spans.check_accounting(points, spans)
    log(f"node-wide drops: {node_drops}")
    check_no_parse_drops(points, [front.pid, back.pid])
    counts = otlp.counts_by(otlp.select(points, SERVER, {"process.pid": front.pid}),
                            "http.response.status_code")
    ASSERT_EQ(counts, {(200,): n}, "front server-side metrics: every request counted")

    def by(kind, pid):
        return {int(s["attrs"]["url.path"].rsplit("/", 1)[1]): s for s in spans
                if s["kind"] == kind and s["resource"]["process.pid"] == pid}

    fronts, calls, backs = by(2, front.pid), by(3, front.pid), by(2, back.pid)
    ASSERT_EQ((len(fronts), len(calls), len(backs)), (n, n, n),
              "front server, front client and back server spans, one per request")
    # The parent: the span the thread serves. The trace: the front span's
    # when the call started; a front span linked to the caller only at its
    # end (the race _check_connection_links describes) changed trace since.
    chained, same_trace, wrong = 0, 0, []
    for i in range(n):
        f, c = fronts.get(i), calls.get(i)
        if f and c and c["parentSpanId"] == f["spanId"] and \
                c["attrs"]["kerno.parent.source"] == "thread":
            chained += 1
            same_trace += c["traceId"] == f["traceId"]
        else:
            wrong.append(i)
    log(f"front calls the child of the front's span: {chained} of {n} ({same_trace} in its "
        f"final trace); not: {wrong[:10]}")
    ASSERT_TRUE(chained * 100 >= 99 * n,
                "at least 99 % of the front's calls the child of the span its thread serves",
                f"{chained} of {n}")
    # The back's trace is not checked: when the front's span moves to the
    # test's trace late (userspace), some back spans keep the provisional
    # one (1 to 17 % on the loaded development machine): user/span_late.c does
    # not move a linked grandchild with it yet.
    _check_connection_links(list(backs.values()), list(calls.values()), "back", "front call",
                            check_trace=False)
