/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * PostgreSQL (protocol 3) in the kernel. A request is a simple Query, or an
 * extended-protocol exchange up to its Sync; either ends with the server's
 * ReadyForQuery, which answers it. The operation is the statement's first
 * keyword (from Query or Parse) or EXECUTE for a prepared statement; an
 * ErrorResponse's SQLSTATE becomes the status. The statement text itself is
 * never kept. Included by proto.bpf.h.
 */
#ifndef KERNO_PROTO_PGSQL_BPF_H
#define KERNO_PROTO_PGSQL_BPF_H

#define PG_SSL_REQUEST 80877103
#define PG_GSSENC_REQUEST 80877104
#define PG_CANCEL_REQUEST 80877102
#define PG_IDX(i) ((i) & (2 * KERNO_PROTO_HEAD - 1))

/* Upper-case a word of ASCII letters in w (other bytes are left alone). */
static __always_inline __u64 upper8(__u64 w)
{
	__u64 lower = 0;
	__u32 i;

	for (i = 0; i < 8; i++) {
		__u8 ch = w >> (i * 8);

		if (ch >= 'a' && ch <= 'z')
			lower |= 0x20ULL << (i * 8);
	}
	return w & ~lower;
}

/*
 * The first keyword of a statement at v[pos, avail): blanks and a leading
 * parenthesis skipped. Only its first eight letters are compared.
 */
static __always_inline __u8 sql_verb(struct seg_ctx *x, const char *v, __u32 pos, __u32 avail)
{
	__u32 i, p, len = 0;
	__u64 w, mask;
	char ch;

	for (i = 0; i < 16; i++) {
		p = pos + i;
		if (p >= avail)
			return KERNO_SQL_OTHER;
		ch = v[PG_IDX(p)];
		if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n' && ch != '(')
			break;
	}
	/* Each way out of the loop knows p exactly: forget it, check the rest once. */
	pos = launder(&x->nl, p);
	for (i = 0; i < 9; i++) {
		if (pos + i >= avail)
			break;
		ch = v[PG_IDX(pos + i)];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
			break;
		len++;
	}
	len = launder(&x->nl, len);
	if (!len || len > 8)
		return KERNO_SQL_OTHER;
	mask = len >= 8 ? ~0ULL : (1ULL << (len * 8)) - 1;
	w = upper8(load64(v + PG_IDX(pos)) & mask);
	switch (w) {
	case W8('S', 'E', 'L', 'E', 'C', 'T', 0, 0):
		return KERNO_SQL_SELECT;
	case W8('I', 'N', 'S', 'E', 'R', 'T', 0, 0):
		return KERNO_SQL_INSERT;
	case W8('U', 'P', 'D', 'A', 'T', 'E', 0, 0):
		return KERNO_SQL_UPDATE;
	case W8('D', 'E', 'L', 'E', 'T', 'E', 0, 0):
		return KERNO_SQL_DELETE;
	case W8('B', 'E', 'G', 'I', 'N', 0, 0, 0):
	case W8('S', 'T', 'A', 'R', 'T', 0, 0, 0):
		return KERNO_SQL_BEGIN;
	case W8('C', 'O', 'M', 'M', 'I', 'T', 0, 0):
	case W8('E', 'N', 'D', 0, 0, 0, 0, 0):
		return KERNO_SQL_COMMIT;
	case W8('R', 'O', 'L', 'L', 'B', 'A', 'C', 'K'):
		return KERNO_SQL_ROLLBACK;
	case W8('C', 'R', 'E', 'A', 'T', 'E', 0, 0):
		return KERNO_SQL_CREATE;
	case W8('D', 'R', 'O', 'P', 0, 0, 0, 0):
		return KERNO_SQL_DROP;
	case W8('A', 'L', 'T', 'E', 'R', 0, 0, 0):
		return KERNO_SQL_ALTER;
	case W8('S', 'E', 'T', 0, 0, 0, 0, 0):
		return KERNO_SQL_SET;
	case W8('S', 'H', 'O', 'W', 0, 0, 0, 0):
		return KERNO_SQL_SHOW;
	case W8('W', 'I', 'T', 'H', 0, 0, 0, 0):
		return KERNO_SQL_WITH;
	case W8('C', 'O', 'P', 'Y', 0, 0, 0, 0):
		return KERNO_SQL_COPY;
	case W8('T', 'R', 'U', 'N', 'C', 'A', 'T', 'E'):
		return KERNO_SQL_TRUNCATE;
	case W8('V', 'A', 'C', 'U', 'U', 'M', 0, 0):
		return KERNO_SQL_VACUUM;
	case W8('C', 'A', 'L', 'L', 0, 0, 0, 0):
		return KERNO_SQL_CALL;
	case W8('E', 'X', 'E', 'C', 'U', 'T', 'E', 0):
		return KERNO_SQL_EXECUTE;
	case W8('P', 'R', 'E', 'P', 'A', 'R', 'E', 0):
		return KERNO_SQL_PREPARE;
	}
	return KERNO_SQL_OTHER;
}

/*
 * Bytes of the message whose head (total bytes in all) is in v[0, avail):
 * what the step consumes now, the rest skipped unread.
 */
static __always_inline long pg_consume(struct kerno_http_dir *d, __u64 total, __u32 avail)
{
	if (total <= avail)
		return total;
	d->remaining = total - avail;
	return avail;
}

/* Is the head of a message of `total` bytes in view as far as a parser needs (want bytes)? */
static __always_inline int pg_need_more(__u64 total, __u32 want, __u32 avail)
{
	if (want > total)
		want = total;
	return avail < want && avail < KERNO_PROTO_HEAD;
}

/* Messages from the client. */
static __always_inline long pg_frontend(struct kerno_conn *c, struct seg_ctx *x,
					struct kerno_http_dir *d, struct kerno_proto_dir *p,
					const char *v, __u32 avail)
{
	__u32 len, code, i, at;
	__u64 total;
	char t;

	if (!p->phase) {
		/* Untyped: the startup message, or a request that comes before it. */
		if (avail < 8)
			return PROTO_MORE;
		len = be32_at(v, 0);
		code = be32_at(v, 4);
		if (len < 8)
			return PROTO_BAD;
		if (code == PG_SSL_REQUEST || code == PG_GSSENC_REQUEST)
			pdir_of(c, x->dir ^ 1)->expect_ssl = 1;
		else if (code >> 16 == 3)
			p->phase = 1;
		else if (code != PG_CANCEL_REQUEST)
			return PROTO_BAD;
		return pg_consume(d, len, avail);
	}
	if (avail < 5)
		return PROTO_MORE;
	t = v[0];
	len = be32_at(v, 1);
	if (len < 4)
		return PROTO_BAD;
	total = (__u64)len + 1;
	switch (t) {
	case 'Q':
		if (pg_need_more(total, 5 + 24, avail))
			return PROTO_MORE;
		proto_push(c, x, sql_verb(x, v, 5, avail < total ? avail : total));
		break;
	case 'P':
		/* Parse: a statement name, then the statement. */
		if (pg_need_more(total, KERNO_PROTO_HEAD, avail))
			return PROTO_MORE;
		at = 0;
		for (i = 5; i < KERNO_PROTO_HEAD; i++) {
			if (i >= avail)
				break;
			if (!v[PG_IDX(i)]) {
				at = i + 1;
				break;
			}
		}
		if (!p->in_unit) {
			proto_push(c, x, KERNO_SQL_EXECUTE);
			p->in_unit = 1;
		}
		at = launder(&x->nl, at);
		if (proto_waiting(c) && at)
			proto_newest(c)->method = sql_verb(x, v, at, avail < total ? avail : total);
		break;
	case 'B':
	case 'E':
	case 'D':
	case 'C':
	case 'F':
	case 'S':
		if (!p->in_unit)
			proto_push(c, x, KERNO_SQL_EXECUTE);
		p->in_unit = t != 'S';
		break;
	}
	return pg_consume(d, total, avail);
}

/* The SQLSTATE of an ErrorResponse whose head is v[0, avail), packed; 0 if not in view. */
static __always_inline __u32 pg_sqlstate(struct seg_ctx *x, const char *v, __u32 avail)
{
	__u32 i, pos = 5, code = 0, k;
	int in_field = 0;
	char ch;

	/* Fields: a type byte, then a NUL-terminated string. */
	for (i = 5; i < KERNO_PROTO_HEAD; i++) {
		if (i >= avail)
			return 0;
		ch = v[PG_IDX(i)];
		if (in_field) {
			if (!ch)
				in_field = 0;
			continue;
		}
		if (!ch)
			return 0;
		if (ch == 'C') {
			pos = i + 1;
			break;
		}
		in_field = 1;
	}
	pos = launder(&x->nl, pos);
	if (pos + KERNO_SQLSTATE_LEN > avail)
		return 0;
	for (k = 0; k < KERNO_SQLSTATE_LEN; k++) {
		ch = v[PG_IDX(pos + k)];
		if (!is_digit(ch) && !(ch >= 'A' && ch <= 'Z'))
			return 0;
		code = code << 6 | (ch - '0' + 1);
	}
	return code;
}

/* Messages from the server. */
static __always_inline long pg_backend(struct kerno_conn *c, struct seg_ctx *x,
				       struct kerno_http_dir *d, struct kerno_proto_dir *p,
				       const char *v, __u32 avail)
{
	__u32 len, code;
	__u64 total;

	if (p->expect_ssl) {
		/* One byte: N goes on in the clear, S or G to an encrypted session. */
		p->expect_ssl = 0;
		if (v[0] != 'N')
			proto_plain(c);
		return 1;
	}
	if (avail < 5)
		return PROTO_MORE;
	len = be32_at(v, 1);
	if (len < 4)
		return PROTO_BAD;
	total = (__u64)len + 1;
	switch (v[0]) {
	case 'E':
		if (pg_need_more(total, KERNO_PROTO_HEAD, avail))
			return PROTO_MORE;
		code = pg_sqlstate(x, v, avail < total ? avail : total);
		if (!p->code)
			p->code = code ? code : 1;
		break;
	case 'Z':
		if (!p->phase) {
			/* The end of the startup: no request answered. */
			p->phase = 1;
			p->code = 0;
			break;
		}
		proto_answer(c, p->code ? 1 : 0, p->code > 1 ? p->code : 0, x->now);
		p->code = 0;
		break;
	}
	return pg_consume(d, total, avail);
}

#endif /* KERNO_PROTO_PGSQL_BPF_H */
