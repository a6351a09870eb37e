"""The cloud uplink over one WebSocket (docs/uplink.md), against a real
WebSocket server over TLS started here (wsserver.py) with a test CA.

Delivery is checked on the server side by sequence number: every envelope
the agent numbered arrives once, in order, with none missing, whatever the
server does (crash, misbehave, stall) in between."""

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import dbpeers
import httpclient
import test_spans
from asserts import ASSERT_EQ, ASSERT_GE, ASSERT_GT, ASSERT_TRUE, Fatal, log
from servers import cpu_seconds
from test_agent import check_usage_error, run_cli
from uplinkws import (ConnectProxy, CloudAgent, CloudAgentPending, Load, Pki, WsServer,
                      agent_sockets, seqs_of)

CANARY = "kErNoCaNaRy-7f3a9c1e"

# The main case runs 5 minutes; the suite runs it shorter.
KILL_RUN_S = int(os.environ.get("KERNO_UPLINK_KILL_SECS", "60"))


def _no_proxy_env(ctx):
    """The agent inherits the environment: no proxy unless a test sets one."""
    saved = {k: os.environ.pop(k) for k in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")
             if k in os.environ}
    ctx.cleanup.callback(os.environ.update, saved)


def check_in_order(server, agent_last=None, what="envelopes"):
    """Every seq from 1 to the last one exactly once, in order; no duplicate or gap events."""
    got = seqs_of(server.received())
    last = got[-1] if got else 0
    ok = ASSERT_EQ(got, list(range(1, last + 1)), f"{what}: seqs received, in order, once")
    bad = [e for e in server.events() if e["ev"] in ("duplicate", "gap")]
    ASSERT_EQ(bad, [], f"{what}: duplicates or gaps seen by the server")
    if agent_last is not None:
        ASSERT_EQ(last, agent_last, f"{what}: last seq received = last seq the agent assigned")
    return ok


def agent_last_seq(agent):
    """The last seq the agent assigned: from its queue state after a clean stop."""
    with open(os.path.join(agent.cloud_dir, "uplink", "queue", "last-seq")) as f:
        return int(f.read())


def test_uplink_ws_delivery(ctx):
    """Token from a file (refused, then fixed as a rotated Secret would be),
    deflate negotiated, one TCP connection out, nothing listening, every
    envelope once and in order, the queue empty after a clean stop, no
    ndjson file."""
    _no_proxy_env(ctx)
    pki = Pki(ctx.cleanup)
    server = WsServer(ctx.cleanup, pki, token="right-token")
    server.start()
    token = os.path.join(server.dir, "token")
    with open(token, "w") as f:
        f.write("wrong-token\n")
    # Pings after 5 s of silence, not 2: this test counts connections, and beside
    # the VM tests a starved server could pass for dead (CI23: 2 connections).
    agent = CloudAgentPending(ctx.kerno, ctx.cleanup, server, token_file=token, ping=5)
    agent.wait_log(r"refused the token \(HTTP 401\)", 20, "the 401")
    with open(token + ".new", "w") as f:
        f.write("right-token\n")
    os.rename(token + ".new", token)
    server.wait_event(lambda e: e["ev"] == "envelope" and e["type"] == "hello", 20, "hello")
    nginx = ctx.nginx()
    load = Load(ctx.cleanup, nginx.port)
    # A canary in every place a secret could hide in a request: query, headers, cookie, body.
    with httpclient.Client(nginx.port) as c:
        for i in range(20):
            c.request("POST", f"/users/{i}?api_key={CANARY}&q={CANARY}",
                      headers=[("Authorization", f"Bearer {CANARY}"), ("Cookie", f"s={CANARY}"),
                               ("X-Api-Key", CANARY)],
                      body=f"password={CANARY}".encode())
    time.sleep(4)
    peers, listening = agent_sockets(agent.pid)
    ASSERT_EQ(peers, [f"127.0.0.1:{server.port}"], "the agent's TCP connections: one, to the cloud")
    ASSERT_EQ(listening, [], "TCP/UDP sockets the agent listens on")
    load.stop()
    agent.stop()
    log(f"{load.count} requests during the run")
    check_in_order(server, agent_last_seq(agent))
    env = server.received()
    ASSERT_EQ(env[0]["type"], "hello", "first envelope")
    ASSERT_GE(sum(e["type"] == "metrics" for e in env), 4, "metrics envelopes")
    beats = [e for e in env if e["type"] == "heartbeat"]
    ASSERT_GE(len(beats), 1, "heartbeats")
    if beats:
        ASSERT_EQ(sorted(beats[-1]["data"]), ["connection", "lost", "overflow", "queue", "uptime_s"],
                  "heartbeat fields")
        ASSERT_EQ(beats[-1]["data"]["overflow"]["envelopes_total"], 0, "overflow")
    connects = [e for e in server.events() if e["ev"] == "connect"]
    if not ASSERT_EQ(len(connects), 1, "connections that got past the token check"):
        print("    why, as the agent says:\n" + "\n".join(
            line for line in agent.stderr().splitlines() if "uplink" in line), flush=True)
    ASSERT_EQ(connects[0]["extensions"], "permessage-deflate", "negotiated extension")
    ASSERT_EQ(connects[0]["subprotocol"], "kerno-uplink.v1", "subprotocol")
    unauthorized = [e for e in server.events() if e["ev"] == "unauthorized"]
    ASSERT_GE(len(unauthorized), 1, "refused connections")
    ASSERT_EQ({e["auth"] for e in unauthorized}, {"Bearer wrong-token"}, "refused tokens")
    ASSERT_EQ(agent.queued(), [], "queue after a clean stop")
    ASSERT_EQ(glob.glob(os.path.join(agent.cloud_dir, "uplink", "*.ndjson")), [],
              "ndjson files with the cloud sink")
    with open(server.log_path) as f:
        received = f.read()
    # Only the canary requests are POSTs: seeing one proves they were measured and sent.
    ASSERT_TRUE('{"stringValue": "POST"}' in received and "/users/{id}" in received,
                "the canary requests were measured (POST /users/{id})",
                "no POST on /users/{id} in what the server received")
    ASSERT_EQ(received.count(CANARY[:12]), 0, "canary bytes in what the cloud received")


def test_uplink_ws_deflate_variants(ctx):
    """Deflate without context takeover either way (the server's inflater
    resets per message, so a client that kept its context would fail), and
    --no-cloud-deflate offering nothing."""
    _no_proxy_env(ctx)
    pki = Pki(ctx.cleanup)
    for variant, extra, want_offer, want_ext in (
            ("nocontext", [], "permessage-deflate; client_max_window_bits",
             "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            ("on", ["--no-cloud-deflate"], "", "")):
        server = WsServer(ctx.cleanup, pki, deflate=variant)
        server.start()
        agent = CloudAgent(ctx.kerno, ctx.cleanup, server, extra=extra)
        time.sleep(4)
        agent.stop()
        check_in_order(server, agent_last_seq(agent), variant)
        ASSERT_GE(len(server.received()), 5, f"{variant}: envelopes")
        connects = [e for e in server.events() if e["ev"] == "connect"]
        ASSERT_EQ([(c["client_extensions"], c["extensions"]) for c in connects],
                  [(want_offer, want_ext)], f"{variant}: offered and negotiated")
        closes = [e["code"] for e in server.events() if e["ev"] == "closed"]
        ASSERT_EQ(closes, [1001], f"{variant}: close codes from the agent")


# (server mode, close code the agent must answer with, what the agent logs)
PROTOCOL_CASES = (
    ("close:4000", 4000, r"the server closed with 4000: scripted"),
    ("close:1011", 1011, r"the server closed with 1011"),
    ("badclose", 1002, r"broke the WebSocket protocol"),
    ("utf8", 1007, r"text message that is not UTF-8 \(closing with 1007\)"),
    ("oversize", 1009, r"larger than the limit \(closing with 1009\)"),
    ("binary", 1003, r"binary message; the protocol is text only \(closing with 1003\)"),
)


def test_uplink_ws_protocol_cases(ctx):
    """Autobahn-like client cases, one server start each, one agent throughout:
    an ack fragmented with pings in between, close codes valid and invalid,
    invalid UTF-8, an oversize and a binary message; then a stalled server
    (dead peer). After each the agent reconnects and loses nothing."""
    _no_proxy_env(ctx)
    pki = Pki(ctx.cleanup)
    server = WsServer(ctx.cleanup, pki)
    server.start("fragments")
    agent = CloudAgent(ctx.kerno, ctx.cleanup, server, ping=1)
    pongs = server.wait_event(lambda e: e["ev"] == "pongs", 10, "pongs")
    ASSERT_EQ(pongs["count"], 2, "pings answered in the middle of a fragmented message")
    time.sleep(1.5)
    server.kill()
    for mode, code, logged in PROTOCOL_CASES:
        server.start(mode)
        try:
            closed = server.wait_event(lambda e: e["ev"] == "closed" and e["n"] == 1, 15,
                                       f"{mode}: end of the first connection")
        except Fatal:
            print(f"    agent stderr:\n{agent.stderr_tail(30)}", flush=True)
            raise
        ASSERT_EQ(closed["code"], code, f"{mode}: the agent's close code")
        agent.wait_log(logged, 5, f"{mode}: the reason")
        server.wait_event(lambda e: e["ev"] == "envelope" and e.get("seq", 0) > 0, 15,
                          f"{mode}: an envelope on the next connection")
        server.kill()
    # Each failed connection lingers until the server ends it: a socket closed
    # with the rest of the oversize message unread resets, and the server may
    # then lose the close frame (1006 instead of 1009).
    ASSERT_EQ(agent.stderr().count("failed by this agent, close frame sent, stream ended"),
              sum(1 for mode, code, _ in PROTOCOL_CASES if not mode.startswith("close:")),
              "failed connections ended by the server's end of the stream")
    # Dead peer: the server stops answering anything, pings included.
    server.start()
    server.wait_event(lambda e: e["ev"] == "envelope", 10, "an envelope")
    server.pause()
    start = time.monotonic()
    agent.wait_log(r"nothing from the server for 2 s, ping unanswered", 10, "dead peer")
    took = time.monotonic() - start
    ASSERT_TRUE(took < 5, "dead peer found within 2 ping periods and a bit", f"{took:.1f}s")
    server.resume()
    time.sleep(3)
    agent.stop()
    check_in_order(server, agent_last_seq(agent), "across all cases")
    ASSERT_EQ(agent.queued(), [], "queue after a clean stop")


def test_uplink_ws_bad_accept_wrong_ca(ctx):
    """A wrong Sec-WebSocket-Accept and a certificate from another CA: the
    agent sends nothing (not one frame), says why in one line, keeps its
    data, and delivers all of it once a good server is back."""
    _no_proxy_env(ctx)
    pki = Pki(ctx.cleanup)
    server = WsServer(ctx.cleanup, pki)
    server.start("badaccept")
    agent = CloudAgentPending(ctx.kerno, ctx.cleanup, server)
    agent.wait_log(r"Sec-WebSocket-Accept '[^']+' does not match the key sent", 15,
                   "the bad accept")
    eof = server.wait_event(lambda e: e["ev"] == "eof", 10, "the agent hanging up")
    ASSERT_EQ(eof["frames"], 0, "frames the agent sent after a bad accept")
    server.kill()
    server.start(ca="other")
    agent.wait_log(r"certificate verify failed", 15, "the wrong CA")
    deadline = time.monotonic() + 10
    while len(agent.queued()) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    connects = [e for e in server.events(since_start=True) if e["ev"] == "connect"]
    ASSERT_EQ(connects, [], "WebSocket connections made to a server with the wrong CA")
    queued = agent.queued()
    ASSERT_GT(len(queued), 2, "envelopes kept while no server could be trusted")
    with open(glob.glob(os.path.join(agent.cloud_dir, "uplink", "queue", "*.env"))[0], "rb") as f:
        sealed = f.read()
    ASSERT_TRUE(b'"type"' not in sealed and sealed.startswith(b"KSEAL001"),
                "queue files are sealed", repr(sealed[:40]))
    server.kill()
    server.start()
    server.wait_event(lambda e: e["ev"] == "envelope" and e["seq"] >= queued[-1], 20,
                      "the kept envelopes")
    agent.stop()
    check_in_order(server, agent_last_seq(agent))
    ASSERT_EQ(server.received()[0]["type"], "hello", "first envelope delivered")


def _start_pending(ctx, mode, flush_secs, heartbeat=2):
    """A scripted server in `mode` and an agent started against it, given
    flush_secs to have its envelopes acknowledged when it stops."""
    _no_proxy_env(ctx)
    server = WsServer(ctx.cleanup, Pki(ctx.cleanup))
    server.start(mode)
    agent = CloudAgentPending(ctx.kerno, ctx.cleanup, server, heartbeat=heartbeat,
                              extra=["--cloud-flush-timeout", str(flush_secs)])
    return server, agent


def _check_unanswered_close(server):
    """The agent's close frame (1001, masked), unanswered by the server, and
    the agent hanging up --cloud-close-timeout (2 s) after it."""
    frame = server.wait_event(lambda e: e["ev"] == "close_frame", 5, "the agent's close frame")
    ASSERT_EQ((frame["code"], frame["masked"]), (1001, True), "close frame (code, masked)")
    eof = server.wait_event(lambda e: e["ev"] == "eof", 5, "the agent hanging up")
    ASSERT_TRUE(1.5 <= eof["after_close_s"] <= 3.5, "TCP closed --cloud-close-timeout (2 s) "
                "after the unanswered close", f"{eof['after_close_s']:.2f}s")


def test_uplink_ws_never_close(ctx):
    """A server that takes envelopes without acking them and never answers
    the close: the agent closes the TCP connection after --cloud-close-timeout,
    exits cleanly, and the unacknowledged envelopes survive the restart to
    be delivered by the next run, once each, in order. Heartbeats every
    second, less than the agent takes to load its programs: the hello is
    still each run's first envelope."""
    server, agent = _start_pending(ctx, "neverclose", 1, heartbeat=1)
    server.wait_event(lambda e: e["ev"] == "unacked" and e["seq"] >= 3, 15, "envelopes")
    start = time.monotonic()
    agent.stop()
    took = time.monotonic() - start
    _check_unanswered_close(server)
    ASSERT_TRUE(took < 8, "agent exit time with a server that never closes", f"{took:.1f}s")
    ASSERT_TRUE("did not answer the close frame within 2 s" in agent.stderr(),
                "the agent says so", agent.stderr_tail(5))
    sent = sorted({e["seq"] for e in server.events() if e["ev"] == "unacked"})
    kept = agent.queued()
    ASSERT_EQ(kept[:len(sent)], sent, "every envelope sent but not acknowledged is kept")
    server.kill()
    server.start()
    again = CloudAgent(ctx.kerno, ctx.cleanup, server, data_dir=agent.cloud_dir)
    server.wait_event(lambda e: e["ev"] == "envelope" and e["seq"] > kept[-1], 15,
                      "the next run's envelopes")
    again.stop()
    check_in_order(server, agent_last_seq(again), "two runs")
    hellos = [e["seq"] for e in server.received() if e["type"] == "hello"]
    ASSERT_EQ(len(hellos), 2, "hellos: one per run")
    ASSERT_EQ(hellos[0], 1, "the first run's hello is seq 1")


def test_uplink_ws_close_outlasts_ping(ctx):
    """A server that answers neither pings nor the close, the agent stopped
    just after its ping: the close waits out --cloud-close-timeout (2 s),
    though the dead-peer verdict (no answer for twice --cloud-ping, 4 s)
    would fall due sooner: once the close is sent, its deadline alone
    decides."""
    server, agent = _start_pending(ctx, "deaf", 0)
    server.wait_event(lambda e: e["ev"] == "ping", 15, "the agent's ping")
    agent.stop()
    _check_unanswered_close(server)
    ASSERT_TRUE("did not answer the close frame within 2 s" in agent.stderr() and
                "dead peer" not in agent.stderr(), "the close timeout ended it, not a ping",
                agent.stderr_tail(5))


def test_uplink_ws_failed_conn_not_ended(ctx):
    """A server that sends a binary message, which the agent fails the
    connection for (1003), and then never ends the TCP stream: the agent
    waits for that end --cloud-close-timeout (2 s) only, hangs up, says so,
    and delivers everything over the next connection."""
    server, agent = _start_pending(ctx, "stuckfail", 10)
    frame = server.wait_event(lambda e: e["ev"] == "close_frame", 15, "the agent's close frame")
    ASSERT_EQ((frame["code"], frame["masked"]), (1003, True), "close frame (code, masked)")
    eof = server.wait_event(lambda e: e["ev"] == "eof", 5, "the agent hanging up")
    ASSERT_TRUE(1.5 <= eof["after_close_s"] <= 3.5, "TCP closed --cloud-close-timeout (2 s) "
                "after the close frame", f"{eof['after_close_s']:.2f}s")
    agent.wait_log(r"connection ended: failed by this agent; the server did not end the TCP "
                   r"connection in time", 5, "the reason")
    second = server.wait_event(lambda e: e["ev"] == "connect" and e["n"] == 2, 15,
                               "the next connection")
    ASSERT_EQ(second["raw"], "stuckfail", "the same server took the next connection")
    server.wait_event(lambda e: e["ev"] == "envelope", 15, "an envelope on the next connection")
    agent.stop()
    ASSERT_EQ(agent.stderr().count("stream ended"), 0,
              "failed connections the server ended (none: it never does here)")
    check_in_order(server, agent_last_seq(agent), "over both connections")
    ASSERT_EQ(agent.queued(), [], "queue after a clean stop")


def test_uplink_ws_slow_close(ctx):
    """A server that answers the stopping close 1.5 s late, with heartbeats
    due every second: the agent waits for the answer, idle, on its one
    connection and exits; a heartbeat falling due meanwhile is not queued,
    so it is no reason to connect again."""
    _no_proxy_env(ctx)
    pki = Pki(ctx.cleanup)
    server = WsServer(ctx.cleanup, pki)
    server.start("slowclose")
    agent = CloudAgent(ctx.kerno, ctx.cleanup, server, heartbeat=1)
    server.wait_event(lambda e: e["ev"] == "envelope" and e["type"] == "heartbeat", 15,
                      "a heartbeat")
    agent.proc.send_signal(signal.SIGTERM)
    server.wait_event(lambda e: e["ev"] == "close_frame", 5, "the agent's close frame")
    before = cpu_seconds(agent.pid)
    time.sleep(1)
    waiting = cpu_seconds(agent.pid) - before
    ASSERT_TRUE(waiting <= 0.2, "CPU seconds the agent spends in 1 s of waiting for the answer",
                f"{waiting:.2f}")
    agent.stop()
    server.wait_event(lambda e: e["ev"] == "close_answered", 5, "the late answer to the close")
    server.wait_event(lambda e: e["ev"] == "eof", 5, "the agent hanging up")
    connects = [e for e in server.events() if e["ev"] == "connect"]
    if not ASSERT_EQ(len(connects), 1, "connections to the server"):
        print(f"    agent stderr (tail):\n{agent.stderr_tail(8)}", flush=True)
    ASSERT_TRUE("did not answer the close frame" not in agent.stderr(),
                "the close was answered before --cloud-close-timeout (2 s)", agent.stderr_tail(5))
    check_in_order(server, agent_last_seq(agent))
    ASSERT_EQ(agent.queued(), [], "envelopes left in the agent's queue")


def test_uplink_ws_proxy(ctx):
    """HTTPS_PROXY: the agent tunnels through an HTTP CONNECT proxy on
    loopback; TLS is end to end (verified against the server's name), and
    its one TCP connection is to the proxy."""
    _no_proxy_env(ctx)
    pki = Pki(ctx.cleanup)
    server = WsServer(ctx.cleanup, pki)
    server.start()
    proxy = ConnectProxy(ctx.cleanup)
    os.environ["HTTPS_PROXY"] = f"http://127.0.0.1:{proxy.port}"
    ctx.cleanup.callback(os.environ.pop, "HTTPS_PROXY", None)
    agent = CloudAgent(ctx.kerno, ctx.cleanup, server)
    os.environ.pop("HTTPS_PROXY")
    time.sleep(3)
    peers, listening = agent_sockets(agent.pid)
    ASSERT_EQ(peers, [f"127.0.0.1:{proxy.port}"], "the agent's TCP connections: one, to the proxy")
    ASSERT_EQ(listening, [], "sockets the agent listens on")
    agent.stop()
    ASSERT_EQ(proxy.targets, [f"127.0.0.1:{server.port}"], "CONNECT requests")
    ASSERT_TRUE("connected through HTTPS_PROXY" in agent.stderr(), "the agent says it",
                agent.stderr_tail(5))
    check_in_order(server, agent_last_seq(agent))
    ASSERT_GE(len(server.received()), 4, "envelopes through the proxy")


def test_uplink_ws_queue_overflow(ctx):
    """A queue bound too small for metrics: refused envelopes use no seq
    number, are counted, and the heartbeats report them exactly."""
    _no_proxy_env(ctx)
    pki = Pki(ctx.cleanup)
    server = WsServer(ctx.cleanup, pki)
    server.start()
    nginx = ctx.nginx()
    load = Load(ctx.cleanup, nginx.port)
    agent = CloudAgent(ctx.kerno, ctx.cleanup, server, heartbeat=1,
                       extra=["--cloud-queue-bytes", "4096"])
    server.kill()  # nothing is acknowledged: the queue fills
    time.sleep(5)
    server.start()
    # Reconnecting backs off with jitter: wait for three heartbeats, not a fixed time.
    deadline = time.monotonic() + 30
    while (sum(e["type"] == "heartbeat" for e in server.received()) < 3
           and time.monotonic() < deadline):
        time.sleep(0.5)
    load.stop()
    agent.stop()
    check_in_order(server, agent_last_seq(agent))
    env = server.received()
    beats = [e["data"]["overflow"] for e in env if e["type"] == "heartbeat"]
    if not ASSERT_GT(len(beats), 2, "heartbeats"):
        return
    ASSERT_GT(beats[-1]["envelopes_total"], 0, "envelopes refused by the full queue")
    ASSERT_EQ(sum(b["envelopes"] for b in beats), beats[-1]["envelopes_total"],
              "per-heartbeat overflow counts add up to the total")
    ASSERT_EQ(sum(b["bytes"] for b in beats), beats[-1]["bytes_total"],
              "per-heartbeat overflow bytes add up to the total")


def test_uplink_ws_server_killed(ctx):
    """The issue's main case: under load, the server is killed (SIGKILL) three
    times and restarted; every envelope arrives once, in order, none missing."""
    _no_proxy_env(ctx)
    pki = Pki(ctx.cleanup)
    server = WsServer(ctx.cleanup, pki)
    server.start()
    nginx = ctx.nginx()
    load = Load(ctx.cleanup, nginx.port)
    agent = CloudAgent(ctx.kerno, ctx.cleanup, server, heartbeat=5)
    t0 = time.monotonic()
    downtime = []
    for k in range(3):
        time.sleep(KILL_RUN_S / 4 - 1)
        server.kill()
        down = time.monotonic()
        time.sleep(1 + k)  # 1, 2, 3 s down
        server.start()
        server.wait_event(lambda e: e["ev"] == "envelope", 30, f"delivery after kill {k + 1}")
        downtime.append(time.monotonic() - down)
    time.sleep(max(0, KILL_RUN_S - (time.monotonic() - t0)))
    load.stop()
    agent.stop()
    env = server.received()
    check_in_order(server, agent_last_seq(agent))
    connects = [e for e in server.events() if e["ev"] == "connect"]
    ASSERT_EQ(len(connects), 4, "connections: the first and one per restart")
    metrics = sum(e["type"] == "metrics" for e in env)
    ASSERT_GE(metrics, KILL_RUN_S - 5, "metrics envelopes (one per 1 s interval)")
    print(f"    uplink kill run: {time.monotonic() - t0:.0f}s, {load.count} requests, "
          f"{len(env)} envelopes ({metrics} metrics), "
          f"{sum(e['bytes'] for e in server.events() if e['ev'] == 'envelope')} bytes, "
          f"kill-to-delivery {', '.join(f'{d:.1f}s' for d in downtime)}", flush=True)


def test_uplink_ws_bad_options(ctx):
    """A bad cloud option is a one-line message and exit code 2, before anything loads."""
    _no_proxy_env(ctx)
    pki = Pki(ctx.cleanup)
    data = tempfile.mkdtemp(prefix="kerno-test-")
    ctx.cleanup.callback(subprocess.run, ["rm", "-rf", "--", data], check=False)
    base = [ctx.kerno, "run", "--data-dir", data, "--duration", "1"]
    empty = os.path.join(data, "empty-token")
    open(empty, "w").close()
    cases = (
        (["--cloud-url", "ws://127.0.0.1:9/"], r"must start with wss://"),
        (["--cloud-url", "wss://user@127.0.0.1/"], r"expected wss://HOST"),
        (["--cloud-url", "wss://127.0.0.1/", "--cloud-token-file", "/nonexistent/token"],
         r"cannot read --cloud-token-file /nonexistent/token"),
        (["--cloud-url", "wss://127.0.0.1/", "--cloud-token-file", empty],
         r"expected one token"),
        (["--cloud-url", "wss://127.0.0.1/", "--cloud-ca-file", "/nonexistent/ca.pem"],
         r"/nonexistent/ca.pem"),
        (["--cloud-url", "wss://127.0.0.1/", "--cloud-ca-file", pki.path("good-ca.pem"),
          "--cloud-queue-bytes", "10"], r"out of range"),
    )
    for args, mention in cases:
        res = run_cli(base + args)
        check_usage_error(res, " ".join(args), mention)
    ASSERT_EQ(glob.glob(os.path.join(data, "uplink", "queue", "*.env")), [],
              "nothing queued by refused runs")


def _log_stop(agent, took):
    """The stop's time measured here, beside the agent's own account of it."""
    times = re.search(r"kerno: stopped in .*", agent.stderr())
    print(f"    stop: {took:.2f} s here; {times and times.group(0)}", flush=True)


def test_uplink_ws_unreachable_stop(ctx):
    """With the cloud unreachable the agent still stops within --cloud-flush-timeout,
    keeping what it queued."""
    _no_proxy_env(ctx)
    pki = Pki(ctx.cleanup)
    server = WsServer(ctx.cleanup, pki)
    server.start()
    server.kill()  # its port is now closed: connections are refused
    agent = CloudAgentPending(ctx.kerno, ctx.cleanup, server,
                              extra=["--cloud-flush-timeout", "2"])
    time.sleep(2)
    start = time.monotonic()
    agent.stop()
    # The flush timeout bounds the stop's wait for the cloud, which runs
    # beside the teardown. The rest of the stop is the kernel's and the
    # disk's (hooks detached, the last interval written) and grows with the
    # machine's load: logged here, not bounded.
    _log_stop(agent, time.monotonic() - start)
    kept = agent.queued()
    ASSERT_GE(len(kept), 3, "envelopes kept for the next run")
    ASSERT_TRUE("cannot connect: 127.0.0.1:" in agent.stderr(), "the agent says why",
                agent.stderr_tail(3))
    queue = os.path.join(agent.cloud_dir, "uplink", "queue")
    said = re.search(r"stopping with (\d+) envelopes \((\d+) bytes, seq (\d+) to (\d+)\) not "
                     r"acknowledged after ([\d.]+) s: kept in (\S+) for the next run",
                     agent.stderr())
    ASSERT_EQ(said and (tuple(int(g) for g in said.groups()[:4]), said.group(6)),
              ((len(kept), sum(os.path.getsize(os.path.join(queue, f"{seq:020d}.env")) for seq in kept),
                kept[0], kept[-1]), queue) if kept else None,
              "what the agent says it keeps (envelopes, bytes, first and last seq, where)")
    flush = float(said.group(5)) if said else None
    ASSERT_TRUE(flush is not None and 2.0 <= flush < 3.0,
                "the stop's wait for the unreachable cloud (flush timeout 2 s)", flush)



def test_uplink_ws_stop_abandons_connect(ctx):
    """A connection attempt in flight when the agent stops (here a TLS handshake
    that a listener never answers, as behind a firewall that drops packets) is
    abandoned: the stop waits --cloud-flush-timeout for the cloud, not the
    attempt's own 10 s."""
    _no_proxy_env(ctx)
    silent = socket.socket()
    ctx.cleanup.callback(silent.close)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # never accepted: the kernel completes the TCP handshake, nobody answers
    server = WsServer(ctx.cleanup, Pki(ctx.cleanup))  # never started: its CA and URL only
    server.port = silent.getsockname()[1]
    agent = CloudAgentPending(ctx.kerno, ctx.cleanup, server,
                              extra=["--cloud-flush-timeout", "2"])
    time.sleep(1)  # the first attempt waits for a ServerHello, 10 s at most
    ASSERT_TRUE("cannot connect" not in agent.stderr(), "the first attempt still in flight",
                agent.stderr_tail(3))
    start = time.monotonic()
    agent.stop()
    _log_stop(agent, time.monotonic() - start)
    ASSERT_TRUE(f"cannot connect: 127.0.0.1:{server.port}: TLS handshake: Operation canceled"
                in agent.stderr(), "the attempt in flight abandoned at the stop",
                agent.stderr_tail(4))
    said = re.search(r"not acknowledged after ([\d.]+) s: kept in", agent.stderr())
    flush = float(said.group(1)) if said else None
    ASSERT_TRUE(flush is not None and 2.0 <= flush < 3.0,
                "the stop's wait for the silent cloud (flush timeout 2 s)", flush)

def test_uplink_ws_stop_abandons_resolve(ctx):
    """A name lookup in flight when the agent stops (a DNS server that never
    answers: glibc's resolver would wait 5 s per attempt) is abandoned too: the
    stop waits --cloud-flush-timeout for the cloud, not the resolver. The agent
    runs in a mount namespace whose /etc/resolv.conf names a silent server."""
    _no_proxy_env(ctx)
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ctx.cleanup.callback(dns.close)
    dns.bind(("127.0.0.77", 53))  # queries arrive; none is answered
    conf = os.path.join(tempfile.mkdtemp(prefix="kerno-dns-"), "resolv.conf")
    ctx.cleanup.callback(shutil.rmtree, os.path.dirname(conf), True)
    with open(conf, "w") as f:
        f.write("nameserver 127.0.0.77\noptions timeout:5 attempts:2\n")
    server = WsServer(ctx.cleanup, Pki(ctx.cleanup))  # never started: its CA only
    server.url = lambda: "wss://cloud.kerno-test.example:443/v1/uplink"
    in_ns = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f'mount --bind {conf} /etc/resolv.conf && exec "$@"', "sh"]
    agent = CloudAgentPending(ctx.kerno, ctx.cleanup, server, prefix=in_ns,
                              extra=["--cloud-flush-timeout", "2"])
    dns.settimeout(10)
    query = dns.recv(512)  # the agent's first lookup has reached the silent server
    log(f"the agent's DNS query: {len(query)} bytes")
    start = time.monotonic()
    agent.stop()
    _log_stop(agent, time.monotonic() - start)
    ASSERT_TRUE("cloud.kerno-test.example:443: cannot resolve: abandoned: stopping"
                in agent.stderr(), "the lookup in flight abandoned at the stop",
                agent.stderr_tail(4))
    said = re.search(r"not acknowledged after ([\d.]+) s: kept in", agent.stderr())
    flush = float(said.group(1)) if said else None
    ASSERT_TRUE(flush is not None and 2.0 <= flush < 3.0,
                "the stop's wait for the cloud whose name does not resolve (flush timeout 2 s)",
                flush)


SQL_CANARY = "sqlc4nary5d2"


def test_uplink_ws_privacy_canary(ctx):
    """The spans' privacy canary (issue 5) run with the WebSocket sink (issue 8):
    every span sampled with its payload, errors from the same service, and
    nothing of any canary reaches the server, while the body canary does
    reach the objects (so the payload path ran)."""
    _no_proxy_env(ctx)
    pki = Pki(ctx.cleanup)
    server = WsServer(ctx.cleanup, pki)
    server.start()
    front, _ = test_spans.three_tiers(ctx)
    pg = dbpeers.Postgres(ctx.cleanup)
    agent = CloudAgent(ctx.kerno, ctx.cleanup, server, extra=test_spans.CANARY_AGENT_ARGS)
    test_spans.send_canaries(front)
    # A SQL literal: the statement's shape may leave the node, its values never.
    sql = f"SELECT '{SQL_CANARY}' AS secret;"
    _, out, rc = dbpeers.run_client(["psql", "-X", "-q", "-c", sql, "-h", "127.0.0.1", "-p",
                                     str(pg.port), "-U", pg.USER, "postgres"])
    ASSERT_TRUE(rc == 0 and SQL_CANARY in out, "psql ran the canary query", out[-300:])
    # An error group names the latest span of its process stored when the group is
    # reported. A server span whose client span raced it waits up to 1 s for a late
    # link (span_late.h), and so do its children: give the front's canary spans that
    # second, or a loaded machine can report the errors before any front span is stored.
    time.sleep(1.5)
    errors = 5
    for i in range(errors):
        ASSERT_EQ(test_spans.get(front.port, f"/error/{i}?token={test_spans.BODY_CANARY}"), 500,
                  "an error request's status")
    time.sleep(3)
    agent.stop()
    env = server.received()
    groups = [g for e in env if e["type"] == "errors" for g in e["data"].get("groups", [])]
    for cls in ("http.server.5xx", "http.client.5xx"):  # the front's side and the test's
        ASSERT_EQ(sum(g["count"] for g in groups if g["class"] == cls and g["code"] == 500),
                  errors, f"{cls} errors grouped at the server")
    # The group's example trace is one the customer's objects hold.
    traces = {sp["traceId"] for sp in test_spans.read_spans(agent.cloud_dir)}
    examples = [g.get("example_trace_id") for g in groups if g["class"] == "http.server.5xx"]
    ASSERT_TRUE(examples and all(t in traces for t in examples),
                "the server errors' example trace ids are stored traces", examples)
    with open(server.log_path) as f:
        received = f.read()
    ASSERT_TRUE("/login/{id}" in received, "the canary request was measured and sent",
                "no /login/{id} in what the server received")
    ASSERT_TRUE('"postgresql"' in received, "the canary query was measured and sent",
                "no postgresql series in what the server received")
    for what, canary in [*test_spans.CANARIES.items(), ("body", test_spans.BODY_CANARY),
                         ("sql", SQL_CANARY)]:
        ASSERT_EQ(received.count(canary), 0, f"{what} canary in what the cloud received")
    hits = test_spans.files_with(agent.cloud_dir, test_spans.BODY_CANARY)
    ASSERT_TRUE(hits and all(h.startswith("objects/") for h in hits),
                "the body canary in the local objects only (the payload was captured)", hits)
