/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Structures shared by the capture programs (capture.bpf.c) and the
 * userspace that drains them. Everything here is also the layout that
 * `bpftool map dump pinned /sys/fs/bpf/kerno/<map>` prints through BTF, so
 * field names are chosen to read well there.
 */
#ifndef KERNO_CAPTURE_H
#define KERNO_CAPTURE_H

#include "hist.h"
#include "proto.h"

/* Process names (comm) whose connections are not measured, at most. */
#define KERNO_IGNORE_MAX 4

/* Bytes of the endpoint template kept per request (after templating). */
#define KERNO_PATH_LEN 48
/* Pipelined requests that may wait for their responses on one connection. */
#define KERNO_FIFO_LEN 16
/* Bytes kept of a line that spans two syscalls (start line or header). */
#define KERNO_LINE_KEEP 64

enum kerno_role {
	KERNO_ROLE_UNKNOWN = 0,
	KERNO_ROLE_CLIENT = 1,
	KERNO_ROLE_SERVER = 2,
};

enum kerno_method {
	KERNO_M_OTHER = 0,
	KERNO_M_GET,
	KERNO_M_HEAD,
	KERNO_M_POST,
	KERNO_M_PUT,
	KERNO_M_DELETE,
	KERNO_M_PATCH,
	KERNO_M_OPTIONS,
	KERNO_M_CONNECT,
	KERNO_M_TRACE,
	KERNO_M__COUNT,
};

/*
 * Counters kept by the kernel side, indexed into the per-CPU `counters`
 * array. The KERNO_DROP_* ones are losses: something was seen and not
 * measured. The KERNO_EV_* ones count connection events.
 */
enum kerno_counter {
	KERNO_DROP_CONN_TABLE_FULL = 0, /* connection not tracked: table full */
	KERNO_DROP_SERIES_TABLE_FULL, /* request measured, no room for its series */
	KERNO_DROP_UNPARSED, /* chunk on an unsynced stream that is not HTTP/1.x */
	KERNO_DROP_BAD_MESSAGE, /* malformed start line, header or chunk size */
	KERNO_DROP_HEADER_TOO_LONG, /* header block over max_header_bytes */
	KERNO_DROP_FIFO_FULL, /* more pipelined requests than KERNO_FIFO_LEN */
	KERNO_DROP_UNMATCHED_RESPONSE, /* response with no request waiting */
	KERNO_DROP_CLOSED_MID_MESSAGE, /* connection closed inside a message */
	KERNO_DROP_NO_RESPONSE, /* requests still waiting at close */
	KERNO_DROP_SCAN_LIMIT, /* iovecs, mmsg entries or lines past the per-call limit */
	KERNO_DROP_READ_FAULT, /* user memory could not be read */
	KERNO_DROP_OPAQUE_BYTES, /* bytes not in user memory (sendfile, splice, io_uring) outside a body */
	KERNO_DROP_PROG_MISSES, /* program runs the kernel skipped (recursion); filled
					 * in by userspace from bpf_prog_info */
	KERNO_DROP_SPAN_RINGBUF_FULL, /* sampled span lost: the span ring buffer was full */
	KERNO_DROP_SPAN_LOST, /* span work lost before sampling (more than a run can note) */
	KERNO_DROP_TLS_NO_CONN, /* TLS plaintext whose TCP connection is not known */
	KERNO_DROP_TLS_UNSEEN, /* TLS connection not measured: its handshake was not in a probed call */
	KERNO_DROP_EXEC_LOST, /* exec() notices lost (ring buffer full): processes not scanned */
	KERNO_DROP_H2_STREAMS_FULL, /* HTTP/2 stream not timed: the stream table was full */
	KERNO_DROP_H2_EVENTS_LOST, /* HTTP/2 header block piece or stream end lost: ring buffer full */
	KERNO_DROP_H2_BLOCK_TRUNCATED, /* HTTP/2 header block over KERNO_H2_BLOCK_MAX: its end left out */
	KERNO_DROP_TAIL_CALL, /* bytes not parsed: the tail call into the parser program failed */
	KERNO_DROP_H2_NO_HEADERS, /* HTTP/2 stream ended, its header blocks not decoded (userspace) */
	KERNO_DROP_PROC_TABLE_FULL, /* connection of a process with no room in procs: its name and
				       drops not kept per process */
	KERNO_DROP__COUNT,

	KERNO_EV_ACCEPTED = KERNO_DROP__COUNT, /* server connections opened (handshake done) */
	KERNO_EV_CONNECTED, /* client connections opened */
	KERNO_EV_CONNECT_FAILED, /* SYN_SENT -> CLOSE */
	KERNO_EV_CLOSED, /* tracked connections closed */
	KERNO_EV_ADOPTED, /* connections first seen mid-life (open before us) */
	KERNO_EV_REQUESTS, /* request/response exchanges measured */
	KERNO_EV_IGNORED, /* connections of processes on the ignore list */
	KERNO_EV_SPANS_SAMPLED, /* spans kept by the sampling (emitted or ringbuf_full) */
	KERNO_EV_SPANS_CAPPED, /* spans the sampling kept but the endpoint's rate cap refused */
	KERNO_COUNTER__COUNT,
};

/* Key of one metric series: one histogram per key in the `series` map. */
struct kerno_series_key {
	__u64 cgroup_id; /* cgroup v2 id of the process that owns the socket */
	__u32 tgid; /* that process */
	__u16 server_port; /* local port for servers, peer port for clients */
	__u16 status; /* HTTP status code */
	__u8 role; /* enum kerno_role */
	__u8 method; /* enum kerno_method */
	__u8 family; /* AF_INET or AF_INET6 */
	__u8 proto; /* enum kerno_proto */
	__u8 peer_addr[16]; /* client address for servers, server address for clients;
				 * IPv4 in the first four bytes */
	char path[KERNO_PATH_LEN]; /* endpoint template, NUL-padded; Redis: command name */
	__u32 code; /* protocol detail (see kern/proto.h): SQLSTATE, DNS query type */
};

/* Per-CPU value of a series: cumulative since the series was created. */
struct kerno_series_val {
	__u64 count;
	__u64 sum_ns;
	__u32 buckets[KERNO_HIST_BUCKETS];
};

/*
 * Value of a plain TCP series (`tcp_series`, keyed like `series`): closed
 * connections of no known protocol, their lifetimes and bytes. Shared by all
 * CPUs (updated atomically): such series come and go with ephemeral ports,
 * and a per-CPU entry costs an atomic per-CPU allocation each.
 */
struct kerno_tcp_val {
	struct kerno_series_val h; /* one observation per connection: its lifetime */
	__u64 rx_bytes;
	__u64 tx_bytes;
};

/*
 * Value of `h2_series` (kern/proto_http2.bpf.h): the running total of a
 * series the agent counts itself (HTTP/2, gRPC), written for `kerno top`.
 */
struct kerno_h2_total {
	struct kerno_series_val h;
	__u64 moved_ns; /* CLOCK_MONOTONIC when it last moved */
};

/*
 * A process that owned a tracked connection, so it can be named after it
 * exits, and what was lost of its traffic (cumulative, by enum
 * kerno_counter; the node-wide `counters` hold the totals).
 */
struct kerno_proc {
	char comm[16]; /* command name of the thread group leader */
	__u64 cgroup_id;
	__u64 drops[KERNO_DROP__COUNT];
};

enum kerno_http_state {
	KERNO_H_UNSYNC = 0, /* waiting for a message start at a chunk start */
	KERNO_H_START, /* in the start line */
	KERNO_H_HEADERS, /* in the header block */
	KERNO_H_BODY, /* `remaining` body bytes to skip */
	KERNO_H_CHUNK_SIZE, /* in a chunk-size line */
	KERNO_H_CHUNK_DATA, /* `remaining` bytes of chunk data and its CRLF */
	KERNO_H_TRAILERS, /* in the trailer block after the last chunk */
	KERNO_H_BODY_EOF, /* body runs until the connection closes */
	KERNO_H_STOPPED, /* no longer HTTP/1.x (upgraded or given up) */
};

enum kerno_msg_flags {
	KERNO_F_CHUNKED = 1 << 0, /* Transfer-Encoding ends in chunked */
	KERNO_F_LENGTH = 1 << 1, /* Content-Length seen */
	KERNO_F_REQUEST = 1 << 2, /* this stream carries requests */
	KERNO_F_RESPONSE = 1 << 3, /* this stream carries responses */
};

/* Parser state of one direction of a connection. */
struct kerno_http_dir {
	__u64 msg_start_ns; /* when the first byte of this message passed */
	__u64 remaining; /* body or chunk bytes still to skip */
	__u32 header_bytes; /* header bytes of this message so far */
	__u32 line_len; /* bytes of the line in progress so far */
	__u16 status; /* status of the response in progress */
	__u8 state; /* enum kerno_http_state */
	__u8 flags; /* enum kerno_msg_flags */
	__u8 method; /* method of the request in progress */
	__u8 part_len; /* bytes of `part` in use, at most KERNO_LINE_KEEP */
	__u8 sync_misses; /* chunks that did not start a message before first sync */
	__u8 pad;
	/* Head of a line that spans syscalls. Twice KERNO_LINE_KEEP so that
	 * masked offsets provably stay inside it. */
	char part[2 * KERNO_LINE_KEEP];
};

/* A request waiting for its response. */
struct kerno_req_slot {
	__u64 start_ns;
	__u32 tid; /* thread that carried the request */
	__u8 method;
	__u8 dropped_after; /* requests dropped for a full FIFO right after this one */
	__u8 span_flags; /* enum kerno_span_flags */
	__u8 pad;
	char path[KERNO_PATH_LEN];
	/* The request's span (kern/span.bpf.h); zero when spans are off. */
	__u8 trace_id[16];
	__u64 span_id;
	__u64 parent_id; /* 0: a root span */
	__u64 slow_ns; /* the endpoint's threshold, looked up at the response start */
};

/* One tracked TCP connection, keyed by its struct sock address. */
struct kerno_conn {
	/* Generation: when the entry was made (ns since boot). Two connections
	 * that ever had the same key (socket address) never share it. */
	__u64 id;
	__u64 cgroup_id;
	__u32 tgid;
	__u16 local_port;
	__u16 peer_port;
	__u8 local_addr[16];
	__u8 peer_addr[16];
	__u8 family;
	__u8 role; /* enum kerno_role */
	__u8 unanswered; /* coming responses whose requests were dropped */
	__u8 proto; /* enum kerno_proto: what the connection carries, once inferred */
	__u8 tls; /* enum kerno_tls_state (kern/tls_capture.h): ciphertext, plaintext from the uprobes */
	__u8 pad2[3];
	__u32 fifo_head; /* next request to answer (response side) */
	__u32 fifo_tail; /* next free slot (request side) */
	__u64 rx_bytes;
	__u64 tx_bytes;
	struct kerno_http_dir dir[2]; /* KERNO_DIR_RX, KERNO_DIR_TX */
	struct kerno_req_slot fifo[KERNO_FIFO_LEN];
	struct kerno_proto_dir pdir[2]; /* parsers other than HTTP/1.x, by direction */
};

/* ---- spans (kern/span.bpf.h, user/spans.c) ---- */

/* Payload bytes kept per direction of a sampled span, at most. */
#define KERNO_SPAN_PAYLOAD_MAX 4096
/* Slots of the per-endpoint thresholds and rate caps (a power of two). */
#define KERNO_SPAN_ENDPOINTS 16384

enum kerno_span_flags {
	KERNO_SPAN_F_TRACEPARENT = 1 << 0, /* ids from a traceparent header */
	KERNO_SPAN_F_LINKED = 1 << 1, /* parent: a client span of this node */
	KERNO_SPAN_F_THREAD = 1 << 2, /* parent: the span its thread was serving */
	KERNO_SPAN_F_REQ_PAYLOAD = 1 << 3, /* the request's first bytes were captured */
	KERNO_SPAN_F_RESP_PAYLOAD = 1 << 4, /* the response's first bytes were captured */
	/*
	 * A server span whose client, on this node, had not been seen sending
	 * its request by the time the server published it (the client's hook
	 * runs after the bytes reach the server): userspace links it to the
	 * client span with the same connection ends and seq (user/span_late.c).
	 */
	KERNO_SPAN_F_LINK_LATE = 1 << 5,
	/*
	 * A span whose trace id came from such a server span, through its
	 * thread (a child) or a link (the child's server): provisional as well.
	 */
	KERNO_SPAN_F_TRACE_LATE = 1 << 6,
};

/* Why a span was sampled (bits). */
enum kerno_span_reason {
	KERNO_SPAN_R_ERROR = 1 << 0, /* 5xx */
	KERNO_SPAN_R_CLIENT_ERROR = 1 << 1, /* 4xx */
	KERNO_SPAN_R_SLOW = 1 << 2, /* over the endpoint's threshold */
	KERNO_SPAN_R_BASELINE = 1 << 3, /* the trace id fell in the baseline */
};

/* The span a thread is serving (server requests) or inherited at fork. */
struct kerno_thread_span {
	__u8 trace_id[16];
	__u64 span_id;
	__u32 active; /* enum kerno_thread_span_state bits; 0 once the server span's response ended */
	__u32 server_tid; /* the thread serving the span (a forked child's record names its parent) */
};

enum kerno_thread_span_state {
	KERNO_TS_ACTIVE = 1 << 0,
	KERNO_TS_LATE = 1 << 1, /* the server span is not linked to its client yet */
	KERNO_TS_ADOPTED = 1 << 2, /* a child span took its (provisional) trace id */
};

/* A client request's span, for the server side of the same connection on this node. */
struct kerno_span_link_key {
	__u8 client_addr[16];
	__u8 server_addr[16];
	__u16 client_port;
	__u16 server_port;
	__u32 pad;
};

struct kerno_span_link {
	__u8 trace_id[16];
	__u64 span_id;
	__u32 seq; /* requests sent before this one on the connection */
	__u32 late; /* the client span's trace id is provisional (KERNO_SPAN_F_TRACE_LATE) */
	/* When stored (ns since boot): a link older than the server side's
	 * connection is an earlier connection's with the same two ends. */
	__u64 stored_ns;
};

/* Per endpoint slot: the sampling rate cap's window. */
struct kerno_span_cap {
	__u64 second; /* the window (seconds since boot) */
	__u64 count; /* spans kept in it */
};

/*
 * One sampled span on the ring buffer, followed by req_len bytes of the
 * request and resp_len bytes of the response.
 */
struct kerno_span_event {
	__u8 trace_id[16];
	__u64 span_id;
	__u64 parent_id;
	__u64 start_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 end_ns;
	__u64 cgroup_id;
	__u32 tgid;
	__u32 tid;
	__u8 local_addr[16];
	__u8 peer_addr[16];
	__u16 local_port;
	__u16 peer_port;
	__u16 status;
	__u8 role;
	__u8 method;
	__u8 family;
	__u8 reason; /* enum kerno_span_reason */
	__u8 flags; /* enum kerno_span_flags */
	__u8 proto; /* enum kerno_proto: HTTP/1, or a database's client request */
	__u16 req_len;
	__u16 resp_len;
	__u32 req_seq; /* the request's position on its connection (payload entries: the one held) */
	__u32 code; /* a database's error detail: PostgreSQL's packed SQLSTATE (kern/proto.h), or 0 */
	char path[KERNO_PATH_LEN];
	char payload[2 * KERNO_SPAN_PAYLOAD_MAX];
};

#define KERNO_SPAN_EVENT_HDR __builtin_offsetof(struct kerno_span_event, payload)

/*
 * Slot of an endpoint (process, port, role, method, template) in the
 * threshold and cap arrays: the same function on both sides. Colliding
 * endpoints share a slot (16384 of them; rare, and only approximate).
 */
static __always_inline __u32 kerno_endpoint_slot(__u32 tgid, __u16 port, __u8 role, __u8 method,
						 const __u64 *path_words)
{
	__u64 h = ((__u64)tgid << 32 | (__u64)port << 16 | (__u64)role << 8 | method) *
		  0x9e3779b97f4a7c15ULL;
	int i;

	for (i = 0; i < KERNO_PATH_LEN / 8; i++) {
		h ^= path_words[i];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return (__u32)(h >> 40) & (KERNO_SPAN_ENDPOINTS - 1);
}

enum kerno_dir {
	KERNO_DIR_RX = 0,
	KERNO_DIR_TX = 1,
};

#endif /* KERNO_CAPTURE_H */
