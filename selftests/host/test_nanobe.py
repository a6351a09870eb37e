"""kerno preon -> kerno nanobe: HTTP/2 over TLS with a token, merging across
nodes, the service map, spooling and restarts (docs/cluster.md)."""

import collections
import json
import os
import signal
import subprocess
import time

import otlp
from asserts import ASSERT_EQ, ASSERT_TRUE, FATAL, log
from cluster import (TOKEN, Cgroup, Nanobe, Pki, Preon, client, serve,
                     cgroup_parent_for_tests)

CLIENT_METRIC = "http.client.request.duration"


def _window(dp_times):
    return dp_times


def _raw_points(nanobe, metric):
    """(resource attrs, point attrs, start, end, dp) of one metric in Nanobe's envelopes."""
    out = []
    for env in nanobe.envelopes():
        if env.get("type") != "metrics":
            continue
        for rm in env["data"]["resourceMetrics"]:
            res = otlp.attrs_dict(rm["resource"].get("attributes"))
            for sm in rm["scopeMetrics"]:
                for m in sm["metrics"]:
                    if m["name"] != metric:
                        continue
                    for kind in ("histogram", "sum"):
                        for dp in m.get(kind, {}).get("dataPoints", []):
                            out.append((res, otlp.attrs_dict(dp.get("attributes")),
                                        int(dp["startTimeUnixNano"]), int(dp["timeUnixNano"]),
                                        dp))
    return out


def _client_points(nanobe, port):
    return [p for p in _raw_points(nanobe, CLIENT_METRIC) if p[1].get("server.port") == port]


def _check_merged_shape(points):
    """Each series once per window, buckets adding up to count, no node attributes."""
    seen = collections.Counter()
    for res, attrs, start, end, dp in points:
        key = (json.dumps(res, sort_keys=True), json.dumps(attrs, sort_keys=True), start, end)
        seen[key] += 1
        ASSERT_EQ(sum(int(c) for c in dp["bucketCounts"]), int(dp["count"]),
                  "bucket counts add up to count")
        ASSERT_TRUE("host.name" not in res and "process.pid" not in res,
                    "merged resources carry no node or process", str(res))
    ASSERT_EQ([k for k, n in seen.items() if n > 1], [], "series repeated within a window")


def _counts_by_status(points):
    out = collections.Counter()
    for _, attrs, _, _, dp in points:
        out[attrs.get("http.response.status_code")] += int(dp["count"])
    return dict(out)


def _wait(cond, what, timeout=30, detail=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    FATAL(f"timed out waiting for {what}\n{detail()}")


def test_nanobe_two_preons_merge(ctx):
    """Two Preons (node-a, node-b), each measuring its own cgroup: Nanobe's
    merged client histograms add up to exactly the requests made, and the
    service map has the edge with that count and its errors."""
    pki = Pki(ctx.cleanup)
    nanobe = Nanobe(ctx.kerno, ctx.cleanup, pki)
    _, port = serve(ctx.cleanup)
    parent = cgroup_parent_for_tests(ctx.cleanup)
    cg_a = Cgroup(ctx.cleanup, parent, "a").path
    cg_b = Cgroup(ctx.cleanup, parent, "b").path
    pa = Preon(ctx.kerno, ctx.cleanup, nanobe.port, pki, "node-a", cg_a)
    pb = Preon(ctx.kerno, ctx.cleanup, nanobe.port, pki, "node-b", cg_b)
    client(cg_a, "127.0.0.1", port, 37)
    client(cg_b, "127.0.0.1", port, 23)
    client(cg_b, "127.0.0.1", port, 4, "/fail")
    time.sleep(2.5)
    pa.stop(what="preon node-a")
    pb.stop(what="preon node-b")
    ASSERT_EQ((pa.spooled(), pb.spooled()), (0, 0), "batches left in the spools")
    nanobe.stop(what="nanobe")

    points = _client_points(nanobe, port)
    _check_merged_shape(points)
    ASSERT_EQ(_counts_by_status(points), {200: 60, 500: 4}, "merged requests by status")
    exes = {p[0].get("process.executable.name") for p in points}
    ASSERT_EQ(len(exes), 1, f"one client workload ({exes})")
    edges = _raw_points(nanobe, "kerno.service_map.request.duration")
    by_edge = collections.Counter()
    for _, attrs, _, _, dp in edges:
        by_edge[(attrs["client.workload"], attrs["server.workload"])] += int(dp["count"])
    ASSERT_EQ(dict(by_edge), {(exes.pop(), f"127.0.0.1:{port}"): 64}, "service map edges")
    errors = sum(int(dp["asInt"]) for *_, dp in _raw_points(nanobe, "kerno.service_map.errors"))
    ASSERT_EQ(errors, 4, "service map errors")
    accepted = sum(int(dp["asInt"]) for _, a, _, _, dp in
                   _raw_points(nanobe, "kerno.nanobe.requests") if a["result"] == "unauthorized")
    ASSERT_EQ(accepted, 0, "requests refused for their token")
    ASSERT_EQ(_sums_by(nanobe, "kerno.preon.batch_drops", "reason"),
              {"spool_dropped": 0, "refused": 0}, "batches the preons lost")
    ASSERT_EQ(_sums_by(nanobe, "kerno.nanobe.drops", "reason"),
              {"journal_write": 0, "journal_replay_skipped": 0, "k8s_events_ungrouped": 0,
               "kube_objects": 0}, "Nanobe's drops")


def _sums_by(nanobe, metric, attr):
    out = collections.Counter()
    for _, a, _, _, dp in _raw_points(nanobe, metric):
        out[a[attr]] += int(dp["asInt"])
    return dict(out)


def _accepted(nanobe, result="accepted"):
    return sum(int(dp["asInt"]) for _, a, _, _, dp in _raw_points(nanobe, "kerno.nanobe.requests")
               if a["result"] == result)


def test_nanobe_restart_loses_nothing(ctx):
    """Nanobe killed (SIGKILL) mid-run and started again on its data: what it
    had accepted comes back from its journal, what the Preon sent meanwhile
    waits in the spool, and the totals downstream are exact. A second
    restart by SIGTERM flushes and comes back the same way."""
    pki = Pki(ctx.cleanup)
    nanobe = Nanobe(ctx.kerno, ctx.cleanup, pki)
    _, port = serve(ctx.cleanup)
    parent = cgroup_parent_for_tests(ctx.cleanup)
    cg = Cgroup(ctx.cleanup, parent, "a").path
    preon = Preon(ctx.kerno, ctx.cleanup, nanobe.port, pki, "node-r", cg)
    client(cg, "127.0.0.1", port, 11)
    nanobe.restart(signal.SIGKILL)
    client(cg, "127.0.0.1", port, 13)
    nanobe.stop(signal.SIGKILL, expect_rc=None, what="nanobe")
    client(cg, "127.0.0.1", port, 17)  # Nanobe away: spooled
    _wait(lambda: "Nanobe unreachable, spooling" in preon.stderr(), "the preon to spool",
          detail=lambda: preon.stderr()[-2000:])
    _wait(lambda: preon.spooled() > 0, "a spooled batch")
    nanobe.start()
    nanobe._wait_listening()
    client(cg, "127.0.0.1", port, 19)
    nanobe.restart(signal.SIGTERM)
    client(cg, "127.0.0.1", port, 23)
    time.sleep(2.5)
    preon.stop(what="preon")
    ASSERT_EQ(preon.spooled(), 0, "batches left in the spool")
    nanobe.stop(what="nanobe")
    ASSERT_TRUE("Nanobe reachable again" in preon.stderr(), "the preon resent its spool")

    points = _client_points(nanobe, port)
    _check_merged_shape(points)
    ASSERT_EQ(_counts_by_status(points), {200: 11 + 13 + 17 + 19 + 23},
              "requests counted once across restarts")
    ASSERT_EQ(_accepted(nanobe, "rejected"), 0, "batches rejected")


def _post(url, body, token=TOKEN, batch=None, ca=None):
    argv = ["curl", "-s", "--http2", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}",
            "-H", f"authorization: Bearer {token}", "-H", "content-type: application/json",
            "--data-binary", "@-", url]
    if batch:
        argv[1:1] = ["-H", f"kerno-batch-id: {batch}"]
    res = subprocess.run(argv, input=body, capture_output=True, text=True, timeout=30)
    return int(res.stdout or 0)


def _otlp_request(host, value, counts):
    """An OpenTelemetry SDK's shape: a service with a delta sum and a histogram with fixed bounds."""
    return json.dumps({"resourceMetrics": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "checkout"}},
            {"key": "host.name", "value": {"stringValue": host}}]},
        "scopeMetrics": [{"scope": {"name": "io.opentelemetry.sdk"}, "metrics": [
            {"name": "orders", "unit": "{order}", "sum": {
                "aggregationTemporality": 1, "isMonotonic": True,
                "dataPoints": [{"attributes": [{"key": "kind", "value": {"stringValue": "web"}}],
                                "startTimeUnixNano": "1764158399000000000",
                                "timeUnixNano": "1764158399800000000", "asInt": str(value)}]}},
            {"name": "latency", "unit": "s", "histogram": {
                "aggregationTemporality": 1,
                "dataPoints": [{"startTimeUnixNano": "1764158399000000000",
                                "timeUnixNano": "1764158399900000000",
                                "count": str(sum(counts)), "sum": 0.5 * sum(counts),
                                "bucketCounts": [str(c) for c in counts],
                                "explicitBounds": [0.1, 1.0]}]}}]}]}]})


def test_nanobe_otlp_senders(ctx):
    """Standard OTLP/HTTP JSON from two hosts merges exactly; a repeated batch
    id, a wrong token, a bad body, a body over --max-body, another path are
    answered and counted."""
    pki = Pki(ctx.cleanup)
    nanobe = Nanobe(ctx.kerno, ctx.cleanup, pki, interval=3, extra=["--max-body", "4096"])
    url = f"https://127.0.0.1:{nanobe.port}"
    # h1's and h2's points merge within one flush (a later one would send
    # h2's as a late delta of its own): they go out right after a flush,
    # which leaves them 3 s where each post takes 0.5 s at worst (ASan,
    # beside the VM tests).
    flushes = len(nanobe.envelopes())
    _wait(lambda: len(nanobe.envelopes()) > flushes, "a flush of Nanobe's", timeout=10)
    ASSERT_EQ(_post(url + "/v1/metrics", _otlp_request("h1", 5, [1, 2, 3]), ca=pki.ca), 200,
              "status of host h1's request")
    ASSERT_EQ(_post(url + "/v1/metrics", _otlp_request("h2", 7, [4, 0, 1]), ca=pki.ca,
                    batch="0123456789abcdef-1"), 200, "status of host h2's request")
    ASSERT_EQ(_post(url + "/v1/metrics", _otlp_request("h2", 7, [4, 0, 1]), ca=pki.ca,
                    batch="0123456789abcdef-1"), 200, "status of the same batch again")
    ASSERT_EQ(_post(url + "/v1/metrics", _otlp_request("h3", 1, [1, 1, 1]), token="wrong" * 4,
                    ca=pki.ca), 401, "status with a wrong token")
    ASSERT_EQ(_post(url + "/v1/metrics", '{"resourceMetrics": 5}', ca=pki.ca), 400,
              "status of a malformed request")
    ASSERT_EQ(_post(url + "/v1/metrics", "{not json", ca=pki.ca), 400, "status of bad JSON")
    ASSERT_EQ(_post(url + "/v1/other", "{}", ca=pki.ca), 404, "status of an unknown path")
    ASSERT_EQ(_post(url + "/v1/metrics", " " * 5000 + "{}", ca=pki.ca), 413,
              "status of a body over --max-body")
    nanobe.stop(what="nanobe")

    orders = _raw_points(nanobe, "orders")
    ASSERT_EQ([(r, a, s, e, dp["asInt"]) for r, a, s, e, dp in orders],
              [({"service.name": "checkout"}, {"kind": "web"}, 1764158397000000000,
                1764158400000000000, "12")], "merged sum (the 3 s window of its points)")
    lat = _raw_points(nanobe, "latency")
    ASSERT_EQ([(dp["count"], dp["bucketCounts"], dp["explicitBounds"], dp["sum"])
               for *_, dp in lat], [("11", ["5", "2", "4"], [0.1, 1.0], 5.5)],
              "merged histogram")
    # Delta sums, one per flush: the requests can span two on a busy machine.
    results = collections.Counter()
    for _, a, _, _, dp in _raw_points(nanobe, "kerno.nanobe.requests"):
        results[a["result"]] += int(dp["asInt"])
    ASSERT_EQ({r: n for r, n in results.items() if n},
              {"accepted": 2, "duplicate": 1, "unauthorized": 1, "rejected": 3, "not_found": 1},
              "requests by result")


def test_nanobe_usage_errors(ctx):
    """Missing certificate, token or address: exit 2 with one line naming it."""
    pki = Pki(ctx.cleanup)
    cases = [
        (["nanobe", "--tls-cert", pki.cert, "--tls-key", pki.key], "token"),
        (["nanobe", "--token-file", pki.token], "tls-cert"),
        (["nanobe", "--token-file", pki.token, "--tls-cert", pki.key, "--tls-key", pki.key],
         "certificate"),
        (["preon", "--token-file", pki.token], "nanobe"),
        (["preon", "--nanobe", "127.0.0.1:1"], "token"),
    ]
    for argv, mention in cases:
        res = subprocess.run([ctx.kerno, *argv, "--data-dir", "/nonexistent/x"],
                             capture_output=True, text=True, timeout=30)
        lines = res.stderr.strip().splitlines()
        ASSERT_EQ((res.returncode, len(lines)), (2, 1), f"exit code and lines of {argv[0]} "
                  f"without {mention} ({res.stderr.strip()!r})")
        ASSERT_TRUE(mention in res.stderr.lower(), f"the message names {mention}", res.stderr)
