/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/2 in the kernel: frames found in each direction (a 9-byte header:
 * length, type, flags, stream id; a header split over two syscalls is kept
 * in the direction's `part`), streams matched by id in h2_streams. The
 * request's HEADERS opens a stream; END_STREAM on the response (its last
 * DATA, or the trailers once their block is whole) ends it, RST_STREAM
 * resets it; either way the duration goes to userspace on h2_events.
 *
 * Header blocks (HEADERS, CONTINUATION and PUSH_PROMISE payloads) are
 * HPACK: their meaning depends on the connection's dynamic table, so they
 * go to userspace whole, in pieces of KERNO_H2_PIECE bytes, and are decoded
 * there (user/h2streams.c), which then counts each ended stream once with
 * its method, path template and status. Everything else is skipped unread.
 *
 * One entry, h2_parse_g(), runs a bounded loop of h2_step_g(): each step
 * reads a frame header, or ships or skips one stretch of payload. Included
 * by proto.bpf.h.
 */
#ifndef KERNO_PROTO_HTTP2_BPF_H
#define KERNO_PROTO_HTTP2_BPF_H

/* Frame steps per segment (h2load and gRPC write tens of frames at once). */
#define H2_MAX_STEPS 1024
#define H2_FRAME_HDR 9
#define H2_PREFACE_LEN 24

#define H2_DATA 0
#define H2_HEADERS 1
#define H2_RST_STREAM 3
#define H2_PUSH_PROMISE 5
#define H2_CONTINUATION 9

#define H2_END_STREAM 0x1
#define H2_END_HEADERS 0x4

/*
 * Wake the reader once this much waits in the ring buffer, not before (at
 * most an eighth of the ring: user/capture.c, configure_h2_ring()).
 */
const volatile __u64 h2_wakeup_bytes = 65536;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KERNO_H2_STREAMS);
	__type(key, struct kerno_h2_stream_key);
	__type(value, struct kerno_h2_stream);
} h2_streams SEC(".maps");

/*
 * Sized by userspace (--h2-ringbuf-bytes, 4 MiB by default): every byte of
 * it is in the agent's RSS (user/ringbuf.c). A burst of small streams needs
 * about 600 bytes a stream over both ends while the reader is descheduled; a
 * full buffer is counted (h2_events_lost).
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} h2_events SEC(".maps");

/*
 * The HTTP/2 and gRPC series, which userspace counts (user/h2streams.c), as
 * running totals for `kerno top` to read beside `series`. No program uses
 * it: the agent writes it, entries as they come, and deletes those idle for
 * 30 s. Sized by userspace to twice --max-series.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kerno_series_key);
	__type(value, struct kerno_h2_total);
} h2_series SEC(".maps");

/* An event being built: too big for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kerno_h2_event);
} h2_scratch SEC(".maps");

static __always_inline void h2_conn_ref(struct kerno_h2_conn_ref *r, const struct kerno_conn *c)
{
	r->conn_id = c->id;
	r->local_port = c->local_port;
	r->peer_port = c->peer_port;
	r->pad = 0;
}

/* The header of event e, for c. */
static __always_inline void h2_fill(struct kerno_h2_event *e, const struct kerno_conn *c, __u8 kind,
				    __u32 stream_id, __u32 dir)
{
	h2_conn_ref(&e->conn, c);
	e->kind = kind;
	e->stream_id = stream_id;
	e->dir = dir;
	e->role = c->role;
	e->family = c->family;
	e->tgid = c->tgid;
	e->cgroup_id = c->cgroup_id;
	e->server_port = c->role == KERNO_ROLE_SERVER ? c->local_port : c->peer_port;
	__builtin_memcpy(e->peer_addr, c->peer_addr, sizeof(e->peer_addr));
	e->dur_ns = 0;
	e->end_ns = 0;
	e->len = 0;
	e->seq = 0;
	e->frame_type = 0;
	e->frame_flags = 0;
	e->piece = 0;
	e->pad = 0;
}

/* The event in scratch, its header filled for c; NULL if none. */
static __always_inline struct kerno_h2_event *h2_event(const struct kerno_conn *c, __u8 kind,
						       __u32 stream_id, __u32 dir)
{
	__u32 zero = 0;
	struct kerno_h2_event *e = bpf_map_lookup_elem(&h2_scratch, &zero);

	if (e)
		h2_fill(e, c, kind, stream_id, dir);
	return e;
}

/*
 * Wakeup flags for an event of size bytes. Forced past the threshold: the
 * default (adaptive) wakeup only wakes a reader that has read everything
 * before this record, and a reader asleep over records sent without wakeup
 * never has. A full ring, whose failed writes wake nobody, would then wait
 * for the reader's timeout.
 */
static __always_inline __u64 h2_wakeup(__u32 size, __u8 kind)
{
	if (bpf_ringbuf_query(&h2_events, BPF_RB_AVAIL_DATA) + size >= h2_wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return kind == KERNO_H2_EV_BLOCK ? BPF_RB_NO_WAKEUP : 0;
}

static __always_inline void h2_send(const struct kerno_conn *c, struct kerno_h2_event *e,
				    __u32 size)
{
	size = bounded_index(size, KERNO_H2_EVENT_HDR + KERNO_H2_PIECE + 1,
			     KERNO_H2_EVENT_HDR + KERNO_H2_PIECE);
	if (bpf_ringbuf_output(&h2_events, e, size, h2_wakeup(size, e->kind)))
		count_conn(c, KERNO_DROP_H2_EVENTS_LOST);
}

/* A stream's key, in scratch memory (see struct kerno_scratch). */
static __always_inline struct kerno_h2_stream_key *h2_key(const struct kerno_conn *c, __u32 sid)
{
	struct kerno_scratch *sc = get_scratch();

	if (!sc)
		return NULL;
	h2_conn_ref(&sc->h2_key.conn, c);
	sc->h2_key.stream_id = sid;
	sc->h2_key.pad = 0;
	return &sc->h2_key;
}

/* The request of a stream: its HEADERS open it (later HEADERS are its trailers). */
static __always_inline void h2_open(const struct kerno_conn *c, __u32 sid, __u64 now)
{
	struct kerno_scratch *sc = get_scratch();
	struct kerno_h2_stream_key *k = h2_key(c, sid);
	int err; /* 32 bits: before 6.5 or so, map update helpers return an int */

	if (!sc || !k)
		return;
	sc->h2_val.start_ns = now;
	err = bpf_map_update_elem(&h2_streams, k, &sc->h2_val, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: the request's trailers */)
		count_conn(c, KERNO_DROP_H2_STREAMS_FULL);
}

/* A stream ends (or is reset): its duration goes to userspace, which counts it. */
static __always_inline void h2_end(const struct kerno_conn *c, __u32 sid, __u8 kind, __u32 dir,
				   __u64 now)
{
	struct kerno_h2_stream_key *k = h2_key(c, sid);
	struct kerno_h2_stream *s;
	struct kerno_h2_event *e;

	if (!k)
		return;
	s = bpf_map_lookup_elem(&h2_streams, k);
	if (!s) {
		/* Reset before its request was seen, or a stream we did not time. */
		if (kind == KERNO_H2_EV_END)
			count_conn(c, KERNO_DROP_UNMATCHED_RESPONSE);
		return;
	}
	e = h2_event(c, kind, sid, dir);
	if (e) {
		e->dur_ns = now - s->start_ns;
		e->end_ns = now;
		h2_send(c, e, KERNO_H2_EVENT_HDR);
		count(KERNO_EV_REQUESTS);
	}
	bpf_map_delete_elem(&h2_streams, k);
}

/* The payload of the frame in p ended: a whole block may end its stream. */
static __always_inline void h2_payload_done(const struct kerno_conn *c, struct seg_ctx *x,
					    struct kerno_proto_dir *p)
{
	if (!p->h2_ship || !(p->h2_flags & H2_END_HEADERS))
		return;
	p->h2_block_bytes = 0;
	if (p->h2_end_pending) {
		h2_end(c, p->h2_end_pending, KERNO_H2_EV_END, x->dir, x->now);
		p->h2_end_pending = 0;
	}
}

/* A frame header: what its payload is, and what it does to its stream. */
static __always_inline void h2_frame(struct kerno_conn *c, struct seg_ctx *x,
				     struct kerno_http_dir *d, struct kerno_proto_dir *p,
				     const char *h)
{
	__u32 len = (__u32)(__u8)h[0] << 16 | (__u32)(__u8)h[1] << 8 | (__u8)h[2];
	__u32 sid = ((__u32)(__u8)h[5] << 24 | (__u32)(__u8)h[6] << 16 | (__u32)(__u8)h[7] << 8 |
		     (__u8)h[8]) &
		    0x7fffffff;
	__u8 type = h[3], flags = h[4];
	int req = d->flags & KERNO_F_REQUEST;

	p->h2_stream = sid;
	p->h2_type = type;
	p->h2_flags = flags;
	p->h2_first = 1;
	p->h2_ship = type == H2_HEADERS || type == H2_CONTINUATION || type == H2_PUSH_PROMISE;
	if (type == H2_HEADERS && req)
		h2_open(c, sid, x->now);
	else if (type == H2_HEADERS && (flags & H2_END_STREAM))
		p->h2_end_pending = sid; /* once the block is whole (its status) */
	else if (type == H2_DATA && !req && (flags & H2_END_STREAM))
		h2_end(c, sid, KERNO_H2_EV_END, x->dir, x->now);
	else if (type == H2_RST_STREAM)
		h2_end(c, sid, KERNO_H2_EV_RESET, x->dir, x->now);
	d->remaining = len;
	if (!len)
		h2_payload_done(c, x, p);
}

/* Ship n bytes of header block at ubuf (n at most KERNO_H2_PIECE). */
static __always_inline void h2_ship(struct kerno_conn *c, struct seg_ctx *x,
				    struct kerno_proto_dir *p, __u64 ubuf, __u32 n, int last)
{
	struct kerno_h2_event *e;

	if (p->h2_block_bytes >= KERNO_H2_BLOCK_MAX) {
		if (last)
			count_conn(c, KERNO_DROP_H2_BLOCK_TRUNCATED);
		return;
	}
	e = h2_event(c, KERNO_H2_EV_BLOCK, p->h2_stream, x->dir);
	if (!e)
		return;
	n = bounded_index(n, KERNO_H2_PIECE + 1, KERNO_H2_PIECE);
	if (bpf_probe_read_user(e->data, n, (const void *)ubuf)) {
		count_conn(c, KERNO_DROP_READ_FAULT);
		n = 0;
	}
	e->len = n;
	e->seq = p->h2_seq++;
	e->frame_type = p->h2_type;
	e->frame_flags = p->h2_flags;
	e->piece = (p->h2_first ? KERNO_H2_PIECE_FIRST : 0) | (last ? KERNO_H2_PIECE_LAST : 0);
	p->h2_first = 0;
	p->h2_block_bytes += n;
	if (p->h2_block_bytes >= KERNO_H2_BLOCK_MAX && !last)
		e->piece |= KERNO_H2_PIECE_TRUNCATED;
	h2_send(c, e, KERNO_H2_EVENT_HDR + n);
}

/* One step over the segment in scratch: 0 to go on, 1 when it is done. */
static __always_inline int h2_step(struct kerno_conn *c, struct seg_ctx *x)
{
	struct kerno_http_dir *d = dir_of(c, x->dir);
	struct kerno_proto_dir *p = pdir_of(c, x->dir);
	__u32 n, have;

	if (x->off >= x->len || d->state != KERNO_H_START)
		return 1;
	if (d->remaining) {
		n = x->len - x->off;
		if (n > d->remaining)
			n = d->remaining;
		if (p->h2_ship && n > KERNO_H2_PIECE)
			n = KERNO_H2_PIECE;
		if (p->h2_ship)
			h2_ship(c, x, p, x->ubuf + x->off, n, n == d->remaining);
		x->off += n;
		d->remaining -= n;
		if (!d->remaining)
			h2_payload_done(c, x, p);
		return 0;
	}
	have = d->part_len < H2_FRAME_HDR ? d->part_len : 0;
	n = x->len - x->off;
	if (n > H2_FRAME_HDR - have)
		n = H2_FRAME_HDR - have;
	n = bounded_index(n, H2_FRAME_HDR + 1, H2_FRAME_HDR);
	if (bpf_probe_read_user(d->part + (have & 15), n, (const void *)(x->ubuf + x->off))) {
		proto_give_up(c, d, KERNO_DROP_READ_FAULT);
		return 1;
	}
	x->off += n;
	if (have + n < H2_FRAME_HDR) {
		d->part_len = have + n; /* the header goes on in the next syscall */
		return 1;
	}
	d->part_len = 0;
	h2_frame(c, x, d, p, d->part);
	return 0;
}

__noinline int h2_step_g(struct kerno_conn *c)
{
	struct kerno_scratch *sc = get_scratch();

	if (!sc || !c)
		return 1;
	return h2_step(c, &sc->seg);
}

__noinline int h2_step_legacy(__u64 conn_key)
{
	struct kerno_scratch *sc = get_scratch();
	struct kerno_conn *c = bpf_map_lookup_elem(&conns, &conn_key);

	if (!sc || !c)
		return 1;
	return h2_step(c, &sc->seg);
}

/* The one entry: `len` bytes at ubuf of an HTTP/2 connection, in flow f's direction. */
static __always_inline void h2_parse_flow(const struct flow *f, __u64 ubuf, __u32 len,
					  const bool legacy)
{
	struct kerno_scratch *sc = get_scratch();
	struct seg_ctx *x;
	__u32 i;

	if (!sc)
		return;
	x = seg_begin(sc, f, ubuf, len);
#pragma clang loop unroll(disable)
	for (i = 0; i < H2_MAX_STEPS; i++)
		if (legacy ? h2_step_legacy(f->key) : h2_step_g(f->conn))
			break;
	if (x->off < x->len && dir_of(f->conn, x->dir)->state == KERNO_H_START)
		proto_give_up(f->conn, dir_of(f->conn, x->dir), KERNO_DROP_SCAN_LIMIT);
}

/*
 * The first bytes a server sends: its SETTINGS frame (stream 0, no flags,
 * whole settings of 6 bytes), which some servers (gRPC) send before the
 * client's preface has arrived.
 */
static __always_inline int h2_is_server_settings(const char *l)
{
	__u32 len = (__u32)(__u8)l[1] << 8 | (__u8)l[2];

	return !l[0] && l[3] == 4 && !l[4] && !l[5] && !l[6] && !l[7] && !l[8] && len % 6 == 0 &&
	       len <= 6 * 16;
}

/*
 * The connection was just found to be HTTP/2, by the client preface or the
 * server's SETTINGS. The request direction skips the preface (less what was
 * kept of it while undecided); bytes kept of the response direction are the
 * start of the server's SETTINGS: a frame header in part, or one whose
 * payload has begun.
 */
static __always_inline void h2_begin(struct kerno_conn *c)
{
	__u32 req_dir = c->role == KERNO_ROLE_SERVER ? KERNO_DIR_RX : KERNO_DIR_TX;
	struct kerno_http_dir *d = dir_of(c, req_dir);
	__u32 kept = d->part_len < H2_PREFACE_LEN ? d->part_len : 0;

	d->remaining = H2_PREFACE_LEN - kept;
	d->part_len = 0;
	d = dir_of(c, req_dir ^ 1);
	kept = d->part_len < KERNO_CLASSIFY_LEN ? d->part_len : 0;
	if (kept >= H2_FRAME_HDR) {
		/* A SETTINGS frame: its payload is skipped (of it, kept - 9 bytes are past). */
		d->remaining = (__u32)(__u8)d->part[1] << 8 | (__u8)d->part[2];
		d->remaining = d->remaining > kept - H2_FRAME_HDR ?
				       d->remaining - (kept - H2_FRAME_HDR) :
				       0;
		d->part_len = 0;
	}
}

/*
 * The connection closes: userspace lets go of its decoders and open streams.
 * The event, a header only, is written in the ring itself: a close in
 * softirq may interrupt a run that is building an event in h2_scratch.
 */
static __always_inline void h2_close(const struct kerno_conn *c)
{
	struct kerno_h2_event *e;
	__u64 flags;

	if (c->proto != KERNO_P_HTTP2)
		return;
	flags = h2_wakeup(KERNO_H2_EVENT_HDR, KERNO_H2_EV_CLOSE);
	e = bpf_ringbuf_reserve(&h2_events, KERNO_H2_EVENT_HDR, 0);
	if (!e) {
		count_conn(c, KERNO_DROP_H2_EVENTS_LOST);
		return;
	}
	h2_fill(e, c, KERNO_H2_EV_CLOSE, 0, 0);
	bpf_ringbuf_submit(e, flags);
}

#endif /* KERNO_PROTO_HTTP2_BPF_H */
