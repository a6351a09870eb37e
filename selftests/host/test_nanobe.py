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
                     test_cgroup_parent)

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


def _wait(cond, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    FATAL(f"timed out waiting for {what}")


def test_nanobe_two_preons_merge(ctx):
    """Two Preons (node-a, node-b), each measuring its own cgroup: Nanobe's
    merged client histograms add up to exactly the requests made, and the
    service map has the edge with that count and its errors."""
    pki = Pki(ctx.cleanup)
    nanobe = Nanobe(ctx.kerno, ctx.cleanup, pki)
    _, port = serve(ctx.cleanup)
    parent = test_cgroup_parent(ctx.cleanup)
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
