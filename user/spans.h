/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Sampled spans, from the kernel to the object store. The kernel decides
 * what is kept (kern/span.bpf.h); this module reads the span_events ring
 * buffer on its own thread (woken in batches by the kernel, and polled with
 * a timeout), redacts the payloads (span_redact.h), turns each span into
 * one OTLP/JSON ExportTraceServiceRequest line and hands it to the object
 * store writer's traces batch (objstore.h: DATA_DIR/objects/ or S3, keys
 * <prefix>/traces/year=.../...json.gz). Nothing of it goes to the uplink.
 *
 * When the store pushes back, the thread stops reading: the ring buffer
 * fills and the kernel counts the spans it cannot take
 * (KERNO_DROP_SPAN_RINGBUF_FULL, per process).
 *
 * It also keeps every endpoint's latency threshold up to date when it is
 * derived from the endpoint's own distribution (spans_observe()).
 */
#ifndef KERNO_SPANS_H
#define KERNO_SPANS_H

#include <stdbool.h>
#include <jansson.h>

#include "kerno_types.h"
#include "../kern/capture.h"
#include "objstore.h"
#include "otlp.h"

struct spans_opts {
	int events_fd; /* the span_events ring buffer */
	int slow_fd; /* the span_slow array; -1: thresholds are fixed */
	struct objstore *store;
	const char *host; /* host.name */
	const char *proc_root; /* for process names */
	/* The kernel's sampling settings, for the spans made here (spans_offer()). */
	unsigned int baseline_bp; /* --span-baseline */
	__u64 slow_ns; /* --span-slow-ms; 0: each endpoint's own threshold (slow_fd) */
	__u64 rate_cap; /* --span-rate-cap; 0: none */
};

struct spans_stats {
	unsigned long long received; /* spans read from the ring buffer */
	unsigned long long appended; /* handed to the object store */
	unsigned long long store_dropped; /* refused by the object store (too long, no memory) */
	unsigned long long malformed; /* ring buffer records too short to be a span */
	unsigned long long late_held; /* waited for their client span (span_late.h) */
	unsigned long long late_linked; /* server spans linked to their client span here */
	unsigned long long late_unlinked; /* stored without the link they waited for */
	unsigned long long h2_sampled; /* HTTP/2 and gRPC spans kept (spans_offer()) */
	unsigned long long h2_capped; /* left out by the rate cap */
	unsigned long long h2_lost; /* kept, but the queue to the reader was full or stopped */
};

struct spans;

/* Start the reader thread. Returns 0 or a negative errno with a one-line reason in err. */
int spans_start(const struct spans_opts *o, struct spans **out, char *err, size_t errlen);

/*
 * A span made in userspace: an HTTP/2 stream or gRPC call, whose header
 * blocks only userspace decodes (user/h2streams.c). ev has no payload
 * (req_len and resp_len 0); its reason is set here. Sampled by the kernel's
 * rules (span_sample.h) and, if kept, queued for the reader thread, which
 * stores it as it stores the kernel's. Thread-safe.
 */
void spans_offer(struct spans *s, struct kerno_span_event *ev);

/* Read what the ring buffer and the queue still hold, seal the traces batch, stop the thread. */
void spans_stop(struct spans *s);
void spans_free(struct spans *s);

void spans_get_stats(struct spans *s, struct spans_stats *out);

/*
 * One interval's metric samples (deltas): accumulated per endpoint, and
 * every endpoint with enough requests gets the upper bound of its p99
 * bucket as its threshold (written to the kernel's span_slow array).
 */
void spans_observe(struct spans *s, const struct kerno_sample *samples, long n);

/*
 * For error groups (issue 5, point 1): the trace id (32 lowercase hex
 * digits and a NUL) of the latest sampled span of this series (process,
 * port, role, method, template and status, as in the metrics), or failing
 * that of the latest sampled span of the process (tgid). Returns true when
 * one is known. Thread-safe.
 */
bool spans_example_trace(struct spans *s, const struct kerno_series_key *key, char out[33]);
bool spans_example_trace_pid(struct spans *s, __u32 tgid, char out[33]);

/* The OTLP/JSON request of one span event (len bytes), for the store; NULL if malformed. */
json_t *spans_event_json(const struct kerno_span_event *ev, size_t len, const char *host,
			 const char *process_name, __u64 realtime_offset_ns);

/* The agent's own span counters, as a resourceMetrics entry of the metrics request. */
json_t *spans_metrics(struct spans *s, __u64 start_ns, __u64 end_ns, const char *host);

#endif /* KERNO_SPANS_H */
