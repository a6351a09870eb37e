// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/2 streams finished in userspace: see h2streams.h. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "h2hpack.h"
#include "h2spans.h"
#include "h2streams.h"
#include "hist.h"
#include "proto_names.h"
#include "ringbuf.h"

/* How long the reader sleeps in poll when the kernel does not wake it. */
#define POLL_MS 100
/*
 * A connection whose close was lost (ring buffer full) is forgotten after
 * this long without an event, and a kernel stream entry this old is taken
 * as one whose end was lost (no_response): both tables stay bounded. A
 * stream open longer than that (a watch) is lost the same way.
 */
#define H2_STALE_NS (3600ULL * 1000000000ULL)
/* How often the reader looks for them. */
#define H2_SWEEP_NS (10ULL * 1000000000ULL)
/* How often the reader adds the series' counts to their totals in h2_series. */
#define H2_MIRROR_NS 1000000000ULL
/* How long a total stays there without moving: longer than `kerno top`'s refresh. */
#define H2_MIRROR_KEEP_NS (30ULL * 1000000000ULL)
/* Streams of one connection waiting for their end, at most. */
#define H2_STREAMS_PER_CONN 1024
/* Bytes of one frame payload assembled (the kernel ships at most this much of a block). */
#define H2_FRAME_MAX (KERNO_H2_BLOCK_MAX + KERNO_H2_PIECE)

#define H2_HEADERS 1
#define H2_PUSH_PROMISE 5
#define H2_CONTINUATION 9
#define H2_END_HEADERS 0x4
#define H2_PADDED 0x8
#define H2_PRIORITY 0x20

/* A stream whose request was decoded, waiting for its end. */
struct h2_stream {
	__u32 id;
	struct h2_fields f;
	struct h2_span_ids ids; /* a client stream's, drawn at its request */
};

/* One direction of a connection: its decoder and the block being put together. */
struct h2_dir {
	struct h2_hpack *hpack;
	__u32 next_seq; /* the piece expected next */
	bool seq_known;
	uint8_t *frame; /* the payload of the frame in progress */
	size_t frame_len;
	bool frame_ok; /* its pieces so far came in order */
	uint8_t *block; /* the header block in progress (fragments without padding) */
	size_t block_len;
	bool block_ok;
	__u32 block_stream;
	bool block_push; /* a PUSH_PROMISE's: decoded for the table only */
};

struct h2_conn {
	struct kerno_h2_conn_ref ref;
	struct h2_conn *next; /* hash chain */
	struct h2_dir dir[2];
	struct h2_stream *streams;
	size_t n_streams, cap_streams;
	__u64 last_ns; /* CLOCK_MONOTONIC of its last event */
	__u8 role;
};

struct series_slot {
	struct kerno_sample s; /* the interval's */
	struct kerno_series_val unmirrored; /* counted since the last mirror_flush() */
	bool used;
};

struct h2streams {
	struct h2streams_opts o;
	pthread_mutex_t lock; /* everything below */
	struct h2_conn **conns; /* hash of conn refs, chained */
	size_t conn_buckets, n_conns;
	struct series_slot *series; /* open addressing, power-of-two size */
	size_t series_size, n_series;
	struct kerno_sample *out; /* what the last take returned */
	__u64 drops[KERNO_DROP__COUNT];
	struct ringbuf *rb;
	pthread_t thread;
	pthread_cond_t synced; /* the reader read everything up to `want` */
	__u64 want, done; /* reads asked for by h2streams_take() and made */
	struct h2spans *spans; /* NULL: no spans */
	bool running;
	volatile int stop;
};

/* ---- path templates (the kernel's rule for HTTP/1.x, kern/http1.bpf.h) ---- */

struct tmpl {
	size_t out, seg_start, seg_len;
	bool digit, hexish, first_digit;
};

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_hex(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static void finish_segment(struct tmpl *t, char *out)
{
	if (!t->seg_len)
		return;
	if (!(t->first_digit || (t->digit && t->hexish && t->seg_len >= 8)))
		return;
	if (t->seg_start > KERNO_PATH_LEN - 5)
		return;
	memcpy(out + t->seg_start, "{id}", 4);
	t->out = t->seg_start + 4;
}

void h2_path_template(const char *path, char *out, size_t size)
{
	char tmp[2 * KERNO_PATH_LEN] = { 0 };
	struct tmpl t = { .hexish = true };
	size_t i;
	char ch;

	for (i = 0; i < KERNO_LINE_KEEP; i++) {
		ch = path[i];
		if (ch == ' ' || ch == '?' || ch == '#' || ch == '\r' || ch == '\n' || !ch)
			break;
		if (ch == '/') {
			finish_segment(&t, tmp);
			t.seg_start = t.out + 1;
			t.seg_len = 0;
			t.digit = false;
			t.hexish = true;
			t.first_digit = false;
		} else {
			if (!t.seg_len)
				t.first_digit = is_digit(ch);
			t.digit |= is_digit(ch);
			t.hexish &= is_hex(ch) || ch == '-';
			t.seg_len++;
		}
		if (t.out >= KERNO_PATH_LEN - 1)
			continue; /* keep scanning so the last segment is judged whole */
		tmp[t.out++] = ch;
	}
	finish_segment(&t, tmp);
	memset(tmp + t.out, 0, sizeof(tmp) - t.out);
	memset(out, 0, size);
	memcpy(out, tmp, size < KERNO_PATH_LEN ? size : KERNO_PATH_LEN);
}

/* ---- series ---- */

static size_t key_hash(const struct kerno_series_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	__u64 h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return (size_t)h;
}

/* The slot of series k, or the free slot where it goes. */
static struct series_slot *series_slot(struct h2streams *h, const struct kerno_series_key *k)
{
	size_t mask = h->series_size - 1, i = key_hash(k) & mask;

	while (h->series[i].used && memcmp(&h->series[i].s.key, k, sizeof(*k)))
		i = (i + 1) & mask;
	return &h->series[i];
}

static void series_add(struct h2streams *h, const struct kerno_series_key *k, __u64 dur)
{
	struct series_slot *slot = series_slot(h, k);
	unsigned int b = kerno_hist_bucket(dur);

	if (!slot->used) {
		if (h->n_series >= h->o.max_series) {
			h->drops[KERNO_DROP_SERIES_TABLE_FULL]++;
			return;
		}
		memset(slot, 0, sizeof(*slot));
		slot->used = true;
		slot->s.key = *k;
		h->n_series++;
	}
	slot->s.count++;
	slot->s.sum_ns += dur;
	slot->s.buckets[b]++;
	slot->unmirrored.count++;
	slot->unmirrored.sum_ns += dur;
	slot->unmirrored.buckets[b]++;
}

/* ---- the totals `kerno top` reads (h2_series) ---- */

/*
 * Add what each series counted since the last call to its total. A total
 * that cannot be written (the map full of series that moved in the last
 * H2_MIRROR_KEEP_NS) keeps its counts for a later call: `kerno top` shows
 * them late, the metrics are not concerned. Lock held.
 */
static void mirror_flush(struct h2streams *h, __u64 now)
{
	struct kerno_h2_total tot;
	struct series_slot *slot;
	unsigned int b;
	size_t i;

	if (h->o.series_fd < 0)
		return;
	for (i = 0; i < h->series_size; i++) {
		slot = &h->series[i];
		if (!slot->used || !slot->unmirrored.count)
			continue;
		if (bpf_map_lookup_elem(h->o.series_fd, &slot->s.key, &tot))
			memset(&tot, 0, sizeof(tot));
		tot.h.count += slot->unmirrored.count;
		tot.h.sum_ns += slot->unmirrored.sum_ns;
		for (b = 0; b < KERNO_HIST_BUCKETS; b++)
			tot.h.buckets[b] += slot->unmirrored.buckets[b];
		tot.moved_ns = now;
		if (!bpf_map_update_elem(h->o.series_fd, &slot->s.key, &tot, BPF_ANY))
			memset(&slot->unmirrored, 0, sizeof(slot->unmirrored));
	}
}

/*
 * Delete the totals idle for H2_MIRROR_KEEP_NS. A reader takes a series
 * that comes back for a new one (user/drain.c). Lock held.
 */
static void mirror_evict(struct h2streams *h, __u64 now)
{
	struct kerno_series_key key, next;
	struct kerno_h2_total tot;
	bool more;

	if (h->o.series_fd < 0)
		return;
	more = !bpf_map_get_next_key(h->o.series_fd, NULL, &next);
	while (more) {
		key = next;
		/* The successor first: key may go. */
		more = !bpf_map_get_next_key(h->o.series_fd, &key, &next);
		if (!bpf_map_lookup_elem(h->o.series_fd, &key, &tot) &&
		    now - tot.moved_ns >= H2_MIRROR_KEEP_NS)
			bpf_map_delete_elem(h->o.series_fd, &key);
	}
}

static __u8 method_of(const char *m)
{
	static const char *const names[KERNO_M__COUNT] = {
		[KERNO_M_GET] = "GET",	       [KERNO_M_HEAD] = "HEAD",
		[KERNO_M_POST] = "POST",       [KERNO_M_PUT] = "PUT",
		[KERNO_M_DELETE] = "DELETE",   [KERNO_M_PATCH] = "PATCH",
		[KERNO_M_OPTIONS] = "OPTIONS", [KERNO_M_CONNECT] = "CONNECT",
		[KERNO_M_TRACE] = "TRACE",
	};
	unsigned int i;

	for (i = 1; i < KERNO_M__COUNT; i++)
		if (!strcmp(m, names[i]))
			return i;
	return KERNO_M_OTHER;
}

/*
 * The series of an ended stream: gRPC by service/method and grpc-status
 * (code: the HTTP status), plain HTTP/2 like HTTP/1.x (code 1: reset).
 */
static void count_stream(struct h2streams *h, const struct kerno_h2_event *e,
			 const struct h2_stream *s)
{
	bool reset = e->kind == KERNO_H2_EV_RESET;
	const struct h2_fields *f = &s->f;
	struct kerno_series_key k;

	/* Hashed and compared whole: every byte set. */
	memset(&k, 0, sizeof(k));
	k.cgroup_id = e->cgroup_id;
	k.tgid = e->tgid;
	k.server_port = e->server_port;
	k.role = e->role;
	k.family = e->family;
	memcpy(k.peer_addr, e->peer_addr, sizeof(k.peer_addr));
	if (f->grpc) {
		const char *p = f->path[0] == '/' ? f->path + 1 : f->path;
		size_t n = strnlen(p, sizeof(k.path));

		k.proto = KERNO_P_GRPC;
		memcpy(k.path, p, n);
		k.status = f->has_grpc_status ? f->grpc_status : KERNO_GRPC_NO_STATUS;
		k.code = f->status;
		k.method = reset;
	} else {
		k.proto = KERNO_P_HTTP2;
		k.method = method_of(f->method);
		k.status = f->status;
		h2_path_template(f->path, k.path, sizeof(k.path));
		k.code = reset;
	}
	series_add(h, &k, e->dur_ns);
	if (h->spans)
		h2spans_end(h->spans, e, f, &s->ids, &k, clock_ns(CLOCK_MONOTONIC));
}

/* ---- connections and their streams ---- */

static size_t conn_hash(const struct h2streams *h, const struct kerno_h2_conn_ref *r)
{
	__u64 x = r->conn_id * 0x9e3779b97f4a7c15ULL ^ ((__u64)r->local_port << 16 | r->peer_port);

	return (size_t)(x ^ (x >> 29)) & (h->conn_buckets - 1);
}

static bool same_ref(const struct kerno_h2_conn_ref *a, const struct kerno_h2_conn_ref *b)
{
	return a->conn_id == b->conn_id && a->local_port == b->local_port &&
	       a->peer_port == b->peer_port;
}

static struct h2_conn *conn_find(struct h2streams *h, const struct kerno_h2_conn_ref *r)
{
	struct h2_conn *c;

	for (c = h->conns[conn_hash(h, r)]; c; c = c->next)
		if (same_ref(&c->ref, r))
			return c;
	return NULL;
}

/* The connection of e, made on its first event; NULL past max_conns (counted). */
static struct h2_conn *conn_get(struct h2streams *h, const struct kerno_h2_event *e)
{
	struct h2_conn *c = conn_find(h, &e->conn);
	size_t b;

	if (c)
		return c;
	if (h->n_conns >= h->o.max_conns) {
		h->drops[KERNO_DROP_CONN_TABLE_FULL]++;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ref = e->conn;
	c->role = e->role;
	b = conn_hash(h, &e->conn);
	c->next = h->conns[b];
	h->conns[b] = c;
	h->n_conns++;
	return c;
}

static void dir_free(struct h2_dir *d)
{
	h2_hpack_free(d->hpack);
	free(d->frame);
	free(d->block);
}

static void conn_free(struct h2_conn *c)
{
	dir_free(&c->dir[0]);
	dir_free(&c->dir[1]);
	free(c->streams);
	free(c);
}

static struct h2_stream *stream_find(struct h2_conn *c, __u32 id)
{
	size_t i;

	for (i = 0; i < c->n_streams; i++)
		if (c->streams[i].id == id)
			return &c->streams[i];
	return NULL;
}

static void stream_remove(struct h2_conn *c, struct h2_stream *s)
{
	*s = c->streams[--c->n_streams];
}

/* Room for one more waiting stream: 0, or -1 at the bound or out of memory. */
static int stream_room(struct h2_conn *c)
{
	size_t cap = c->cap_streams ? 2 * c->cap_streams : 8;
	struct h2_stream *p;

	if (cap > H2_STREAMS_PER_CONN)
		return -1;
	p = realloc(c->streams, cap * sizeof(*p));
	if (!p)
		return -1;
	c->streams = p;
	c->cap_streams = cap;
	return 0;
}

/* Forget the connection: its decoders, and the kernel's entries of streams that never ended. */
static void conn_close(struct h2streams *h, const struct kerno_h2_event *e)
{
	struct h2_conn **pp = &h->conns[conn_hash(h, &e->conn)], *c;
	struct kerno_h2_stream_key k = { .conn = e->conn };
	size_t i;

	for (; *pp; pp = &(*pp)->next)
		if (same_ref(&(*pp)->ref, &e->conn))
			break;
	c = *pp;
	if (!c)
		return;
	for (i = 0; i < c->n_streams; i++) {
		k.stream_id = c->streams[i].id;
		if (h->o.streams_fd >= 0 && !bpf_map_delete_elem(h->o.streams_fd, &k))
			h->drops[KERNO_DROP_NO_RESPONSE]++;
	}
	*pp = c->next;
	h->n_conns--;
	conn_free(c);
}

/* The request direction of a connection of this role. */
static unsigned int request_dir(__u8 role)
{
	return role == KERNO_ROLE_SERVER ? KERNO_DIR_RX : KERNO_DIR_TX;
}

/* A whole header block of direction dir: what it says joins its stream. */
static void block_done(struct h2streams *h, struct h2_conn *c, unsigned int dir)
{
	struct h2_dir *d = &c->dir[dir];
	struct h2_fields f = { 0 };
	struct h2_stream *s;

	if (!d->hpack)
		d->hpack = h2_hpack_new();
	if (!d->hpack)
		return;
	h2_hpack_block(d->hpack, d->block, d->block_len, &f);
	if (d->block_push)
		return;
	s = stream_find(c, d->block_stream);
	if (dir == request_dir(c->role)) {
		if (s)
			return; /* the request's trailers */
		if (c->n_streams == c->cap_streams && stream_room(c))
			return; /* h2_no_headers at its end */
		s = &c->streams[c->n_streams++];
		s->id = d->block_stream;
		s->f = f;
		s->ids.set = false;
		if (h->spans && c->role == KERNO_ROLE_CLIENT)
			h2spans_request(h->spans, &c->ref, s->id, &f, &s->ids,
					clock_ns(CLOCK_MONOTONIC));
		return;
	}
	if (!s)
		return;
	if (f.status)
		s->f.status = f.status;
	if (f.has_grpc_status) {
		s->f.has_grpc_status = true;
		s->f.grpc_status = f.grpc_status;
	}
	if (f.grpc)
		s->f.grpc = true;
}

/*
 * A header block of this direction will not be decoded: what it added to the
 * peer's HPACK table is missing from ours from here on (h2hpack.h).
 */
static void block_lost(struct h2_dir *d)
{
	d->frame_ok = false;
	d->block_ok = false;
	h2_hpack_gap(d->hpack);
}

/* The header-block fragment of a whole frame payload (padding and priority left out). */
static void frame_done(struct h2streams *h, struct h2_conn *c, unsigned int dir,
		       const struct kerno_h2_event *e)
{
	struct h2_dir *d = &c->dir[dir];
	size_t start = 0, end = d->frame_len, pad = 0;

	if (e->frame_type != H2_CONTINUATION) {
		if (e->frame_flags & H2_PADDED) {
			if (!end) {
				block_lost(d);
				return;
			}
			pad = d->frame[0];
			start = 1;
		}
		if (e->frame_type == H2_HEADERS && (e->frame_flags & H2_PRIORITY))
			start += 5;
		if (e->frame_type == H2_PUSH_PROMISE)
			start += 4;
		if (start + pad > end) {
			block_lost(d);
			return;
		}
		end -= pad;
		d->block_len = 0;
		d->block_ok = true;
		d->block_stream = e->stream_id;
		d->block_push = e->frame_type == H2_PUSH_PROMISE;
	} else if (!d->block_ok || e->stream_id != d->block_stream) {
		return;
	}
	if (d->block_len + (end - start) > H2_FRAME_MAX) {
		block_lost(d);
		return;
	}
	memcpy(d->block + d->block_len, d->frame + start, end - start);
	d->block_len += end - start;
	if (e->frame_flags & H2_END_HEADERS) {
		block_done(h, c, dir);
		d->block_ok = false;
	}
}

/* One piece of a frame payload of a header block. */
static void on_piece(struct h2streams *h, struct h2_conn *c, const struct kerno_h2_event *e)
{
	unsigned int dir = e->dir & 1;
	struct h2_dir *d = &c->dir[dir];

	if (!d->frame)
		d->frame = malloc(H2_FRAME_MAX);
	if (!d->block)
		d->block = malloc(H2_FRAME_MAX);
	if (!d->frame || !d->block)
		return;
	if (d->seq_known && e->seq != d->next_seq)
		block_lost(d); /* pieces lost (counted by the kernel): this block cannot be whole */
	d->seq_known = true;
	d->next_seq = e->seq + 1;
	if (e->piece & KERNO_H2_PIECE_FIRST) {
		d->frame_len = 0;
		d->frame_ok = true;
	}
	if (!d->frame_ok)
		return;
	if (d->frame_len + e->len > H2_FRAME_MAX || (e->piece & KERNO_H2_PIECE_TRUNCATED)) {
		block_lost(d);
		return;
	}
	memcpy(d->frame + d->frame_len, e->data, e->len);
	d->frame_len += e->len;
	if (e->piece & KERNO_H2_PIECE_LAST) {
		frame_done(h, c, dir, e);
		d->frame_ok = false;
	}
}

/*
 * A stream ended: counted now, with what its blocks said. One whose request
 * or response block was not decoded (lost, or no room to keep it) is left
 * out, counted as h2_no_headers: its method, route or status is unknown. A
 * reset stream may have had no response.
 */
static void on_end(struct h2streams *h, struct h2_conn *c, const struct kerno_h2_event *e)
{
	struct h2_stream *s = c ? stream_find(c, e->stream_id) : NULL;

	if (s && (s->f.status || e->kind == KERNO_H2_EV_RESET))
		count_stream(h, e, s);
	else
		h->drops[KERNO_DROP_H2_NO_HEADERS]++;
	if (s)
		stream_remove(c, s);
}

int h2streams_event(struct h2streams *h, const void *data, size_t size)
{
	const struct kerno_h2_event *e = data;
	struct h2_conn *c;

	if (size < KERNO_H2_EVENT_HDR)
		return 0;
	if (e->kind == KERNO_H2_EV_BLOCK &&
	    (e->len > KERNO_H2_PIECE || size < KERNO_H2_EVENT_HDR + e->len))
		return 0;
	if (e->kind == KERNO_H2_EV_CLOSE) {
		conn_close(h, e);
		return 0;
	}
	if (e->role != KERNO_ROLE_SERVER && e->role != KERNO_ROLE_CLIENT)
		return 0;
	c = conn_get(h, e);
	if (c)
		c->last_ns = clock_ns(CLOCK_MONOTONIC);
	if (e->kind == KERNO_H2_EV_BLOCK) {
		if (c)
			on_piece(h, c, e);
	} else if (e->kind == KERNO_H2_EV_END || e->kind == KERNO_H2_EV_RESET) {
		on_end(h, c, e);
	}
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct h2streams *h = ctx;

	pthread_mutex_lock(&h->lock);
	h2streams_event(h, data, size);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

/* Connections idle past H2_STALE_NS: their close was lost. */
static void sweep_conns(struct h2streams *h, __u64 now)
{
	struct h2_conn **pp, *c;
	size_t i;

	for (i = 0; i < h->conn_buckets; i++) {
		for (pp = &h->conns[i]; (c = *pp);) {
			if (now - c->last_ns < H2_STALE_NS) {
				pp = &c->next;
				continue;
			}
			*pp = c->next;
			h->n_conns--;
			conn_free(c);
		}
	}
}

/* Kernel stream entries older than H2_STALE_NS: their end (or close) was lost. */
static void sweep_streams(struct h2streams *h, __u64 now)
{
	struct kerno_h2_stream_key key, next;
	struct kerno_h2_stream s;
	bool first = true;
	__u64 stale = 0;

	while (!bpf_map_get_next_key(h->o.streams_fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (bpf_map_lookup_elem(h->o.streams_fd, &key, &s) || s.start_ns > now ||
		    now - s.start_ns < H2_STALE_NS)
			continue;
		if (!bpf_map_delete_elem(h->o.streams_fd, &key))
			stale++;
	}
	pthread_mutex_lock(&h->lock);
	h->drops[KERNO_DROP_NO_RESPONSE] += stale;
	pthread_mutex_unlock(&h->lock);
}

static void *thread_main(void *arg)
{
	struct h2streams *h = arg;
	__u64 want, now, swept = clock_ns(CLOCK_MONOTONIC), mirrored = swept;

	while (!h->stop) {
		now = clock_ns(CLOCK_MONOTONIC);
		if (now - swept >= H2_SWEEP_NS) {
			swept = now;
			pthread_mutex_lock(&h->lock);
			sweep_conns(h, now);
			mirror_evict(h, now);
			pthread_mutex_unlock(&h->lock);
			/* The kernel's clock (bpf_ktime_get_ns) is CLOCK_MONOTONIC too. */
			if (h->o.streams_fd >= 0)
				sweep_streams(h, now);
		}
		ringbuf_poll(h->rb, POLL_MS);
		pthread_mutex_lock(&h->lock);
		want = h->want;
		pthread_mutex_unlock(&h->lock);
		/* Below the wakeup threshold nobody is woken: take what waits anyway. */
		ringbuf_consume(h->rb);
		pthread_mutex_lock(&h->lock);
		if (now - mirrored >= H2_MIRROR_NS) {
			mirrored = now;
			mirror_flush(h, now);
		}
		if (h->spans)
			h2spans_expire(h->spans, clock_ns(CLOCK_MONOTONIC), false);
		h->done = want;
		pthread_cond_broadcast(&h->synced);
		pthread_mutex_unlock(&h->lock);
	}
	return NULL;
}

struct h2streams *h2streams_new_detached(size_t max_conns, size_t max_series,
					 h2_span_offer_fn *offer, void *offer_ctx)
{
	struct h2streams *h = calloc(1, sizeof(*h));
	size_t n = 1024;

	if (!h)
		return NULL;
	h->o.max_conns = max_conns ? max_conns : 1;
	h->o.max_series = max_series ? max_series : 1;
	h->o.events_fd = -1;
	h->o.streams_fd = -1;
	h->o.series_fd = -1;
	while (n < 2 * h->o.max_series)
		n *= 2;
	h->series_size = n;
	h->series = calloc(n, sizeof(*h->series));
	h->out = calloc(h->o.max_series, sizeof(*h->out));
	for (n = 1024; n < h->o.max_conns; n *= 2)
		;
	h->conn_buckets = n;
	h->conns = calloc(n, sizeof(*h->conns));
	if (offer)
		h->spans = h2spans_new(offer, offer_ctx);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->synced, NULL);
	if (!h->series || !h->out || !h->conns || (offer && !h->spans)) {
		h2streams_free(h);
		return NULL;
	}
	return h;
}

int h2streams_start(const struct h2streams_opts *o, struct h2streams **out, char *err,
		    size_t errlen)
{
	struct h2streams *h =
		h2streams_new_detached(o->max_conns, o->max_series, o->offer_span, o->offer_ctx);
	int ret;

	*out = NULL;
	if (!h) {
		snprintf(err, errlen, "cannot allocate the HTTP/2 stream tables");
		return -ENOMEM;
	}
	h->o.events_fd = o->events_fd;
	h->o.streams_fd = o->streams_fd;
	h->o.series_fd = o->series_fd;
	h->rb = ringbuf_new(o->events_fd, on_event, h);
	if (!h->rb) {
		ret = -errno;
		snprintf(err, errlen, "cannot read the HTTP/2 ring buffer: %s", strerror(-ret));
		goto cleanup;
	}
	ret = -pthread_create(&h->thread, NULL, thread_main, h);
	if (ret) {
		snprintf(err, errlen, "cannot start the HTTP/2 thread: %s", strerror(-ret));
		goto cleanup;
	}
	h->running = true;
	*out = h;
	return 0;

cleanup:
	h2streams_free(h);
	return ret;
}

void h2streams_free(struct h2streams *h)
{
	struct h2_conn *c, *next;
	size_t i;

	if (!h)
		return;
	if (h->running) {
		h->stop = 1;
		pthread_join(h->thread, NULL);
		ringbuf_consume(h->rb);
	}
	ringbuf_free(h->rb);
	for (i = 0; h->conns && i < h->conn_buckets; i++)
		for (c = h->conns[i]; c; c = next) {
			next = c->next;
			conn_free(c);
		}
	free(h->conns);
	free(h->series);
	free(h->out);
	h2spans_free(h->spans);
	pthread_cond_destroy(&h->synced);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/*
 * Only the reader consumes (libbpf's ring buffer has one consumer): ask it
 * for one more read of everything that waits now, and wait for it. Called
 * with h->lock held.
 */
static void sync_locked(struct h2streams *h)
{
	__u64 want;

	if (!h->running)
		return;
	want = ++h->want;
	while (h->done < want)
		pthread_cond_wait(&h->synced, &h->lock);
}

void h2streams_sync(struct h2streams *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	sync_locked(h);
	if (h->spans)
		h2spans_expire(h->spans, 0, true);
	pthread_mutex_unlock(&h->lock);
}

long h2streams_take(struct h2streams *h, const struct kerno_sample **out,
		    __u64 drops[KERNO_DROP__COUNT])
{
	size_t i, n = 0;

	if (!h)
		return 0;
	pthread_mutex_lock(&h->lock);
	sync_locked(h);
	/* The counts not yet in the totals would go with the slots. */
	mirror_flush(h, clock_ns(CLOCK_MONOTONIC));
	for (i = 0; i < h->series_size; i++) {
		if (!h->series[i].used)
			continue;
		h->out[n++] = h->series[i].s;
		h->series[i].used = false;
	}
	h->n_series = 0;
	for (i = 0; i < KERNO_DROP__COUNT; i++) {
		drops[i] += h->drops[i];
		h->drops[i] = 0;
	}
	pthread_mutex_unlock(&h->lock);
	*out = h->out;
	return (long)n;
}
