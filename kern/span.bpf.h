/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Spans, stitching and sampling, in the kernel, for HTTP/1.x requests.
 *
 * The HTTP/1 parser (http1.bpf.h) calls in at four points of a message:
 *
 *   request start     (start line parsed) span_request_start(): ids. A
 *                     server span starts a trace, or continues the client
 *                     span that sent the request from this node (span_links,
 *                     keyed by the connection's two ends); a client span is
 *                     the child of the server span its thread is serving
 *                     (span_threads, inherited at fork). The request's first
 *                     bytes are kept when payloads are on.
 *   traceparent       a W3C traceparent header: a server span takes its trace
 *                     id and parent; a client span written by an instrumented
 *                     application takes its trace id and span id from it.
 *   request published (header block ended) span_request_published(): a
 *                     server span becomes its thread's current span.
 *   response start    (status line) span_response_start(): the endpoint's
 *                     threshold; the response's first bytes when the span is
 *                     already known to be kept (error, baseline, slow).
 *   response end      span_end(): the sampling decision, then the span crosses
 *                     to userspace through the span_events ring buffer.
 *
 * A server span whose client on this node had not published its link yet
 * keeps a provisional trace id that its children take too; if its own last
 * look (at its end) cannot settle it, userspace does (user/span_late.h).
 *
 * A database client's request (Redis, PostgreSQL, MySQL: proto.bpf.h) is a
 * span too, noted at the same two points as an HTTP client's (start, end):
 * the child of its thread's span, its request's first bytes kept (the
 * statement, redacted in userspace), never its response's (rows).
 *
 * Sampling keeps every error (5xx, and 4xx as client errors), every request
 * over its endpoint's threshold and a baseline decided from the trace id
 * (the same answer on every span of a trace), under a per-endpoint rate cap.
 * Metrics never depend on it: record() has already counted the request.
 * Every span kept is counted (KERNO_EV_SPANS_SAMPLED); one the ring buffer
 * refuses is a per-process drop (KERNO_DROP_SPAN_RINGBUF_FULL), so userspace
 * can prove sampled = received + dropped.
 *
 * With spans off (spans_enabled, read-only data) the verifier removes all
 * of this from the programs.
 */
#ifndef KERNO_SPAN_BPF_H
#define KERNO_SPAN_BPF_H

#include "capture_maps.bpf.h"

#ifndef __bpf__
/*
 * The userspace build of the HTTP/1 parser (selftests/shim/, its unit test
 * and fuzzer) has no ring buffers, LRU maps or tracepoints: spans there are
 * as with spans_enabled 0, which the verifier makes of the programs too.
 */
static const __u8 spans_enabled = 0;

static __always_inline void span_note_request_start(struct seg_ctx *x, struct kerno_conn *c,
						    struct kerno_req_slot *s, __u32 total)
{
}

static __always_inline int span_is_traceparent(const char *win, struct kerno_http_dir *d, __u32 pos,
					       __u32 nl)
{
	return 0;
}

static __always_inline void span_traceparent(struct kerno_conn *c, struct kerno_http_dir *d,
					     const char *win, __u32 pos, __u32 nl)
{
}

static __always_inline void span_note_published(struct kerno_conn *c)
{
}

static __always_inline void span_note_response_start(struct seg_ctx *x, struct kerno_conn *c,
						     struct kerno_http_dir *d, __u32 total)
{
}

static __always_inline void span_note_end(struct kerno_conn *c, __u16 status, __u32 code, __u64 now)
{
}

static __always_inline void span_note_db_request(struct seg_ctx *x, struct kerno_conn *c,
						 struct kerno_req_slot *s)
{
}

static __always_inline void span_note_db_end(struct kerno_conn *c, __u16 status, __u32 code,
					     __u64 now)
{
}
#else /* __bpf__ */

/* Load-time settings (user/spans.c, capture.c). */
const volatile __u8 spans_enabled = 0;
/* Baseline: kept when the trace id's sampling word is below this (2^32: all). */
const volatile __u64 span_baseline = 0;
/* Threshold of every endpoint, or of those without one computed yet (span_slow_auto). */
const volatile __u64 span_slow_ns = 1000000000ULL;
const volatile __u8 span_slow_auto = 1;
/* Spans kept per endpoint and second (about); 0: no cap. */
const volatile __u32 span_rate_cap = 0;
/* First bytes kept of each direction of a sampled span; 0: none. */
const volatile __u32 span_payload_bytes = 0;
/* Wake the reader once this much waits in the ring buffer, not before. */
const volatile __u64 span_wakeup_bytes = 65536;

/* Set on a server span whose link was stale: look again at the end. */
#define KERNO_SPAN_F_LINK_RETRY (1 << 7)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* set by userspace */
} span_events SEC(".maps");

/* The span each thread is serving, by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct kerno_thread_span);
} span_threads SEC(".maps");

/* The latest client span of each connection, for its server side. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct kerno_span_link_key);
	__type(value, struct kerno_span_link);
} span_links SEC(".maps");

/* Per endpoint slot: its latency threshold in ns (written by userspace; 0: the default). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KERNO_SPAN_ENDPOINTS);
	__type(key, __u32);
	__type(value, __u64);
} span_slow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KERNO_SPAN_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct kerno_span_cap);
} span_caps SEC(".maps");

/*
 * The first bytes of the request in progress on a connection (by its
 * generation, kerno_conn.id), and of its response once known to be kept:
 * laid out as the ring buffer event it becomes, so a sampled span is sent
 * from here without another copy. One per connection: a pipelined request
 * (one already waiting) keeps no payload.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024); /* set by userspace; 1 when payloads are off */
	__type(key, __u64);
	__type(value, struct kerno_span_event);
} span_payloads SEC(".maps");

/* Span work noted during the parse, done after it (span_flush()). */
enum span_op_kind {
	SPAN_OP_REQUEST_START = 1,
	SPAN_OP_PUBLISHED,
	SPAN_OP_RESPONSE_START,
	SPAN_OP_END,
};

struct span_op {
	__u64 conn_id; /* kerno_conn.id: the connection it belongs to */
	__u64 now;
	__u64 ubuf; /* user address of the message's first byte (starts) */
	__u32 avail; /* bytes of the segment from there */
	__u32 seq; /* the request's position on the connection */
	__u32 code; /* a database's error detail (ends) */
	__u16 status;
	__u8 kind; /* enum span_op_kind */
	__u8 slot; /* its FIFO slot */
	__u8 alone; /* no other request was waiting (request start) */
	__u8 pad[3];
};

/* Ops of one program run, at most (a read ends at most KERNO_FIFO_LEN responses). */
#define SPAN_OPS 32

/*
 * The parse runs deep in a call chain that, before 5.12 or so, has 512
 * bytes of stack for all its frames, and uses them all. So the parse only
 * notes what happened (span_note_*(), a few stores into scratch memory) and
 * the program does the span work once the parse has returned
 * (span_flush()). Map keys and working words live in scratch memory too.
 * Each op looks the scratch up once and hands it down: a lookup is a helper
 * call, which the compiler cannot merge, and a span's work made a dozen.
 */
struct span_scratch {
	__u32 n_ops;
	__u32 pad;
	struct span_op ops[SPAN_OPS];
	__u64 conn_key;
	__u32 tid_key;
	__u32 slot_key;
	__u64 w[3];
	__u64 rng; /* span_rand64()'s sequence; 0 until seeded */
	struct kerno_span_link_key lk;
	struct kerno_thread_span ts;
	struct kerno_span_event ev; /* a span without payload; new span_payloads entries */
};

/* Entry 0: the run under way; entry 1: an interrupted run's, set aside (span_run_set_aside()). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct span_scratch);
} span_scratch SEC(".maps");

static __always_inline struct span_scratch *span_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&span_scratch, &zero);
}

/*
 * A connection's close often runs in softirq, on top of a run on the same
 * CPU (a data-path run, or a close in process context; softirqs do not nest).
 * The scratch is that run's while it has ops noted: span_flush_ops() clears
 * n_ops only once it has done them all. The close then sets the whole entry
 * aside, does its own span work in it, and puts it back
 * (span_run_put_back()). Only a run that is interrupted pays for the copy.
 * Returns whether it set one aside.
 */
static __always_inline int span_run_set_aside(void)
{
	__u32 zero = 0, one = 1;
	struct span_scratch *ss = bpf_map_lookup_elem(&span_scratch, &zero);
	struct span_scratch *aside = bpf_map_lookup_elem(&span_scratch, &one);

	if (!ss || !aside || !ss->n_ops)
		return 0;
	bpf_probe_read_kernel(aside, sizeof(*aside), ss);
	ss->n_ops = 0;
	return 1;
}

static __always_inline void span_run_put_back(int set_aside)
{
	__u32 zero = 0, one = 1;
	struct span_scratch *ss, *aside;

	if (!set_aside)
		return;
	ss = bpf_map_lookup_elem(&span_scratch, &zero);
	aside = bpf_map_lookup_elem(&span_scratch, &one);
	if (ss && aside)
		bpf_probe_read_kernel(ss, sizeof(*ss), aside);
}

/* Keys for lookups, in scratch memory (see struct span_scratch). */
static __always_inline __u64 *span_conn_key(struct span_scratch *ss, __u64 id)
{
	ss->conn_key = id;
	return &ss->conn_key;
}

static __always_inline __u32 *span_tid_key(struct span_scratch *ss, __u32 tid)
{
	ss->tid_key = tid;
	return &ss->tid_key;
}

static __always_inline __u32 *span_slot_key(struct span_scratch *ss, __u32 slot)
{
	ss->slot_key = slot;
	return &ss->slot_key;
}

/*
 * A span or trace id word. Two bpf_get_prandom_u32() calls per word, six per
 * new trace, were a tenth of the span work: instead, a per-CPU Weyl sequence
 * seeded once from that generator, through splitmix64's finalizer. A program
 * preempted between reading and writing the sequence may share a value with
 * the thread that ran meanwhile: the thread id mixed in before the finalizer
 * (a bijection) keeps their ids apart.
 */
static __always_inline __u64 span_rand64(struct span_scratch *ss, __u32 tid)
{
	__u64 z;

	if (!ss->rng)
		ss->rng = (__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32();
	z = ss->rng + 0x9e3779b97f4a7c15ULL;
	ss->rng = z;
	z ^= (__u64)tid << 40;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __always_inline void span_new_trace(struct span_scratch *ss, struct kerno_req_slot *s)
{
	*(__u64 *)s->trace_id = span_rand64(ss, s->tid);
	*(__u64 *)(s->trace_id + 8) = span_rand64(ss, s->tid);
}

static __always_inline void span_copy_trace(__u8 *dst, const __u8 *src)
{
	*(__u64 *)dst = *(const __u64 *)src;
	*(__u64 *)(dst + 8) = *(const __u64 *)(src + 8);
}

static __always_inline int span_same_trace(const __u8 *a, const __u8 *b)
{
	return *(const __u64 *)a == *(const __u64 *)b &&
	       *(const __u64 *)(a + 8) == *(const __u64 *)(b + 8);
}

/* Baseline, from the trace id's last 8 bytes (random in W3C ids): whole traces in or out. */
static __always_inline int span_in_baseline(const __u8 *trace_id)
{
	return (*(const __u64 *)(trace_id + 8) >> 32) < span_baseline;
}

/* The connection's two ends, client first, in scratch (a map key off the stack). */
static __always_inline struct kerno_span_link_key *span_link_key(struct span_scratch *ss,
								 struct kerno_conn *c)
{
	struct kerno_span_link_key *k = &ss->lk;
	int server = c->role == KERNO_ROLE_SERVER;

	copy_words(k->client_addr, server ? c->peer_addr : c->local_addr, 16);
	copy_words(k->server_addr, server ? c->local_addr : c->peer_addr, 16);
	k->client_port = server ? c->peer_port : c->local_port;
	k->server_port = server ? c->local_port : c->peer_port;
	k->pad = 0;
	return k;
}

/* A database client's connection: its spans end with a status of its protocol. */
static __always_inline int span_is_db(const struct kerno_conn *c)
{
	return c->proto == KERNO_P_REDIS || c->proto == KERNO_P_PGSQL || c->proto == KERNO_P_MYSQL;
}

/* A client span: the server side of its connection, on this node, continues it. */
static __always_inline void span_link_store(struct span_scratch *ss, struct kerno_conn *c,
					    struct kerno_req_slot *s, __u32 seq, __u64 now)
{
	struct kerno_span_link_key *k = span_link_key(ss, c);
	struct kerno_span_link *l;

	l = bpf_map_lookup_elem(&span_links, k);
	if (l) {
		span_copy_trace(l->trace_id, s->trace_id);
		l->span_id = s->span_id;
		l->seq = seq;
		l->late = s->span_flags & KERNO_SPAN_F_TRACE_LATE;
		l->stored_ns = now;
		return;
	}
	/* The event's head is free memory for one link value here. */
	l = (struct kerno_span_link *)&ss->ev;
	span_copy_trace(l->trace_id, s->trace_id);
	l->span_id = s->span_id;
	l->seq = seq;
	l->late = s->span_flags & KERNO_SPAN_F_TRACE_LATE;
	l->stored_ns = now;
	bpf_map_update_elem(&span_links, k, l, BPF_ANY);
}

/*
 * A server span sent from a client span of this node: same trace, that span
 * as parent. seq is the request's position on the connection, the client's
 * and the server's count alike; a link for another request is stale (the
 * client's hook may run after this side read the bytes): looked at again at
 * the end.
 */
static __always_inline void span_link_lookup(struct span_scratch *ss, struct kerno_conn *c,
					     struct kerno_req_slot *s, __u32 seq)
{
	struct kerno_span_link_key *k = span_link_key(ss, c);
	struct kerno_span_link *l;

	l = bpf_map_lookup_elem(&span_links, k);
	if (!l) {
		/* On one host the client's hook may not have run yet. */
		if ((*(const __u64 *)c->peer_addr == *(const __u64 *)c->local_addr &&
		     *(const __u64 *)(c->peer_addr + 8) == *(const __u64 *)(c->local_addr + 8)) ||
		    c->peer_addr[0] == 127)
			s->span_flags |= KERNO_SPAN_F_LINK_RETRY;
		return;
	}
	/*
	 * Another request's, or an earlier connection's with the same two ends
	 * (the server side's entry is made at its handshake, before the client
	 * can send: a link of this connection is stored after it).
	 */
	if (l->seq != seq || l->stored_ns < c->id) {
		s->span_flags |= KERNO_SPAN_F_LINK_RETRY;
		return;
	}
	span_copy_trace(s->trace_id, l->trace_id);
	s->parent_id = l->span_id;
	s->span_flags = (s->span_flags & ~KERNO_SPAN_F_LINK_RETRY) | KERNO_SPAN_F_LINKED;
	if (l->late)
		s->span_flags |= KERNO_SPAN_F_TRACE_LATE;
}

/* Keep the first bytes of a request (op says where they are in user memory). */
static __always_inline void span_capture_request(struct span_scratch *ss, struct kerno_conn *c,
						 struct kerno_req_slot *s, const struct span_op *op)
{
	__u64 *key = span_conn_key(ss, c->id);
	struct kerno_span_event *e;
	__u32 n;

	if (!op->alone)
		return;
	e = bpf_map_lookup_elem(&span_payloads, key);
	if (!e) {
		bpf_map_update_elem(&span_payloads, key, &ss->ev, BPF_ANY);
		e = bpf_map_lookup_elem(&span_payloads, key);
		if (!e)
			return;
	}
	n = op->avail;
	if (n > span_payload_bytes)
		n = span_payload_bytes;
	n = bounded_index(n, KERNO_SPAN_PAYLOAD_MAX + 1, KERNO_SPAN_PAYLOAD_MAX);
	if (bpf_probe_read_user(e->payload, n, (const void *)op->ubuf))
		n = 0;
	e->req_len = n;
	e->resp_len = 0;
	e->req_seq = op->seq;
	if (n)
		s->span_flags |= KERNO_SPAN_F_REQ_PAYLOAD;
}

/*
 * Client span s takes the trace id of a server span not yet linked to its
 * own client: userspace gives both the client's trace id later. The server
 * must then keep its provisional trace id too (span_end()), so it learns,
 * through its own record, that a child took it.
 */
static __always_inline void span_adopt_late(struct span_scratch *ss, struct kerno_thread_span *t,
					    struct kerno_req_slot *s)
{
	__u64 span_id = t->span_id;
	__u32 *tid;

	s->span_flags |= KERNO_SPAN_F_TRACE_LATE;
	t->active |= KERNO_TS_ADOPTED;
	if (t->server_tid == s->tid)
		return;
	/* A thread or process it created: mark the server's. */
	tid = span_tid_key(ss, t->server_tid);
	t = bpf_map_lookup_elem(&span_threads, tid);
	if (t && t->span_id == span_id)
		t->active |= KERNO_TS_ADOPTED;
}

/*
 * A request's start line was parsed into slot s. A traceparent header may
 * have set its ids already (KERNO_SPAN_F_TRACEPARENT): the header wins.
 */
static __noinline void span_request_start(struct span_scratch *ss, struct kerno_conn *c,
					  struct kerno_req_slot *s, const struct span_op *op)
{
	int traced = s->span_flags & KERNO_SPAN_F_TRACEPARENT;
	struct kerno_thread_span *t;
	__u32 *tid;

	s->slow_ns = 0;
	if (c->role == KERNO_ROLE_SERVER) {
		s->span_id = span_rand64(ss, s->tid) | 1;
		if (!traced) {
			s->parent_id = 0;
			/* A trace of its own only when no client span of this node sent it (yet). */
			span_link_lookup(ss, c, s, op->seq);
			if (!(s->span_flags & KERNO_SPAN_F_LINKED))
				span_new_trace(ss, s);
		}
	} else {
		tid = span_tid_key(ss, s->tid);
		t = bpf_map_lookup_elem(&span_threads, tid);
		if (!traced) {
			s->span_id = span_rand64(ss, s->tid) | 1;
			if (t && t->active)
				span_copy_trace(s->trace_id, t->trace_id);
			else
				span_new_trace(ss, s);
		}
		s->parent_id = 0;
		if (t && t->active && span_same_trace(s->trace_id, t->trace_id)) {
			s->parent_id = t->span_id;
			s->span_flags |= KERNO_SPAN_F_THREAD;
			if (t->active & KERNO_TS_LATE)
				span_adopt_late(ss, t, s);
		}
		/* No server on this node parses a database's requests into spans. */
		if (!span_is_db(c))
			span_link_store(ss, c, s, op->seq, op->now);
	}
	if (span_payload_bytes)
		span_capture_request(ss, c, s, op);
}

/* Room for one more op of this run, or NULL (counted). */
static __always_inline struct span_op *span_note(const struct kerno_conn *c, __u8 kind)
{
	struct span_scratch *ss = span_scratch_get();
	struct span_op *op;
	__u32 n;

	if (!ss)
		return NULL;
	n = ss->n_ops;
	if (n >= SPAN_OPS) {
		count(KERNO_DROP_SPAN_LOST);
		return NULL;
	}
	ss->n_ops = n + 1;
	op = &ss->ops[n & (SPAN_OPS - 1)];
	op->conn_id = c->id;
	op->kind = kind;
	return op;
}

/* Where the message whose first line is `total` bytes long starts, for its payload. */
static __always_inline void span_note_bytes(struct span_op *op, const struct seg_ctx *x,
					    __u32 total)
{
	__u32 at = x->off >= total ? x->off - total : 0;

	op->ubuf = x->ubuf + at;
	op->avail = at < x->len ? x->len - at : 0;
}

/* Parsed a request's start line into slot s (not yet published). */
static __always_inline void span_note_request_start(struct seg_ctx *x, struct kerno_conn *c,
						    struct kerno_req_slot *s, __u32 total)
{
	struct span_op *op;

	if (!spans_enabled)
		return;
	s->span_flags = 0;
	op = span_note(c, SPAN_OP_REQUEST_START);
	if (!op)
		return;
	op->slot = c->fifo_tail & (KERNO_FIFO_LEN - 1);
	op->seq = c->fifo_tail;
	op->alone = c->fifo_head == c->fifo_tail;
	op->now = x->now;
	span_note_bytes(op, x, total);
}

/* A request's header block ended (before its publication in the FIFO). */
static __always_inline void span_note_published(struct kerno_conn *c)
{
	struct span_op *op;

	if (!spans_enabled || c->role != KERNO_ROLE_SERVER)
		return;
	op = span_note(c, SPAN_OP_PUBLISHED);
	if (!op)
		return;
	op->slot = c->fifo_tail & (KERNO_FIFO_LEN - 1);
	op->seq = c->fifo_tail;
}

/* The status line of a response was parsed (d->status), `total` bytes long. */
static __always_inline void span_note_response_start(struct seg_ctx *x, struct kerno_conn *c,
						     struct kerno_http_dir *d, __u32 total)
{
	struct span_op *op;

	if (!spans_enabled || c->unanswered || c->fifo_head == c->fifo_tail)
		return;
	op = span_note(c, SPAN_OP_RESPONSE_START);
	if (!op)
		return;
	op->slot = c->fifo_head & (KERNO_FIFO_LEN - 1);
	op->seq = c->fifo_head;
	op->status = d->status;
	op->now = x->now;
	span_note_bytes(op, x, total);
}

/*
 * A database client's request starts in slot s, its head at x->off (unless
 * it began in an earlier syscall: then no payload). Noted like an HTTP
 * request start, before the FIFO takes it.
 */
static __always_inline void span_note_db_request(struct seg_ctx *x, struct kerno_conn *c,
						 struct kerno_req_slot *s)
{
	struct span_op *op;

	if (!spans_enabled || c->role != KERNO_ROLE_CLIENT || c->proto == KERNO_P_DNS)
		return;
	s->span_flags = 0;
	op = span_note(c, SPAN_OP_REQUEST_START);
	if (!op)
		return;
	op->slot = c->fifo_tail & (KERNO_FIFO_LEN - 1);
	op->seq = c->fifo_tail;
	op->alone = c->fifo_head == c->fifo_tail;
	op->ubuf = x->ubuf + x->off;
	op->avail = !x->kept && x->off < x->len ? x->len - x->off : 0;
}

/*
 * The response to the oldest waiting request ended (before the FIFO moves
 * on), with status and, for a database, its detail (struct kerno_span_event).
 */
static __always_inline void span_note_end(struct kerno_conn *c, __u16 status, __u32 code, __u64 now)
{
	struct span_op *op;

	if (!spans_enabled)
		return;
	op = span_note(c, SPAN_OP_END);
	if (!op)
		return;
	op->slot = c->fifo_head & (KERNO_FIFO_LEN - 1);
	op->seq = c->fifo_head;
	op->status = status;
	op->code = code;
	op->now = now;
}

/* A database client's response to its oldest waiting request ended. */
static __always_inline void span_note_db_end(struct kerno_conn *c, __u16 status, __u32 code,
					     __u64 now)
{
	if (c->role == KERNO_ROLE_CLIENT && c->proto != KERNO_P_DNS)
		span_note_end(c, status, code, now);
}

static __always_inline int span_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Is the whole header line win[pos, nl] a traceparent header of a request? */
static __always_inline int span_is_traceparent(const char *win, struct kerno_http_dir *d, __u32 pos,
					       __u32 nl)
{
	if (!spans_enabled || !(d->flags & KERNO_F_REQUEST) || pos >= KERNO_WIN ||
	    nl >= KERNO_WIN || nl < pos + 12 + 55)
		return 0;
	/* Older verifiers lose the bound of pos above: mask it where it indexes. */
	pos &= KERNO_WIN - 1;
	return (load64(win + pos) | LOWER8) == W8('t', 'r', 'a', 'c', 'e', 'p', 'a', 'r') &&
	       (load32(win + pos + 8) | 0x00202020) == W4('e', 'n', 't', ':');
}

/*
 * "traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", in
 * win from pos (span_is_traceparent said so), for the request in progress.
 */
static __noinline void span_traceparent(struct kerno_conn *c, struct kerno_http_dir *d,
					const char *win, __u32 pos, __u32 nl)
{
	struct span_scratch *ss = span_scratch_get();
	struct kerno_req_slot *s;
	__u32 v = pos + 12, i;
	__u64 *w;
	int h;

	if (!ss || (d->flags & KERNO_F_NO_SLOT))
		return;
	w = ss->w;
	w[0] = 0;
	w[1] = 0;
	w[2] = 0;
	if (win[v & (KERNO_WIN - 1)] == ' ')
		v++;
	if (v + 55 > nl)
		return;
	v &= KERNO_WIN - 1;
	if (win[v] != '0' || win[v + 1] != '0' || win[v + 2] != '-' || win[v + 35] != '-' ||
	    win[v + 52] != '-')
		return;
	for (i = 0; i < 48; i++) {
		h = span_hex(win[v + 3 + i + (i >= 32)]);
		if (h < 0)
			return;
		w[i >> 4] = w[i >> 4] << 4 | h;
	}
	if (!(w[0] | w[1]) || !w[2])
		return; /* all-zero ids are invalid */
	s = &c->fifo[c->fifo_tail & (KERNO_FIFO_LEN - 1)];
	*(__u64 *)s->trace_id = __builtin_bswap64(w[0]);
	*(__u64 *)(s->trace_id + 8) = __builtin_bswap64(w[1]);
	s->span_flags |= KERNO_SPAN_F_TRACEPARENT;
	if (c->role == KERNO_ROLE_SERVER)
		s->parent_id = w[2];
	else
		/* The application's own client span: the one the server will name as parent. */
		s->span_id = w[2];
}

/* A server request's header block ended: its thread now serves this span. */
static __noinline void span_request_published(struct span_scratch *ss, struct kerno_conn *c,
					      struct kerno_req_slot *s, const struct span_op *op)
{
	struct kerno_thread_span *t;
	__u32 *tid, state = KERNO_TS_ACTIVE;

	if (c->role != KERNO_ROLE_SERVER)
		return;
	/* Before the thread's children take its trace: the client's hook may have run by now. */
	if (s->span_flags & KERNO_SPAN_F_LINK_RETRY)
		span_link_lookup(ss, c, s, op->seq);
	if (s->span_flags & (KERNO_SPAN_F_LINK_RETRY | KERNO_SPAN_F_TRACE_LATE))
		state |= KERNO_TS_LATE;
	tid = span_tid_key(ss, s->tid);
	t = bpf_map_lookup_elem(&span_threads, tid);
	if (t) {
		span_copy_trace(t->trace_id, s->trace_id);
		t->span_id = s->span_id;
		t->active = state;
		t->server_tid = s->tid;
		return;
	}
	span_copy_trace(ss->ts.trace_id, s->trace_id);
	ss->ts.span_id = s->span_id;
	ss->ts.active = state;
	ss->ts.server_tid = s->tid;
	bpf_map_update_elem(&span_threads, tid, &ss->ts, BPF_ANY);
}

static __always_inline __u32 span_endpoint(const struct kerno_conn *c,
					   const struct kerno_req_slot *s)
{
	__u16 port = c->role == KERNO_ROLE_SERVER ? c->local_port : c->peer_port;

	return kerno_endpoint_slot(c->tgid, port, c->role, s->method, (const __u64 *)s->path);
}

static __always_inline __u64 span_threshold(struct span_scratch *ss, __u32 slot)
{
	__u64 *t;

	if (!span_slow_auto)
		return span_slow_ns;
	t = bpf_map_lookup_elem(&span_slow, span_slot_key(ss, slot));
	return t && *t ? *t : span_slow_ns;
}

/*
 * The status line of the response to slot s was parsed: note the endpoint's
 * threshold, and keep the response's first bytes if the span is sure to be
 * sampled already.
 */
static __noinline void span_response_start(struct span_scratch *ss, struct kerno_conn *c,
					   struct kerno_req_slot *s, const struct span_op *op)
{
	struct kerno_span_event *e;
	__u32 n, off;

	s->slow_ns = span_threshold(ss, span_endpoint(c, s));
	if (!span_payload_bytes || !(s->span_flags & KERNO_SPAN_F_REQ_PAYLOAD))
		return;
	if (op->status < 400 && !span_in_baseline(s->trace_id) &&
	    op->now - s->start_ns < s->slow_ns)
		return;
	e = bpf_map_lookup_elem(&span_payloads, span_conn_key(ss, c->id));
	if (!e || e->req_seq != op->seq)
		return;
	n = op->avail;
	if (n > span_payload_bytes)
		n = span_payload_bytes;
	n = bounded_index(n, KERNO_SPAN_PAYLOAD_MAX + 1, KERNO_SPAN_PAYLOAD_MAX);
	off = bounded_index(e->req_len, KERNO_SPAN_PAYLOAD_MAX + 1, KERNO_SPAN_PAYLOAD_MAX);
	if (bpf_probe_read_user(e->payload + off, n, (const void *)op->ubuf))
		return;
	e->resp_len = n;
	s->span_flags |= KERNO_SPAN_F_RESP_PAYLOAD;
}

/* The endpoint's rate cap: may one more span of it be kept this second? */
static __always_inline int span_cap_ok(struct span_scratch *ss, __u32 slot, __u64 now)
{
	struct kerno_span_cap *cap;
	__u64 second = now >> 30; /* about a second, without a division */

	if (!span_rate_cap)
		return 1;
	cap = bpf_map_lookup_elem(&span_caps, span_slot_key(ss, slot));
	if (!cap)
		return 1;
	if (cap->second != second) {
		cap->second = second;
		cap->count = 0;
	}
	/* No fetching atomics before 5.12: add, then read (racy by a span or two). */
	__sync_fetch_and_add(&cap->count, 1);
	return cap->count <= span_rate_cap;
}

static __always_inline __u8 span_reason(const struct kerno_conn *c, const struct kerno_req_slot *s,
					__u16 status, __u64 now)
{
	__u8 r = 0;

	/* A database's status is an error code (SQL, MySQL error number, Redis error), 0 if none. */
	if (span_is_db(c)) {
		if (status)
			r |= KERNO_SPAN_R_ERROR;
	} else if (status >= 500) {
		r |= KERNO_SPAN_R_ERROR;
	} else if (status >= 400) {
		r |= KERNO_SPAN_R_CLIENT_ERROR;
	}
	if (s->slow_ns && now - s->start_ns >= s->slow_ns)
		r |= KERNO_SPAN_R_SLOW;
	if (span_in_baseline(s->trace_id))
		r |= KERNO_SPAN_R_BASELINE;
	return r;
}

/* A server span ended: its thread serves it no more. Returns the record's last state. */
static __always_inline __u32 span_thread_end(struct span_scratch *ss,
					     const struct kerno_req_slot *s)
{
	struct kerno_thread_span *t = bpf_map_lookup_elem(&span_threads, span_tid_key(ss, s->tid));
	__u32 state = 0;

	if (t && t->span_id == s->span_id) {
		state = t->active;
		t->active = 0;
	}
	return state;
}

/*
 * A server span not linked to its client yet looks once more (the client's
 * hook may have run since), unless a child already took its provisional
 * trace id: then, as when the link is still missing, userspace links it.
 */
static __always_inline void span_link_end(struct span_scratch *ss, struct kerno_conn *c,
					  struct kerno_req_slot *s, __u32 seq)
{
	__u32 state = span_thread_end(ss, s);

	if (!(s->span_flags & KERNO_SPAN_F_LINK_RETRY))
		return;
	if (!(state & KERNO_TS_ADOPTED))
		span_link_lookup(ss, c, s, seq);
	if (s->span_flags & KERNO_SPAN_F_LINK_RETRY)
		s->span_flags |= KERNO_SPAN_F_LINK_LATE;
}

static __always_inline void span_fill(struct kerno_span_event *e, const struct kerno_conn *c,
				      const struct kerno_req_slot *s, const struct span_op *op,
				      __u8 reason)
{
	span_copy_trace(e->trace_id, s->trace_id);
	e->span_id = s->span_id;
	e->parent_id = s->parent_id;
	e->start_ns = s->start_ns;
	e->end_ns = op->now;
	e->cgroup_id = c->cgroup_id;
	e->tgid = c->tgid;
	e->tid = s->tid;
	__builtin_memcpy(e->local_addr, c->local_addr, 16);
	__builtin_memcpy(e->peer_addr, c->peer_addr, 16);
	e->local_port = c->local_port;
	e->peer_port = c->peer_port;
	e->status = op->status;
	e->code = op->code;
	e->req_seq = op->seq;
	e->role = c->role;
	e->method = s->method;
	e->family = c->family;
	e->reason = reason;
	e->flags = s->span_flags & ~KERNO_SPAN_F_LINK_RETRY;
	e->proto = c->proto;
	__builtin_memcpy(e->path, s->path, KERNO_PATH_LEN);
}

/* The response to slot s ended with `status` at `now`: sample, and send if kept. */
static __noinline void span_end(struct span_scratch *ss, struct kerno_conn *c,
				struct kerno_req_slot *s, const struct span_op *op)
{
	struct kerno_span_event *e = NULL;
	__u64 size, flags = BPF_RB_NO_WAKEUP, now = op->now;
	__u16 status = op->status;
	__u32 slot;
	__u8 reason;

	if (c->role == KERNO_ROLE_SERVER)
		span_link_end(ss, c, s, op->seq);
	/* A database response has no start to look the threshold up at. */
	if (span_is_db(c))
		s->slow_ns = span_threshold(ss, span_endpoint(c, s));
	reason = span_reason(c, s, status, now);
	if (!reason)
		return;
	slot = span_endpoint(c, s);
	if (!span_cap_ok(ss, slot, now)) {
		count(KERNO_EV_SPANS_CAPPED);
		return;
	}
	count(KERNO_EV_SPANS_SAMPLED);
	if (span_payload_bytes && (s->span_flags & KERNO_SPAN_F_REQ_PAYLOAD)) {
		e = bpf_map_lookup_elem(&span_payloads, span_conn_key(ss, c->id));
		if (e && e->req_seq != op->seq)
			e = NULL;
	}
	if (!e) {
		e = &ss->ev;
		e->req_len = 0;
		e->resp_len = 0;
	}
	span_fill(e, c, s, op, reason);
	size = KERNO_SPAN_EVENT_HDR +
	       bounded_index(e->req_len, KERNO_SPAN_PAYLOAD_MAX + 1, KERNO_SPAN_PAYLOAD_MAX) +
	       bounded_index(e->resp_len, KERNO_SPAN_PAYLOAD_MAX + 1, KERNO_SPAN_PAYLOAD_MAX);
	if (bpf_ringbuf_query(&span_events, BPF_RB_AVAIL_DATA) + size >= span_wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&span_events, e, size, flags))
		count_conn(c, KERNO_DROP_SPAN_RINGBUF_FULL);
	e->req_seq = ~0U;
}

/* One op of the parse's, for the connection c it was noted on. */
static __always_inline void span_do(struct span_scratch *ss, struct kerno_conn *c,
				    const struct span_op *op)
{
	struct kerno_req_slot *s = &c->fifo[op->slot & (KERNO_FIFO_LEN - 1)];

	switch (op->kind) {
	case SPAN_OP_REQUEST_START:
		span_request_start(ss, c, s, op);
		break;
	case SPAN_OP_PUBLISHED:
		span_request_published(ss, c, s, op);
		break;
	case SPAN_OP_RESPONSE_START:
		span_response_start(ss, c, s, op);
		break;
	case SPAN_OP_END:
		span_end(ss, c, s, op);
		break;
	}
}

/*
 * Op i of this run's, for the connection c it was noted on. Global, so
 * that the verifier checks the span work once, rather than once for each
 * of the SPAN_OPS turns of span_flush_ops()'s loop; legacy twin by key.
 */
__noinline int span_do_op(struct kerno_conn *c, __u32 i)
{
	struct span_scratch *ss = span_scratch_get();

	if (ss && c)
		span_do(ss, c, &ss->ops[i & (SPAN_OPS - 1)]);
	return 0;
}

__noinline int span_do_op_legacy(__u64 conn_key, __u32 i)
{
	struct kerno_conn *c = bpf_map_lookup_elem(&conns, &conn_key);
	struct span_scratch *ss = span_scratch_get();

	if (ss && c)
		span_do(ss, c, &ss->ops[i & (SPAN_OPS - 1)]);
	return 0;
}

/*
 * The span work the parse of one program run noted, done. An op of another
 * connection (a program that interrupted another's run on this CPU, which
 * the shared scratch memory cannot tell apart) is counted and dropped.
 */
static __always_inline void span_flush_ops(struct kerno_conn *c, __u64 conn_key, const bool legacy)
{
	struct span_scratch *ss = span_scratch_get();
	__u32 i, n;

	if (!ss || !c)
		return;
	n = ss->n_ops;
	for (i = 0; i < SPAN_OPS; i++) {
		if (i >= n)
			break;
		if (ss->ops[i].conn_id != c->id) {
			count(KERNO_DROP_SPAN_LOST);
			continue;
		}
		if (legacy)
			span_do_op_legacy(conn_key, i);
		else
			span_do_op(c, i);
	}
	/* Last: until then the scratch is in use (span_run_set_aside()). */
	ss->n_ops = 0;
}

/* Global, so the verifier checks the span work once; legacy twin by key as elsewhere. */
__noinline int span_flush(struct kerno_conn *c)
{
	span_flush_ops(c, 0, false);
	return 0;
}

__noinline int span_flush_legacy(__u64 conn_key)
{
	span_flush_ops(bpf_map_lookup_elem(&conns, &conn_key), conn_key, true);
	return 0;
}

/*
 * A new thread or process inherits the span its parent thread is serving:
 * what it sends while that lasts belongs to the same trace.
 */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(kerno_span_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptid = (__u32)bpf_get_current_pid_tgid(), ctid;
	struct kerno_thread_span *t = bpf_map_lookup_elem(&span_threads, &ptid);
	/* On the stack (this program's is shallow), not in scratch: a close may interrupt it. */
	struct kerno_thread_span ts;

	if (!spans_enabled || !t || !t->active)
		return 0;
	ts = *t;
	ctid = BPF_CORE_READ(child, pid);
	bpf_map_update_elem(&span_threads, &ctid, &ts, BPF_ANY);
	return 0;
}

#endif /* __bpf__ */
#endif /* KERNO_SPAN_BPF_H */
