"""Reads the agent's uplink envelopes and the OTLP/JSON metrics inside them.

docs/metrics.md is the contract: envelopes `{"v":1,"type":..,"seq":N,..}`,
`metrics` data is an ExportMetricsServiceRequest with 64-bit integers as
strings, histograms carry only the populated range of buckets.
"""

import glob
import json
import os


def read_envelopes(data_dir):
    """All envelopes of the run, in file and line order. Bad JSON raises."""
    envelopes = []
    for path in sorted(glob.glob(os.path.join(data_dir, "uplink", "*.ndjson"))):
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    envelopes.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: not JSON: {exc}") from exc
    return envelopes


def attr_value(value):
    """An OTLP AnyValue as a Python value (intValue comes as a string)."""
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    for kind in ("stringValue", "boolValue"):
        if kind in value:
            return value[kind]
    return value


def attrs_dict(attributes):
    return {a["key"]: attr_value(a.get("value", {})) for a in attributes or []}


class Point:
    """One data point with its metric name and resource attributes."""

    def __init__(self, resource, metric, kind, dp):
        self.resource = resource
        self.metric = metric
        self.kind = kind
        self.attrs = attrs_dict(dp.get("attributes"))
        self.count = int(dp.get("count", 0))
        self.sum = float(dp.get("sum", 0.0))
        self.bucket_counts = [int(c) for c in dp.get("bucketCounts", [])]
        self.bounds = [float(b) for b in dp.get("explicitBounds", [])]
        self.min = float(dp["min"]) if "min" in dp else None
        self.max = float(dp["max"]) if "max" in dp else None
        self.value = int(dp.get("asInt", 0)) if "asInt" in dp else float(dp.get("asDouble", 0))

    def get(self, key):
        """A point attribute, or else a resource attribute."""
        return self.attrs[key] if key in self.attrs else self.resource.get(key)

    def buckets(self):
        """(lower, upper, count) per bucket; min/max close the open ends."""
        out = []
        for i, count in enumerate(self.bucket_counts):
            lower = self.bounds[i - 1] if i > 0 else self.min
            upper = self.bounds[i] if i < len(self.bounds) else self.max
            out.append((lower, upper, count))
        return out


def metric_points(envelopes):
    points = []
    for env in envelopes:
        if env.get("type") != "metrics":
            continue
        for rm in env["data"].get("resourceMetrics", []):
            resource = attrs_dict(rm.get("resource", {}).get("attributes"))
            for sm in rm.get("scopeMetrics", []):
                for metric in sm.get("metrics", []):
                    for kind in ("histogram", "sum", "gauge"):
                        for dp in metric.get(kind, {}).get("dataPoints", []):
                            points.append(Point(resource, metric["name"], kind, dp))
    return points


def select(points, metric, where=None):
    """Points of `metric` whose attributes (point or resource) match the
    dict `where`, e.g. {"process.pid": 123, "http.route": "/ok"}."""
    where = where or {}
    return [p for p in points if p.metric == metric
            and all(p.get(k) == v for k, v in where.items())]


def total_count(points):
    return sum(p.count for p in points)


def counts_by(points, *keys):
    """{(value of key1, key2, ...): summed count} over histogram points."""
    out = {}
    for p in points:
        k = tuple(p.get(key) for key in keys)
        out[k] = out.get(k, 0) + p.count
    return out


def sum_values(points, key):
    """{attribute value: summed value} over sum points (e.g. drops by reason)."""
    out = {}
    for p in points:
        out[p.get(key)] = out.get(p.get(key), 0) + p.value
    return out


def merged_buckets(points):
    """All points' buckets merged: sorted [(lower, upper, count)]."""
    merged = {}
    for p in points:
        for lower, upper, count in p.buckets():
            merged[(lower, upper)] = merged.get((lower, upper), 0) + count
    return sorted((lo, up, c) for (lo, up), c in merged.items() if c)


def percentile(buckets, q):
    """The q-quantile (0..1), interpolated linearly inside its bucket."""
    total = sum(c for _, _, c in buckets)
    if total == 0:
        raise ValueError("no observations")
    rank = q * total
    seen = 0
    for lower, upper, count in buckets:
        if seen + count >= rank:
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    return buckets[-1][1]
