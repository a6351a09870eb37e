/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/2 streams, finished in userspace: the kernel (kern/proto_http2.bpf.h)
 * times each stream and ships its header blocks on the h2_events ring
 * buffer; a reader thread decodes the blocks (h2hpack.h, one inflater per
 * connection and direction) and, at each stream's end, counts it once in a
 * series of its own: method, path template and status for plain HTTP/2
 * (KERNO_P_HTTP2), service/method and grpc-status for gRPC (KERNO_P_GRPC).
 * The agent takes those series with the kernel's at each interval.
 *
 * Memory is bounded: connections followed at most max_conns (more are
 * counted, not decoded: their streams still count, without fields), open
 * streams per connection at most H2_STREAMS_PER_CONN, series at most
 * max_series (more: series_table_full).
 *
 * With spans on, each ended stream is also offered as a span (h2spans.h:
 * its ids, and the link between the two ends of a stream on this node).
 *
 * `kerno top` cannot see the agent's memory: the reader adds what each
 * series counted to its running total in the h2_series map about once a
 * second, and deletes there the totals idle for 30 s.
 */
#ifndef KERNO_H2STREAMS_H
#define KERNO_H2STREAMS_H

#include <stddef.h>
#include <linux/types.h>

#include "capture.h"
#include "h2spans.h"
#include "otlp.h"

struct h2streams;

struct h2streams_opts {
	int events_fd; /* the h2_events ring buffer */
	int streams_fd; /* the h2_streams table: entries of closed connections are removed */
	int series_fd; /* h2_series, where `kerno top` reads the series' totals; -1: none */
	size_t max_conns;
	size_t max_series;
	h2_span_offer_fn *offer_span; /* where ended streams go as spans; NULL: no spans */
	void *offer_ctx;
};

int h2streams_start(const struct h2streams_opts *o, struct h2streams **out, char *err,
		    size_t errlen);
/* Stop the reader (what waits is read first) and free everything. NULL is fine. */
void h2streams_free(struct h2streams *h);

/*
 * The interval's series (deltas since the last take), after reading what
 * waits on the ring buffer; *out stays valid until the next call. drops
 * (indexed by enum kerno_counter) gets what userspace lost since then.
 */
long h2streams_take(struct h2streams *h, const struct kerno_sample **out,
		    __u64 drops[KERNO_DROP__COUNT]);

/*
 * Read everything that waits on the ring buffer now, and offer the server
 * spans still waiting for their client's ids as they are (at a stop, once
 * the hooks are detached: every stream's span is offered before the spans
 * stop).
 */
void h2streams_sync(struct h2streams *h);

/* One event as the kernel sends it: exported for the fuzz target (offer: NULL, or spans). */
struct h2streams *h2streams_new_detached(size_t max_conns, size_t max_series,
					 h2_span_offer_fn *offer, void *offer_ctx);
int h2streams_event(struct h2streams *h, const void *data, size_t size);

/* The endpoint template of an HTTP path, as the kernel makes them for HTTP/1.x. */
void h2_path_template(const char *path, char *out, size_t size);

#endif /* KERNO_H2STREAMS_H */
