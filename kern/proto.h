/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Protocols other than HTTP/1.x: what the kernel infers a connection carries,
 * the per-direction state of their parsers, and the codes they put in a
 * series key (operation in `method`, status in `status`, detail in `code`).
 * Shared by the capture programs and userspace, which names the codes.
 */
#ifndef KERNO_PROTO_H
#define KERNO_PROTO_H

/* What a connection carries (kerno_conn.proto) and what a series measures. */
enum kerno_proto {
	KERNO_P_UNDECIDED = 0, /* no verdict yet (connections only) */
	KERNO_P_HTTP1, /* HTTP/1.x: kern/http1.bpf.h */
	KERNO_P_TCP, /* unknown: bytes and duration per connection only */
	KERNO_P_REDIS, /* RESP2/RESP3 */
	KERNO_P_PGSQL, /* PostgreSQL frontend/backend protocol 3 */
	KERNO_P_MYSQL, /* MySQL/MariaDB client/server protocol */
	KERNO_P_DNS, /* DNS over TCP (two-byte length prefix) or UDP */
	KERNO_P_HTTP2, /* HTTP/2, prior knowledge or ALPN h2: kern/proto_http2.bpf.h */
	KERNO_P_GRPC, /* series only: HTTP/2 streams of content-type application/grpc */
	KERNO_P__COUNT,
};

/*
 * Operation of a SQL request (`method` of a PostgreSQL or MySQL series):
 * the statement's first keyword, or the protocol phase when the statement
 * text is not in the request (a prepared statement executed).
 */
enum kerno_sql_op {
	KERNO_SQL_OTHER = 0,
	KERNO_SQL_SELECT,
	KERNO_SQL_INSERT,
	KERNO_SQL_UPDATE,
	KERNO_SQL_DELETE,
	KERNO_SQL_BEGIN,
	KERNO_SQL_COMMIT,
	KERNO_SQL_ROLLBACK,
	KERNO_SQL_CREATE,
	KERNO_SQL_DROP,
	KERNO_SQL_ALTER,
	KERNO_SQL_SET,
	KERNO_SQL_SHOW,
	KERNO_SQL_WITH,
	KERNO_SQL_COPY,
	KERNO_SQL_TRUNCATE,
	KERNO_SQL_VACUUM,
	KERNO_SQL_CALL,
	KERNO_SQL_EXECUTE, /* a prepared statement (PostgreSQL Bind/Execute, COM_STMT_EXECUTE) */
	KERNO_SQL_PREPARE, /* COM_STMT_PREPARE */
	KERNO_SQL_PING, /* COM_PING */
	KERNO_SQL_INIT_DB, /* COM_INIT_DB */
	KERNO_SQL__COUNT,
};

/* Transport of a DNS series (`method`). */
enum kerno_dns_transport {
	KERNO_DNS_UDP = 0,
	KERNO_DNS_TCP = 1,
};

/* Redis error replies (`status` of a Redis series; 0 when the reply is no error). */
enum kerno_redis_err {
	KERNO_REDIS_OK = 0,
	KERNO_REDIS_ERR_OTHER, /* an error reply with another prefix */
	KERNO_REDIS_ERR, /* -ERR */
	KERNO_REDIS_WRONGTYPE,
	KERNO_REDIS_MOVED,
	KERNO_REDIS_ASK,
	KERNO_REDIS_NOAUTH,
	KERNO_REDIS_NOSCRIPT,
	KERNO_REDIS_BUSY,
	KERNO_REDIS_LOADING,
	KERNO_REDIS_READONLY,
	KERNO_REDIS_EXECABORT,
	KERNO_REDIS_NOPERM,
	KERNO_REDIS_OOM,
	KERNO_REDIS_ERR__COUNT,
};

/*
 * A PostgreSQL SQLSTATE in a series' `code`: five characters of [0-9A-Z],
 * six bits each (the character minus '0', plus one), first character
 * highest; 0 when the request did not fail. A failed one has `status` 1.
 */
#define KERNO_SQLSTATE_LEN 5

/*
 * Parser state of one direction for the protocols above (kerno_conn.pdir);
 * the byte bookkeeping (bytes to skip, a message head split over two
 * syscalls) lives in the direction's kerno_http_dir.
 */
struct kerno_proto_dir {
	__u32 left[16]; /* Redis: elements still to come per open aggregate */
	__u32 code; /* PostgreSQL: SQLSTATE of the first error of the request */
	__u8 depth; /* Redis: open aggregates */
	__u8 skip_line; /* Redis: the rest of a long line is skipped */
	__u8 want_name; /* Redis: the next bulk string is a command name */
	__u8 phase; /* PostgreSQL: 0 before the startup message or first ReadyForQuery;
		     * MySQL: 0 in the handshake, then where a response is (enum in
		     * proto_mysql.bpf.h) */
	__u8 in_unit; /* PostgreSQL: an extended-protocol request is open (until Sync);
		       * MySQL: the next packet continues a 16 MiB one */
	__u8 expect_ssl; /* PostgreSQL: a one-byte answer to SSLRequest comes next */
	__u8 probes; /* chunks seen before a verdict */
	__u8 no_eof; /* MySQL: result sets end without EOF packets (CLIENT_DEPRECATE_EOF) */
	/* HTTP/2: the frame whose payload passes now, and the header block in progress. */
	__u32 h2_stream; /* its stream id */
	__u32 h2_end_pending; /* a stream whose END_STREAM waits for its block's END_HEADERS */
	__u32 h2_block_bytes; /* bytes of the block shipped so far */
	__u32 h2_seq; /* header-block pieces shipped in this direction */
	__u8 h2_type; /* frame type */
	__u8 h2_flags; /* frame flags */
	__u8 h2_ship; /* the payload goes to userspace (a header block) */
	__u8 h2_first; /* the next piece is the frame payload's first */
};

/*
 * HTTP/2 in the kernel finds frames and times streams; the header blocks
 * (HPACK, which needs the connection's dynamic table) go to userspace
 * (user/h2streams.c) on the h2_events ring buffer, which also carries the
 * end of each stream: userspace joins the two into one series observation.
 */
#define KERNO_H2_PIECE 512 /* bytes of a header block per event, at most */
#define KERNO_H2_BLOCK_MAX 16384 /* bytes of one header block shipped, at most */
#define KERNO_H2_STREAMS 16384 /* streams open at once, node-wide */

/* A connection as both sides name it: its generation and ports. */
struct kerno_h2_conn_ref {
	__u64 conn_id; /* kerno_conn.id */
	__u16 local_port;
	__u16 peer_port;
	__u32 pad;
};

/* Key of h2_streams: a stream of one connection. */
struct kerno_h2_stream_key {
	struct kerno_h2_conn_ref conn;
	__u32 stream_id;
	__u32 pad;
};

struct kerno_h2_stream {
	__u64 start_ns; /* the request's HEADERS */
};

enum kerno_h2_event_kind {
	KERNO_H2_EV_BLOCK = 1, /* a piece of a HEADERS, CONTINUATION or PUSH_PROMISE payload */
	KERNO_H2_EV_END, /* a stream's response ended (END_STREAM) */
	KERNO_H2_EV_RESET, /* a stream ended by RST_STREAM */
	KERNO_H2_EV_CLOSE, /* the connection closed */
};

/* Piece flags (kerno_h2_event.piece). */
#define KERNO_H2_PIECE_FIRST 1 /* the first bytes of the frame's payload */
#define KERNO_H2_PIECE_LAST 2 /* the last bytes of it */
#define KERNO_H2_PIECE_TRUNCATED 4 /* the block went over KERNO_H2_BLOCK_MAX: bytes left out */

/* One event on h2_events: the header, then `len` bytes for a block piece. */
struct kerno_h2_event {
	struct kerno_h2_conn_ref conn;
	__u64 dur_ns; /* END, RESET: request HEADERS to the end */
	__u64 end_ns; /* END, RESET: when it ended (bpf_ktime_get_ns), for the stream's span */
	__u64 cgroup_id;
	__u32 tgid;
	__u32 stream_id;
	__u32 seq; /* BLOCK: pieces of this direction before this one */
	__u16 len; /* BLOCK: bytes in data */
	__u16 server_port;
	__u8 peer_addr[16];
	__u8 kind; /* enum kerno_h2_event_kind */
	__u8 dir; /* KERNO_DIR_RX or KERNO_DIR_TX */
	__u8 role;
	__u8 family;
	__u8 frame_type;
	__u8 frame_flags;
	__u8 piece; /* KERNO_H2_PIECE_* */
	__u8 pad;
	char data[KERNO_H2_PIECE];
};

#define KERNO_H2_EVENT_HDR __builtin_offsetof(struct kerno_h2_event, data)

#endif /* KERNO_PROTO_H */
