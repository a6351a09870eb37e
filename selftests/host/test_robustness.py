"""Traffic the agent did not see start, and traffic that is not HTTP."""

import os
import subprocess
import threading

import capture_h
import httpclient
import otlp
from asserts import ASSERT_EQ, ASSERT_GT, ASSERT_TRUE, log
from test_http1 import CLIENT, SERVER, server_counts
from test_protos import drops_of


def test_preexisting_connections(ctx):
    """A keep-alive connection opened before the agent: counted from its
    first complete exchange after attach, exactly. With fexit hooks, a call
    already inside tcp_recvmsg() when they attach returns unseen: the
    server, blocked reading its next request, then misses that one request,
    and its response counts as unmatched."""
    server = ctx.pyserver()
    n = 10
    with httpclient.Client(server.port) as c:
        ASSERT_EQ(c.request("GET", "/ok").status, 200, "request before the agent")
        agent = ctx.agent()
        statuses = [c.request("GET", "/ok").status for _ in range(n)]
    agent.stop()
    ASSERT_EQ(statuses, [200] * n, "statuses after the agent attached")
    points = agent.points()
    missed = 1 if agent.envelopes()[0]["data"]["hook"] == "fexit" else 0
    ASSERT_EQ(otlp.total_count(otlp.select(points, SERVER, {"process.pid": server.pid})), n - missed,
              "server-side count on the pre-existing connection")
    drops = otlp.sum_values(otlp.select(points, "kerno.capture.drops", {"process.pid": server.pid}),
                            "reason")
    ASSERT_EQ({r: v for r, v in drops.items() if v}, {"unmatched_response": missed} if missed else {},
              "server-side drops")
    ASSERT_EQ(otlp.total_count(otlp.select(points, CLIENT, {"process.pid": os.getpid(),
                                                           "server.port": server.port})), n,
              "client-side count on the pre-existing connection")
    events = otlp.sum_values(otlp.select(points, "kerno.capture.connections"), "event")
    ASSERT_GT(events.get("adopted", 0), 0, "kerno.capture.connections event=adopted")


# Bad traffic, whether the connection it opens is plain TCP (a connection
# must show its protocol in its first 16 bytes), and the drops it makes on
# each side. The server reads all a client sends before it closes (pyhttpd's
# lingering close), so each client write reaches the agent whole.
BAD_TRAFFIC = (
    (httpclient.send_binary, True, {}),
    (httpclient.send_garbage, True, {}),
    (httpclient.send_ssh_banner, True, {}),
    # Redis's start: a request the server never answers.
    (httpclient.send_redis_ping, False, {"no_response": 1}),
    # A header line without a colon does not break the framing: the request
    # stands, and this server closes without answering it.
    (httpclient.send_malformed_header, False, {"no_response": 1}),
    (httpclient.send_long_header, False, {"header_too_long": 1}),
    # The garbage line gives up the stream; the write after it, not at a
    # message start, is unparsed (the server may read both at once).
    (httpclient.send_garbage_after_request, False, {"bad_message": 1, "unparsed": 1}),
    (httpclient.request_cut_mid_response, False, {"closed_mid_message": 1}),
)


def _good_traffic(port, conns, per_conn, results):
    for _ in range(conns):
        results += httpclient.get(port, "/ok", per_conn)


def _one_byte_requests(port, count, results):
    with httpclient.Client(port) as c:
        results += [c.request("GET", "/ok", one_byte_per_write=True).status for _ in range(count)]


def _bad_traffic(port, rounds, plain_bytes, errors):
    for _ in range(rounds):
        for send, plain, _drops in BAD_TRAFFIC:
            try:
                sent = send(port)
            except Exception as exc:  # reported by the test, not lost in a thread
                errors.append(f"{send.__name__}: {exc!r}")
                continue
            if plain:
                plain_bytes.append(sent)


def _expected_drops(rounds):
    drops = {}
    for _send, _plain, per_conn in BAD_TRAFFIC:
        for reason, n in per_conn.items():
            drops[reason] = drops.get(reason, 0) + n * rounds
    return drops


def _check_plain_tcp(points, role, where, plain_bytes):
    conns = otlp.select(points, f"kerno.tcp.{role}.connection.duration", where)
    ASSERT_EQ(otlp.total_count(conns), len(plain_bytes), f"{role}: plain TCP connections")
    io = otlp.sum_values(otlp.select(points, f"kerno.tcp.{role}.connection.io", where),
                         "network.io.direction")
    way = "receive" if role == "server" else "transmit"
    ASSERT_EQ({d: v for d, v in io.items() if v}, {way: sum(plain_bytes)}, f"{role}: plain TCP bytes")


def test_bad_input(ctx):
    """Garbage, binary, other protocols, a 64 KiB header line, garbage after
    a request, one-byte writes and a response cut by a close, beside good
    requests: exactly the well-formed exchanges counted, connections that
    never showed a protocol as plain TCP, the rest in the drop counters."""
    reasons = capture_h.drop_reasons()
    rounds = 3
    expected_drops = _expected_drops(rounds)
    for reason in expected_drops:
        ASSERT_TRUE(reason in reasons, f"drop reason {reason} exists in kern/capture.h", str(reasons))
    server = ctx.pyserver()
    agent = ctx.agent()
    good, one_byte, plain_bytes, errors = [], [], [], []
    threads = [threading.Thread(target=_good_traffic, args=(server.port, 4, 10, good)),
               threading.Thread(target=_one_byte_requests, args=(server.port, 3, one_byte)),
               threading.Thread(target=_bad_traffic, args=(server.port, rounds, plain_bytes, errors))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ASSERT_EQ(errors, [], "bad-traffic senders ran")
    ASSERT_EQ(good, [200] * 40, "statuses of the well-formed requests")
    ASSERT_EQ(one_byte, [200] * 3, "statuses of the one-byte-per-write requests")
    ASSERT_TRUE(agent.running(), "agent still running after the bad input")
    agent.stop()
    points = agent.points()
    # send_garbage_after_request makes one good exchange first.
    expected = {("GET", "/ok", 200): len(good) + len(one_byte) + rounds}
    client = {"process.pid": os.getpid(), "server.port": server.port}
    ASSERT_EQ(otlp.counts_by(otlp.select(points, SERVER, {"process.pid": server.pid}),
                             "http.request.method", "http.route", "http.response.status_code"),
              expected, "server-side counts: only the well-formed exchanges")
    ASSERT_EQ(otlp.counts_by(otlp.select(points, CLIENT, client),
                             "http.request.method", "url.template", "http.response.status_code"),
              expected, "client-side counts: only the well-formed exchanges")
    _check_plain_tcp(points, "server", {"process.pid": server.pid}, plain_bytes)
    _check_plain_tcp(points, "client", client, plain_bytes)
    ASSERT_EQ(drops_of(points, [os.getpid()]).get(os.getpid(), {}), expected_drops, "client-side drops")
    # How the server's reads cut the rest of a 64 KiB header line (and the
    # garbage's two writes) is the kernel's choice: each read after the
    # give-up is one unparsed chunk, so that one count is not exact there.
    server_drops = drops_of(points, [server.pid]).get(server.pid, {})
    log(f"server-side unparsed chunks: {server_drops.pop('unparsed', 0)}")
    expected_drops.pop("unparsed")
    ASSERT_EQ(server_drops, expected_drops, "server-side drops, unparsed aside")


def test_proc_table_full(ctx):
    """A process table (names, per-process drops) too small for the clients:
    each connection of a process that finds no room is counted as
    proc_table_full, and its requests are measured all the same."""
    nginx = ctx.nginx()
    (worker,) = nginx.worker_pids()
    # Room for nginx's worker and the first two clients; each curl makes one connection.
    agent = ctx.agent(extra_args=("--max-processes", "3"))
    n = 5
    for i in range(n):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                              f"http://127.0.0.1:{nginx.port}/ok"],
                             capture_output=True, text=True, timeout=60)
        ASSERT_EQ(out.stdout, "200", f"curl {i} status")
    agent.stop()
    points = agent.points()
    node = otlp.sum_values(otlp.select(points, "kerno.capture.drops", {"service.name": "kerno"}),
                           "reason")
    ASSERT_EQ(node.get("proc_table_full", 0), n - 2, "proc_table_full: the clients past the table's room")
    ASSERT_EQ(server_counts(points, {"process.pid": worker}), {("GET", "/ok", 200): n},
              "nginx's requests, all measured")
    clients = otlp.select(points, CLIENT, {"server.port": nginx.port})
    ASSERT_EQ(otlp.total_count(clients), n, "the curls' requests, all measured")


def test_series_table_full(ctx):
    """A series map too small for the traffic: what fits is counted exactly,
    every request that found no room is in series_table_full, none is lost."""
    nginx = ctx.nginx()
    (worker,) = nginx.worker_pids()
    agent = ctx.agent(extra_args=("--max-series", "2"))
    n = 10
    with httpclient.Client(nginx.port) as c:
        statuses = [c.request("GET", p).status for p in ("/ok", "/missing", "/fail") for _ in range(n)]
    agent.stop()
    ASSERT_EQ(sorted(set(statuses)), [200, 404, 500], "nginx statuses")
    points = agent.points()
    ours = (otlp.select(points, SERVER, {"server.port": nginx.port}) +
            otlp.select(points, CLIENT, {"server.port": nginx.port}))
    series = {(p.get("http.route") or p.get("url.template"), p.get("http.response.status_code"),
               p.get("process.pid")) for p in ours}
    drops = {}
    for pid in (worker, os.getpid()):
        for reason, count in otlp.sum_values(otlp.select(points, "kerno.capture.drops",
                                                         {"process.pid": pid}), "reason").items():
            drops[reason] = drops.get(reason, 0) + count
    ASSERT_EQ(len(series), 2, "distinct series kept with --max-series 2")
    ASSERT_EQ(otlp.total_count(ours) + drops.get("series_table_full", 0), 2 * 3 * n,
              "measured + series_table_full = every request, server and client side")



# A client that names itself (prctl PR_SET_NAME), makes one GET and exits;
# it does nothing (exit 3) unless it got the pid it was meant to have.
NAMED_CLIENT = """
import ctypes, os, sys
sys.path.insert(0, sys.argv[4])
import httpclient
if os.getpid() != int(sys.argv[1]):
    sys.exit(3)
ctypes.CDLL(None).prctl(15, sys.argv[2].encode(), 0, 0, 0)
sys.exit(0 if httpclient.get(int(sys.argv[3]), "/ok") == [200] else 1)
"""


def _client_as(pid, name, port):
    """Runs NAMED_CLIENT as `pid` (set through ns_last_pid; another fork may
    take it first, then it tries again); returns its exit code."""
    here = os.path.dirname(os.path.abspath(__file__))
    for _ in range(20):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        proc = subprocess.Popen(["/usr/bin/python3", "-c", NAMED_CLIENT, str(pid), name, str(port),
                                 here])
        rc = proc.wait(30)
        if proc.pid == pid:
            return rc
    return None


def _unused_pid():
    with open("/proc/sys/kernel/ns_last_pid") as f:
        pid = int(f.read()) + 1000
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    while os.path.exists(f"/proc/{pid}") or pid >= pid_max:
        pid = pid + 1 if pid < pid_max else 1000
    return pid


def test_pid_reuse_renames(ctx):
    """Two clients one after the other with the same pid, both gone when the
    agent exports: the kernel's procs map, which names exited processes,
    holds the second one's name, not the first's (it kept the first's when
    the pid came back within userspace's 30 s grace)."""
    server = ctx.pyserver()
    agent = ctx.agent(interval=3600)  # one export, at the end: both clients exited by then
    pid = _unused_pid()
    ASSERT_EQ(_client_as(pid, "kerno-first", server.port), 0, f"first client, as pid {pid}")
    ASSERT_EQ(_client_as(pid, "kerno-second", server.port), 0, f"second client, as pid {pid}")
    agent.stop()
    points = otlp.select(agent.points(), CLIENT, {"process.pid": pid})
    ASSERT_EQ(otlp.counts_by(points, "process.executable.name", "http.response.status_code"),
              {("kerno-second", 200): 2}, f"client requests of pid {pid}, by process name")
