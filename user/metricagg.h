/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Nanobe's metric aggregation: OTLP/JSON metrics requests from many nodes
 * merged into one series per (workload-level resource, scope, metric, data
 * point attributes, window).
 *
 * - Windows: a point ending at t belongs to the window (W*k - W, W*k] with
 *   W*k the first multiple of the window length at or after t; the merged
 *   point carries those bounds.
 * - Resource: attributes that name one node, process or pod instance
 *   (host.name, process.pid, container.id, k8s.pod.name, k8s.pod.uid,
 *   k8s.node.name, service.instance.id, ...) are left out, so the same
 *   series from several nodes adds up. The rest is kept.
 * - Delta sums add (asInt exactly, asDouble as doubles); delta histograms
 *   add count, sum and buckets, taking the min of min and max of max. Their
 *   bucket edges are merged: every source bucket lands in the merged bucket
 *   with its upper edge. For Kerno's log-linear buckets (docs/metrics.md:
 *   min and max are the outer edges) this is exact; for other senders it
 *   is exact when they share bounds.
 * - Gauges and cumulative points are not added: they keep every resource
 *   attribute and the last value seen per window.
 *
 * Memory is bounded by max_series: a request that would need more is
 * refused whole (-ENOSPC, nothing added), so the sender retries later.
 */
#ifndef KERNO_METRICAGG_H
#define KERNO_METRICAGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct metricagg;

/* keep_pod: k8s.pod.name, k8s.pod.uid and k8s.node.name stay (merging per pod). */
struct metricagg *metricagg_new(uint64_t window_ns, size_t max_series, bool keep_pod);
void metricagg_free(struct metricagg *a);

/*
 * Merge one ExportMetricsServiceRequest. 0; -EINVAL with a reason in err
 * when its shape is wrong (nothing added); -ENOSPC when full (nothing added).
 * *points, when not NULL, is set to the number of data points taken.
 */
int metricagg_add(struct metricagg *a, json_t *req, size_t *points, char *err, size_t errlen);

/* Series held now. */
size_t metricagg_series(const struct metricagg *a);

/*
 * Take out the series of windows ending at or before `until_ns` (all of
 * them with UINT64_MAX) as one ExportMetricsServiceRequest (a new
 * reference; NULL when there are none or out of memory, *empty telling
 * which). They leave the aggregator.
 */
json_t *metricagg_take(struct metricagg *a, uint64_t until_ns, int *empty);

/*
 * Everything held, as a request (a new reference; NULL when empty or out of
 * memory), left in place: what a journal keeps across a flush. Merging it
 * back into an empty aggregator gives the same series.
 */
json_t *metricagg_snapshot(const struct metricagg *a);

/* Merge histogram b's buckets into a's data point representation (exported for svcmap). */
struct metricagg_hist {
	uint64_t count;
	double sum, min, max;
	int has_min, has_max;
	size_t nb; /* bounds; counts has nb + 1 */
	double *bounds;
	uint64_t *counts;
};

/* Parse an OTLP/JSON histogram data point. 0 or -EINVAL. */
int metricagg_hist_parse(json_t *dp, struct metricagg_hist *h);
/* into += from. 0 or -ENOMEM (into unchanged). */
int metricagg_hist_merge(struct metricagg_hist *into, const struct metricagg_hist *from);
/* Set count, sum, bucketCounts, explicitBounds, min, max on the object dp. */
int metricagg_hist_dump(const struct metricagg_hist *h, json_t *dp);
void metricagg_hist_free(struct metricagg_hist *h);

/* An OTLP/JSON 64-bit integer (a string or a number). 0 or -EINVAL. */
int metricagg_json_u64(json_t *v, uint64_t *out);

#endif /* KERNO_METRICAGG_H */
