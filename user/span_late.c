// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Late links between a server span and its client span on this node: see span_late.h. */
#include <stdlib.h>
#include <string.h>

#include "span_late.h"

#define CLIENT_SLOTS 1024 /* recent client spans, direct-mapped by their link */
#define MOVED_SLOTS 256 /* recent provisional trace ids and where they moved */

/* A request on a connection, named the same from both ends. */
struct link {
	__u8 client_addr[16];
	__u8 server_addr[16];
	__u16 client_port;
	__u16 server_port;
	__u32 seq;
};

struct client_span {
	struct link link;
	__u8 trace_id[16];
	__u64 span_id;
	__u64 end_ns; /* a client span that ended before a server span started did not send it */
	bool used;
};

struct moved {
	__u8 from[16];
	__u8 to[16];
	bool used;
};

struct held {
	struct kerno_span_event *ev; /* a copy, len bytes */
	size_t len;
	__u64 since_ns;
	bool root; /* a LINK_LATE server span still waiting for its client */
};

struct span_late {
	span_late_emit_fn emit;
	void *ctx;
	size_t max_held, n_held;
	__u64 max_wait_ns;
	struct held *held; /* oldest first */
	struct client_span clients[CLIENT_SLOTS];
	struct moved moves[MOVED_SLOTS];
	struct span_late_stats stats;
};

static void link_of(const struct kerno_span_event *ev, struct link *k)
{
	int server = ev->role == KERNO_ROLE_SERVER;

	memset(k, 0, sizeof(*k));
	memcpy(k->client_addr, server ? ev->peer_addr : ev->local_addr, 16);
	memcpy(k->server_addr, server ? ev->local_addr : ev->peer_addr, 16);
	k->client_port = server ? ev->peer_port : ev->local_port;
	k->server_port = server ? ev->local_port : ev->peer_port;
	k->seq = ev->req_seq;
}

static size_t hash_bytes(const void *p, size_t n, size_t slots)
{
	const unsigned char *b = p;
	__u64 h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h & (slots - 1);
}

static bool same_trace(const __u8 *a, const __u8 *b)
{
	return !memcmp(a, b, 16);
}

struct span_late *span_late_new(size_t max_held, __u64 max_wait_ns, span_late_emit_fn emit,
				void *ctx)
{
	struct span_late *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->held = calloc(max_held ? max_held : 1, sizeof(*l->held));
	if (!l->held) {
		free(l);
		return NULL;
	}
	l->max_held = max_held;
	l->max_wait_ns = max_wait_ns;
	l->emit = emit;
	l->ctx = ctx;
	return l;
}

/* Emit held span i and close the gap, keeping the oldest-first order. */
static void release(struct span_late *l, size_t i)
{
	struct held *h = &l->held[i];

	l->emit(l->ctx, h->ev, h->len);
	free(h->ev);
	memmove(h, h + 1, (l->n_held - i - 1) * sizeof(*h));
	l->n_held--;
}

/* Is some held server span still waiting for the client of this trace? */
static bool trace_waits(const struct span_late *l, const __u8 *trace_id)
{
	size_t i;

	for (i = 0; i < l->n_held; i++)
		if (l->held[i].root && same_trace(l->held[i].ev->trace_id, trace_id))
			return true;
	return false;
}

/* Emit the held spans of this trace once it waits for nothing any more. */
static void settle(struct span_late *l, const __u8 *trace_id)
{
	__u8 t[16];
	size_t i = 0;

	memcpy(t, trace_id, 16); /* trace_id may point into what is released */
	if (trace_waits(l, t))
		return;
	while (i < l->n_held) {
		if (same_trace(l->held[i].ev->trace_id, t))
			release(l, i);
		else
			i++;
	}
}

static void remember_move(struct span_late *l, const __u8 *from, const __u8 *to)
{
	struct moved *m = &l->moves[hash_bytes(from, 16, MOVED_SLOTS)];

	memcpy(m->from, from, 16);
	memcpy(m->to, to, 16);
	m->used = true;
}

/* Where trace id t (16 bytes, updated) went, through a few moves at most. */
static void follow_moves(const struct span_late *l, __u8 *t)
{
	const struct moved *m;
	int hops;

	for (hops = 0; hops < 4; hops++) {
		m = &l->moves[hash_bytes(t, 16, MOVED_SLOTS)];
		if (!m->used || !same_trace(m->from, t) || same_trace(m->to, t))
			return;
		memcpy(t, m->to, 16);
	}
}

/*
 * A span whose provisional trace was settled already (moved to its client's,
 * or given up on) follows it. False when its server span is still to come.
 */
static bool follow_move(const struct span_late *l, struct kerno_span_event *ev)
{
	const struct moved *m = &l->moves[hash_bytes(ev->trace_id, 16, MOVED_SLOTS)];

	if (!m->used || !same_trace(m->from, ev->trace_id))
		return false;
	memcpy(ev->trace_id, m->to, 16);
	return true;
}

/* The client span of root's link is known: root's group takes its trace. */
static void link_root(struct span_late *l, struct held *root, const struct client_span *c)
{
	__u8 from[16], to[16];
	size_t i;

	memcpy(from, root->ev->trace_id, 16);
	memcpy(to, c->trace_id, 16);
	/* The client span's own trace may have moved since it was seen (a grandchild). */
	follow_moves(l, to);
	root->root = false;
	root->ev->parent_id = c->span_id;
	root->ev->flags |= KERNO_SPAN_F_LINKED;
	l->stats.linked++;
	for (i = 0; i < l->n_held; i++)
		if (same_trace(l->held[i].ev->trace_id, from))
			memcpy(l->held[i].ev->trace_id, to, 16);
	remember_move(l, from, to);
	settle(l, to);
}

static const struct client_span *client_of(const struct span_late *l, const struct link *k)
{
	const struct client_span *c = &l->clients[hash_bytes(k, sizeof(*k), CLIENT_SLOTS)];

	return c->used && !memcmp(&c->link, k, sizeof(*k)) ? c : NULL;
}

/* A client span was seen: remember it, and link the server span waiting for it. */
static void on_client(struct span_late *l, const struct kerno_span_event *ev)
{
	struct client_span *c;
	struct link k, hk;
	size_t i;

	link_of(ev, &k);
	c = &l->clients[hash_bytes(&k, sizeof(k), CLIENT_SLOTS)];
	c->link = k;
	memcpy(c->trace_id, ev->trace_id, 16);
	c->span_id = ev->span_id;
	c->end_ns = ev->end_ns;
	c->used = true;
	for (i = 0; i < l->n_held; i++) {
		if (!l->held[i].root)
			continue;
		link_of(l->held[i].ev, &hk);
		if (!memcmp(&hk, &k, sizeof(k))) {
			link_root(l, &l->held[i], c);
			return;
		}
	}
}

/* Send the oldest held span out as it is, with the spans waiting on it. */
static void give_up_oldest(struct span_late *l)
{
	__u8 t[16];

	memcpy(t, l->held[0].ev->trace_id, 16);
	if (l->held[0].root)
		l->stats.unlinked++;
	l->held[0].root = false;
	remember_move(l, t, t);
	settle(l, t);
	/* Another root of the same trace (never made by the kernel) would keep it. */
	if (l->n_held && same_trace(l->held[0].ev->trace_id, t))
		release(l, 0);
}

/* Keep a copy of ev until its trace is known; false when it went out at once. */
static bool hold(struct span_late *l, const struct kerno_span_event *ev, size_t len, __u64 now_ns)
{
	struct held *h;

	if (!l->max_held) {
		l->stats.unlinked += !!(ev->flags & KERNO_SPAN_F_LINK_LATE);
		l->emit(l->ctx, ev, len);
		return false;
	}
	if (l->n_held == l->max_held)
		give_up_oldest(l);
	h = &l->held[l->n_held];
	h->ev = malloc(len);
	if (!h->ev) {
		l->stats.no_memory++;
		l->emit(l->ctx, ev, len);
		return false;
	}
	memcpy(h->ev, ev, len);
	h->len = len;
	h->since_ns = now_ns;
	h->root = ev->role == KERNO_ROLE_SERVER && (ev->flags & KERNO_SPAN_F_LINK_LATE);
	l->n_held++;
	l->stats.held++;
	return true;
}

/*
 * A span of a provisional trace: it usually ends before the server span it
 * took the trace from, so it waits for that one unless the trace is settled.
 */
static void take_follower(struct span_late *l, struct kerno_span_event *ev, size_t len,
			  __u64 now_ns)
{
	bool settled = follow_move(l, ev);

	/* A client span may settle a server span that waited for it (and its own trace). */
	if (ev->role == KERNO_ROLE_CLIENT)
		on_client(l, ev);
	if (settled && !trace_waits(l, ev->trace_id)) {
		l->emit(l->ctx, ev, len);
		return;
	}
	hold(l, ev, len, now_ns);
}

/* A server span waiting for its client span: linked at once if that was seen. */
static void take_root(struct span_late *l, const struct kerno_span_event *ev, size_t len,
		      __u64 now_ns)
{
	const struct client_span *c;
	struct link k;

	if (!hold(l, ev, len, now_ns))
		return;
	link_of(ev, &k);
	c = client_of(l, &k);
	/* Same two ends and position: an earlier connection's (a reused port) if it ended before. */
	if (c && c->end_ns >= ev->start_ns)
		link_root(l, &l->held[l->n_held - 1], c);
}

void span_late_take(struct span_late *l, const struct kerno_span_event *ev, size_t len,
		    __u64 now_ns)
{
	struct kerno_span_event *copy;

	if (ev->role == KERNO_ROLE_SERVER && (ev->flags & KERNO_SPAN_F_LINK_LATE)) {
		take_root(l, ev, len, now_ns);
		return;
	}
	if (!(ev->flags & KERNO_SPAN_F_TRACE_LATE)) {
		if (ev->role == KERNO_ROLE_CLIENT)
			on_client(l, ev);
		l->emit(l->ctx, ev, len);
		return;
	}
	/* Its trace id may change here (follow_move()): work on a copy. */
	copy = malloc(len);
	if (!copy) {
		l->stats.no_memory++;
		l->emit(l->ctx, ev, len);
		return;
	}
	memcpy(copy, ev, len);
	take_follower(l, copy, len, now_ns);
	free(copy);
}

void span_late_expire(struct span_late *l, __u64 now_ns, bool all)
{
	while (l->n_held && (all || now_ns - l->held[0].since_ns >= l->max_wait_ns))
		give_up_oldest(l);
}

void span_late_get_stats(const struct span_late *l, struct span_late_stats *out)
{
	*out = l->stats;
}

void span_late_free(struct span_late *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n_held; i++)
		free(l->held[i].ev);
	free(l->held);
	free(l);
}
