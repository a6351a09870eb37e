/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/2 and gRPC spans, made by the HTTP/2 reader (user/h2streams.c) from
 * what it decodes, and handed to an offer function: the agent's is the spans
 * module's (spans_offer()), which samples them by the kernel's rules.
 *
 * Their ids, as the kernel stitches HTTP/1.x (docs/traces.md):
 * - a request's traceparent header names the trace; it is the parent of a
 *   server span, and a client span takes its span id (the application's own
 *   span);
 * - otherwise a client stream draws its ids when its request is decoded, and
 *   leaves them for the server end of the same stream on this node (the same
 *   two ports and stream id, on a connection the server accepted before):
 *   the server span joins that trace, the client span as its parent;
 * - a server span over loopback whose client stream has not been decoded yet
 *   (its send hook may run after the server answered) waits for it, up to
 *   H2_HOLD_NS and H2_HELD spans, then goes without it;
 * - otherwise a span starts a trace of its own.
 * Threads tell nothing here: a connection multiplexes streams.
 *
 * Not thread-safe: the HTTP/2 reader calls it under its own lock.
 */
#ifndef KERNO_H2SPANS_H
#define KERNO_H2SPANS_H

#include <stdbool.h>
#include <linux/types.h>

#include "../kern/capture.h"
#include "../kern/proto.h"
#include "h2hpack.h"

/* The ids a client stream drew at its request. */
struct h2_span_ids {
	__u8 trace_id[16];
	__u64 span_id;
	bool set;
};

/* Takes a span without payload (KERNO_SPAN_EVENT_HDR bytes of ev); may change ev. */
typedef void h2_span_offer_fn(void *ctx, struct kerno_span_event *ev);

struct h2spans;

struct h2spans *h2spans_new(h2_span_offer_fn *offer, void *ctx);
void h2spans_free(struct h2spans *hs);

/*
 * A client stream's request block was decoded (f), on connection conn: ids
 * drawn into *ids, and left for the server end. now: CLOCK_MONOTONIC ns.
 */
void h2spans_request(struct h2spans *hs, const struct kerno_h2_conn_ref *conn, __u32 stream_id,
		     const struct h2_fields *f, struct h2_span_ids *ids, __u64 now);

/*
 * Stream e ended, counted in series k: its span offered, or held for its
 * client's ids. ids: what the client stream drew (NULL for a server stream).
 */
void h2spans_end(struct h2spans *hs, const struct kerno_h2_event *e, const struct h2_fields *f,
		 const struct h2_span_ids *ids, const struct kerno_series_key *k, __u64 now);

/* Held server spans whose wait is over (all of them with all) offered as they are. */
void h2spans_expire(struct h2spans *hs, __u64 now, bool all);

#endif /* KERNO_H2SPANS_H */
