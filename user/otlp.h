/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One interval of metrics as an OTLP/JSON ExportMetricsServiceRequest, in
 * the shape docs/metrics.md fixes.
 */
#ifndef KERNO_OTLP_H
#define KERNO_OTLP_H

#include <stddef.h>
#include <jansson.h>

#include "kerno_types.h"
#include "../kern/capture.h" /* not user/capture.h, the loader */
#include "procdrops.h"
#include "procinfo.h"

/* A series' delta over one interval, summed over CPUs. */
struct kerno_sample {
	struct kerno_series_key key;
	__u64 count;
	__u64 sum_ns;
	__u64 rx_bytes; /* plain TCP series only */
	__u64 tx_bytes;
	__u32 buckets[KERNO_HIST_BUCKETS];
};

/* Fills *out for pid; returns 0, or a negative errno when nothing is known. */
typedef int (*otlp_proc_lookup_fn)(void *ctx, __u32 pid, struct procinfo *out);

struct otlp_metrics_in {
	const struct kerno_sample *samples;
	size_t n_samples;
	__u64 start_ns; /* interval start, unix-epoch ns */
	__u64 end_ns; /* interval end, unix-epoch ns */
	const char *host; /* host.name */
	const __u64 *counters; /* KERNO_COUNTER__COUNT deltas; NULL: all zero */
	const struct kerno_proc_drops *proc_drops; /* per-process deltas, sorted by tgid */
	size_t n_proc_drops;
	unsigned int max_series_per_process; /* 0: no limit */
	otlp_proc_lookup_fn lookup; /* NULL: pid and host only */
	void *lookup_ctx; /* e.g. a procinfo_cache with procinfo_lookup_cb */
};

/*
 * Build the request: one resourceMetrics per process (ascending pid) with
 * the HTTP duration histograms and the process's own drops (non-zero
 * reasons only), then one for the agent with the node-wide capture
 * counters. Samples with no count, or of an unknown role, are left out.
 * Returns a new reference, or NULL when out of memory.
 */
json_t *otlp_metrics_request(const struct otlp_metrics_in *in);

/*
 * The attribute value of an endpoint template: bytes outside printable
 * ASCII (which JSON strings would reject unless valid UTF-8, and which a
 * template cut at KERNO_PATH_LEN may split) become %XX. `path` need not be
 * NUL-terminated within len. out must hold 3 * len + 1 bytes.
 */
void otlp_escape_path(const char *path, size_t len, char *out);

#endif /* KERNO_OTLP_H */
