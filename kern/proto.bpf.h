/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a TCP connection carries, inferred in the kernel from its first bytes,
 * and the parse of the protocols other than HTTP/1.x.
 *
 * The verdict is taken once per connection, from the first chunk of either
 * direction that starts like a known protocol, and cached in kerno_conn.proto:
 * HTTP/1.x connections then go straight to http1.bpf.h and pay one compare per
 * chunk. A connection opened under our eyes (its role known) must show its
 * protocol in its first chunk; one adopted mid-life gets a few chunks per
 * direction. Anything else is plain TCP: counted per connection (bytes and
 * duration) at close, and never parsed.
 *
 * The parsers (proto_<name>.bpf.h) see a direction as a series of message
 * heads: each step shows one parser up to KERNO_PROTO_HEAD bytes from where
 * it stands (bytes of a head split over two syscalls are kept in the
 * direction's `part`), and the parser says how many it consumed and how many
 * more bytes of the message to skip unread. One step is a global function,
 * like http1_step_g(): the verifier checks it once.
 */
#ifndef KERNO_PROTO_BPF_H
#define KERNO_PROTO_BPF_H

#include "http1.bpf.h"

/* Bytes of a message head a parser sees at once. */
#define KERNO_PROTO_HEAD 64
/* Steps per segment before the rest is given up on. */
#define KERNO_PROTO_MAX_STEPS 4096
/* Bytes of a direction's start that the inference looks at. */
#define KERNO_CLASSIFY_LEN 16
/* Chunks per direction an adopted connection may show before it is plain TCP. */
#define KERNO_PROBE_CHUNKS 4

/* What a step asks of the loop that runs it (see proto_parse_flow()). */
#define STEP_NEXT 0 /* take the next step */
#define STEP_DONE 1 /* the segment is done */
#define STEP_PARSE 2 /* a head is in scratch: run the parser, then proto_after() */

/* A parser's answer besides a byte count: the head is not complete yet. */
#define PROTO_MORE (-2)
#define PROTO_BAD (-1)

static __always_inline __u32 be16_at(const char *v, __u32 i)
{
	return (__u32)(__u8)v[i & 127] << 8 | (__u8)v[(i + 1) & 127];
}

static __always_inline __u32 be32_at(const char *v, __u32 i)
{
	return be16_at(v, i) << 16 | be16_at(v, i + 2);
}

static __always_inline struct kerno_proto_dir *pdir_of(struct kerno_conn *c, __u32 dir)
{
	return &c->pdir[dir & 1];
}

/* c's series key, into k (scratch memory on the data path: too big for older stacks). */
static __always_inline struct kerno_series_key *proto_key(struct kerno_series_key *k,
							  struct kerno_conn *c, __u8 proto)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->cgroup_id = c->cgroup_id;
	k->tgid = c->tgid;
	k->server_port = c->role == KERNO_ROLE_SERVER ? c->local_port : c->peer_port;
	k->role = c->role;
	k->family = c->family;
	k->proto = proto;
	__builtin_memcpy(k->peer_addr, c->peer_addr, sizeof(k->peer_addr));
	return k;
}

/* Add one observation of dur ns to the series of key. */
static __always_inline void proto_series_add(struct kerno_scratch *sc, struct kerno_conn *c,
					     struct kerno_series_key *key, __u64 dur)
{
	struct kerno_series_val *v = bpf_map_lookup_elem(&series, key);
	__u32 b;

	if (!v) {
		bpf_map_update_elem(&series, key, &sc->zero_series, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&series, key);
		if (!v) {
			count_conn(c, KERNO_DROP_SERIES_TABLE_FULL);
			return;
		}
	}
	b = kerno_hist_bucket(dur);
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->sum_ns, dur);
	__sync_fetch_and_add(
		&v->buckets[bounded_index(b, KERNO_HIST_BUCKETS, KERNO_HIST_BUCKETS - 1)], 1);
}

/*
 * A request whose head is in view at x starts: a FIFO slot for it; 0 when
 * the FIFO is full (counted). A database client's request is a span.
 */
static __always_inline int proto_push(struct kerno_conn *c, struct seg_ctx *x, __u8 op)
{
	struct kerno_req_slot *s;

	if (c->fifo_tail - c->fifo_head >= KERNO_FIFO_LEN) {
		drop_request(c);
		return 0;
	}
	s = &c->fifo[c->fifo_tail & (KERNO_FIFO_LEN - 1)];
	s->start_ns = x->now;
	s->tid = x->tid;
	s->method = op;
	s->dropped_after = 0;
	__builtin_memset(s->path, 0, sizeof(s->path));
	span_note_db_request(x, c, s);
	c->fifo_tail++;
	return 1;
}

/*
 * The newest request's slot, for a later message of it to add detail; only
 * meaningful while one waits (never NULL: the verifier cannot tie a NULL
 * check to the FIFO's state).
 */
static __always_inline struct kerno_req_slot *proto_newest(struct kerno_conn *c)
{
	return &c->fifo[(c->fifo_tail - 1) & (KERNO_FIFO_LEN - 1)];
}

static __always_inline int proto_waiting(struct kerno_conn *c)
{
	return c->fifo_head != c->fifo_tail;
}

/*
 * A response ended at `now`: it answers the oldest request waiting. code is
 * the detail for the series; a DNS series takes it from the request.
 */
static __always_inline void proto_answer(struct kerno_conn *c, __u16 status, __u32 code, __u64 now)
{
	struct kerno_scratch *sc = get_scratch();
	struct kerno_series_key *k;
	struct kerno_req_slot *s;

	if (!sc)
		return;
	if (c->unanswered) {
		c->unanswered--;
		return;
	}
	if (c->fifo_head == c->fifo_tail) {
		count_conn(c, KERNO_DROP_UNMATCHED_RESPONSE);
		return;
	}
	s = &c->fifo[c->fifo_head & (KERNO_FIFO_LEN - 1)];
	k = proto_key(&sc->key, c, c->proto);
	k->method = s->method;
	k->status = status;
	if (c->proto == KERNO_P_DNS)
		k->code = (__u8)s->path[2] | (__u32)(__u8)s->path[3] << 8;
	else
		k->code = code;
	if (c->proto == KERNO_P_REDIS)
		__builtin_memcpy(k->path, s->path, sizeof(k->path));
	proto_series_add(sc, c, k, now - s->start_ns);
	span_note_db_end(c, status, k->code, now);
	count(KERNO_EV_REQUESTS);
	c->unanswered += s->dropped_after;
	c->fifo_head++;
}

/* Direction d cannot be followed any more: counted, and left alone from now on. */
static __always_inline void proto_give_up(struct kerno_conn *c, struct kerno_http_dir *d, __u32 why)
{
	count_conn(c, why);
	d->state = KERNO_H_STOPPED;
	d->remaining = 0;
	d->part_len = 0;
}

/* Plain TCP: nothing more to look at, until the close counts it. */
static __always_inline void proto_plain(struct kerno_conn *c)
{
	c->proto = KERNO_P_TCP;
	c->dir[KERNO_DIR_RX].state = KERNO_H_STOPPED;
	c->dir[KERNO_DIR_TX].state = KERNO_H_STOPPED;
}

#include "proto_redis.bpf.h"
#include "proto_pgsql.bpf.h"
#include "proto_dns.bpf.h"
#include "proto_mysql.bpf.h"
#include "proto_http2.bpf.h"

/* The parser of c's protocol on the head v[0, avail) of direction dir. */
static __always_inline long proto_handle(struct kerno_conn *c, struct seg_ctx *x,
					 struct kerno_http_dir *d, const char *v, __u32 avail)
{
	struct kerno_proto_dir *p = pdir_of(c, x->dir);
	int req = d->flags & KERNO_F_REQUEST;

	switch (c->proto) {
	case KERNO_P_REDIS:
		return req ? redis_request(c, x, d, p, v, avail) :
			     redis_reply(c, x, d, p, v, avail);
	case KERNO_P_PGSQL:
		return req ? pg_frontend(c, x, d, p, v, avail) : pg_backend(c, x, d, p, v, avail);
	case KERNO_P_DNS:
		return dns_tcp_message(c, x, d, v, avail);
	case KERNO_P_MYSQL:
		return req ? my_client(c, x, d, p, v, avail) : my_server(c, x, d, p, v, avail);
	}
	return PROTO_BAD;
}

/*
 * The parser as a global function: checked once, apart from the step that
 * calls it, with the head in scratch (line[0, seg.view)). The legacy twin
 * takes the connection's key (see http1_step_legacy()).
 */
__noinline int proto_handle_g(struct kerno_conn *c)
{
	struct kerno_scratch *sc = get_scratch();
	struct seg_ctx *x;

	if (!sc || !c || sc->seg.step != STEP_PARSE)
		return PROTO_BAD;
	x = &sc->seg;
	return proto_handle(c, x, dir_of(c, x->dir), sc->line,
			    bounded_index(x->view, KERNO_PROTO_HEAD + 1, KERNO_PROTO_HEAD));
}

__noinline int proto_handle_legacy(__u64 conn_key)
{
	struct kerno_scratch *sc = get_scratch();
	struct kerno_conn *c = bpf_map_lookup_elem(&conns, &conn_key);
	struct seg_ctx *x;

	if (!sc || !c || sc->seg.step != STEP_PARSE)
		return PROTO_BAD;
	x = &sc->seg;
	return proto_handle(c, x, dir_of(c, x->dir), sc->line,
			    bounded_index(x->view, KERNO_PROTO_HEAD + 1, KERNO_PROTO_HEAD));
}

/* Skip the rest of a long line (Redis): up to its '\n'. */
static __always_inline long proto_skip_line(struct seg_ctx *x, struct kerno_conn *c,
					    struct kerno_http_dir *d, struct kerno_proto_dir *p)
{
	__u32 nl;

	if (read_window(x)) {
		proto_give_up(c, d, KERNO_DROP_READ_FAULT);
		return 1;
	}
	nl = find_newline(scratch_of(x)->win, 0, x->win_len);
	if (nl < KERNO_WIN) {
		x->off += nl + 1;
		p->skip_line = 0;
	} else {
		x->off += x->win_len;
	}
	x->win_len = 0;
	return 0;
}

/* One step: skip what the parser said to skip, or put the next head in scratch. */
static __always_inline long proto_step(struct seg_ctx *x, struct kerno_conn *c)
{
	struct kerno_scratch *sc = scratch_of(x);
	struct kerno_http_dir *d = dir_of(c, x->dir);
	__u32 have, n;

	if (x->off >= x->len)
		return STEP_DONE;
	if (d->state != KERNO_H_START) {
		/* Given up on by a caller (read fault, scan limit): counted there. */
		d->state = KERNO_H_STOPPED;
		return STEP_DONE;
	}
	if (d->remaining) {
		n = x->len - x->off;
		if (n > d->remaining)
			n = d->remaining;
		x->off += n;
		d->remaining -= n;
		return STEP_NEXT;
	}
	if (pdir_of(c, x->dir)->skip_line)
		return proto_skip_line(x, c, d, pdir_of(c, x->dir));
	have = d->part_len & (KERNO_PROTO_HEAD - 1);
	n = x->len - x->off;
	if (n > KERNO_PROTO_HEAD - have)
		n = KERNO_PROTO_HEAD - have;
	if (have)
		__builtin_memcpy(sc->line, d->part, KERNO_PROTO_HEAD);
	n = bounded_index(n, KERNO_PROTO_HEAD + 1, KERNO_PROTO_HEAD);
	if (bpf_probe_read_user(sc->line + have, n, (const void *)(x->ubuf + x->off))) {
		proto_give_up(c, d, KERNO_DROP_READ_FAULT);
		return STEP_DONE;
	}
	x->view = have + n;
	x->kept = have;
	return STEP_PARSE;
}

/* proto_step(), its answer kept in scratch for the parser and proto_after() to see. */
static __always_inline void proto_step_kept(struct seg_ctx *x, struct kerno_conn *c)
{
	x->step = proto_step(x, c);
}

/* The parser consumed `used` bytes of the head in scratch (or said PROTO_MORE, PROTO_BAD). */
static __always_inline long proto_after(struct seg_ctx *x, struct kerno_conn *c, long used)
{
	struct kerno_scratch *sc = scratch_of(x);
	struct kerno_http_dir *d = dir_of(c, x->dir);
	__u32 have = x->kept & (KERNO_PROTO_HEAD - 1);
	__u32 avail = bounded_index(x->view, KERNO_PROTO_HEAD + 1, KERNO_PROTO_HEAD);
	__u32 n = avail - have;

	if (x->step != STEP_PARSE)
		return x->step;
	if (used == PROTO_MORE && avail < KERNO_PROTO_HEAD) {
		/* The head goes on in the next syscall: keep what there is of it. */
		bpf_probe_read_kernel(d->part + have,
				      bounded_index(n, KERNO_PROTO_HEAD + 1, KERNO_PROTO_HEAD),
				      sc->line + have);
		d->part_len = avail;
		x->off += n;
		return STEP_DONE;
	}
	if (used <= 0 || used > avail) {
		proto_give_up(c, d, KERNO_DROP_BAD_MESSAGE);
		return STEP_DONE;
	}
	if (used < have) {
		/* Only kept bytes consumed: keep the rest of them. */
		have -= used;
		bpf_probe_read_kernel(d->part,
				      bounded_index(have, KERNO_PROTO_HEAD, KERNO_PROTO_HEAD - 1),
				      sc->line + (used & (KERNO_PROTO_HEAD - 1)));
		d->part_len = have;
		return STEP_NEXT;
	}
	x->off += used - have;
	d->part_len = 0;
	return STEP_NEXT;
}

/*
 * The step, the parser and what follows are three global functions, each
 * checked once, called one after the other by the loop in
 * proto_parse_flow(): older kernels cap the stack of a call chain at 512
 * bytes, and a chain step -> parser would be one frame too deep.
 */
__noinline int proto_step_g(struct kerno_conn *c)
{
	struct kerno_scratch *sc = get_scratch();

	if (sc)
		sc->seg.step = STEP_DONE;
	if (!sc || !c)
		return STEP_DONE;
	proto_step_kept(&sc->seg, c);
	return 0;
}

__noinline int proto_step_legacy(__u64 conn_key)
{
	struct kerno_scratch *sc = get_scratch();
	struct kerno_conn *c = bpf_map_lookup_elem(&conns, &conn_key);

	if (sc)
		sc->seg.step = STEP_DONE;
	if (!sc || !c)
		return STEP_DONE;
	proto_step_kept(&sc->seg, c);
	return 0;
}

__noinline int proto_after_g(struct kerno_conn *c, __s64 used)
{
	struct kerno_scratch *sc = get_scratch();

	if (!sc || !c)
		return STEP_DONE;
	return proto_after(&sc->seg, c, used);
}

__noinline int proto_after_legacy(__u64 conn_key, __s64 used)
{
	struct kerno_scratch *sc = get_scratch();
	struct kerno_conn *c = bpf_map_lookup_elem(&conns, &conn_key);

	if (!sc || !c)
		return STEP_DONE;
	return proto_after(&sc->seg, c, used);
}

/* Start parsing c as proto, whose requests travel in direction req_dir. */
static __always_inline void proto_begin(struct kerno_conn *c, __u8 proto, __u32 req_dir)
{
	__u32 i;

	c->proto = proto;
	if (c->role == KERNO_ROLE_UNKNOWN)
		c->role = req_dir == KERNO_DIR_RX ? KERNO_ROLE_SERVER : KERNO_ROLE_CLIENT;
	else
		req_dir = c->role == KERNO_ROLE_SERVER ? KERNO_DIR_RX : KERNO_DIR_TX;
	for (i = 0; i < 2; i++) {
		struct kerno_http_dir *d = dir_of(c, i);
		__u8 kept = d->part_len;

		/* Bytes kept while undecided are the start of the first message. */
		reset_message(d, KERNO_H_START);
		d->part_len = kept < KERNO_CLASSIFY_LEN ? kept : 0;
		d->flags = i == req_dir ? KERNO_F_REQUEST : KERNO_F_RESPONSE;
		__builtin_memset(pdir_of(c, i), 0, sizeof(struct kerno_proto_dir));
	}
}

/*
 * The protocol whose start (or, for an adopted connection, whose message)
 * the first bytes l[0, n) of a chunk in direction dir show, with the
 * direction its requests travel in; KERNO_P_UNDECIDED if none.
 */
static __always_inline __u8 proto_classify(const char *l, __u32 n, __u32 dir, __u32 *req_dir)
{
	__u32 len, code, i;

	*req_dir = dir;
	if (classify_start(l))
		return KERNO_P_HTTP1;
	/* HTTP/2: the client preface, "PRI * HTTP/2.0\r\n" (then "\r\nSM\r\n\r\n"). */
	if (n >= 16 && load64(l) == W8('P', 'R', 'I', ' ', '*', ' ', 'H', 'T') &&
	    load64(l + 8) == W8('T', 'P', '/', '2', '.', '0', '\r', '\n'))
		return KERNO_P_HTTP2;
	/* Redis: an array of bulk strings, "*<n>\r\n$". */
	if (l[0] == '*' && is_digit(l[1])) {
		for (i = 2; i < 6; i++) {
			if (l[i] == '\r')
				return l[i + 1] == '\n' && l[i + 2] == '$' ? KERNO_P_REDIS :
									     KERNO_P_UNDECIDED;
			if (!is_digit(l[i]))
				break;
		}
	}
	if (n >= 8) {
		/* PostgreSQL: a startup message, or a request for TLS, GSS or a cancel. */
		len = be32_at(l, 0);
		code = be32_at(l, 4);
		if ((code == 196608 && len >= 8 && len <= 10000) ||
		    (len == 8 && (code == 80877103 || code == 80877104)) ||
		    (len == 16 && code == 80877102))
			return KERNO_P_PGSQL;
	}
	if (n >= 8) {
		/* MySQL: the server's greeting, protocol 10, a version string first. */
		len = (__u8)l[0] | (__u32)(__u8)l[1] << 8;
		if (!l[2] && !l[3] && l[4] == 10 && is_digit(l[5]) && len >= 40 && len <= 1024) {
			*req_dir = dir ^ 1;
			return KERNO_P_MYSQL;
		}
	}
	if (n >= 14) {
		/* DNS over TCP: one standard query, its length first. */
		len = be16_at(l, 0);
		if (len >= 17 && !(l[2 + 2] & 0xf8) && be16_at(l, 6) == 1 && !be16_at(l, 8) &&
		    !be16_at(l, 10) && be16_at(l, 12) <= 1 && (__u8)l[14] < 64)
			return KERNO_P_DNS;
	}
	/* HTTP/2: a server that speaks first, its SETTINGS frame before the client's preface. */
	if (n >= 9 && h2_is_server_settings(l)) {
		*req_dir = dir ^ 1;
		return KERNO_P_HTTP2;
	}
	return KERNO_P_UNDECIDED;
}

/*
 * Look at the first bytes of a chunk of an undecided connection; returns
 * non-zero when the chunk is dealt with (not HTTP/1.x). On a connection seen
 * from its start, a direction's first bytes may come in small chunks (a
 * length prefix written apart): they are kept in the direction's `part`
 * until KERNO_CLASSIFY_LEN bytes tell, and the parser chosen then starts with
 * them, as if they had come with the chunk.
 */
static __always_inline int proto_infer(const struct flow *f, __u64 ubuf, __u32 len)
{
	struct kerno_conn *c = f->conn;
	struct kerno_scratch *sc = get_scratch();
	struct kerno_http_dir *d = dir_of(c, f->dir);
	__u32 have = 0, n, req_dir;
	struct kerno_proto_dir *p;
	__u8 proto;

	if (!sc)
		return 1;
	if (c->role != KERNO_ROLE_UNKNOWN)
		have = d->part_len < KERNO_CLASSIFY_LEN ? d->part_len : 0;
	n = len < KERNO_CLASSIFY_LEN - have ? len : KERNO_CLASSIFY_LEN - have;
	/* Sizes and offsets in one register the verifier can bound (see bounded_index()). */
	n = bounded_index(n, KERNO_CLASSIFY_LEN + 1, KERNO_CLASSIFY_LEN);
	__builtin_memcpy(sc->line, d->part, KERNO_CLASSIFY_LEN);
	__builtin_memset(sc->line + KERNO_CLASSIFY_LEN, 0, KERNO_CLASSIFY_LEN);
	if (bpf_probe_read_user(sc->line + (have & (KERNO_CLASSIFY_LEN - 1)), n,
				(const void *)ubuf))
		return 0; /* the HTTP/1.x parse counts the fault */
	if (have + n < KERNO_CLASSIFY_LEN)
		__builtin_memset(sc->line + bounded_index(have + n, KERNO_CLASSIFY_LEN,
							  KERNO_CLASSIFY_LEN - 1),
				 0, KERNO_CLASSIFY_LEN);
	proto = proto_classify(sc->line, have + n, f->dir & 1, &req_dir);
	if (proto == KERNO_P_HTTP1) {
		c->proto = KERNO_P_HTTP1;
		return 0;
	}
	if (proto != KERNO_P_UNDECIDED) {
		proto_begin(c, proto, req_dir);
		if (proto == KERNO_P_HTTP2)
			h2_begin(c);
		return 0; /* parse this chunk too, after any kept bytes */
	}
	if (c->role != KERNO_ROLE_UNKNOWN && have + n < KERNO_CLASSIFY_LEN) {
		/* Too few bytes to tell yet: keep them (the HTTP/1.x parse would). */
		if (!have)
			d->msg_start_ns = f->now;
		bpf_probe_read_kernel(d->part + (have & (KERNO_CLASSIFY_LEN - 1)),
				      bounded_index(n, KERNO_CLASSIFY_LEN, KERNO_CLASSIFY_LEN - 1),
				      sc->line + (have & (KERNO_CLASSIFY_LEN - 1)));
		d->part_len = have + n;
		d->line_len = have + n;
		return 1;
	}
	p = pdir_of(c, f->dir);
	if (c->role != KERNO_ROLE_UNKNOWN || (++p->probes >= KERNO_PROBE_CHUNKS &&
					      pdir_of(c, f->dir ^ 1)->probes >= KERNO_PROBE_CHUNKS))
		proto_plain(c);
	return 1;
}

/*
 * proto_infer() as global functions: their frames stay off the deepest call
 * chain (parse, step, parser), which older kernels cap at 512 bytes of stack.
 */
__noinline int proto_infer_g(struct kerno_conn *c, __u64 dir_tid, __u64 now, __u64 ubuf, __u32 len)
{
	struct flow f = { .conn = c, .now = now, .dir = dir_tid >> 32, .tid = (__u32)dir_tid };

	return c ? proto_infer(&f, ubuf, len) : 1;
}

__noinline int proto_infer_legacy(__u64 conn_key, __u64 dir_tid, __u64 now, __u64 ubuf, __u32 len)
{
	struct flow f = {
		.conn = bpf_map_lookup_elem(&conns, &conn_key),
		.key = conn_key,
		.now = now,
		.dir = dir_tid >> 32,
		.tid = (__u32)dir_tid,
		.legacy = 1,
	};

	return f.conn ? proto_infer(&f, ubuf, len) : 1;
}

/* Parse `len` bytes at ubuf of a connection that is not HTTP/1.x. */
static __always_inline void proto_parse_flow(const struct flow *f, __u64 ubuf, __u32 len,
					     const bool legacy)
{
	struct kerno_conn *c = f->conn;
	struct kerno_scratch *sc = get_scratch();
	struct seg_ctx *x;
	__u32 i;
	int r, used;

	if (!sc)
		return;
	x = seg_begin(sc, f, ubuf, len);
#pragma clang loop unroll(disable)
	for (i = 0; i < KERNO_PROTO_MAX_STEPS; i++) {
		/* One undecided branch a step: the verifier keeps one state per step. */
		if (legacy) {
			proto_step_legacy(f->key);
			used = proto_handle_legacy(f->key);
			r = proto_after_legacy(f->key, used);
		} else {
			proto_step_g(c);
			used = proto_handle_g(c);
			r = proto_after_g(c, used);
		}
		if (r == STEP_DONE)
			break;
	}
	if (x->off < x->len && dir_of(c, x->dir)->state == KERNO_H_START)
		proto_give_up(c, dir_of(c, x->dir), KERNO_DROP_SCAN_LIMIT);
}

/*
 * The one dispatch point of the data path: returns 0 when the chunk is
 * HTTP/1.x's to parse, non-zero when it was dealt with here.
 */
static __always_inline int proto_dispatch(const struct flow *f, __u64 ubuf, __u32 len,
					  const bool legacy)
{
	struct kerno_conn *c = f->conn;

	if (c->proto == KERNO_P_UNDECIDED &&
	    (legacy ? proto_infer_legacy(f->key, flow_dir_tid(f), f->now, ubuf, len) :
		      proto_infer_g(c, flow_dir_tid(f), f->now, ubuf, len)))
		return 1;
	switch (c->proto) {
	case KERNO_P_HTTP1:
	case KERNO_P_UNDECIDED:
		return 0;
	case KERNO_P_REDIS:
	case KERNO_P_PGSQL:
	case KERNO_P_DNS:
	case KERNO_P_MYSQL:
		proto_parse_flow(f, ubuf, len, legacy);
		return 1;
	case KERNO_P_HTTP2:
		h2_parse_flow(f, ubuf, len, legacy);
		return 1;
	}
	return 1;
}

__noinline int proto_parse(struct kerno_conn *c, __u64 dir_tid, __u64 now, __u64 ubuf, __u32 len)
{
	struct flow f = {
		.conn = c,
		.now = now,
		.dir = dir_tid >> 32,
		.tid = (__u32)dir_tid,
	};

	return c ? proto_dispatch(&f, ubuf, len, false) : 1;
}

__noinline int proto_parse_legacy(__u64 conn_key, __u64 dir_tid, __u64 now, __u64 ubuf, __u32 len)
{
	struct flow f = {};

	return flow_of_key(&f, conn_key, dir_tid, now) ? proto_dispatch(&f, ubuf, len, true) : 1;
}

/* Bytes not in user memory on a connection that is not HTTP/1.x. */
static __always_inline void proto_skip_opaque(struct kerno_conn *c, __u32 dir, __u64 n, __u64 now,
					      __u32 why)
{
	struct kerno_http_dir *d = dir_of(c, dir);

	if (c->proto == KERNO_P_HTTP1 || c->proto == KERNO_P_UNDECIDED) {
		http1_skip_opaque(c, dir, n, now, why);
		return;
	}
	if (d->state != KERNO_H_START)
		return;
	if (d->remaining >= n && !d->part_len) {
		d->remaining -= n;
		return;
	}
	proto_give_up(c, d, why);
}

/*
 * The connection closes. Plain TCP (and a connection that carried data but
 * never showed a protocol) is counted now: one observation of its lifetime,
 * with its bytes.
 */
static __always_inline void proto_close(struct kerno_conn *c, __u64 now)
{
	/*
	 * On the stack, not in scratch: a close in softirq can interrupt a
	 * data-path run on this CPU that is building its own key there.
	 */
	struct kerno_series_key key;
	struct kerno_scratch *sc;
	struct kerno_series_key *k;
	struct kerno_tcp_val *v;
	__u64 dur;
	__u32 b;

	h2_close(c);
	if (c->proto != KERNO_P_TCP && c->proto != KERNO_P_UNDECIDED)
		return;
	/* Never claimed by a process, or one on the ignore list: nobody's. */
	if (!c->tgid || (c->proto == KERNO_P_UNDECIDED &&
			 (c->dir[0].state == KERNO_H_STOPPED || !(c->rx_bytes | c->tx_bytes))))
		return;
	sc = get_scratch();
	if (!sc)
		return;
	if (c->role == KERNO_ROLE_UNKNOWN)
		c->role = c->local_port < c->peer_port ? KERNO_ROLE_SERVER : KERNO_ROLE_CLIENT;
	k = proto_key(&key, c, KERNO_P_TCP);
	v = bpf_map_lookup_elem(&tcp_series, k);
	if (!v) {
		bpf_map_update_elem(&tcp_series, k, &sc->zero_tcp, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&tcp_series, k);
		if (!v) {
			count_conn(c, KERNO_DROP_SERIES_TABLE_FULL);
			return;
		}
	}
	dur = now - c->id;
	b = kerno_hist_bucket(dur);
	__sync_fetch_and_add(&v->h.count, 1);
	__sync_fetch_and_add(&v->h.sum_ns, dur);
	__sync_fetch_and_add(&v->rx_bytes, c->rx_bytes);
	__sync_fetch_and_add(&v->tx_bytes, c->tx_bytes);
	__sync_fetch_and_add(
		&v->h.buckets[bounded_index(b, KERNO_HIST_BUCKETS, KERNO_HIST_BUCKETS - 1)], 1);
}

#endif /* KERNO_PROTO_BPF_H */
