/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Late links: server spans the kernel could not link to their client span.
 *
 * On one node a client's send hook runs after its bytes reach the server, so
 * a busy CPU can let the server read, and even answer, a request before the
 * client's span is known (kern/span.bpf.h, span_link_lookup()). The kernel
 * then gives the server span a provisional trace id and flags it
 * KERNO_SPAN_F_LINK_LATE; spans that took that trace id from it (its
 * children, and their servers on this node) carry KERNO_SPAN_F_TRACE_LATE.
 * Here those spans wait, briefly and in bounded number, for the client span
 * with the same connection ends and request position; then the whole group
 * moves to the client's trace, the server naming the client span as parent.
 * A span that waited too long, or had to make room, goes out as it is and is
 * counted.
 */
#ifndef KERNO_SPAN_LATE_H
#define KERNO_SPAN_LATE_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "capture.h"

/* Where a span goes once it needs to wait no more (the object store). */
typedef void (*span_late_emit_fn)(void *ctx, const struct kerno_span_event *ev, size_t len);

struct span_late_stats {
	unsigned long long held; /* spans that waited for a link */
	unsigned long long linked; /* server spans linked to their client here */
	unsigned long long unlinked; /* waited too long or made room: stored as they were */
	unsigned long long no_memory; /* could not wait (no memory): stored as they were */
};

struct span_late;

/* At most max_held spans wait, each at most max_wait_ns. NULL without memory. */
struct span_late *span_late_new(size_t max_held, __u64 max_wait_ns, span_late_emit_fn emit,
				void *ctx);
void span_late_free(struct span_late *l);

/* A span from the ring buffer: emitted now, or kept until its trace is known. */
void span_late_take(struct span_late *l, const struct kerno_span_event *ev, size_t len,
		    __u64 now_ns);

/* Emit what waited longer than max_wait_ns (everything with all). */
void span_late_expire(struct span_late *l, __u64 now_ns, bool all);

void span_late_get_stats(const struct span_late *l, struct span_late_stats *out);

#endif /* KERNO_SPAN_LATE_H */
