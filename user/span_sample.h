/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's sampling rules (kern/span.bpf.h: span_reason(), span_cap_ok()
 * and span_in_baseline()) for the spans made in userspace: HTTP/2 streams and
 * gRPC calls, whose header blocks only userspace decodes (user/h2streams.c).
 * A span is kept for an error, for being slower than its endpoint's
 * threshold, or for a trace id in the baseline; then at most `cap` spans per
 * endpoint and second. Both sides decide the baseline from the trace id
 * alone, so a trace is kept whole whichever protocols it crosses.
 */
#ifndef KERNO_SPAN_SAMPLE_H
#define KERNO_SPAN_SAMPLE_H

#include <stdbool.h>
#include <linux/types.h>

#include "../kern/capture.h"

/* Threshold of endpoints whose own distribution is not known yet (span_slow_ns 0). */
#define SPAN_SLOW_FALLBACK_NS 1000000000ULL

/* The bound the kernel's span_baseline holds for a baseline in basis points. */
__u64 span_baseline_bound(unsigned int basis_points);

/*
 * Why an HTTP/2 or gRPC span (ev->proto KERNO_P_HTTP2 or KERNO_P_GRPC, with
 * status and code as in its series: user/h2streams.c) is kept: a mask of
 * enum kerno_span_reason, 0 if it is not. slow_ns: its endpoint's threshold.
 */
__u8 span_sample_reason(const struct kerno_span_event *ev, __u64 slow_ns, __u64 baseline_bound);

/* The endpoint slot of a span (the kernel's span_endpoint()). */
__u32 span_sample_slot(const struct kerno_span_event *ev);

/* Per endpoint slot, the spans kept in its current second. */
struct span_caps;

struct span_caps *span_caps_new(void);
void span_caps_free(struct span_caps *c);

/* May one more span of this slot be kept at now_ns? cap 0: no cap. Counts it if so. */
bool span_caps_take(struct span_caps *c, __u32 slot, __u64 now_ns, __u64 cap);

#endif /* KERNO_SPAN_SAMPLE_H */
