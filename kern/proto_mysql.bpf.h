/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * MySQL and MariaDB (client/server protocol 10) in the kernel. After the
 * handshake (the server's greeting, the client's answer and any
 * authentication rounds, up to the server's OK), each command packet from the
 * client is a request; its response is an OK or ERR packet, or a result set
 * (column count, column definitions, rows, and an EOF or OK packet that ends
 * it, unless it says more results follow), or for COM_STMT_PREPARE an OK with
 * parameter and column definitions. The operation is the statement's first
 * keyword (COM_QUERY) or the command (COM_STMT_EXECUTE...); an ERR packet's
 * error code becomes the status. Included by proto.bpf.h.
 */
#ifndef KERNO_PROTO_MYSQL_BPF_H
#define KERNO_PROTO_MYSQL_BPF_H

#define MY_HDR 4
#define MY_MAX_PACKET 0xffffff
#define MY_CLIENT_SSL 0x800
#define MY_CLIENT_DEPRECATE_EOF 0x1000000
#define MY_MORE_RESULTS 0x0008

#define COM_QUIT 0x01
#define COM_INIT_DB 0x02
#define COM_QUERY 0x03
#define COM_PING 0x0e
#define COM_STMT_PREPARE 0x16
#define COM_STMT_EXECUTE 0x17
#define COM_STMT_SEND_LONG_DATA 0x18
#define COM_STMT_CLOSE 0x19

/* Where the response side is (kerno_proto_dir.phase of the response direction). */
enum my_phase {
	MY_HANDSHAKE = 0, /* greeting and authentication, until an OK or ERR */
	MY_IDLE, /* the next packet starts a response */
	MY_COLUMNS, /* `left[0]` column definitions to come */
	MY_COLUMNS_EOF, /* the EOF packet after the column definitions */
	MY_ROWS, /* rows, until the packet that ends the result set */
	MY_PREPARED, /* `left[0]` definitions (and EOFs) of a prepared statement */
};

static __always_inline __u32 le16_at(const char *v, __u32 i)
{
	return (__u8)v[i & 127] | (__u32)(__u8)v[(i + 1) & 127] << 8;
}

static __always_inline __u32 le24_at(const char *v, __u32 i)
{
	return le16_at(v, i) | (__u32)(__u8)v[(i + 2) & 127] << 16;
}

/* The packet of `total` bytes (header included): consumed now, or in part and the rest skipped. */
static __always_inline long my_consume(struct kerno_http_dir *d, __u64 total, __u32 avail)
{
	return pg_consume(d, total, avail);
}

/* Packets from the client. */
static __always_inline long my_client(struct kerno_conn *c, struct seg_ctx *x,
				      struct kerno_http_dir *d, struct kerno_proto_dir *p,
				      const char *v, __u32 avail)
{
	struct kerno_proto_dir *resp = pdir_of(c, x->dir ^ 1);
	__u32 plen, caps;
	__u64 total;
	__u8 op;

	if (avail < MY_HDR + 1)
		return PROTO_MORE;
	plen = le24_at(v, 0);
	total = (__u64)plen + MY_HDR;
	if (p->in_unit) {
		/* The rest of a packet of 16 MiB or more. */
		p->in_unit = plen == MY_MAX_PACKET;
		return my_consume(d, total, avail);
	}
	p->in_unit = plen == MY_MAX_PACKET;
	if (resp->phase == MY_HANDSHAKE) {
		/* The answer to the greeting says what the client can do. */
		if (v[3] == 1 && plen >= 32) {
			if (avail < MY_HDR + 4)
				return PROTO_MORE;
			caps = le16_at(v, 4) | le16_at(v, 6) << 16;
			resp->no_eof = !!(caps & MY_CLIENT_DEPRECATE_EOF);
			if ((caps & MY_CLIENT_SSL) && plen == 32) {
				proto_plain(c); /* TLS from here on */
				return 1;
			}
		}
		return my_consume(d, total, avail);
	}
	if (v[3] != 0)
		return PROTO_BAD; /* a command starts a sequence */
	switch ((__u8)v[4]) {
	case COM_QUIT:
	case COM_STMT_CLOSE:
	case COM_STMT_SEND_LONG_DATA:
		return my_consume(d, total, avail); /* no response */
	case COM_QUERY:
		if (pg_need_more(total, MY_HDR + 1 + 24, avail))
			return PROTO_MORE;
		op = sql_verb(x, v, MY_HDR + 1, avail < total ? avail : total);
		break;
	case COM_STMT_PREPARE:
		op = KERNO_SQL_PREPARE;
		break;
	case COM_STMT_EXECUTE:
		op = KERNO_SQL_EXECUTE;
		break;
	case COM_PING:
		op = KERNO_SQL_PING;
		break;
	case COM_INIT_DB:
		op = KERNO_SQL_INIT_DB;
		break;
	default:
		op = KERNO_SQL_OTHER;
		break;
	}
	proto_push(c, x, op);
	return my_consume(d, total, avail);
}

/* The status flags of an OK or EOF packet whose payload starts at v[4] (1-byte counts only). */
static __always_inline __u32 my_status_flags(const char *v, __u8 first, __u32 plen)
{
	if (first == 0xfe && plen < 9)
		return plen >= 5 ? le16_at(v, MY_HDR + 3) : 0; /* EOF: warnings, then status */
	/* OK: affected rows and last insert id (lenenc), then status. */
	if ((__u8)v[MY_HDR + 1] >= 0xfb || (__u8)v[MY_HDR + 2] >= 0xfb || plen < 5)
		return 0;
	return le16_at(v, MY_HDR + 3);
}

/* A response ends with this packet: answered, unless more results follow. */
static __always_inline void my_end(struct kerno_conn *c, struct seg_ctx *x,
				   struct kerno_proto_dir *p, __u16 status, __u32 flags)
{
	if (flags & MY_MORE_RESULTS) {
		p->phase = MY_IDLE;
		p->code = 1; /* still the same request */
		return;
	}
	p->phase = MY_IDLE;
	p->code = 0;
	proto_answer(c, status, 0, x->now);
}

/* Packets from the server. */
static __always_inline long my_server(struct kerno_conn *c, struct seg_ctx *x,
				      struct kerno_http_dir *d, struct kerno_proto_dir *p,
				      const char *v, __u32 avail)
{
	__u32 plen;
	__u64 total;
	__u8 first;

	if (avail < MY_HDR + 1)
		return PROTO_MORE;
	plen = le24_at(v, 0);
	total = (__u64)plen + MY_HDR;
	if (p->in_unit) {
		p->in_unit = plen == MY_MAX_PACKET;
		return my_consume(d, total, avail);
	}
	p->in_unit = plen == MY_MAX_PACKET;
	if (pg_need_more(total, MY_HDR + 8, avail))
		return PROTO_MORE;
	first = v[MY_HDR];
	switch (p->phase) {
	case MY_HANDSHAKE:
		/* The greeting (10), then auth switch (0xfe) or more data (1), until OK or ERR. */
		if (first == 0x00 || first == 0xff)
			p->phase = MY_IDLE;
		break;
	case MY_IDLE:
		if (first == 0xff) {
			my_end(c, x, p, plen >= 3 ? le16_at(v, MY_HDR + 1) : 1, 0);
		} else if (first == 0x00 && plen >= 7 && proto_waiting(c) &&
			   proto_newest(c)->method == KERNO_SQL_PREPARE && !p->code) {
			/* COM_STMT_PREPARE_OK: columns and parameters (and EOFs) follow. */
			__u32 cols = le16_at(v, MY_HDR + 5), params = le16_at(v, MY_HDR + 7);
			__u32 n = cols + params;

			if (!p->no_eof)
				n += (cols > 0) + (params > 0);
			if (n) {
				p->left[0] = n;
				p->phase = MY_PREPARED;
			} else {
				my_end(c, x, p, 0, 0);
			}
		} else if (first == 0x00 || (first == 0xfe && plen < 9)) {
			my_end(c, x, p, 0, my_status_flags(v, first, plen));
		} else if (first == 0xfb) {
			return PROTO_BAD; /* LOCAL INFILE: not followed */
		} else {
			/* A result set: its column count (lenenc, 1 or 3 bytes here). */
			p->left[0] = first < 0xfb  ? first :
				     first == 0xfc ? le16_at(v, MY_HDR + 1) :
						     0;
			if (!p->left[0])
				return PROTO_BAD;
			p->phase = MY_COLUMNS;
		}
		break;
	case MY_COLUMNS:
		if (!--p->left[0])
			p->phase = p->no_eof ? MY_ROWS : MY_COLUMNS_EOF;
		break;
	case MY_COLUMNS_EOF:
		p->phase = MY_ROWS;
		break;
	case MY_ROWS:
		if (first == 0xff)
			my_end(c, x, p, plen >= 3 ? le16_at(v, MY_HDR + 1) : 1, 0);
		else if (first == 0xfe && (plen < 9 || (p->no_eof && plen < MY_MAX_PACKET)))
			my_end(c, x, p, 0, my_status_flags(v, first, plen));
		break;
	case MY_PREPARED:
		if (!--p->left[0])
			my_end(c, x, p, 0, 0);
		break;
	}
	return my_consume(d, total, avail);
}

#endif /* KERNO_PROTO_MYSQL_BPF_H */
