"""Checks of the test harness itself; none of these starts the agent.

If the servers, clients or parsers were wrong, every agent test would be
comparing against a wrong truth, so they are tested on their own first.
"""

import os
import socket
import threading

import capture_h
import h2load
import httpclient
import otlp
from asserts import ASSERT_EQ, ASSERT_TRUE, ASSERT_WITHIN

H2LOAD_SAMPLE = """\
finished in 1.50s, 13333.33 req/s, 1.00MB/s
requests: 20000 total, 20000 started, 19990 done, 0 succeeded, 19990 failed, 10 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 19990 4xx, 0 5xx
"""


def test_harness_h2load_parse(ctx):
    res = h2load.H2loadResult(H2LOAD_SAMPLE)
    ASSERT_EQ((res.total, res.done, res.succeeded, res.failed, res.errored),
              (20000, 19990, 0, 19990, 10), "parsed request totals")
    ASSERT_EQ(res.status_class_count(404), 19990, "4xx count")
    ASSERT_EQ(res.req_per_s, 13333.33, "req/s")


def test_harness_h2load_nginx(ctx):
    """The nginx fixture answers each location with its status, keep-alive
    and pipelined, and h2load's totals say so."""
    nginx = ctx.nginx()
    for path, status in (("/ok", 200), ("/missing", 404), ("/fail", 500), ("/users/42", 200)):
        for pipeline in (1, 8):
            res = h2load.run(f"http://127.0.0.1:{nginx.port}{path}", n=2000, clients=4,
                             pipeline=pipeline)
            ASSERT_EQ(res.status_class_count(status), 2000, f"{path} -m {pipeline} status count")
            ASSERT_EQ(res.errored, 0, f"{path} -m {pipeline} errored")
    ASSERT_EQ(len(nginx.worker_pids()), 1, "nginx workers")


def test_harness_pyhttpd_shapes(ctx):
    server = ctx.pyserver()
    with httpclient.Client(server.port) as c:
        r = c.request("GET", "/chunked")
        ASSERT_EQ((r.status, r.body[:13]), (200, b"hello chunked"), "chunked")
        ASSERT_EQ(c.request("HEAD", "/head").headers.get("content-length"), "1234", "HEAD length")
        ASSERT_EQ(c.request("GET", "/nocontent").status, 204, "204")
        ASSERT_EQ(c.request("GET", "/notmodified").status, 304, "304")
        ASSERT_EQ(c.upload_expect_continue("/upload", b"y" * 100).status, 200, "100-continue")
        ASSERT_EQ(c.request("GET", "/split").body, b"split-body", "split body")
        ASSERT_EQ([r.status for r in c.pipeline(["/ok", "/status/418", "/ok"])], [200, 418, 200],
                  "pipelined")
        ASSERT_EQ(c.request("GET", "/ok", one_byte_per_write=True).status, 200, "one-byte writes")


def test_harness_pyhttpd_bad_input(ctx):
    """Bad traffic never gets an answer, and the server keeps serving."""
    server = ctx.pyserver()
    for send in (httpclient.send_garbage, httpclient.send_binary, httpclient.send_redis_ping,
                 httpclient.send_ssh_banner, httpclient.send_malformed_header,
                 httpclient.send_long_header, httpclient.send_garbage_after_request,
                 httpclient.request_cut_mid_response):
        send(server.port)
    ASSERT_EQ(httpclient.get(server.port, "/ok", 3), [200] * 3, "server still serves")
    sock = httpclient.connect(server.port)
    sock.sendall(b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
    sock.shutdown(socket.SHUT_WR)
    ASSERT_EQ(sock.recv(100), b"", "no answer to garbage")
    sock.close()


def test_harness_pyhttpd_delay(ctx):
    server = ctx.pyserver()
    res = h2load.run(f"http://127.0.0.1:{server.port}/delay", n=40, clients=4)
    ASSERT_EQ(res.status_classes["2xx"], 40, "2xx from /delay")
    ASSERT_TRUE(res.req_per_s < 4 / 0.020 * 1.05, "delay holds back the rate", f"{res.req_per_s} req/s")


def test_harness_percentile(ctx):
    """Two points of one series, as two envelopes would carry them."""
    def dp(counts, bounds, lo, hi):
        return {"count": str(sum(counts)), "bucketCounts": [str(c) for c in counts],
                "explicitBounds": bounds, "min": lo, "max": hi,
                "attributes": [{"key": "http.response.status_code", "value": {"intValue": "200"}}]}
    env = {"type": "metrics", "data": {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "process.pid", "value": {"intValue": "7"}}]},
        "scopeMetrics": [{"metrics": [{"name": "m", "histogram": {"dataPoints": [
            dp([10, 80, 10], [0.019, 0.020], 0.018, 0.021),
            dp([100], [], 0.019, 0.020)]}}]}]}]}}
    points = otlp.select(otlp.metric_points([env]), "m", {"process.pid": 7,
                                                        "http.response.status_code": 200})
    ASSERT_EQ(otlp.total_count(points), 200, "merged count")
    buckets = otlp.merged_buckets(points)
    ASSERT_EQ(buckets, [(0.018, 0.019, 10), (0.019, 0.020, 180), (0.020, 0.021, 10)], "merged buckets")
    ASSERT_WITHIN(otlp.percentile(buckets, 0.5), 0.019 + 0.001 * 90 / 180, 1e-9, "p50")
    ASSERT_WITHIN(otlp.percentile(buckets, 0.99), 0.020 + 0.001 * 8 / 10, 1e-9, "p99")


def test_harness_capture_enum(ctx):
    reasons = capture_h.drop_reasons()
    for reason in ("unparsed", "bad_message", "header_too_long", "closed_mid_message"):
        ASSERT_TRUE(reason in reasons, f"{reason} in enum kerno_counter", str(reasons))
    ASSERT_TRUE("adopted" in capture_h.conn_events(), "adopted event", str(capture_h.conn_events()))
    ASSERT_EQ(capture_h.counter_index("conn_table_full"), 0, "first counter index")


def test_harness_cleanup_stops_servers(ctx):
    """Fixtures die with the test: a nested ExitStack stands in for the test."""
    import contextlib
    from servers import Nginx, PyServer
    with contextlib.ExitStack() as inner:
        nginx, py = Nginx(inner), PyServer(inner)
        pids = [nginx.master_pid] + nginx.worker_pids() + [py.pid]
    alive = [p for p in pids if os.path.exists(f"/proc/{p}") and _not_zombie(p)]
    ASSERT_EQ(alive, [], "server processes left after cleanup")
    ASSERT_EQ(threading.active_count(), 1, "threads left in the runner")


def _not_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
