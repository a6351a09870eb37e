/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/1.x parsing and request/response matching, in the kernel.
 *
 * Each direction of a connection runs a small state machine over the byte
 * stream it carries (enum kerno_http_state). Bodies are skipped by counting,
 * never read; only start lines, header lines and chunk-size lines are looked
 * at, one line per step, a global function called in a bounded loop, so the
 * verifier sees each step once whatever the size of the data. A line split across syscalls keeps its
 * first KERNO_LINE_KEEP bytes in the connection, which is all any parser
 * below looks at.
 *
 * Requests take a slot in the connection's FIFO when their start line is
 * parsed and are published when their header block ends; a completed
 * response takes the oldest published request (pipelining) and the pair is
 * added to its series histogram.
 */
#ifndef KERNO_HTTP1_BPF_H
#define KERNO_HTTP1_BPF_H

#include "capture_maps.bpf.h"

/* Steps (lines or body runs) parsed per segment before giving up on it. */
#define KERNO_MAX_STEPS 1024

/* Set on a request in progress that found the FIFO full: not published. */
#define KERNO_F_NO_SLOT (1 << 5)
/* Flags that describe the stream, not the message in progress. */
#define KERNO_F_STREAM (KERNO_F_REQUEST | KERNO_F_RESPONSE)

/* One syscall's data on one connection, in one direction. */
struct flow {
	struct kerno_conn *conn;
	__u64 key; /* conn's key in the table (kernels before 5.12 only) */
	__u64 now;
	__u32 dir;
	__u32 tid;
	__u8 legacy; /* pass key, not conn, to global functions (before 5.12) */
};

/*
 * The connection of a legacy global function's key, looked up with the key
 * in scratch memory: before 5.12 or so the whole call chain shares 512 bytes
 * of stack (frames rounded up to 32), and the parse uses them all.
 */
static __always_inline struct kerno_conn *conn_by_key(__u64 conn_key)
{
	struct kerno_scratch *sc = get_scratch();

	if (!sc)
		return NULL;
	sc->sock_key = conn_key;
	return bpf_map_lookup_elem(&conns, &sc->sock_key);
}

/*
 * The flow a legacy twin of a global function was given as scalars (before
 * 5.12 global functions take no pointers): f, with its connection looked up
 * by key. Returns that connection, NULL if it is gone.
 */
static __always_inline struct kerno_conn *flow_of_key(struct flow *f, __u64 conn_key, __u64 dir_tid,
						      __u64 now)
{
	f->conn = conn_by_key(conn_key);
	f->key = conn_key;
	f->now = now;
	f->dir = dir_tid >> 32;
	f->tid = (__u32)dir_tid;
	f->legacy = 1;
	return f->conn;
}

/* The segment state in scratch, set for `len` bytes at ubuf carried by flow f. */
static __always_inline struct seg_ctx *seg_begin(struct kerno_scratch *sc, const struct flow *f,
						 __u64 ubuf, __u32 len)
{
	struct seg_ctx *x = &sc->seg;

	x->ubuf = ubuf;
	x->now = f->now;
	x->len = len;
	x->off = 0;
	x->win_off = 0;
	x->win_len = 0;
	x->tid = f->tid;
	x->dir = f->dir & 1;
	return x;
}

static __always_inline __u64 flow_dir_tid(const struct flow *f)
{
	return (__u64)f->dir << 32 | f->tid;
}

/* What a step over a segment needs; the rest lives in scratch->seg. */
struct seg_ref {
	struct kerno_conn *conn;
	struct seg_ctx *x;
};

static __always_inline struct kerno_scratch *scratch_of(struct seg_ctx *x)
{
	return (void *)x - __builtin_offsetof(struct kerno_scratch, seg);
}

static __always_inline struct kerno_http_dir *dir_of(struct kerno_conn *c, __u32 dir)
{
	return &c->dir[dir & 1];
}

/* Store v in map memory and read it back: the verifier forgets its range. */
static __always_inline __u32 launder(__u32 *slot, __u32 v)
{
	*(volatile __u32 *)slot = v;
	return *(volatile __u32 *)slot;
}

static __always_inline __u64 load64(const char *p)
{
	return *(const __u64 *)p;
}

/*
 * Bytes of w equal to the byte in `pattern` (repeated), as their top bits.
 * A byte above a true match may be flagged too, never one below: the
 * lowest flag is always exact.
 */
static __always_inline __u64 match_bytes(__u64 w, __u64 pattern)
{
	w ^= pattern;
	return (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
}

#define NL8 0x0a0a0a0a0a0a0a0aULL

/*
 * Index of the lowest byte flagged by match_bytes() (t != 0): isolate its
 * flag, move it to bit 0 of its byte, and let one multiply carry the index,
 * 7 - k at byte k of the constant, into the top byte. No branches.
 */
static __always_inline __u32 lowest_flagged_byte(__u64 t)
{
	return (((t & -t) >> 7) * 0x0001020304050607ULL) >> 56;
}

static __always_inline __u32 load32(const char *p)
{
	return *(const __u32 *)p;
}

static __always_inline int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static __always_inline int is_hex(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Little-endian constants for whole-word compares. */
#define W4(a, b, c, d) ((__u32)(a) | (__u32)(b) << 8 | (__u32)(c) << 16 | (__u32)(d) << 24)
#define W8(a, b, c, d, e, f, g, h) ((__u64)W4(a, b, c, d) | (__u64)W4(e, f, g, h) << 32)
#define LOWER8 0x2020202020202020ULL

#include "span.bpf.h"

/*
 * Method of a request line and the length of its token. Known methods are
 * matched as words; another token of capital letters is KERNO_M_OTHER.
 * *len is 0 when the line does not start with a method followed by a space.
 */
static __always_inline __u8 parse_method(const char *l, __u32 *len)
{
	__u32 w = load32(l);
	__u64 q = load64(l);

	*len = 0;
	if (w == W4('G', 'E', 'T', ' ')) {
		*len = 3;
		return KERNO_M_GET;
	}
	if (w == W4('P', 'U', 'T', ' ')) {
		*len = 3;
		return KERNO_M_PUT;
	}
	if (w == W4('P', 'O', 'S', 'T') && l[4] == ' ') {
		*len = 4;
		return KERNO_M_POST;
	}
	if (w == W4('H', 'E', 'A', 'D') && l[4] == ' ') {
		*len = 4;
		return KERNO_M_HEAD;
	}
	if ((q & 0xffffffffffffULL) == (W8('P', 'A', 'T', 'C', 'H', ' ', 0, 0))) {
		*len = 5;
		return KERNO_M_PATCH;
	}
	if ((q & 0xffffffffffffULL) == (W8('T', 'R', 'A', 'C', 'E', ' ', 0, 0))) {
		*len = 5;
		return KERNO_M_TRACE;
	}
	if ((q & 0xffffffffffffffULL) == (W8('D', 'E', 'L', 'E', 'T', 'E', ' ', 0))) {
		*len = 6;
		return KERNO_M_DELETE;
	}
	if (q == W8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' ')) {
		*len = 7;
		return KERNO_M_OPTIONS;
	}
	if (q == W8('C', 'O', 'N', 'N', 'E', 'C', 'T', ' ')) {
		*len = 7;
		return KERNO_M_CONNECT;
	}
	return KERNO_M_OTHER;
}

/* Length of a token of capital letters followed by a space, 0 if none. */
static __always_inline __u32 other_method_len(const char *l)
{
	__u32 i;

	for (i = 0; i < 16; i++) {
		if (l[i] == ' ')
			return i;
		if (l[i] < 'A' || l[i] > 'Z')
			return 0;
	}
	return 0;
}

static __always_inline int is_target_start(char ch)
{
	return ch == '/' || ch == '*' || ch == 'h';
}

static __always_inline int is_status_line(const char *l)
{
	return (load64(l) & 0xffffffffffffffULL) == W8('H', 'T', 'T', 'P', '/', '1', '.', 0) &&
	       l[8] == ' ' && is_digit(l[9]) && is_digit(l[10]) && is_digit(l[11]);
}

/* Does a chunk that starts here begin a request (1), a response (2) or neither (0)? */
static __always_inline int classify_start(const char *l)
{
	__u32 mlen;
	__u8 m = parse_method(l, &mlen);

	if (m != KERNO_M_OTHER && is_target_start(l[(mlen + 1) & 15]))
		return 1;
	if (is_status_line(l))
		return 2;
	return 0;
}

/*
 * A path segment is an identifier (and becomes {id}) if it starts with a
 * digit, or holds a digit and is made of 8 or more hex digits and dashes
 * (hashes, UUIDs).
 */
static __always_inline void finish_segment(struct kerno_scratch *sc, struct tmpl_ctx *t)
{
	__u32 s = t->seg_start;

	if (!t->seg_len)
		return;
	if (!(t->seg_first_digit || (t->seg_digit && t->seg_hexish && t->seg_len >= 8)))
		return;
	if (s > KERNO_PATH_LEN - 5)
		return;
	sc->tmpl[s] = '{';
	sc->tmpl[s + 1] = 'i';
	sc->tmpl[s + 2] = 'd';
	sc->tmpl[s + 3] = '}';
	t->out = s + 4;
}

static __always_inline long template_char(__u32 i, struct kerno_scratch *sc)
{
	struct tmpl_ctx *t = &sc->tm;
	__u32 out;
	char ch;

	if (i >= t->n || i >= KERNO_LINE_VIEW)
		goto end;
	ch = sc->line[(t->src_off & 15) + (i & (KERNO_LINE_VIEW - 1))];
	if (ch == ' ' || ch == '?' || ch == '#' || ch == '\r' || ch == '\n' || ch == 0)
		goto end;
	if (ch == '/') {
		finish_segment(sc, t);
		t->seg_start = t->out + 1;
		t->seg_len = 0;
		t->seg_digit = 0;
		t->seg_hexish = 1;
		t->seg_first_digit = 0;
	} else {
		if (!t->seg_len)
			t->seg_first_digit = is_digit(ch);
		t->seg_digit |= is_digit(ch);
		t->seg_hexish &= is_hex(ch) || ch == '-';
		t->seg_len++;
	}
	out = t->out;
	if (out >= KERNO_PATH_LEN - 1)
		return 0; /* keep scanning so the last segment is judged whole */
	sc->tmpl[out] = ch;
	t->out = out + 1;
	return 0;
end:
	finish_segment(sc, t);
	return 1;
}

/*
 * Run template_char() over the target in scratch (sc->tm says where): a
 * global function, so the verifier walks its loop once.
 */
__noinline int template_chars(void)
{
	struct kerno_scratch *sc = get_scratch();
	__u32 i;

	if (!sc)
		return 0;
	for (i = 0; i < KERNO_LINE_VIEW; i++)
		if (template_char(i, sc))
			break;
	return 0;
}

/* Bytes of w that are ASCII digits, as their top bits (lowest flag exact). */
static __always_inline __u64 digit_bytes(__u64 w)
{
	w ^= 0x3030303030303030ULL;
	return (w - 0x0a0a0a0a0a0a0a0aULL) & ~w & 0x8080808080808080ULL;
}

/* Bytes of w that end a request target's path: blank, ?, #, CR, LF, NUL. */
static __always_inline __u64 path_end_bytes(__u64 w)
{
	return match_bytes(w, 0x2020202020202020ULL) | match_bytes(w, 0x3f3f3f3f3f3f3f3fULL) |
	       match_bytes(w, 0x2323232323232323ULL) | match_bytes(w, 0x0d0d0d0d0d0d0d0dULL) |
	       match_bytes(w, 0x0a0a0a0a0a0a0a0aULL) | match_bytes(w, 0);
}

/* The low `bytes` bytes of a word, bytes in 0..8. */
static __always_inline __u64 low_bytes(__u64 bytes)
{
	return bytes >= 8 ? ~0ULL : (1ULL << (bytes * 8)) - 1;
}

/* The bytes template_plain() may read, and the template it writes. */
struct path_view {
	char b[KERNO_LINE_VIEW + 8];
};

struct path_template {
	char b[KERNO_PATH_LEN];
};

/*
 * The common case, eight bytes at a time: a path with no digit in it has no
 * {id} segment (both rules need a digit), so its template is the path itself.
 * Returns 0 when dst holds the template, -1 when the path needs the
 * byte-by-byte templating below. Looks at src->b[0, n), n at most
 * KERNO_LINE_VIEW. A global function: the verifier checks it once, apart.
 */
__noinline int template_plain(const struct path_view *src, __u32 n, struct path_template *dst)
{
	__u64 len = n, digits = 0, w, t;
	__u32 i, at;

	if (!src || !dst)
		return -1;
	for (i = 0; i < KERNO_LINE_VIEW / 8; i++) {
		at = i * 8;
		if (at >= len)
			break;
		w = load64(src->b + at);
		t = path_end_bytes(w);
		if (t) {
			at += lowest_flagged_byte(t);
			if (at < len)
				len = at;
		}
		digits |= digit_bytes(w) & low_bytes(len - i * 8);
		if (t)
			break;
	}
	if (digits)
		return -1;
	if (len > KERNO_PATH_LEN - 1)
		len = KERNO_PATH_LEN - 1;
	for (i = 0; i < KERNO_PATH_LEN / 8; i++) {
		at = i * 8;
		*(__u64 *)(dst->b + at) = len > at ? load64(src->b + at) & low_bytes(len - at) : 0;
	}
	return 0;
}

/*
 * Write the endpoint template of the request target at src into dst. It is
 * built in scratch memory first: there the bytes a shortened {id} segment
 * left behind can be cleared at offsets the verifier can bound.
 */
static __always_inline void template_path(struct kerno_scratch *sc, __u32 src_off, __u32 n,
					  char *dst, const bool legacy)
{
	struct tmpl_ctx *t = &sc->tm;
	__u32 out;

	/* The word-wise fast path takes pointers: not on legacy kernels. */
	if (!legacy && !template_plain((const struct path_view *)(sc->line + (src_off & 15)), n,
				       (struct path_template *)dst))
		return;
	__builtin_memset(t, 0, sizeof(*t));
	t->src_off = src_off;
	t->n = n;
	t->seg_hexish = 1;
	template_chars();
	out = t->out;
	if (out < KERNO_PATH_LEN)
		bpf_probe_read_kernel(sc->tmpl + out, KERNO_PATH_LEN - out, &sc->zero_series);
	copy_words(dst, sc->tmpl, KERNO_PATH_LEN);
}

static __always_inline void record(struct kerno_conn *c, struct kerno_req_slot *s, __u16 status,
				   __u64 now)
{
	struct kerno_scratch *sc = get_scratch();
	struct kerno_series_key key = {};
	struct kerno_series_val *v;
	__u64 dur = now - s->start_ns;
	__u32 b;

	if (!sc)
		return;
	key.cgroup_id = c->cgroup_id;
	key.tgid = c->tgid;
	key.server_port = c->role == KERNO_ROLE_SERVER ? c->local_port : c->peer_port;
	key.status = status;
	key.role = c->role;
	key.method = s->method;
	key.family = c->family;
	key.proto = KERNO_P_HTTP1;
	__builtin_memcpy(key.peer_addr, c->peer_addr, sizeof(key.peer_addr));
	__builtin_memcpy(key.path, s->path, sizeof(key.path));

	v = bpf_map_lookup_elem(&series, &key);
	if (!v) {
		bpf_map_update_elem(&series, &key, &sc->zero_series, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&series, &key);
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
	count(KERNO_EV_REQUESTS);
}

static __always_inline void reset_message(struct kerno_http_dir *d, __u8 state)
{
	d->state = state;
	d->flags &= KERNO_F_STREAM;
	d->remaining = 0;
	d->header_bytes = 0;
	d->line_len = 0;
	d->part_len = 0;
}

/* A whole message passed in direction d. */
static __always_inline void message_done(struct kerno_conn *c, struct kerno_http_dir *d, __u64 now)
{
	struct kerno_req_slot *s;
	__u16 status = d->status;
	int tunnel = status == 101;

	if (d->flags & KERNO_F_RESPONSE) {
		if (c->unanswered) {
			/* The answer to a request the full FIFO dropped: counted then. */
			c->unanswered--;
		} else if (c->fifo_head == c->fifo_tail) {
			count_conn(c, KERNO_DROP_UNMATCHED_RESPONSE);
		} else {
			s = &c->fifo[c->fifo_head & (KERNO_FIFO_LEN - 1)];
#ifndef ABL_RECORD
			record(c, s, status, now);
#endif
			span_note_end(c, status, 0, now);
			tunnel |= s->method == KERNO_M_CONNECT && status / 100 == 2;
			c->unanswered += s->dropped_after;
			c->fifo_head++;
		}
	}
	reset_message(d, KERNO_H_START);
	if (tunnel && (d->flags & KERNO_F_RESPONSE)) {
		/* Switching protocols, or a CONNECT tunnel: not HTTP/1.x any more. */
		c->dir[0].state = KERNO_H_STOPPED;
		c->dir[1].state = KERNO_H_STOPPED;
	}
}

/*
 * Stop parsing direction d until a chunk starts with a new message. A
 * response given up on takes its request with it, so that the next response
 * is not matched to the wrong request.
 */
static __always_inline void give_up(struct kerno_conn *c, struct kerno_http_dir *d, __u32 why)
{
	count_conn(c, why);
	if (d->flags & KERNO_F_RESPONSE) {
		if (c->unanswered)
			c->unanswered--;
		else if (c->fifo_head != c->fifo_tail)
			c->unanswered +=
				c->fifo[c->fifo_head++ & (KERNO_FIFO_LEN - 1)].dropped_after;
	}
	reset_message(d, KERNO_H_UNSYNC);
}

static __always_inline int parse_request_line(struct seg_ctx *x, struct kerno_conn *c,
					      struct kerno_http_dir *d, __u32 total,
					      const bool legacy)
{
	struct kerno_scratch *sc = scratch_of(x);
	const char *l = sc->line;
	struct kerno_req_slot *s;
	__u32 mlen, view;
	__u8 m;

	m = parse_method(l, &mlen);
	if (m == KERNO_M_OTHER)
		mlen = other_method_len(l);
	if (!mlen)
		return -1;
	/* CONNECT names host:port; every other method a path (or * or a URL). */
	if (m == KERNO_M_CONNECT ? l[(mlen + 1) & 15] <= ' ' : !is_target_start(l[(mlen + 1) & 15]))
		return -1;
	d->method = m;
	if (c->fifo_tail - c->fifo_head >= KERNO_FIFO_LEN) {
		d->flags |= KERNO_F_NO_SLOT;
		return 0;
	}
	s = &c->fifo[c->fifo_tail & (KERNO_FIFO_LEN - 1)];
	s->start_ns = d->msg_start_ns;
	s->tid = x->tid;
	s->method = m;
	s->dropped_after = 0;
	view = total < KERNO_LINE_VIEW ? total : KERNO_LINE_VIEW;
	mlen = (mlen + 1) & 15;
	template_path(sc, mlen, view > mlen ? view - mlen : 0, s->path, legacy);
	span_note_request_start(x, c, s, total);
	return 0;
}

static __always_inline int parse_status_line(struct kerno_http_dir *d, const char *l, __u32 total)
{
	/* Shorter than "HTTP/1.x NNN" and its '\n', the checks would read past the line. */
	if (total < 13 || !is_status_line(l))
		return -1;
	d->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	return 0;
}

/* Value of a decimal number after optional spaces; -1 if there is none. */
static __always_inline __s64 parse_decimal(const char *l, __u32 from, __u32 view)
{
	__s64 v = 0;
	__u32 i, digits = 0;

	for (i = 0; i < 40; i++) {
		__u32 p = from + i;
		char ch;

		if (p >= view)
			break;
		ch = l[p & (2 * KERNO_LINE_VIEW - 1)];
		if (ch == ' ' || ch == '\t') {
			if (digits)
				break;
			continue;
		}
		if (!is_digit(ch))
			break;
		if (++digits > 18)
			return -1;
		v = v * 10 + (ch - '0');
	}
	return digits ? v : -1;
}

/* Does the value of this header line end in "chunked"? */
static __always_inline int ends_chunked(const char *l, __u32 total)
{
	__u32 end = total - 1; /* index of '\n' */
	__u32 i;
	__u64 w;

	if (end > 0 && l[(end - 1) & (2 * KERNO_LINE_VIEW - 1)] == '\r')
		end--;
	/* Whitespace after a field value is not part of it (RFC 9110, 5.5). */
	for (i = 0; i < 8 && end > 0; i++) {
		char ch = l[(end - 1) & (2 * KERNO_LINE_VIEW - 1)];

		if (ch != ' ' && ch != '\t')
			break;
		end--;
	}
	/* The value's last 7 bytes are l[end - 7, end): load 8 and drop the first. */
	if (end < 8 || end > KERNO_LINE_VIEW)
		return 0;
	w = load64(l + ((end - 8) & (2 * KERNO_LINE_VIEW - 1)));
	return ((w >> 8) | 0x0020202020202020ULL) == W8('c', 'h', 'u', 'n', 'k', 'e', 'd', 0);
}

static __always_inline int parse_header_line(struct kerno_http_dir *d, const char *l, __u32 total)
{
	__u32 view = total < KERNO_LINE_VIEW ? total : KERNO_LINE_VIEW;
	__s64 len;

	if ((load64(l) | LOWER8) == W8('c', 'o', 'n', 't', 'e', 'n', 't', '-') &&
	    (load64(l + 7) | LOWER8) == W8('-', 'l', 'e', 'n', 'g', 't', 'h', ':')) {
		len = parse_decimal(l, 15, view);
		if (len < 0)
			return -1;
		d->remaining = len;
		d->flags |= KERNO_F_LENGTH;
	} else if ((load64(l) | LOWER8) == W8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r') &&
		   (load64(l + 8) | LOWER8) == W8('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n') &&
		   (load64(l + 10) | LOWER8) == W8('n', 'c', 'o', 'd', 'i', 'n', 'g', ':')) {
		if (ends_chunked(l, total))
			d->flags |= KERNO_F_CHUNKED;
	}
	return 0;
}

/*
 * A request found the FIFO full. Its response must still be told from the
 * next request's: note it after the newest request waiting, or, when every
 * request has been answered meanwhile, as the very next response.
 */
static __always_inline void drop_request(struct kerno_conn *c)
{
	struct kerno_req_slot *s;

	count_conn(c, KERNO_DROP_FIFO_FULL);
	if (c->fifo_head == c->fifo_tail) {
		if (c->unanswered < 255)
			c->unanswered++;
		return;
	}
	s = &c->fifo[(c->fifo_tail - 1) & (KERNO_FIFO_LEN - 1)];
	if (s->dropped_after < 255)
		s->dropped_after++;
}

static __always_inline void request_headers_done(struct kerno_conn *c, struct kerno_http_dir *d,
						 __u64 now)
{
	if (d->flags & KERNO_F_NO_SLOT) {
		drop_request(c);
	} else {
		span_note_published(c);
		c->fifo_tail++;
	}
	if (d->flags & KERNO_F_CHUNKED) {
		d->state = KERNO_H_CHUNK_SIZE;
		d->header_bytes = 0;
	} else if ((d->flags & KERNO_F_LENGTH) && d->remaining) {
		d->state = KERNO_H_BODY;
	} else {
		message_done(c, d, now);
	}
}

static __always_inline void response_headers_done(struct kerno_conn *c, struct kerno_http_dir *d,
						  __u64 now)
{
	__u16 st = d->status;
	__u8 req_method = KERNO_M_OTHER;

	if (st >= 100 && st < 200 && st != 101) {
		/* Interim response (100 Continue): the final one follows. */
		reset_message(d, KERNO_H_START);
		return;
	}
	if (c->fifo_head != c->fifo_tail)
		req_method = c->fifo[c->fifo_head & (KERNO_FIFO_LEN - 1)].method;
	if (st == 101 || st == 204 || st == 304 || req_method == KERNO_M_HEAD ||
	    (req_method == KERNO_M_CONNECT && st / 100 == 2))
		message_done(c, d, now);
	else if (d->flags & KERNO_F_CHUNKED) {
		d->state = KERNO_H_CHUNK_SIZE;
		d->header_bytes = 0;
	} else if (d->flags & KERNO_F_LENGTH) {
		if (d->remaining)
			d->state = KERNO_H_BODY;
		else
			message_done(c, d, now);
	} else {
		d->state = KERNO_H_BODY_EOF;
	}
}

/* Size of a chunk from its chunk-size line; -1 if malformed. */
static __always_inline __s64 parse_chunk_size(const char *l, __u32 total)
{
	__s64 v = 0;
	__u32 i, digits = 0;

	for (i = 0; i < 17; i++) {
		char ch = l[i];
		int h;

		if (i >= total)
			break;
		if (is_digit(ch))
			h = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			h = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			h = ch - 'A' + 10;
		else
			break;
		if (++digits > 15)
			return -1;
		v = v * 16 + h;
	}
	if (!digits)
		return -1;
	return v;
}

static __always_inline int is_empty_line(const char *l, __u32 total)
{
	return total == 1 || (total == 2 && l[0] == '\r');
}

/* A whole line of `total` bytes has been seen; its head is in sc->line. */
static __always_inline int on_line(struct seg_ctx *x, struct kerno_conn *c,
				   struct kerno_http_dir *d, __u32 total, const bool legacy)
{
	const char *l = scratch_of(x)->line;
	int empty = is_empty_line(l, total);
	__s64 size;

	switch (d->state) {
	case KERNO_H_START:
		if (empty)
			return 0; /* stray CRLF between messages */
		if (d->flags & KERNO_F_REQUEST ? parse_request_line(x, c, d, total, legacy) :
						 parse_status_line(d, l, total))
			return -1;
		if (d->flags & KERNO_F_RESPONSE)
			span_note_response_start(x, c, d, total);
		d->state = KERNO_H_HEADERS;
		return 0;
	case KERNO_H_HEADERS:
		if (!empty)
			return parse_header_line(d, l, total);
		if (d->flags & KERNO_F_REQUEST)
			request_headers_done(c, d, x->now);
		else
			response_headers_done(c, d, x->now);
		return 0;
	case KERNO_H_CHUNK_SIZE:
		size = parse_chunk_size(l, total);
		if (size < 0)
			return -1;
		d->remaining = size + 2; /* chunk data and its CRLF */
		d->state = size ? KERNO_H_CHUNK_DATA : KERNO_H_TRAILERS;
		if (!size)
			d->header_bytes = 0;
		return 0;
	case KERNO_H_TRAILERS:
		if (empty)
			message_done(c, d, x->now);
		return 0;
	}
	return 0;
}

static __always_inline int read_window(struct seg_ctx *x)
{
	__u32 n = x->len - x->off;

	if (n > KERNO_WIN)
		n = KERNO_WIN;
	x->win_off = x->off;
	x->win_len = 0;
	if (bpf_probe_read_user(scratch_of(x)->win, n, (const char *)(x->ubuf + x->off)))
		return -1;
	x->win_len = n;
	return 0;
}

/*
 * Offset of the first '\n' in win[pos, len), or KERNO_WIN if there is none;
 * eight bytes per step.
 */
static __always_inline __u32 find_newline(const char *win, __u32 pos, __u32 len)
{
	__u32 i;

	for (i = 0; i < KERNO_WIN / 8 + 1; i++) {
		__u32 p = pos + i * 8;
		__u64 t;

		if (p >= len || p >= KERNO_WIN)
			break;
		t = match_bytes(load64(win + p), NL8);
		if (t) {
			p += lowest_flagged_byte(t);
			return p < len ? p : KERNO_WIN;
		}
	}
	return KERNO_WIN;
}

/*
 * Must the header line starting at win[ls] be looked at: the blank line that
 * ends the block, Content-Length, Transfer-Encoding, or a line too close to
 * the window's end to tell? (The line has been seen to end in the window.)
 */
static __always_inline int header_matters(const char *win, __u32 ls, __u32 len)
{
	__u64 w;

	if (ls + 16 > len || ls >= KERNO_WIN)
		return 1;
	/* Where spans add code before this call, verifiers before 6.2 or so lose the bound. */
	ls &= KERNO_WIN - 1;
	if (win[ls] == '\r' || win[ls] == '\n')
		return 1;
	w = load64(win + ls) | LOWER8;
	/* A traceparent matters to spans (line_step() takes it). */
	if (spans_enabled && w == W8('t', 'r', 'a', 'c', 'e', 'p', 'a', 'r'))
		return 1;
	if (w == W8('c', 'o', 'n', 't', 'e', 'n', 't', '-'))
		return (load64(win + ls + 7) | LOWER8) ==
		       W8('-', 'l', 'e', 'n', 'g', 't', 'h', ':');
	return w == W8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r');
}

/* Header lines passed per step at most: a block of 64-byte lines fills the window in 4. */
#define KERNO_PASS_ITERS 48

/*
 * Pass the header lines from win[pos] on that matter to nobody here, in one
 * go: returns where the first line that matters, or that does not end in the
 * window, starts. Each round either moves eight bytes on or ends a line.
 */
static __always_inline __u32 pass_headers(struct seg_ctx *x, const char *win, __u32 pos, __u32 len)
{
	__u32 ls = pos, p = pos, i;
	__u64 t;

	if (header_matters(win, pos, len))
		return pos;
	for (i = 0; i < KERNO_PASS_ITERS; i++) {
		/* One unknown value at the loop head: each round is verified once. */
		p = launder(&x->nl, p);
		if (p >= len || p >= KERNO_WIN)
			break;
		t = match_bytes(load64(win + p), NL8);
		if (!t) {
			p += 8;
			continue;
		}
		p += lowest_flagged_byte(t) + 1;
		if (p > len)
			break;
		ls = p;
		if (header_matters(win, ls, len))
			break;
	}
	return ls;
}

/* Put the head of the line starting at win[pos] into sc->line, after any kept part. */
static __always_inline void assemble_line(struct seg_ctx *x, struct kerno_http_dir *d, __u32 pos)
{
	struct kerno_scratch *sc = scratch_of(x);
	__u32 have = d->part_len;

	if (!have) {
		copy_words(sc->line, sc->win + (pos & (KERNO_WIN - 1)), KERNO_LINE_VIEW);
		return;
	}
	__builtin_memcpy(sc->line, d->part, KERNO_LINE_KEEP);
	if (have < KERNO_LINE_KEEP)
		bpf_probe_read_kernel(sc->line + (have & (KERNO_LINE_KEEP - 1)),
				      (KERNO_LINE_KEEP - have) & (2 * KERNO_LINE_KEEP - 1),
				      sc->win + (pos & (KERNO_WIN - 1)));
}

/* Keep the head of an unfinished line (win[pos], n bytes) for the next syscall. */
static __always_inline void keep_part(struct seg_ctx *x, struct kerno_http_dir *d, __u32 pos,
				      __u32 n)
{
	__u32 have = d->part_len;

	if (have >= KERNO_LINE_KEEP)
		return;
	if (n > KERNO_LINE_KEEP - have)
		n = KERNO_LINE_KEEP - have;
	/* Provably at most KERNO_LINE_KEEP to older verifiers too. */
	n = bounded_index(n, KERNO_LINE_KEEP + 1, KERNO_LINE_KEEP);
	bpf_probe_read_kernel(d->part + (have & (KERNO_LINE_KEEP - 1)), n,
			      scratch_of(x)->win + (pos & (KERNO_WIN - 1)));
	d->part_len = have + n;
}

static __always_inline int header_budget_ok(struct kerno_conn *c, struct kerno_http_dir *d, __u32 n)
{
	d->header_bytes += n;
	if (d->header_bytes <= max_header_bytes)
		return 1;
	give_up(c, d, KERNO_DROP_HEADER_TOO_LONG);
	return 0;
}

/* One step in a line state: consume one line, or the rest of the segment. */
static __always_inline long line_step(struct seg_ctx *x, struct kerno_conn *c,
				      struct kerno_http_dir *d, const bool legacy)
{
	__u32 pos, nl, piece, total;

	if (d->state == KERNO_H_START && !d->line_len)
		d->msg_start_ns = x->now;
	if (!x->win_len || x->off >= x->win_off + x->win_len) {
		if (read_window(x)) {
			give_up(c, d, KERNO_DROP_READ_FAULT);
			return 1;
		}
	}
	pos = x->off - x->win_off;
	if (pos >= KERNO_WIN)
		return 1;
	if (d->state == KERNO_H_HEADERS && !d->line_len) {
		/* Most header lines matter to nobody here: pass them all, then
		 * take the one that matters in the same step. */
		piece = pass_headers(x, scratch_of(x)->win, pos, x->win_len);
		if (piece > pos) {
			x->off += piece - pos;
			if (!header_budget_ok(c, d, piece - pos))
				return 1;
			pos = piece;
			if (pos >= x->win_len || pos >= KERNO_WIN)
				return 0; /* the window is used up: read the next */
		}
	}
	nl = find_newline(scratch_of(x)->win, pos, x->win_len);
	/*
	 * The search ends in one of many iterations, each with its own idea of
	 * nl's range: passing nl through map memory leaves one unknown value,
	 * so the rest of the step is verified once, not once per iteration.
	 */
	nl = launder(&x->nl, nl);
	if (nl < KERNO_WIN) {
		piece = nl - pos + 1;
		if (d->state == KERNO_H_HEADERS && !d->line_len &&
		    span_is_traceparent(scratch_of(x)->win, d, pos, nl)) {
			/* A traceparent header matters to spans only (header_matters() stops on it). */
			span_traceparent(c, d, scratch_of(x)->win, pos, nl);
			x->off += piece;
			return header_budget_ok(c, d, piece) ? 0 : 1;
		}
		total = d->line_len + piece;
		assemble_line(x, d, pos);
		x->off += piece;
		d->line_len = 0;
		d->part_len = 0;
		if (!header_budget_ok(c, d, piece))
			return 1;
		if (on_line(x, c, d, total, legacy)) {
			give_up(c, d, KERNO_DROP_BAD_MESSAGE);
			return 1;
		}
		return 0;
	}
	piece = x->win_len - pos;
	if (pos > 0 && x->win_off + x->win_len < x->len) {
		/* The line may end just past this window: read again from its start. */
		x->win_len = 0;
		return 0;
	}
	keep_part(x, d, pos, piece);
	d->line_len += piece;
	x->off += piece;
	if (!header_budget_ok(c, d, piece))
		return 1;
	return 0;
}

static __always_inline long skip_body(struct seg_ctx *x, struct kerno_conn *c,
				      struct kerno_http_dir *d)
{
	__u64 n = x->len - x->off;

	if (n > d->remaining)
		n = d->remaining;
	x->off += n;
	d->remaining -= n;
	if (d->remaining)
		return 0;
	if (d->state == KERNO_H_BODY) {
		message_done(c, d, x->now);
	} else {
		d->state = KERNO_H_CHUNK_SIZE;
		d->header_bytes = 0;
	}
	return 0;
}

/*
 * An unsynced direction starts parsing again only where a chunk starts with
 * a request or status line. One that never carried HTTP stops trying after a
 * few chunks: it is another protocol.
 */
static __always_inline long try_sync(struct seg_ctx *x, struct kerno_conn *c,
				     struct kerno_http_dir *d)
{
	int kind;

	if (x->off) {
		/* The rest of a chunk after a give-up, already counted. */
		x->off = x->len;
		return 1;
	}
	if (read_window(x) || x->win_len < 16) {
		kind = 0;
	} else {
		struct kerno_scratch *sc = scratch_of(x);

		__builtin_memcpy(sc->line, sc->win, 16);
		kind = classify_start(sc->line);
	}
	/* Once the role is known, a direction carries one kind of message only. */
	if (kind && c->role != KERNO_ROLE_UNKNOWN &&
	    (kind == 1) != ((c->role == KERNO_ROLE_SERVER) == (x->dir == KERNO_DIR_RX)))
		kind = 0;
	if (!kind) {
		count_conn(c, KERNO_DROP_UNPARSED);
		/* Only a connection that has shown no HTTP either way gives up. */
		if (c->role == KERNO_ROLE_UNKNOWN && ++d->sync_misses >= 4)
			d->state = KERNO_H_STOPPED;
		x->off = x->len;
		return 1;
	}
	d->flags = kind == 1 ? KERNO_F_REQUEST : KERNO_F_RESPONSE;
	if (c->role == KERNO_ROLE_UNKNOWN) {
		c->role = (kind == 1) == (x->dir == KERNO_DIR_RX) ? KERNO_ROLE_SERVER :
								    KERNO_ROLE_CLIENT;
		/* The other direction may have given up before this one synced. */
		if (dir_of(c, x->dir ^ 1)->state == KERNO_H_STOPPED)
			dir_of(c, x->dir ^ 1)->state = KERNO_H_UNSYNC;
	}
	reset_message(d, KERNO_H_START);
	return 0;
}

static __always_inline long http1_step(struct seg_ref *ref, const bool legacy)
{
	struct kerno_conn *c = ref->conn;
	struct seg_ctx *x = ref->x;
	struct kerno_http_dir *d;

	if (x->off >= x->len)
		return 1;
	d = dir_of(c, x->dir);
	switch (d->state) {
	case KERNO_H_BODY:
	case KERNO_H_CHUNK_DATA:
		return skip_body(x, c, d);
	case KERNO_H_UNSYNC:
		return try_sync(x, c, d);
	case KERNO_H_START:
	case KERNO_H_HEADERS:
	case KERNO_H_CHUNK_SIZE:
	case KERNO_H_TRAILERS:
		return line_step(x, c, d, legacy);
	default:
		/* Body until close, or not HTTP: nothing to look at. */
		x->off = x->len;
		return 1;
	}
}

/*
 * One step as a global function: the verifier checks it once, and the loop
 * that calls it (up to KERNO_MAX_STEPS times) costs one direct call a step.
 * The segment's state is in scratch. Returns non-zero when the segment is
 * done. Global functions take pointers to memory since Linux 5.12; the
 * legacy twins below take the connection's key instead, and look it up.
 */
__noinline int http1_step_g(struct kerno_conn *c)
{
	struct kerno_scratch *sc = get_scratch();
	struct seg_ref ref;

	if (!sc || !c)
		return 1;
	ref.conn = c;
	ref.x = &sc->seg;
	return http1_step(&ref, false);
}

__noinline int http1_step_legacy(__u64 conn_key)
{
	struct kerno_scratch *sc = get_scratch();
	struct seg_ref ref;

	ref.conn = bpf_map_lookup_elem(&conns, &conn_key);
	if (!sc || !ref.conn)
		return 1;
	ref.x = &sc->seg;
	return http1_step(&ref, true);
}

/*
 * The role of a connection is known (from its accept or connect): each
 * direction carries one kind of message, from a message boundary on.
 */
static __always_inline void http1_set_role(struct kerno_conn *c, __u8 role)
{
	__u8 rx = role == KERNO_ROLE_SERVER ? KERNO_F_REQUEST : KERNO_F_RESPONSE;

	c->role = role;
	c->dir[KERNO_DIR_RX].flags = rx;
	c->dir[KERNO_DIR_TX].flags = rx ^ KERNO_F_STREAM;
	c->dir[KERNO_DIR_RX].state = KERNO_H_START;
	c->dir[KERNO_DIR_TX].state = KERNO_H_START;
}

/* Parse `len` bytes at user address ubuf, carried by flow f. */
static __always_inline void http1_parse_flow(const struct flow *f, __u64 ubuf, __u32 len,
					     const bool legacy)
{
	struct kerno_conn *c = f->conn;
	struct kerno_scratch *sc = get_scratch();
	struct seg_ctx *x;
	__u32 i;

	if (!sc)
		return;
	x = seg_begin(sc, f, ubuf, len);
#pragma clang loop unroll(disable)
	for (i = 0; i < KERNO_MAX_STEPS; i++) {
		if (x->off >= x->len)
			break;
		if (legacy ? http1_step_legacy(f->key) : http1_step_g(c))
			break;
	}
	if (x->off < x->len && dir_of(c, x->dir)->state != KERNO_H_UNSYNC)
		give_up(c, dir_of(c, x->dir), KERNO_DROP_SCAN_LIMIT);
}

/*
 * The same as a global function, so the verifier checks it once rather than
 * once per call site (one per segment kind). dir_tid packs the direction
 * (high half) and thread.
 */
__noinline int http1_parse(struct kerno_conn *c, __u64 dir_tid, __u64 now, __u64 ubuf, __u32 len)
{
	struct flow f = {
		.conn = c,
		.now = now,
		.dir = dir_tid >> 32,
		.tid = (__u32)dir_tid,
	};

	if (f.conn)
		http1_parse_flow(&f, ubuf, len, false);
	return 0;
}

/* http1_parse() for kernels before 5.12: scalars only. */
__noinline int http1_parse_legacy(__u64 conn_key, __u64 dir_tid, __u64 now, __u64 ubuf, __u32 len)
{
	struct flow f = {};

	if (flow_of_key(&f, conn_key, dir_tid, now))
		http1_parse_flow(&f, ubuf, len, true);
	return 0;
}

/*
 * Do the next n bytes of direction dir lie inside a body? Then they need no
 * reading: counting them off is all the parse would do.
 */
static __always_inline int http1_body_covers(struct kerno_conn *c, __u32 dir, __u64 n)
{
	struct kerno_http_dir *d = dir_of(c, dir);

	return (d->state == KERNO_H_BODY || d->state == KERNO_H_CHUNK_DATA) && d->remaining >= n;
}

/*
 * Bytes the program cannot see (sendfile, segments past the scan limit): fine
 * inside a body, otherwise the stream is lost until the next message start.
 */
static __always_inline void http1_skip_opaque(struct kerno_conn *c, __u32 dir, __u64 n, __u64 now,
					      __u32 why)
{
	struct kerno_http_dir *d = dir_of(c, dir);

	switch (d->state) {
	case KERNO_H_BODY:
	case KERNO_H_CHUNK_DATA:
		if (d->remaining >= n) {
			d->remaining -= n;
			if (!d->remaining && d->state == KERNO_H_BODY) {
				message_done(c, d, now);
			} else if (!d->remaining) {
				/* As skip_body(): chunk-size lines count per chunk. */
				d->state = KERNO_H_CHUNK_SIZE;
				d->header_bytes = 0;
			}
			return;
		}
		break;
	case KERNO_H_BODY_EOF:
	case KERNO_H_STOPPED:
		return;
	}
	give_up(c, d, why);
}

/* The connection is closing: finish what the close completes, count the rest. */
static __always_inline void http1_close(struct kerno_conn *c, __u64 now)
{
	struct kerno_http_dir *d;
	__u32 i;

	for (i = 0; i < 2; i++) {
		d = dir_of(c, i);
		switch (d->state) {
		case KERNO_H_BODY_EOF:
			message_done(c, d, now);
			break;
		case KERNO_H_START:
			if (!d->line_len)
				break;
			/* fallthrough */
		case KERNO_H_HEADERS:
		case KERNO_H_BODY:
		case KERNO_H_CHUNK_SIZE:
		case KERNO_H_CHUNK_DATA:
		case KERNO_H_TRAILERS:
			give_up(c, d, KERNO_DROP_CLOSED_MID_MESSAGE);
			break;
		}
	}
	if (c->fifo_tail != c->fifo_head)
		count_conn_n(c, KERNO_DROP_NO_RESPONSE, c->fifo_tail - c->fifo_head);
}

#endif /* KERNO_HTTP1_BPF_H */
