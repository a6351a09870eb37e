// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The kernel's span sampling rules, for the spans made in userspace: see span_sample.h. */
#include <stdlib.h>
#include <string.h>

#include "proto_names.h"
#include "span_sample.h"

struct span_cap {
	__u64 second;
	__u64 count;
};

struct span_caps {
	struct span_cap slot[KERNO_SPAN_ENDPOINTS];
};

__u64 span_baseline_bound(unsigned int basis_points)
{
	return ((__u64)basis_points << 32) / 10000;
}

/*
 * gRPC codes that say the server failed (OpenTelemetry's list for server
 * spans): errors, as a 5xx. Every other code but OK is the caller's: as a 4xx.
 */
static bool grpc_server_failed(unsigned int code)
{
	switch (code) {
	case 2: /* UNKNOWN */
	case 4: /* DEADLINE_EXCEEDED */
	case 12: /* UNIMPLEMENTED */
	case 13: /* INTERNAL */
	case 14: /* UNAVAILABLE */
	case 15: /* DATA_LOSS */
	case KERNO_GRPC_NO_STATUS: /* reset, or no trailers */
		return true;
	}
	return false;
}

static __u8 outcome_reason(const struct kerno_span_event *ev)
{
	if (ev->proto == KERNO_P_GRPC) {
		/* method: the stream was reset (user/h2streams.c, count_stream()) */
		if (ev->method || grpc_server_failed(ev->status))
			return KERNO_SPAN_R_ERROR;
		return ev->status ? KERNO_SPAN_R_CLIENT_ERROR : 0;
	}
	/* code: the stream was reset */
	if (ev->code || ev->status >= 500)
		return KERNO_SPAN_R_ERROR;
	return ev->status >= 400 ? KERNO_SPAN_R_CLIENT_ERROR : 0;
}

__u8 span_sample_reason(const struct kerno_span_event *ev, __u64 slow_ns, __u64 baseline_bound)
{
	__u8 r = outcome_reason(ev);
	__u64 low;

	if (ev->end_ns - ev->start_ns >= slow_ns)
		r |= KERNO_SPAN_R_SLOW;
	/* The kernel reads the id's last 8 bytes as a little-endian word (x86, arm64). */
	memcpy(&low, ev->trace_id + 8, sizeof(low));
	if ((low >> 32) < baseline_bound)
		r |= KERNO_SPAN_R_BASELINE;
	return r;
}

__u32 span_sample_slot(const struct kerno_span_event *ev)
{
	__u64 words[KERNO_PATH_LEN / 8];
	__u16 port = ev->role == KERNO_ROLE_SERVER ? ev->local_port : ev->peer_port;

	memcpy(words, ev->path, KERNO_PATH_LEN);
	return kerno_endpoint_slot(ev->tgid, port, ev->role, ev->method, words);
}

struct span_caps *span_caps_new(void)
{
	return calloc(1, sizeof(struct span_caps));
}

void span_caps_free(struct span_caps *c)
{
	free(c);
}

bool span_caps_take(struct span_caps *c, __u32 slot, __u64 now_ns, __u64 cap)
{
	struct span_cap *s = &c->slot[slot & (KERNO_SPAN_ENDPOINTS - 1)];
	__u64 second = now_ns >> 30; /* about a second, as the kernel counts */

	if (!cap)
		return true;
	if (s->second != second) {
		s->second = second;
		s->count = 0;
	}
	if (s->count >= cap)
		return false;
	s->count++;
	return true;
}
