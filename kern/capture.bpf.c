// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Preon's capture programs: every byte a process sends or receives on a TCP
 * socket, whichever syscall carries it, parsed as HTTP/1.x in the kernel and
 * aggregated into per-series latency histograms.
 *
 * One data path, several ways in, picked at load time by userspace (see
 * README, "Where the hooks sit"):
 *
 *   sock      tp_btf/sock_{send,recv}_length (Linux 6.3+). They fire inside
 *             sock_sendmsg()/sock_recvmsg(), in the calling thread, with the
 *             socket and the byte count, and for nothing but socket I/O: no
 *             syscall hook at all, so the rest of the system pays nothing.
 *             The user buffers come from the syscall's own arguments, read
 *             from the thread's pt_regs.
 *   fexit     fexit on tcp_sendmsg()/tcp_recvmsg() (and tcp_sendpage() where
 *             it exists): the same view as sock on kernels before 6.3 that
 *             have BPF trampolines; the hooks' cost is about that of a call.
 *   sys_exit  tp_btf/sys_exit: one program sees every syscall's arguments
 *             and result and walks the fd table to the socket. Older kernels.
 *   raw_tp    the same on raw_tp/sys_exit, for kernels without tp_btf.
 *
 * Whatever the way in, connection roles come from sock:inet_sock_set_state
 * (SYN_SENT: we connected; LISTEN -> SYN_RECV: a peer connected to us), and
 * so do connection ends.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "capture.h"
#include "capture_maps.bpf.h"
#include "http1.bpf.h"
#include "fd_sock.bpf.h"
#include "tls_sock.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* x86-64 syscall numbers of the calls the capture looks at. */
#define NR_read 0
#define NR_write 1
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_recvmmsg 299
#define NR_sendmmsg 307

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define MSG_PEEK 0x2
#define MSG_TRUNC 0x20
#define PF_KTHREAD 0x00200000

/* Segments (mmsg entries) parsed per syscall; KERNO_MAX_IOV iovecs in capture_maps.bpf.h. */
#define KERNO_MAX_MMSG 4

static __always_inline int is_tcp(struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	return (family == AF_INET || family == AF_INET6) &&
	       BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type) == SOCK_STREAM &&
	       BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) == IPPROTO_TCP;
}

/* Sockets in these states carry (or just carried) data: worth a table entry. */
static __always_inline int is_live_state(__u8 state)
{
	return state == TCP_ESTABLISHED || state == TCP_SYN_SENT || state == TCP_CLOSE_WAIT ||
	       state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2;
}

static __always_inline void read_endpoints(struct kerno_conn *c, struct sock *sk)
{
	c->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	c->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	c->peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (c->family == AF_INET) {
		bpf_core_read(c->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(c->peer_addr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(c->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(c->peer_addr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/*
 * tgid's entry names another process: its pid was reused while userspace
 * kept the old entry through its grace (user/procnames.h), or it called
 * exec(). It takes the new name and cgroup; its drops count on.
 */
static __always_inline void rename_proc(__u32 tgid, const struct kerno_proc *p)
{
	struct kerno_proc *old = bpf_map_lookup_elem(&procs, &tgid);

	if (!old || (old->cgroup_id == p->cgroup_id &&
		     *(const __u64 *)old->comm == *(const __u64 *)p->comm &&
		     *(const __u64 *)(old->comm + 8) == *(const __u64 *)(p->comm + 8)))
		return;
	__builtin_memcpy(old->comm, p->comm, sizeof(old->comm));
	old->cgroup_id = p->cgroup_id;
}

/*
 * Remember the name of the process behind a new connection; tell whether
 * it is on the ignore list (a connection looked at once, then left alone).
 * The entry is made in scratch memory: over 200 bytes, it would take a
 * frame of the call chain that kernels before 5.12 or so hold to 512 bytes.
 */
static __always_inline int remember_proc(__u32 tgid, __u64 cgroup_id)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct kerno_scratch *sc = get_scratch();
	struct kerno_proc *p;
	__u32 i, j;
	int err; /* 32 bits: before 6.5 or so, map update helpers return an int */

	if (!sc)
		return 0;
	p = &sc->new_proc;
	__builtin_memset(p->comm, 0, sizeof(p->comm));
	p->cgroup_id = cgroup_id;
	BPF_CORE_READ_STR_INTO(&p->comm, task, group_leader, comm);
	err = bpf_map_update_elem(&procs, &tgid, p, BPF_NOEXIST);
	if (err == -7 /* E2BIG: full */)
		count(KERNO_DROP_PROC_TABLE_FULL);
	else if (err == -17 /* EEXIST */)
		rename_proc(tgid, p);
	for (i = 0; i < KERNO_IGNORE_MAX; i++) {
		if (!ignore_comm[i][0])
			break;
		for (j = 0; j < sizeof(p->comm); j++) {
			if (ignore_comm[i][j] != p->comm[j])
				break;
			if (!p->comm[j])
				return 1;
		}
	}
	return 0;
}

/* Protocols other than HTTP/1.x: inference, parsers, plain TCP (needs remember_proc). */
#include "proto.bpf.h"

/*
 * A new table entry for sk, with no owner yet: it is claimed (process,
 * cgroup, addresses) by the first data on it, which runs in the owner's
 * thread. The state changes that announce a connection may not (a passive
 * open completes in softirq), and its addresses are not final yet there.
 * With a role (client, server) the streams start at a message boundary;
 * without one (a connection open before the agent), both directions wait
 * for a chunk that starts a message.
 */
static __noinline struct kerno_conn *conn_create(struct sock *sk, __u8 role)
{
	struct kerno_scratch *sc = get_scratch();
	__u64 key = (__u64)sk;
	struct kerno_conn *c;

	if (!sc)
		return NULL;
	if (bpf_map_update_elem(&conns, &key, &sc->zero_conn, BPF_NOEXIST)) {
		c = bpf_map_lookup_elem(&conns, &key);
		if (!c)
			count(KERNO_DROP_CONN_TABLE_FULL);
		/* Seen before its role was known: a connection is one or the other. */
		else if (c->role == KERNO_ROLE_UNKNOWN && role != KERNO_ROLE_UNKNOWN &&
			 c->dir[KERNO_DIR_RX].state != KERNO_H_STOPPED)
			http1_set_role(c, role);
		return c;
	}
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return NULL;
	c->id = bpf_ktime_get_ns();
	if (role != KERNO_ROLE_UNKNOWN)
		http1_set_role(c, role);
	count(role == KERNO_ROLE_SERVER ? KERNO_EV_ACCEPTED :
	      role == KERNO_ROLE_CLIENT ? KERNO_EV_CONNECTED :
					  KERNO_EV_ADOPTED);
	return c;
}

/* First data on c, in its owner's thread: who owns it, and between whom. */
static __noinline void conn_claim(struct kerno_conn *c, struct sock *sk, __u32 tgid)
{
	if (!c)
		return;
	c->tgid = tgid;
	c->cgroup_id = bpf_get_current_cgroup_id();
	read_endpoints(c, sk);
	if (remember_proc(tgid, c->cgroup_id)) {
		c->dir[KERNO_DIR_RX].state = KERNO_H_STOPPED;
		c->dir[KERNO_DIR_TX].state = KERNO_H_STOPPED;
		count(KERNO_EV_IGNORED);
	}
}

/* The entry of sk, adopted if it is a live TCP connection new to us, claimed. */
static __always_inline struct kerno_conn *conn_of_sock(struct sock *sk, __u32 tgid)
{
	__u64 key = (__u64)sk;
	struct kerno_conn *c = bpf_map_lookup_elem(&conns, &key);

	if (!c) {
		if (!is_tcp(sk) || !is_live_state(BPF_CORE_READ(sk, __sk_common.skc_state)))
			return NULL;
		c = conn_create(sk, KERNO_ROLE_UNKNOWN);
		if (!c)
			return NULL;
	}
	if (!c->tgid)
		conn_claim(c, sk, tgid);
	return c;
}

struct user_iov {
	const char *base;
	__u64 len;
};

/*
 * Bytes that need not or cannot be read (inside a body, or never in user
 * memory): counted off. A global function, like http1_parse(), so that the
 * verifier checks the message ending it may bring once, not per call site.
 * Global functions take pointers to memory since Linux 5.12: each has a
 * legacy twin that takes the connection's key instead and looks it up.
 */
__noinline int skip_bytes(struct kerno_conn *c, __u64 dir, __u64 n, __u64 now, __u64 why)
{
	if (c)
		proto_skip_opaque(c, dir & 1, n, now, why);
	return 0;
}

__noinline int skip_bytes_legacy(__u64 conn_key, __u64 dir, __u64 n, __u64 now, __u64 why)
{
	struct kerno_conn *c = bpf_map_lookup_elem(&conns, &conn_key);

	if (c)
		proto_skip_opaque(c, dir & 1, n, now, why);
	return 0;
}

static __always_inline void skip_flow(const struct flow *f, __u64 n, __u32 why)
{
	if (f->legacy)
		skip_bytes_legacy(f->key, f->dir, n, f->now, why);
	else
		skip_bytes(f->conn, f->dir, n, f->now, why);
}

/* The span work the parse of this run noted (kern/span.bpf.h). */
static __always_inline void span_flush_flow(const struct flow *f)
{
	if (!spans_enabled)
		return;
	if (f->legacy)
		span_flush_legacy(f->key);
	else
		span_flush(f->conn);
}

/* n bytes at user address buf: parsed, or skipped when a body covers them. */
static __always_inline void parse_segment(const struct flow *f, __u64 buf, __u64 n)
{
	if (n > 0x7fffffff)
		n = 0x7fffffff;
	/* The dispatch point: anything not (yet) known to be HTTP/1.x goes to proto.bpf.h. */
	if (f->conn->proto != KERNO_P_HTTP1 &&
	    (f->legacy ? proto_parse_legacy(f->key, flow_dir_tid(f), f->now, buf, n) :
			 proto_parse(f->conn, flow_dir_tid(f), f->now, buf, n)))
		return;
	if (http1_body_covers(f->conn, f->dir, n))
		skip_flow(f, n, KERNO_DROP_OPAQUE_BYTES);
	else if (f->legacy)
		http1_parse_legacy(f->key, flow_dir_tid(f), f->now, buf, n);
	else
		http1_parse(f->conn, flow_dir_tid(f), f->now, buf, n);
}

/*
 * Parse up to `total` bytes spread over the first KERNO_MAX_IOV of an array
 * of iovecs in user memory; cnt_total packs the number of iovecs (high
 * half) and total. Returns the bytes parsed, -1 on a read fault (counted).
 */
static __always_inline int parse_iov_flow(const struct flow *f, __u64 uiov, __u64 cnt_total)
{
	__u64 iovcnt = cnt_total >> 32, total = (__u32)cnt_total, n, done = 0;
	struct kerno_scratch *sc = get_scratch();
	struct kerno_conn *c = f->conn;
	struct user_iov *iov;
	__u32 i;

	if (!sc)
		return -1;
	/* The entries the loop can use, in one copy rather than one per entry. */
	n = bounded_index(iovcnt, KERNO_MAX_IOV + 1, KERNO_MAX_IOV);
	if (bpf_probe_read_user(sc->iov, n * sizeof(*iov), (const void *)uiov)) {
		give_up(c, dir_of(c, f->dir), KERNO_DROP_READ_FAULT);
		return -1;
	}
	for (i = 0; i < KERNO_MAX_IOV; i++) {
		if (i >= iovcnt || !total)
			break;
		iov = (struct user_iov *)&sc->iov[i * 2];
		n = iov->len < total ? iov->len : total;
		parse_segment(f, (__u64)iov->base, n);
		total -= n;
		done += n;
	}
	return done;
}

/* Global, for the verifier's sake: called from several places, and in a loop. */
__noinline int parse_iov(struct kerno_conn *c, __u64 dir_tid, __u64 now, __u64 uiov,
			 __u64 cnt_total)
{
	struct flow f = { .conn = c, .now = now, .dir = dir_tid >> 32, .tid = (__u32)dir_tid };

	return c ? parse_iov_flow(&f, uiov, cnt_total) : 0;
}

__noinline int parse_iov_legacy(__u64 conn_key, __u64 dir_tid, __u64 now, __u64 uiov,
				__u64 cnt_total)
{
	struct flow f = {};

	return flow_of_key(&f, conn_key, dir_tid, now) ? parse_iov_flow(&f, uiov, cnt_total) : 0;
}

/* parse_iov() for a flow; iovcnt and total as the syscall gave them. */
static __always_inline void flow_parse_iov(struct flow *f, const void *uiov, __u64 iovcnt,
					   __u64 total)
{
	int done;
	__u32 b;

	if (iovcnt > 0xffff)
		iovcnt = 0xffff;
	if (total > 0x7fffffff)
		total = 0x7fffffff;
	/* KERNO_MAX_IOV entries at a time: gRPC writes a message in tens of iovecs. */
	for (b = 0; b < KERNO_IOV_BATCHES; b++) {
		if (!iovcnt || !total)
			return;
		done = f->legacy ? parse_iov_legacy(f->key, flow_dir_tid(f), f->now, (__u64)uiov,
						    iovcnt << 32 | total) :
				   parse_iov(f->conn, flow_dir_tid(f), f->now, (__u64)uiov,
					     iovcnt << 32 | total);
		if (done < 0)
			return;
		total -= done < total ? done : total;
		iovcnt = iovcnt > KERNO_MAX_IOV ? iovcnt - KERNO_MAX_IOV : 0;
		uiov = (const char *)uiov + KERNO_MAX_IOV * sizeof(struct user_iov);
	}
	if (total)
		skip_flow(f, total, KERNO_DROP_SCAN_LIMIT);
}

/*
 * A copy of a message header from user memory, kept in scratch rather than
 * on the stack: older verifiers allow 512 bytes of stack for a whole call
 * chain, and the parse below this one is deep.
 */
static __always_inline struct mmsghdr *read_hdr(struct flow *f, const void *uhdr, __u32 size)
{
	struct kerno_scratch *sc = get_scratch();

	if (!sc)
		return NULL;
	_Static_assert(sizeof(struct mmsghdr) <= sizeof(sc->hdr), "scratch hdr too small");
	if (size > sizeof(sc->hdr) || bpf_probe_read_user(sc->hdr, size, uhdr)) {
		give_up(f->conn, dir_of(f->conn, f->dir), KERNO_DROP_READ_FAULT);
		return NULL;
	}
	return (struct mmsghdr *)sc->hdr;
}

static __always_inline void parse_msghdr(struct flow *f, const struct user_msghdr *umsg,
					 __u64 total)
{
	struct mmsghdr *m = read_hdr(f, umsg, sizeof(struct user_msghdr));

	if (m)
		flow_parse_iov(f, m->msg_hdr.msg_iov, m->msg_hdr.msg_iovlen, total);
}

/* Entry i of an mmsg vector, carrying `total` bytes. */
static __always_inline void parse_mmsg_entry(struct flow *f, const struct mmsghdr *vec, __u32 i,
					     __u64 total)
{
	struct mmsghdr *m = read_hdr(f, &vec[i], sizeof(*m));

	if (m)
		flow_parse_iov(f, m->msg_hdr.msg_iov, m->msg_hdr.msg_iovlen, total);
}

/* A whole mmsg call seen at its exit: each entry's msg_len says its share. */
static __always_inline void parse_mmsg_all(struct flow *f, const struct mmsghdr *vec, __u64 nmsgs)
{
	struct mmsghdr *m;
	__u32 i;

	for (i = 0; i < KERNO_MAX_MMSG; i++) {
		if (i >= nmsgs)
			return;
		m = read_hdr(f, &vec[i], sizeof(*m));
		if (!m)
			return;
		flow_parse_iov(f, m->msg_hdr.msg_iov, m->msg_hdr.msg_iovlen, m->msg_len);
	}
	/* Past the limit the sizes are unknown: the stream cannot be followed. */
	give_up(f->conn, dir_of(f->conn, f->dir), KERNO_DROP_SCAN_LIMIT);
}

static __always_inline int is_rx(__u64 nr)
{
	return nr == NR_read || nr == NR_readv || nr == NR_recvfrom || nr == NR_recvmsg ||
	       nr == NR_recvmmsg;
}

/*
 * Counts the bytes and tells whether the stream is still worth parsing.
 * legacy_key: 0, or on kernels before 5.12 the connection's key, which the
 * parse then passes around instead of the connection itself.
 */
static __always_inline int flow_start(struct flow *f, struct kerno_conn *c, __u32 dir, __u32 tid,
				      __s64 ret, __u64 legacy_key)
{
	f->conn = c;
	f->key = legacy_key;
	f->legacy = legacy_key != 0;
	f->now = bpf_ktime_get_ns();
	f->tid = tid;
	f->dir = dir;
	if (dir == KERNO_DIR_RX)
		c->rx_bytes += ret;
	else
		c->tx_bytes += ret;
	return c->dir[dir].state != KERNO_H_STOPPED;
}

/*
 * ret bytes moved by syscall nr, whose buffer arguments are buf and arg2:
 * follow them. mmsg_entry is the entry of an mmsg call these bytes belong
 * to, or -1 for all of them (at the call's exit).
 */
static __always_inline void follow(struct flow *f, __u64 nr, __u64 buf, __u64 arg2, __s64 ret,
				   int mmsg_entry)
{
	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_recvfrom:
	case NR_sendto:
		parse_segment(f, buf, ret);
		break;
	case NR_readv:
	case NR_writev:
		flow_parse_iov(f, (const void *)buf, arg2, ret);
		break;
	case NR_recvmsg:
	case NR_sendmsg:
		parse_msghdr(f, (const struct user_msghdr *)buf, ret);
		break;
	case NR_recvmmsg:
	case NR_sendmmsg:
		if (mmsg_entry < 0)
			parse_mmsg_all(f, (const struct mmsghdr *)buf, ret);
		else
			parse_mmsg_entry(f, (const struct mmsghdr *)buf, mmsg_entry, ret);
		break;
	default:
		/* sendfile, splice, io_uring: bytes that are not in user memory. */
		skip_flow(f, ret, KERNO_DROP_OPAQUE_BYTES);
		break;
	}
}

/* The first iovec of message header m in user memory: dns_udp() on it, of len bytes at most. */
static __always_inline void udp_msghdr(struct sock *sk, __u32 dir, const void *m, __u64 len,
				       bool named)
{
	__u64 hdr[3]; /* msg_name, msg_namelen, msg_iov of a struct user_msghdr */
	struct user_iov iov;

	if (bpf_probe_read_user(hdr, sizeof(hdr), m) ||
	    bpf_probe_read_user(&iov, sizeof(iov), (const void *)hdr[2]))
		return;
	dns_udp(sk, dir, (__u64)iov.base, iov.len < len ? iov.len : len,
		named ? (const void *)hdr[0] : NULL);
}

/*
 * ret bytes moved on a UDP socket by syscall nr (buffer argument buf, and
 * for sendto() the destination addr): only DNS is looked at, one datagram at
 * a time (the first iovec of a message). mmsg_entry as for follow().
 * dir_nr packs the direction (high half) and nr, ret_entry ret (low half)
 * and mmsg_entry. Not inlined: its stack stays off the programs' frames,
 * which the HTTP/1.x call chain needs whole (512 bytes before 6.x).
 */
static __noinline int follow_udp(struct sock *sk, __u64 dir_nr, __u64 buf, __u64 addr,
				 __u64 ret_entry)
{
	const struct mmsghdr *vec = (const struct mmsghdr *)buf;
	__u32 dir = dir_nr >> 32, nr = (__u32)dir_nr, ret = (__u32)ret_entry, i, len;
	int mmsg_entry = (int)(ret_entry >> 32);

	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_recvfrom:
	case NR_sendto:
		dns_udp(sk, dir, buf, ret, nr == NR_sendto ? (const void *)addr : NULL);
		break;
	case NR_recvmsg:
	case NR_sendmsg:
		udp_msghdr(sk, dir, (const void *)buf, ret, nr == NR_sendmsg);
		break;
	case NR_recvmmsg:
	case NR_sendmmsg:
		if (mmsg_entry >= 0) {
			udp_msghdr(sk, dir, &vec[mmsg_entry & 0xffff], ret, nr == NR_sendmmsg);
			break;
		}
		for (i = 0; i < KERNO_MAX_MMSG; i++) {
			if (i >= ret || bpf_probe_read_user(&len, sizeof(len), &vec[i].msg_len))
				break;
			udp_msghdr(sk, dir, &vec[i], len, nr == NR_sendmmsg);
		}
		break;
	}
	return 0;
}

static __always_inline void udp_io(struct sock *sk, __u32 dir, __u64 nr, __u64 buf, __u64 addr,
				   __s64 ret, int mmsg_entry)
{
	follow_udp(sk, (__u64)dir << 32 | (__u32)nr, buf, addr,
		   (__u64)(__u32)mmsg_entry << 32 | (__u32)ret);
}

static __always_inline int is_udp(struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	return (family == AF_INET || family == AF_INET6) &&
	       BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) == IPPROTO_UDP;
}

/* The buffer of a syscall that moves one flat buffer (TLS libraries use these), else 0. */
static __always_inline __u64 flat_buf(__u64 nr, __u64 buf)
{
	return nr == NR_read || nr == NR_write || nr == NR_recvfrom || nr == NR_sendto ? buf : 0;
}

/* ---- sys_exit: every syscall, data syscalls found by number ---- */

/*
 * A data syscall on fd returned ret > 0: follow the bytes it moved. Inlined:
 * verifiers before 6.3 or so allow 512 bytes of stack over all the frames
 * of a call chain, each rounded up to 32.
 */
static __always_inline int on_sys_data(__u64 nr, __u64 fd, __u64 buf, __u64 arg2, __u64 addr,
				       __s64 ret, const bool legacy)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct kerno_conn *c;
	struct sock *sk;
	struct flow f;

	if (tgid == self_tgid)
		return 0;
	sk = fd_to_sock(fd);
	if (!sk)
		return 0;
	if (is_udp(sk)) {
		udp_io(sk, is_rx(nr) ? KERNO_DIR_RX : KERNO_DIR_TX, nr, buf, addr, ret, -1);
		return 0;
	}
	c = conn_of_sock(sk, tgid);
	if (!c || tls_ciphertext(c, sk, pid_tgid, is_rx(nr) ? KERNO_DIR_RX : KERNO_DIR_TX, ret,
				 flat_buf(nr, buf)))
		return 0;
	if (!flow_start(&f, c, is_rx(nr) ? KERNO_DIR_RX : KERNO_DIR_TX, (__u32)pid_tgid, ret,
			legacy ? (__u64)sk : 0))
		return 0;
	follow(&f, nr, buf, arg2, ret, -1);
	span_flush_flow(&f);
	return 0;
}

static __always_inline int is_data_nr(__u64 nr)
{
	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_readv:
	case NR_writev:
	case NR_sendfile:
	case NR_sendto:
	case NR_recvfrom:
	case NR_sendmsg:
	case NR_recvmsg:
	case NR_recvmmsg:
	case NR_sendmmsg:
		return 1;
	}
	return 0;
}

/* Peeked bytes come again with the read that consumes them. */
static __always_inline int is_peek(__u64 nr, __u64 recvfrom_flags, __u64 recvmsg_flags)
{
	return (nr == NR_recvfrom && (recvfrom_flags & MSG_PEEK)) ||
	       (nr == NR_recvmsg && (recvmsg_flags & MSG_PEEK));
}

SEC("tp_btf/sys_exit")
int BPF_PROG(kerno_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 nr = regs->orig_ax;

	if (ret <= 0 || !is_data_nr(nr) || is_peek(nr, regs->r10, regs->dx))
		return 0;
	return on_sys_data(nr, regs->di, regs->si, regs->dx, regs->r8, ret, false);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(kerno_sys_exit_raw, struct pt_regs *regs, long ret)
{
	__u64 nr = BPF_CORE_READ(regs, orig_ax), dx = BPF_CORE_READ(regs, dx);

	if (ret <= 0 || !is_data_nr(nr) || is_peek(nr, BPF_CORE_READ(regs, r10), dx))
		return 0;
	return on_sys_data(nr, BPF_CORE_READ(regs, di), BPF_CORE_READ(regs, si), dx,
			   BPF_CORE_READ(regs, r8), ret, false);
}

/* The same two for kernels before 5.12 (see skip_bytes()). */
SEC("tp_btf/sys_exit")
int BPF_PROG(kerno_sys_exit_legacy, struct pt_regs *regs, long ret)
{
	__u64 nr = regs->orig_ax;

	if (ret <= 0 || !is_data_nr(nr) || is_peek(nr, regs->r10, regs->dx))
		return 0;
	return on_sys_data(nr, regs->di, regs->si, regs->dx, regs->r8, ret, true);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(kerno_sys_exit_raw_legacy, struct pt_regs *regs, long ret)
{
	__u64 nr = BPF_CORE_READ(regs, orig_ax), dx = BPF_CORE_READ(regs, dx);

	if (ret <= 0 || !is_data_nr(nr) || is_peek(nr, BPF_CORE_READ(regs, r10), dx))
		return 0;
	return on_sys_data(nr, BPF_CORE_READ(regs, di), BPF_CORE_READ(regs, si), dx,
			   BPF_CORE_READ(regs, r8), ret, true);
}

/* ---- sock: socket I/O only, one message at a time ---- */

/*
 * The entry of an mmsg call that the next message of this thread belongs
 * to: the socket hooks run once per message, and the call's exit is not
 * seen. Returns -1 if the call has more entries than can be followed.
 */
static __always_inline int mmsg_next_entry(__u64 pid_tgid, __u64 vec, __u64 vlen)
{
	struct mmsg_pos *p = bpf_map_lookup_elem(&mmsg_pos, &pid_tgid);
	struct mmsg_pos fresh = { .vec = vec, .next = 1 };
	__u32 i;

	if (p && p->vec == vec && p->next < vlen) {
		i = p->next++;
		if (p->next >= vlen && !bpf_map_delete_elem(&mmsg_pos, &pid_tgid))
			__sync_fetch_and_add(&mmsg_live, -1);
		return i < KERNO_MAX_MMSG ? i : -1;
	}
	if (vlen > 1 && !bpf_map_update_elem(&mmsg_pos, &pid_tgid, &fresh, BPF_NOEXIST))
		__sync_fetch_and_add(&mmsg_live, 1);
	else if (vlen > 1 && p)
		*p = fresh;
	return 0;
}

/* A call failed or hit its end of stream: any mmsg call of the thread ends. */
static __always_inline void mmsg_end(__u64 pid_tgid)
{
	if (mmsg_live && !bpf_map_delete_elem(&mmsg_pos, &pid_tgid))
		__sync_fetch_and_add(&mmsg_live, -1);
}

/*
 * ---- One parser per hook ----
 *
 * The parsers (HTTP/1.x, the other protocols, spans) are global functions,
 * which the verifier checks once per program that calls them. Called from
 * every entry program (send, receive, UDP...), they were checked once per
 * entry, about half a million instructions each time: seconds of an agent's
 * start under emulation. So the entry programs of the sock and fexit
 * flavours only filter (and see UDP), and hand a TCP call to a parser
 * program by tail call, which the verifier checks once. The parser runs on
 * the entry's context (its first argument, the socket, is typed there as in
 * the entry); what else the entry knows (direction, bytes, flags) waits for
 * it in per-CPU scratch (struct parse_job). A tracing program may only
 * tail-call programs of its own type whose attach point has the same
 * prototype in the kernel's BTF: one parser per prototype, shared by the
 * hooks that have it (userspace sees which: sock_send_length and
 * sock_recv_length share one, tcp_sendmsg and tcp_recvmsg do not). The
 * sys_exit flavours have a single entry program, which parses itself.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} parse_tx_jmp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} parse_rx_jmp SEC(".maps");

/* What an entry program of the sock and fexit flavours sees; the rest is left out of its code. */
enum sock_io_kind {
	SOCK_IO_ANY, /* TCP and UDP (the sock flavour's tracepoints) */
	SOCK_IO_TCP, /* TCP (fexit on tcp_sendmsg, tcp_recvmsg) */
	SOCK_IO_OPAQUE, /* TCP, bytes never in user memory (fexit on tcp_sendpage) */
	SOCK_IO_UDP, /* UDP (fexit on the UDP functions) */
};

/* UDP: DNS, parsed here (kern/proto_dns.bpf.h). */
static __always_inline int on_sock_udp(struct task_struct *task, struct sock *sk, __u64 pid_tgid,
				       int ret, __u32 dir)
{
	struct pt_regs *regs;
	int entry = -1;
	__u64 nr;

	if (sk->__sk_common.skc_family != AF_INET && sk->__sk_common.skc_family != AF_INET6)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	nr = regs->orig_ax;
	if (nr == NR_recvmmsg || nr == NR_sendmmsg) {
		entry = mmsg_next_entry(pid_tgid, regs->si, regs->dx);
		if (entry < 0)
			return 0;
	}
	udp_io(sk, dir, nr, regs->si, regs->r8, ret, entry);
	return 0;
}

/*
 * ret > 0 bytes on TCP socket sk, moved in the calling thread by syscall nr
 * with buffer arguments buf and arg2: follow them (the parser's work).
 */
static __always_inline int on_sock_tcp(struct sock *sk, __u64 pid_tgid, int ret, __u32 dir,
				       int flags, __u64 nr, __u64 buf, __u64 arg2)
{
	struct kerno_conn *c = conn_of_sock(sk, pid_tgid >> 32);
	struct flow f;
	int entry = -1;

	if (!c)
		return 0;
	if (tls_ciphertext(c, sk, pid_tgid, dir, ret, flat_buf(nr, buf)) ||
	    !flow_start(&f, c, dir, (__u32)pid_tgid, ret, 0))
		return 0;
#ifdef ABL_NOPARSE
	return 0;
#endif
	if (dir == KERNO_DIR_RX && (flags & MSG_TRUNC))
		nr = NR_sendfile; /* discarded, never copied out: opaque */
	if (nr == NR_recvmmsg || nr == NR_sendmmsg) {
		entry = mmsg_next_entry(pid_tgid, buf, arg2);
		if (entry < 0) {
			skip_flow(&f, ret, KERNO_DROP_SCAN_LIMIT);
			span_flush_flow(&f);
			return 0;
		}
	}
	follow(&f, nr, buf, arg2, ret, entry);
	span_flush_flow(&f);
	return 0;
}

/*
 * Hand a TCP call to the parser program in jmp. Comes back only if the tail
 * call failed (no program there): the stream of sk in that direction is
 * given up until its next message, and counted.
 */
static __always_inline void parse_by_tail_call(void *ctx, void *jmp, struct sock *sk,
					       __u64 pid_tgid, int ret, __u32 dir, int flags,
					       const struct pt_regs *regs)
{
	struct kerno_scratch *sc = get_scratch();
	__u64 key = (__u64)sk;
	struct kerno_conn *c;

	if (sc) {
		sc->job.pid_tgid = pid_tgid;
		sc->job.ret = ret;
		sc->job.dir = dir;
		sc->job.flags = flags;
		sc->job.nr = regs->orig_ax;
		sc->job.buf = regs->si;
		sc->job.arg2 = regs->dx;
		bpf_tail_call(ctx, jmp, 0);
		sc->job.pid_tgid = 0;
	}
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c) {
		count(KERNO_DROP_TAIL_CALL);
		return;
	}
	if (c->proto == KERNO_P_HTTP1 || c->proto == KERNO_P_UNDECIDED)
		give_up(c, dir_of(c, dir), KERNO_DROP_TAIL_CALL);
	else
		proto_give_up(c, dir_of(c, dir), KERNO_DROP_TAIL_CALL);
}

/*
 * The parser program's body, on the socket its entry program saw: the call
 * the entry left in scratch (parse_job_claim()), followed.
 */
static __always_inline int run_parse_job(struct sock *sk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct parse_job *j = parse_job_claim(pid_tgid);

	if (!j)
		return 0;
	return on_sock_tcp(sk, pid_tgid, j->ret, j->dir & 1, j->flags, j->nr, j->buf, j->arg2);
}

/* jmp: the parser for this hook (see "One parser per hook"); NULL for kinds that do not parse. */
static __always_inline int on_sock_io(void *ctx, void *jmp, struct sock *sk, int ret, __u32 dir,
				      int flags, const enum sock_io_kind kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct pt_regs *regs;

	if (ret <= 0) {
		mmsg_end(pid_tgid);
		return 0;
	}
	/* In-kernel socket users (NFS, iSCSI...) have no user buffers. */
	if ((sk->sk_protocol != IPPROTO_TCP && sk->sk_protocol != IPPROTO_UDP) ||
	    tgid == self_tgid || (task->flags & PF_KTHREAD))
		return 0;
	/* Peeked bytes come again with the read that consumes them. */
	if (dir == KERNO_DIR_RX && (flags & MSG_PEEK))
		return 0;
	if (sk->sk_protocol == IPPROTO_UDP)
		return kind == SOCK_IO_ANY || kind == SOCK_IO_UDP ?
			       on_sock_udp(task, sk, pid_tgid, ret, dir) :
			       0;
	if (kind == SOCK_IO_UDP)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	/* sendfile() and splice(): nothing to read, no parser needed. */
	if (kind == SOCK_IO_OPAQUE)
		return on_sock_tcp(sk, pid_tgid, ret, dir, flags, NR_sendfile, regs->si, regs->dx);
	parse_by_tail_call(ctx, jmp, sk, pid_tgid, ret, dir, flags, regs);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(kerno_sock_send, struct sock *sk, int ret, int flags)
{
	return on_sock_io(ctx, &parse_tx_jmp, sk, ret, KERNO_DIR_TX, flags, SOCK_IO_ANY);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(kerno_sock_recv, struct sock *sk, int ret, int flags)
{
	return on_sock_io(ctx, &parse_rx_jmp, sk, ret, KERNO_DIR_RX, flags, SOCK_IO_ANY);
}

/* The parsers the two tracepoints tail-call: one, when their prototypes agree. Never attached. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(kerno_parse_sock_tx, struct sock *sk)
{
	return run_parse_job(sk);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(kerno_parse_sock_rx, struct sock *sk)
{
	return run_parse_job(sk);
}

/* ---- fexit: the TCP send and receive functions ---- */

SEC("fexit/tcp_sendmsg")
int BPF_PROG(kerno_tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	return on_sock_io(ctx, &parse_tx_jmp, sk, ret, KERNO_DIR_TX, 0, SOCK_IO_TCP);
}

/*
 * tcp_recvmsg() lost its `nonblock` argument in 5.19: flags is its fourth
 * argument of five since, its fifth of six before.
 */
SEC("fexit/tcp_recvmsg")
int BPF_PROG(kerno_tcp_recvmsg, struct sock *sk)
{
	__u64 ret = 0, flags = 0;

	bpf_get_func_ret(ctx, &ret);
	bpf_get_func_arg(ctx, bpf_get_func_arg_cnt(ctx) == 5 ? 3 : 4, &flags);
	return on_sock_io(ctx, &parse_rx_jmp, sk, (int)ret, KERNO_DIR_RX, (int)flags, SOCK_IO_TCP);
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(kerno_parse_tcp_tx, struct sock *sk)
{
	return run_parse_job(sk);
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(kerno_parse_tcp_rx, struct sock *sk)
{
	return run_parse_job(sk);
}

/* sendfile() and splice() before 6.5: bytes that never were in user memory. */
SEC("fexit/tcp_sendpage")
int BPF_PROG(kerno_tcp_sendpage, struct sock *sk)
{
	__u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);
	return on_sock_io(ctx, NULL, sk, (int)ret, KERNO_DIR_TX, 0, SOCK_IO_OPAQUE);
}

/*
 * UDP, for DNS: the same hooks on the UDP send and receive functions.
 * udp_recvmsg() and udpv6_recvmsg() lost their `noblock` argument in 5.19,
 * as tcp_recvmsg() did.
 */
SEC("fexit/udp_sendmsg")
int BPF_PROG(kerno_udp_sendmsg, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	return on_sock_io(ctx, NULL, sk, ret, KERNO_DIR_TX, 0, SOCK_IO_UDP);
}

SEC("fexit/udpv6_sendmsg")
int BPF_PROG(kerno_udpv6_sendmsg, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	return on_sock_io(ctx, NULL, sk, ret, KERNO_DIR_TX, 0, SOCK_IO_UDP);
}

static __always_inline int on_udp_recvmsg(void *ctx, struct sock *sk)
{
	__u64 ret = 0, flags = 0;

	bpf_get_func_ret(ctx, &ret);
	bpf_get_func_arg(ctx, bpf_get_func_arg_cnt(ctx) == 5 ? 3 : 4, &flags);
	return on_sock_io(ctx, NULL, sk, (int)ret, KERNO_DIR_RX, (int)flags, SOCK_IO_UDP);
}

SEC("fexit/udp_recvmsg")
int BPF_PROG(kerno_udp_recvmsg, struct sock *sk)
{
	return on_udp_recvmsg(ctx, sk);
}

SEC("fexit/udpv6_recvmsg")
int BPF_PROG(kerno_udpv6_recvmsg, struct sock *sk)
{
	return on_udp_recvmsg(ctx, sk);
}

/* ---- connection state: roles and ends ---- */

/*
 * The address of a typed pointer as a plain number, which global functions
 * take: read back from scratch memory, it no longer is a pointer to the
 * verifier. 0 (no key) if scratch is missing.
 */
static __always_inline __u64 scalar_key(__u64 key)
{
	struct kerno_scratch *sc = get_scratch();

	if (!sc)
		return 0;
	sc->sock_key = key;
	return *(volatile __u64 *)&sc->sock_key;
}

static __always_inline int on_state(struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;
	struct kerno_conn *c;
	int set_aside = 0;

	/* connect(): runs in the connecting thread. */
	if (newstate == TCP_SYN_SENT) {
		if ((bpf_get_current_pid_tgid() >> 32) != self_tgid && is_tcp(sk))
			conn_create(sk, KERNO_ROLE_CLIENT);
		return 0;
	}
	/* The child socket of a completed handshake, later returned by accept(). */
	if (newstate == TCP_SYN_RECV && oldstate == TCP_LISTEN) {
		if (is_tcp(sk))
			conn_create(sk, KERNO_ROLE_SERVER);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	if (oldstate == TCP_SYN_SENT)
		count(KERNO_EV_CONNECT_FAILED);
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return 0;
	/* Often in softirq, on top of another run on this CPU: see span_run_set_aside(). */
	if (spans_enabled)
		set_aside = span_run_set_aside();
	proto_close(c, bpf_ktime_get_ns());
	http1_close(c, bpf_ktime_get_ns());
	/* By key, as before 5.12, on every kernel: one flavour of the program. */
	if (spans_enabled) {
		span_flush_legacy(scalar_key(key));
		span_run_put_back(set_aside);
	}
	bpf_map_delete_elem(&conns, &key);
	count(KERNO_EV_CLOSED);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(kerno_sock_state, struct sock *sk, int oldstate, int newstate)
{
	return on_state(sk, oldstate, newstate);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(kerno_sock_state_raw, struct sock *sk, int oldstate, int newstate)
{
	return on_state(sk, oldstate, newstate);
}
