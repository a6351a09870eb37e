"""The Kubernetes API client of kerno preon and kerno nanobe, against the
loopback fake API server (fakekube.py): workload identity of a process in
a pod's cgroup, the service map through pod IPs, events classified and
grouped across bookmarks, a dropped watch and 410 Gone."""

import collections
import os
import secrets
import signal
import time

from asserts import ASSERT_EQ, ASSERT_TRUE, FATAL
from cluster import Cgroup, Nanobe, Pki, Preon, client, serve, cgroup_parent_for_tests
from fakekube import FakeKube
from test_nanobe import _check_merged_shape, _raw_points, _sums_by, _wait

CHECKOUT_UID = "5b3f0c1e-9a43-4d7e-8f3e-6a1f2b9c0d11"


def _subs():
    return {"NODE_A": "node-a", "NODE_B": "node-b", "CHECKOUT_CID": secrets.token_hex(32),
            "SIDECAR_CID": secrets.token_hex(32), "PAYMENTS_CID": secrets.token_hex(32),
            "CHECKOUT_IP": "127.0.0.3", "PAYMENTS_IP": "127.0.0.2"}


def _kube_args(fake):
    return ["--kube-api", "kubeconfig", "--kubeconfig", fake.kubeconfig]


def test_kube_pod_attribution(ctx):
    """A client in the cgroup of pod checkout's container `app` (containerd's
    cgroup layout) calls payments' pod IP: Nanobe's series carry namespace,
    pod, container, ReplicaSet and Deployment, and the service map edge is
    deployment/checkout -> deployment/payments with the exact count."""
    pki = Pki(ctx.cleanup)
    subs = _subs()
    fake = FakeKube(ctx.cleanup, pki, subs)
    nanobe = Nanobe(ctx.kerno, ctx.cleanup, pki, extra=[*_kube_args(fake), "--merge-by", "pod"])
    _, port = serve(ctx.cleanup, host="127.0.0.2")
    parent = cgroup_parent_for_tests(ctx.cleanup)
    pod_dir = Cgroup(ctx.cleanup, parent, "kubepods").path
    pod_dir = Cgroup(ctx.cleanup, pod_dir, f"pod{CHECKOUT_UID}").path
    ctr = Cgroup(ctx.cleanup, pod_dir, f"cri-containerd-{subs['CHECKOUT_CID']}.scope").path
    preon = Preon(ctx.kerno, ctx.cleanup, nanobe.port, pki, "node-a", parent,
                  extra=_kube_args(fake))
    client(ctr, "127.0.0.2", port, 29)
    time.sleep(2.5)
    preon.stop(what="preon")
    nanobe.stop(what="nanobe")

    ASSERT_EQ([q.get("fieldSelector") for q in fake.queries("pods", "list")][-1],
              "spec.nodeName=node-a", "the preon lists its node's pods only")
    points = [p for p in _raw_points(nanobe, "http.client.request.duration")
              if p[1].get("server.port") == port]
    _check_merged_shape(points)
    ident = collections.Counter()
    for res, _, _, _, dp in points:
        ident[tuple(res.get(k) for k in ("k8s.namespace.name", "k8s.pod.name",
                                           "k8s.container.name", "k8s.replicaset.name",
                                           "k8s.deployment.name", "k8s.node.name"))] += \
            int(dp["count"])
    ASSERT_EQ(dict(ident), {("shop", "checkout-7d9c8b6f5-x2x4q", "app", "checkout-7d9c8b6f5",
                             "checkout", "node-a"): 29}, "requests by workload identity")
    edges = collections.Counter()
    for _, a, _, _, dp in _raw_points(nanobe, "kerno.service_map.request.duration"):
        edges[(a.get("client.namespace"), a["client.workload"], a.get("server.namespace"),
               a["server.workload"])] += int(dp["count"])
    ASSERT_EQ(dict(edges), {("shop", "deployment/checkout", "shop", "deployment/payments"): 29},
              "service map edge through the pod IP")


def _event_groups(nanobe):
    groups = collections.Counter()
    meta = {}
    for env in nanobe.envelopes():
        if env.get("type") != "k8s_events":
            continue
        for g in env["data"]["events"]:
            key = (g["namespace"], g["kind"], g["name"], g["reason"])
            groups[key] += g["count"]
            meta[key] = (g["severity"], g.get("workload"))
    return groups, meta


def test_kube_events_gone_and_dropped(ctx):
    """Events: listed, then a watch with an event, an update and a bookmark that
    is dropped mid-stream, a watch resumed from the bookmark that ends with an
    ERROR 410, a re-list that holds what happened meanwhile. Every occurrence
    is counted once, classified, and linked to its workload. ReplicaSets get
    410 Gone as the HTTP status of their first watch and are listed again.
    Nanobe killed (SIGKILL) afterwards lists the events again on restart and
    sends nothing twice."""
    pki = Pki(ctx.cleanup)
    fake = FakeKube(ctx.cleanup, pki, _subs(),
                    lists={"events": ["events-list-1.json", "events-list-2.json"]},
                    watches={"events": [{"file": "events-watch-1.ndjson", "end": "drop"},
                                        {"file": "events-watch-2.ndjson", "end": "close"}],
                             "replicasets": [{"file": None, "end": "gone"}]})
    nanobe = Nanobe(ctx.kerno, ctx.cleanup, pki, extra=_kube_args(fake))
    _wait(lambda: fake.count("events", "watch") >= 3 and fake.count("replicasets", "list") >= 2,
          "the re-lists and the third events watch", detail=lambda: str(fake.requests))
    _wait(lambda: sum(_event_groups(nanobe)[0].values()) == 10, "the events envelopes",
          detail=lambda: str(_event_groups(nanobe)))
    nanobe.restart(signal.SIGKILL)
    _wait(lambda: fake.count("events", "list") == 8, "the list after the restart")
    time.sleep(2.5)
    nanobe.stop(what="nanobe")

    ASSERT_EQ([q.get("resourceVersion") for q in fake.queries("events", "watch")][:3],
              ["2000", "2005", "2010"], "events watches resume from list, bookmark, re-list")
    # In pages of two: three events at the start, five after the 410 and after the restart.
    ASSERT_EQ([q.get("continue") for q in fake.queries("events", "list")],
              [None, "2", None, "2", "4", None, "2", "4"], "events list pages")
    ASSERT_EQ([q.get("continue") for q in fake.queries("replicasets", "list")], [None] * 3,
              "replicaset lists (after 410, after the restart), one page each")
    for q in fake.queries("events", "watch"):
        ASSERT_EQ(q.get("allowWatchBookmarks"), "true", "watches ask for bookmarks")
    ops = _sums_by(nanobe, "kerno.kube.operations", "operation")
    ASSERT_EQ((ops.get("gone"), ops.get("dropped_watch")), (2, 1),
              "410s and dropped watches Nanobe reports")
    groups, meta = _event_groups(nanobe)
    checkout = ("shop", "Pod", "checkout-7d9c8b6f5-x2x4q")
    ASSERT_EQ(dict(groups), {
        (*checkout, "BackOff"): 5,
        (*checkout, "Pulled"): 1,
        ("shop", "Pod", "payments-5f4d6c7b8-kq9zt", "Unhealthy"): 2,
        ("", "Node", "node-a", "OOMKilling"): 1,
        ("shop", "Pod", "report-28834560-abcde", "FailedScheduling"): 1,
    }, "event occurrences by object and reason")
    ASSERT_EQ(meta.get((*checkout, "BackOff")), ("Warning", "deployment/checkout"),
              "BackOff: severity and workload")
    ASSERT_EQ(meta.get((*checkout, "Pulled")), ("Info", "deployment/checkout"),
              "Pulled: severity and workload")
    ASSERT_EQ(meta.get(("", "Node", "node-a", "OOMKilling")), ("Error", "node/node-a"),
              "OOMKilling: severity and workload")
    ASSERT_EQ(meta.get(("shop", "Pod", "report-28834560-abcde", "FailedScheduling")),
              ("Error", "pod/report-28834560-abcde"), "FailedScheduling: severity")
