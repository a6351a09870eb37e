/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Redis (RESP2 and RESP3) in the kernel: a command is an array of bulk
 * strings whose first is its name; each reply, however nested, answers the
 * oldest command waiting (pipelining). The name is kept, upper-cased, as the
 * series' operation; an error reply's prefix becomes its status. Arguments
 * are skipped unread. Included by proto.bpf.h.
 */
#ifndef KERNO_PROTO_REDIS_BPF_H
#define KERNO_PROTO_REDIS_BPF_H

/* Bytes of a command name kept. */
#define REDIS_NAME_LEN 16
/* Nesting of aggregates followed in a reply. */
#define REDIS_DEPTH 16

#define R_IDX(i) ((i) & (2 * KERNO_PROTO_HEAD - 1))

/*
 * The integer of the RESP header line at v[0] (after its type byte) and
 * where the line ends (just past "\r\n"). Returns 1, 0 when the line is not
 * complete in v[0, avail), -1 when it is malformed.
 */
static __always_inline int resp_int(const char *v, __u32 avail, __s64 *val, __u32 *end)
{
	__s64 x = 0;
	__u32 i;
	int neg = 0;
	char ch;

	for (i = 1; i < 22; i++) {
		if (i + 1 >= avail)
			return 0;
		ch = v[i];
		if (ch == '\r') {
			if (v[i + 1] != '\n' || i == 1 + neg)
				return -1;
			*val = neg ? -x : x;
			*end = i + 2;
			return 1;
		}
		if (ch == '-' && i == 1) {
			neg = 1;
			continue;
		}
		if (!is_digit(ch))
			return -1;
		x = x * 10 + (ch - '0');
	}
	return -1;
}

/* Where the line at v[0] ends (past '\n') in v[0, avail), or 0 if not there. */
static __always_inline __u32 resp_line_end(const char *v, __u32 avail)
{
	__u32 i;

	for (i = 0; i < KERNO_PROTO_HEAD; i++) {
		if (i >= avail)
			return 0;
		if (v[i] == '\n')
			return i + 1;
	}
	return 0;
}

/* Upper-case copy of a command name at v[pos], up to REDIS_NAME_LEN bytes. */
static __always_inline void redis_name(struct kerno_req_slot *s, const char *v, __u32 pos, __u32 n)
{
	__u32 i;
	char ch;

	for (i = 0; i < REDIS_NAME_LEN; i++) {
		if (i >= n)
			break;
		ch = v[R_IDX(pos + i)];
		if (ch >= 'a' && ch <= 'z')
			ch -= 'a' - 'A';
		if (ch == ' ' || ch == '\r' || ch == '\n')
			break;
		s->path[i] = ch;
	}
}

/* A command that is not an array: "PING\r\n" (an inline command). */
static __always_inline long redis_inline(struct kerno_conn *c, struct seg_ctx *x,
					 struct kerno_proto_dir *p, const char *v, __u32 avail)
{
	__u32 end = resp_line_end(v, avail);

	if (!end && avail < KERNO_PROTO_HEAD)
		return PROTO_MORE;
	if (proto_push(c, x, 0))
		redis_name(proto_newest(c), v, 0, avail);
	if (end)
		return end;
	p->skip_line = 1;
	return avail;
}

/*
 * A bulk string whose header line ends at v[end] and holds n bytes: skipped,
 * in view or over the following bytes. Returns the bytes consumed now.
 */
static __always_inline long resp_skip_bulk(struct kerno_http_dir *d, __u32 end, __u32 n,
					   __u32 avail)
{
	if (end + n + 2 <= avail)
		return end + n + 2;
	d->remaining = end + n + 2 - avail;
	return avail;
}

/* One token of the commands from the client: v[0, avail) is what comes next. */
static __always_inline long redis_request(struct kerno_conn *c, struct seg_ctx *x,
					  struct kerno_http_dir *d, struct kerno_proto_dir *p,
					  const char *v, __u32 avail)
{
	__u32 end, len;
	__s64 n;
	int r;

	if (!p->left[0] && v[0] != '*') {
		if (v[0] == '\r' || v[0] == '\n')
			return 1; /* blank line between inline commands */
		return redis_inline(c, x, p, v, avail);
	}
	if (p->left[0] && v[0] != '$')
		return PROTO_BAD;
	r = resp_int(v, avail, &n, &end);
	if (r <= 0)
		return r < 0 ? PROTO_BAD : PROTO_MORE;
	/* Each way out of the loop above knows end exactly: forget it, check once. */
	end = launder(&x->nl, end);
	if (!p->left[0]) {
		if (n > 0) {
			p->left[0] = n > 0x7fffffff ? 0x7fffffff : n;
			p->want_name = proto_push(c, x, 0);
		}
		return end;
	}
	if (n < 0 || n > 0x7fffffff)
		return PROTO_BAD;
	len = launder(&x->nl, n);
	if (p->want_name) {
		/* The name must be in view whole (or its first bytes, if long). */
		if (end + (len < REDIS_NAME_LEN ? len : REDIS_NAME_LEN) > avail)
			return PROTO_MORE;
		if (proto_waiting(c))
			redis_name(proto_newest(c), v, end, len);
		p->want_name = 0;
	}
	p->left[0]--;
	return resp_skip_bulk(d, end, len, avail);
}
/* Which error an error reply's first word names. */
static __always_inline __u16 redis_error_kind(const char *v, __u32 pos)
{
	__u64 w = load64(v + R_IDX(pos));
	__u32 w4 = (__u32)w;

	if ((w4 & 0xffffff) == W4('E', 'R', 'R', 0) && ((w >> 24) & 0xff) <= ' ')
		return KERNO_REDIS_ERR;
	if (w == W8('W', 'R', 'O', 'N', 'G', 'T', 'Y', 'P'))
		return KERNO_REDIS_WRONGTYPE;
	if (w4 == W4('M', 'O', 'V', 'E') && ((w >> 32) & 0xff) == 'D')
		return KERNO_REDIS_MOVED;
	if ((w4 & 0xffffff) == W4('A', 'S', 'K', 0) && ((w >> 24) & 0xff) <= ' ')
		return KERNO_REDIS_ASK;
	if (w4 == W4('N', 'O', 'A', 'U') && ((w >> 32) & 0xffff) == W4('T', 'H', 0, 0))
		return KERNO_REDIS_NOAUTH;
	if (w == W8('N', 'O', 'S', 'C', 'R', 'I', 'P', 'T'))
		return KERNO_REDIS_NOSCRIPT;
	if (w4 == W4('B', 'U', 'S', 'Y') && ((w >> 32) & 0xff) <= ' ')
		return KERNO_REDIS_BUSY;
	if (w4 == W4('L', 'O', 'A', 'D') && ((w >> 32) & 0xffffff) == W4('I', 'N', 'G', 0))
		return KERNO_REDIS_LOADING;
	if (w == W8('R', 'E', 'A', 'D', 'O', 'N', 'L', 'Y'))
		return KERNO_REDIS_READONLY;
	if (w == W8('E', 'X', 'E', 'C', 'A', 'B', 'O', 'R'))
		return KERNO_REDIS_EXECABORT;
	if (w4 == W4('N', 'O', 'P', 'E') && ((w >> 32) & 0xff) == 'R')
		return KERNO_REDIS_NOPERM;
	if ((w4 & 0xffffff) == W4('O', 'O', 'M', 0) && ((w >> 24) & 0xff) <= ' ')
		return KERNO_REDIS_OOM;
	return KERNO_REDIS_ERR_OTHER;
}

/*
 * One element of a reply is complete: close the aggregates it completes.
 * Returns 1 when that completes the reply itself.
 */
static __always_inline int redis_element_done(struct kerno_proto_dir *p)
{
	__u32 i, dp;

	for (i = 0; i < REDIS_DEPTH + 1; i++) {
		dp = p->depth;
		if (!dp)
			return 1;
		dp = (dp - 1) & (REDIS_DEPTH - 1);
		if (--p->left[dp])
			return 0;
		p->depth--;
	}
	return 0;
}

/*
 * One token of the replies from the server: v[0, avail) is what comes
 * next. Sets *elem when the token is a whole element (not an aggregate's
 * header); returns the bytes consumed.
 */
static __always_inline long redis_reply_token(struct seg_ctx *x, struct kerno_http_dir *d,
					      struct kerno_proto_dir *p, const char *v, __u32 avail,
					      int *elem)
{
	__u32 end, len;
	char t = v[0];
	__s64 n;
	int r;

	switch (t) {
	case '+':
	case '-':
	case ':':
	case '_':
	case ',':
	case '#':
	case '(':
		if (t == '-' && !p->depth && !p->code) {
			if (avail < 9 && avail < KERNO_PROTO_HEAD)
				return PROTO_MORE;
			p->code = redis_error_kind(v, 1);
		}
		*elem = 1;
		end = resp_line_end(v, avail);
		if (end)
			return end;
		p->skip_line = 1;
		return avail;
	case '$':
	case '!':
	case '=':
	case '*':
	case '~':
	case '%':
	case '>':
		break;
	default:
		return PROTO_BAD;
	}
	r = resp_int(v, avail, &n, &end);
	if (r <= 0)
		return r < 0 ? PROTO_BAD : PROTO_MORE;
	end = launder(&x->nl, end);
	if (n > 0x3fffffff)
		return PROTO_BAD;
	if (t == '$' || t == '!' || t == '=') {
		if (t == '!' && !p->depth && !p->code)
			p->code = KERNO_REDIS_ERR_OTHER;
		*elem = 1;
		if (n < 0)
			return end;
		len = launder(&x->nl, n);
		return resp_skip_bulk(d, end, len, avail);
	}
	if (t == '%')
		n *= 2;
	if (n <= 0) {
		*elem = 1;
		return end;
	}
	if (p->depth >= REDIS_DEPTH)
		return PROTO_BAD;
	p->left[p->depth & (REDIS_DEPTH - 1)] = n;
	p->depth++;
	return end;
}

/* A reply token; a complete reply answers the oldest command waiting. */
static __always_inline long redis_reply(struct kerno_conn *c, struct seg_ctx *x,
					struct kerno_http_dir *d, struct kerno_proto_dir *p,
					const char *v, __u32 avail)
{
	int elem = 0;
	long used = redis_reply_token(x, d, p, v, avail, &elem);

	if (used > 0 && elem && redis_element_done(p)) {
		proto_answer(c, p->code, 0, x->now);
		p->code = 0;
	}
	return used;
}

#endif /* KERNO_PROTO_REDIS_BPF_H */
