// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/2 and gRPC spans, their ids and their links on this node: see h2spans.h. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "clock.h"
#include "h2spans.h"

/* Client streams' ids left for their server end, direct-mapped by stream. */
#define H2_LINKS 4096
/* Server spans waiting for their client's ids, at most, and how long. */
#define H2_HELD 64
#define H2_HOLD_NS (200ULL * 1000000ULL)

/* A stream as both ends name it. */
struct stream_key {
	__u16 client_port;
	__u16 server_port;
	__u32 stream_id;
};

struct h2_link {
	struct stream_key key;
	__u64 stored_ns; /* CLOCK_MONOTONIC, as the kernel's connection ids */
	__u8 trace_id[16];
	__u64 span_id;
	bool used;
};

struct h2_held {
	struct stream_key key;
	__u64 server_conn_id; /* a link stored before it is another connection's */
	__u64 held_ns;
	unsigned char head[KERNO_SPAN_EVENT_HDR]; /* the span, without payload */
	bool used;
};

struct h2spans {
	h2_span_offer_fn *offer;
	void *ctx;
	__u64 rng; /* a splitmix64 sequence, seeded from getrandom() */
	struct h2_link links[H2_LINKS];
	struct h2_held held[H2_HELD];
	unsigned int n_held;
	struct kerno_span_event ev; /* the span being made or offered */
};

struct h2spans *h2spans_new(h2_span_offer_fn *offer, void *ctx)
{
	struct h2spans *hs = calloc(1, sizeof(*hs));

	if (!hs)
		return NULL;
	hs->offer = offer;
	hs->ctx = ctx;
	if (getrandom(&hs->rng, sizeof(hs->rng), 0) != sizeof(hs->rng))
		hs->rng = clock_ns(CLOCK_REALTIME) ^ (__u64)getpid() << 32;
	return hs;
}

void h2spans_free(struct h2spans *hs)
{
	free(hs);
}

static __u64 next_id(struct h2spans *hs)
{
	__u64 z = hs->rng += 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void new_trace(struct h2spans *hs, __u8 trace_id[16])
{
	__u64 id[2] = { next_id(hs), next_id(hs) };

	memcpy(trace_id, id, 16);
}

static struct h2_link *link_slot(struct h2spans *hs, const struct stream_key *k)
{
	__u64 h = ((__u64)k->client_port << 48 | (__u64)k->server_port << 32 | k->stream_id) *
		  0x9e3779b97f4a7c15ULL;

	return &hs->links[h >> 52 & (H2_LINKS - 1)];
}

static bool same_key(const struct stream_key *a, const struct stream_key *b)
{
	return a->client_port == b->client_port && a->server_port == b->server_port &&
	       a->stream_id == b->stream_id;
}

/* The client's ids, if this server stream's client is a stream of this node seen since. */
static const struct h2_link *link_of(struct h2spans *hs, const struct stream_key *k,
				     __u64 server_conn_id)
{
	const struct h2_link *l = link_slot(hs, k);

	return l->used && same_key(&l->key, k) && l->stored_ns >= server_conn_id ? l : NULL;
}

static void join(struct kerno_span_event *ev, const struct h2_link *l)
{
	memcpy(ev->trace_id, l->trace_id, sizeof(ev->trace_id));
	ev->parent_id = l->span_id;
	ev->flags |= KERNO_SPAN_F_LINKED;
}

/* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104: the client is on this node. */
static bool is_loopback(const struct kerno_h2_event *e)
{
	static const __u8 v6_one[16] = { [15] = 1 };
	static const __u8 v4_mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (e->family == 2)
		return e->peer_addr[0] == 127;
	return !memcmp(e->peer_addr, v6_one, 16) ||
	       (!memcmp(e->peer_addr, v4_mapped, 12) && e->peer_addr[12] == 127);
}

void h2spans_request(struct h2spans *hs, const struct kerno_h2_conn_ref *conn, __u32 stream_id,
		     const struct h2_fields *f, struct h2_span_ids *ids, __u64 now)
{
	struct stream_key k = { conn->local_port, conn->peer_port, stream_id };
	struct h2_link *l = link_slot(hs, &k);
	struct h2_held *h;
	unsigned int i;

	if (f->has_traceparent) {
		memcpy(ids->trace_id, f->trace_id, sizeof(ids->trace_id));
		ids->span_id = f->parent_id;
	} else {
		new_trace(hs, ids->trace_id);
		ids->span_id = next_id(hs) | 1;
	}
	ids->set = true;
	l->key = k;
	l->stored_ns = now;
	memcpy(l->trace_id, ids->trace_id, sizeof(l->trace_id));
	l->span_id = ids->span_id;
	l->used = true;
	/* A server end that ended first waits for exactly this. */
	for (i = 0; hs->n_held && i < H2_HELD; i++) {
		h = &hs->held[i];
		if (!h->used || !same_key(&h->key, &k) || now < h->server_conn_id)
			continue;
		memcpy(&hs->ev, h->head, KERNO_SPAN_EVENT_HDR);
		join(&hs->ev, l);
		h->used = false;
		hs->n_held--;
		hs->offer(hs->ctx, &hs->ev);
	}
}

/* The span of ended stream e (series k), without its ids, in hs->ev. */
static void fill(struct h2spans *hs, const struct kerno_h2_event *e,
		 const struct kerno_series_key *k)
{
	struct kerno_span_event *ev = &hs->ev;

	memset(ev, 0, KERNO_SPAN_EVENT_HDR);
	ev->start_ns = e->end_ns - e->dur_ns;
	ev->end_ns = e->end_ns;
	ev->cgroup_id = e->cgroup_id;
	ev->tgid = e->tgid;
	memcpy(ev->peer_addr, e->peer_addr, sizeof(ev->peer_addr));
	ev->local_port = e->conn.local_port;
	ev->peer_port = e->conn.peer_port;
	ev->status = k->status;
	ev->code = k->code;
	ev->role = k->role;
	ev->method = k->method;
	ev->family = k->family;
	ev->proto = k->proto;
	memcpy(ev->path, k->path, KERNO_PATH_LEN);
}

/* Keep server span hs->ev until its client's ids come; false if there is no room. */
static bool hold(struct h2spans *hs, const struct kerno_h2_event *e, __u64 now)
{
	struct h2_held *h;
	unsigned int i;

	if (hs->n_held == H2_HELD)
		return false;
	for (i = 0; hs->held[i].used; i++)
		;
	h = &hs->held[i];
	h->key = (struct stream_key){ e->conn.peer_port, e->conn.local_port, e->stream_id };
	h->server_conn_id = e->conn.conn_id;
	h->held_ns = now;
	memcpy(h->head, &hs->ev, KERNO_SPAN_EVENT_HDR);
	h->used = true;
	hs->n_held++;
	return true;
}

static void server_ids(struct h2spans *hs, const struct kerno_h2_event *e,
		       const struct h2_fields *f, __u64 now)
{
	struct kerno_span_event *ev = &hs->ev;
	struct stream_key k = { e->conn.peer_port, e->conn.local_port, e->stream_id };
	const struct h2_link *l;

	ev->span_id = next_id(hs) | 1;
	if (f->has_traceparent) {
		memcpy(ev->trace_id, f->trace_id, sizeof(ev->trace_id));
		ev->parent_id = f->parent_id;
		ev->flags = KERNO_SPAN_F_TRACEPARENT;
		hs->offer(hs->ctx, ev);
		return;
	}
	l = link_of(hs, &k, e->conn.conn_id);
	if (l) {
		join(ev, l);
	} else {
		/* Its trace until its client's ids join it (held), or for good. */
		new_trace(hs, ev->trace_id);
		if (is_loopback(e) && hold(hs, e, now))
			return;
	}
	hs->offer(hs->ctx, ev);
}

void h2spans_end(struct h2spans *hs, const struct kerno_h2_event *e, const struct h2_fields *f,
		 const struct h2_span_ids *ids, const struct kerno_series_key *k, __u64 now)
{
	struct kerno_span_event *ev = &hs->ev;

	fill(hs, e, k);
	if (k->role == KERNO_ROLE_SERVER) {
		server_ids(hs, e, f, now);
		return;
	}
	if (ids && ids->set) {
		memcpy(ev->trace_id, ids->trace_id, sizeof(ev->trace_id));
		ev->span_id = ids->span_id;
	} else {
		new_trace(hs, ev->trace_id);
		ev->span_id = next_id(hs) | 1;
	}
	if (f->has_traceparent)
		ev->flags = KERNO_SPAN_F_TRACEPARENT;
	hs->offer(hs->ctx, ev);
}

void h2spans_expire(struct h2spans *hs, __u64 now, bool all)
{
	struct h2_held *h;
	unsigned int i;

	for (i = 0; hs->n_held && i < H2_HELD; i++) {
		h = &hs->held[i];
		if (!h->used || (!all && now - h->held_ns < H2_HOLD_NS))
			continue;
		memcpy(&hs->ev, h->head, KERNO_SPAN_EVENT_HDR);
		h->used = false;
		hs->n_held--;
		hs->offer(hs->ctx, &hs->ev);
	}
}
