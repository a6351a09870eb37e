// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TLS plaintext: uprobes on the TLS libraries' read and write calls feed
 * the same HTTP/1.x parser and connection table as the socket hooks
 * (kern/capture.bpf.c), so an HTTPS request is measured like a plain one.
 *
 *   OpenSSL 1.1/3.x and BoringSSL, shared or linked in: SSL_read,
 *   SSL_write, SSL_read_ex, SSL_write_ex and SSL_do_handshake, entry and
 *   return. The entry keeps the call per thread (tls_calls); the socket I/O
 *   the call does in that thread names its socket (kern/tls_sock.bpf.h);
 *   the return parses the plaintext on that connection. A read served from
 *   the library's buffer does no I/O: the last socket of each SSL object is
 *   kept (tls_ssl_socks).
 *
 *   Go crypto/tls (1.17+, register ABI): (*Conn).Write at entry, (*Conn).Read
 *   at entry and at each of its RET instructions (uretprobes would corrupt
 *   Go's moving stacks), keyed by goroutine; the socket comes from the
 *   tls.Conn's file descriptor. (*Conn).handshakeContext marks the
 *   connection TLS before its first byte.
 *
 * A separate object from the capture, loaded only when TLS capture is on:
 * userspace hands it the capture's maps (bpf_map__reuse_fd), so both write
 * one connection table, one series table and one set of counters, and its
 * span settings and span maps: an HTTPS request is a span like a plain one.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "capture.h"
#include "capture_maps.bpf.h"
#include "http1.bpf.h"
/* The protocol inference and parsers: HTTP/2 over TLS (h2) above all. */
#define KERNO_PROTO_NO_UDP
#include "proto.bpf.h"
#include "fd_sock.bpf.h"
#include "tls_sock.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The socket an SSL object last did I/O on, per process. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct kerno_tls_ssl_key);
	__type(value, __u64);
} tls_ssl_socks SEC(".maps");

/* Go Read/Write calls in progress, per goroutine. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct kerno_tls_go_key);
	__type(value, struct kerno_tls_go_call);
} tls_go_calls SEC(".maps");

/* Processes that called exec(), for userspace to scan. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} exec_events SEC(".maps");

/* A drop with no connection to blame: counted node-wide and for the process. */
static __always_inline void count_tgid(__u32 tgid, __u32 which)
{
	struct kerno_proc *p = bpf_map_lookup_elem(&procs, &tgid);

	count(which);
	if (p)
		__sync_fetch_and_add(&p->drops[which], 1);
}

/*
 * HTTP/2 over TLS (ALPN h2): told from HTTP/1.x by the first plaintext bytes
 * of either direction (the client preface, or the server's SETTINGS), then
 * parsed like h2c (kern/proto_http2.bpf.h). Only HTTP/2: the other parsers
 * of proto.bpf.h would double the verifier's work on these programs.
 * Returns 1 when the bytes were HTTP/2's.
 */
static __always_inline int tls_h2_flow(const struct flow *f, __u64 ubuf, __u32 len,
				       const bool legacy)
{
	struct kerno_conn *c = f->conn;
	char head[KERNO_CLASSIFY_LEN] = {};
	__u32 n = len < KERNO_CLASSIFY_LEN ? len : KERNO_CLASSIFY_LEN;

	if (c->proto == KERNO_P_UNDECIDED && len >= 9 &&
	    !bpf_probe_read_user(head, bounded_index(n, KERNO_CLASSIFY_LEN + 1, KERNO_CLASSIFY_LEN),
				 (const void *)ubuf)) {
		if (n == KERNO_CLASSIFY_LEN &&
		    load64(head) == W8('P', 'R', 'I', ' ', '*', ' ', 'H', 'T') &&
		    load64(head + 8) == W8('T', 'P', '/', '2', '.', '0', '\r', '\n'))
			proto_begin(c, KERNO_P_HTTP2, f->dir & 1);
		else if (h2_is_server_settings(head))
			proto_begin(c, KERNO_P_HTTP2, (f->dir & 1) ^ 1);
		if (c->proto == KERNO_P_HTTP2)
			h2_begin(c);
	}
	if (c->proto != KERNO_P_HTTP2)
		return 0;
	h2_parse_flow(f, ubuf, len, legacy);
	return 1;
}

__noinline int tls_h2(struct kerno_conn *c, __u64 dir_tid, __u64 now, __u64 ubuf, __u32 len)
{
	struct flow f = { .conn = c, .now = now, .dir = dir_tid >> 32, .tid = (__u32)dir_tid };

	return c ? tls_h2_flow(&f, ubuf, len, false) : 0;
}

__noinline int tls_h2_legacy(__u64 conn_key, __u64 dir_tid, __u64 now, __u64 ubuf, __u32 len)
{
	struct flow f = {};

	return flow_of_key(&f, conn_key, dir_tid, now) ? tls_h2_flow(&f, ubuf, len, true) : 0;
}

/*
 * The parsers (HTTP/1.x, and HTTP/2 above), in a program of their own that the probes tail-call
 * (as the capture's hooks do, kern/capture.bpf.c, "One parser per hook"):
 * the verifier checks it once rather than once per probe. Every probe is a
 * kprobe program: one parser serves them all.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tls_parse_jmp SEC(".maps");

/*
 * n bytes of plaintext at buf, moved by op on the connection of socket sk.
 * The connection must be one the socket hooks marked TLS: a socket address
 * reused by a plain connection since is not mistaken for it. Comes back only
 * when the tail call into the parser failed: the bytes are lost, and counted.
 */
static __always_inline void tls_plaintext(void *ctx, __u64 sk, __u32 op, __u64 buf, __s64 n)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 dir = op == KERNO_TLS_READ ? KERNO_DIR_RX : KERNO_DIR_TX;
	struct kerno_conn *c = sk ? bpf_map_lookup_elem(&conns, &sk) : NULL;
	struct kerno_scratch *sc;
	struct parse_job *j;

	if (!c || !c->tls || c->tgid != (pid_tgid >> 32)) {
		count_tgid(pid_tgid >> 32, KERNO_DROP_TLS_NO_CONN);
		return;
	}
	if (c->tls != KERNO_TLS_MEASURED)
		return; /* counted once, as tls_unseen */
	if (n > 0x7fffffff)
		n = 0x7fffffff;
	if (dir_of(c, dir)->state == KERNO_H_STOPPED)
		return;
	sc = get_scratch();
	if (sc) {
		j = &sc->job;
		j->pid_tgid = pid_tgid;
		j->key = sk;
		j->now = bpf_ktime_get_ns();
		j->buf = buf;
		j->ret = n;
		j->dir = dir;
		bpf_tail_call(ctx, &tls_parse_jmp, 0);
		j->pid_tgid = 0;
	}
	if (c->proto == KERNO_P_HTTP1 || c->proto == KERNO_P_UNDECIDED)
		give_up(c, dir_of(c, dir), KERNO_DROP_TAIL_CALL);
	else
		proto_give_up(c, dir_of(c, dir), KERNO_DROP_TAIL_CALL);
}

/* The parser program: the job its probe left (parse_job_claim()). */
static __always_inline int tls_parse_job(const bool legacy)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), key, dir_tid;
	struct parse_job *j = parse_job_claim(pid_tgid);
	struct kerno_conn *c;

	if (!j)
		return 0;
	key = j->key;
	dir_tid = (__u64)(j->dir & 1) << 32 | (__u32)pid_tgid;
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return 0;
	if (c->proto != KERNO_P_HTTP1 &&
	    (legacy ? tls_h2_legacy(key, dir_tid, j->now, j->buf, j->ret) :
		      tls_h2(c, dir_tid, j->now, j->buf, j->ret)))
		return 0;
	if (legacy)
		http1_parse_legacy(key, dir_tid, j->now, j->buf, j->ret);
	else
		http1_parse(c, dir_tid, j->now, j->buf, j->ret);
	/* The span work the parse noted, done as the socket hooks do (kern/span.bpf.h). */
	if (!spans_enabled)
		return 0;
	if (legacy)
		span_flush_legacy(key);
	else
		span_flush(c);
	return 0;
}

SEC("uprobe")
int kerno_tls_parse(struct pt_regs *ctx)
{
	return tls_parse_job(false);
}

/* Kernels before 5.12: the parser's global functions take scalars only. */
SEC("uprobe")
int kerno_tls_parse_legacy(struct pt_regs *ctx)
{
	return tls_parse_job(true);
}

/* ---- OpenSSL and BoringSSL ---- */

static __always_inline int ssl_enter(__u64 ssl, __u64 buf, __u64 nbytes_ptr, __u8 op)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct kerno_tls_call call = { .ssl = ssl, .buf = buf, .nbytes_ptr = nbytes_ptr, .op = op };
	struct kerno_tls_call *t;

	if ((pid_tgid >> 32) == self_tgid)
		return 0;
	t = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	if (t && t->ssl == ssl) {
		t->depth++;
		return 0;
	}
	/* Any other entry is left over by a call whose return was not seen. */
	bpf_map_update_elem(&tls_calls, &pid_tgid, &call, BPF_ANY);
	return 0;
}

/* ret: the int every one of these functions returns (RAX's upper half is not part of it). */
static __always_inline int ssl_exit(void *ctx, int ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct kerno_tls_ssl_key key = { .tgid = pid_tgid >> 32 };
	struct kerno_tls_call *t = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	struct kerno_tls_call call;
	__u64 *known, n = 0;

	if (!t)
		return 0;
	if (t->depth) {
		t->depth--;
		return 0;
	}
	call = *t;
	bpf_map_delete_elem(&tls_calls, &pid_tgid);
	key.ssl = call.ssl;
	if (call.sk) {
		bpf_map_update_elem(&tls_ssl_socks, &key, &call.sk, BPF_ANY);
	} else {
		known = bpf_map_lookup_elem(&tls_ssl_socks, &key);
		if (known)
			call.sk = *known;
	}
	if (call.op == KERNO_TLS_HANDSHAKE || ret <= 0)
		return 0;
	if (!call.nbytes_ptr)
		n = ret;
	else if (ret != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)call.nbytes_ptr))
		return 0;
	if (n)
		tls_plaintext(ctx, call.sk, call.op, call.buf, n);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(kerno_ssl_read, void *ssl, void *buf)
{
	return ssl_enter((__u64)ssl, (__u64)buf, 0, KERNO_TLS_READ);
}

SEC("uprobe")
int BPF_KPROBE(kerno_ssl_write, void *ssl, void *buf)
{
	return ssl_enter((__u64)ssl, (__u64)buf, 0, KERNO_TLS_WRITE);
}

SEC("uprobe")
int BPF_KPROBE(kerno_ssl_read_ex, void *ssl, void *buf, __u64 num, void *readbytes)
{
	return ssl_enter((__u64)ssl, (__u64)buf, (__u64)readbytes, KERNO_TLS_READ);
}

SEC("uprobe")
int BPF_KPROBE(kerno_ssl_write_ex, void *ssl, void *buf, __u64 num, void *written)
{
	return ssl_enter((__u64)ssl, (__u64)buf, (__u64)written, KERNO_TLS_WRITE);
}

SEC("uprobe")
int BPF_KPROBE(kerno_ssl_handshake, void *ssl)
{
	return ssl_enter((__u64)ssl, 0, 0, KERNO_TLS_HANDSHAKE);
}

SEC("uretprobe")
int BPF_KRETPROBE(kerno_ssl_ret, long ret)
{
	return ssl_exit(ctx, (int)ret);
}

/* ---- Go crypto/tls ---- */

/* The socket under a *tls.Conn (see KERNO_GO_* in kern/tls_capture.h), or 0. */
static __always_inline __u64 go_conn_sock(__u64 tls_conn)
{
	__u64 tcp_conn = 0, netfd = 0, fd = 0;

	if (bpf_probe_read_user(&tcp_conn, sizeof(tcp_conn),
				(void *)(tls_conn + KERNO_GO_CONN_IFACE_DATA)) ||
	    !tcp_conn || bpf_probe_read_user(&netfd, sizeof(netfd), (void *)tcp_conn) || !netfd ||
	    bpf_probe_read_user(&fd, sizeof(fd), (void *)(netfd + KERNO_GO_NETFD_SYSFD)))
		return 0;
	return (__u64)fd_to_sock(fd);
}

/*
 * The socket of a Go tls.Conn. Seen before its first byte (the handshake,
 * or a Read or Write that starts it), the connection is TLS and measured.
 */
static __always_inline __u64 go_mark_tls(__u64 tls_conn)
{
	__u64 sk = go_conn_sock(tls_conn);
	struct kerno_conn *c = sk ? bpf_map_lookup_elem(&conns, &sk) : NULL;

	if (c && !c->tls && !(c->rx_bytes | c->tx_bytes))
		c->tls = KERNO_TLS_MEASURED;
	return sk;
}

static __always_inline int go_read_enter(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct kerno_tls_go_key key = { .g = ctx->r14, .tgid = pid_tgid >> 32 };
	struct kerno_tls_go_call call = { .buf = ctx->bx, .op = KERNO_TLS_READ };

	if (key.tgid == self_tgid)
		return 0;
	/* Receiver in RAX, the slice b in RBX (data), RCX (len), RDI (cap). */
	call.sk = go_mark_tls(ctx->ax);
	/*
	 * Probed past the stack check (tls_elf.c), so once per call. A call
	 * whose return was missed (probes attached under it) is replaced.
	 */
	bpf_map_update_elem(&tls_go_calls, &key, &call, BPF_ANY);
	return 0;
}

/*
 * Write(b) sends all of b or fails (the connection with it): b is parsed
 * here, before any byte leaves. At its return the response may already
 * have been read by another goroutine, and matched to an older request.
 */
static __always_inline int go_write_enter(struct pt_regs *ctx)
{
	__u64 sk;

	if ((bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	sk = go_mark_tls(ctx->ax);
	if ((__s64)ctx->cx > 0)
		tls_plaintext(ctx, sk, KERNO_TLS_WRITE, ctx->bx, ctx->cx);
	return 0;
}

static __always_inline int go_ret(struct pt_regs *ctx)
{
	struct kerno_tls_go_key key = { .g = ctx->r14, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct kerno_tls_go_call *t = bpf_map_lookup_elem(&tls_go_calls, &key);
	struct kerno_tls_go_call call;
	__s64 n = ctx->ax; /* the int result; the error is in RBX, RCX */

	if (!t)
		return 0;
	call = *t;
	bpf_map_delete_elem(&tls_go_calls, &key);
	if (n > 0)
		tls_plaintext(ctx, call.sk, call.op, call.buf, n);
	return 0;
}

SEC("uprobe")
int kerno_go_tls_read(struct pt_regs *ctx)
{
	return go_read_enter(ctx);
}

SEC("uprobe")
int kerno_go_tls_write(struct pt_regs *ctx)
{
	return go_write_enter(ctx);
}

/* At each RET instruction of (*Conn).Read. */
SEC("uprobe")
int kerno_go_tls_ret(struct pt_regs *ctx)
{
	return go_ret(ctx);
}

SEC("uprobe")
int kerno_go_tls_handshake(struct pt_regs *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != self_tgid)
		go_mark_tls(ctx->ax);
	return 0;
}

/* ---- new processes ---- */

static __always_inline int on_exec(void)
{
	struct kerno_exec_event *e = bpf_ringbuf_reserve(&exec_events, sizeof(*e), 0);

	if (!e) {
		count(KERNO_DROP_EXEC_LOST);
		return 0;
	}
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(kerno_exec)
{
	return on_exec();
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(kerno_exec_raw)
{
	return on_exec();
}
