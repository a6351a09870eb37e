// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Preon's capture programs: every byte a process sends or receives on a TCP
 * socket, whichever syscall carries it, parsed as HTTP/1.x in the kernel and
 * aggregated into per-series latency histograms.
 *
 * Hook choice (see README, "Where the hooks sit"): one program on the
 * sys_exit tracepoint sees every syscall's arguments (from pt_regs) and
 * result, so the data syscalls need no entry hook and no per-thread argument
 * map. The program leaves after one compare for any other syscall. Two
 * flavours of the same entry exist, picked at load time by userspace:
 * tp_btf (BTF-typed, direct loads) and raw_tp (any kernel with raw
 * tracepoints). Where the sock:sock_{send,recv}_length tracepoints exist
 * (6.3+), they leave sys_exit the socket of each TCP read and write, so it
 * need not walk the fd table (struct sock_hint). Connection ends come from
 * sock:inet_sock_set_state.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "capture.h"
#include "capture_maps.bpf.h"
#include "http1.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* x86-64 syscall numbers of the calls the capture looks at. */
#define NR_read 0
#define NR_write 1
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_accept4 288
#define NR_recvmmsg 299
#define NR_sendmmsg 307

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6
#define EINPROGRESS 115
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* Segments (iovecs, mmsg entries) parsed per syscall. */
#define KERNO_MAX_IOV 8
#define KERNO_MAX_MMSG 4

/* The TCP socket behind fd in the current process, or NULL. */
static __always_inline struct sock *fd_to_sock(__u64 fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f;
	struct socket *sock;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	/* socket_file_ops is not in kallsyms everywhere: ask the inode instead. */
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

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
 * Remember the name of the process behind a new connection; tell whether
 * it is on the ignore list (a connection looked at once, then left alone).
 */
static __always_inline int remember_proc(__u32 tgid, __u64 cgroup_id)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct kerno_proc p = { .cgroup_id = cgroup_id };
	__u32 i, j;

	BPF_CORE_READ_STR_INTO(&p.comm, task, group_leader, comm);
	bpf_map_update_elem(&procs, &tgid, &p, BPF_NOEXIST);
	for (i = 0; i < KERNO_IGNORE_MAX; i++) {
		if (!ignore_comm[i][0])
			break;
		for (j = 0; j < sizeof(p.comm); j++) {
			if (ignore_comm[i][j] != p.comm[j])
				break;
			if (!p.comm[j])
				return 1;
		}
	}
	return 0;
}

/*
 * A new table entry for sk. With a role (accept, connect) the streams start
 * at a message boundary; without one (a connection open before the agent),
 * both directions wait for a chunk that starts a message.
 */
static __noinline struct kerno_conn *conn_create(struct sock *sk, __u8 role, __u32 tgid)
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
		return c;
	}
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return NULL;
	c->id = __sync_fetch_and_add(&conn_generation, 1) + 1;
	c->tgid = tgid;
	c->cgroup_id = bpf_get_current_cgroup_id();
	read_endpoints(c, sk);
	if (remember_proc(tgid, c->cgroup_id)) {
		c->dir[KERNO_DIR_RX].state = KERNO_H_STOPPED;
		c->dir[KERNO_DIR_TX].state = KERNO_H_STOPPED;
		count(KERNO_EV_IGNORED);
		return c;
	}
	if (role != KERNO_ROLE_UNKNOWN)
		http1_set_role(c, role);
	count(role == KERNO_ROLE_SERVER ? KERNO_EV_ACCEPTED :
	      role == KERNO_ROLE_CLIENT ? KERNO_EV_CONNECTED :
					  KERNO_EV_ADOPTED);
	return c;
}

/* The socket the sock_*_length hook saw this very syscall use, or NULL. */
static __always_inline struct sock *hinted_sock(__u64 pid_tgid, __u64 nr, __s64 ret)
{
	__u32 zero = 0;
	struct sock_hint *h = bpf_map_lookup_elem(&sock_hints, &zero);

	if (!h || h->pid_tgid != pid_tgid || h->nr != nr || h->ret != ret)
		return NULL;
	h->pid_tgid = 0;
	return (struct sock *)h->sk;
}

/* The entry for the TCP socket behind fd, created if it is new to us. */
static __always_inline struct kerno_conn *conn_of_fd(__u64 fd, __u32 tgid, __u64 *key,
						     struct sock *sk)
{
	struct kerno_conn *c;

	if (!sk)
		sk = fd_to_sock(fd);
	*key = (__u64)sk;
	if (!sk)
		return NULL;
	c = bpf_map_lookup_elem(&conns, key);
	if (c)
		return c;
	if (!is_tcp(sk) || !is_live_state(BPF_CORE_READ(sk, __sk_common.skc_state)))
		return NULL;
	return conn_create(sk, KERNO_ROLE_UNKNOWN, tgid);
}

static __always_inline void on_new_conn(__u64 fd, __u8 role, __u32 tgid)
{
	struct sock *sk = fd_to_sock(fd);
	__u64 key = (__u64)sk;
	struct kerno_conn *c;

	if (!sk || !is_tcp(sk))
		return;
	c = bpf_map_lookup_elem(&conns, &key);
	if (c) {
		/* Unless left alone (ignored, or not HTTP): then it stays so. */
		if (c->role == KERNO_ROLE_UNKNOWN && c->dir[KERNO_DIR_RX].state != KERNO_H_STOPPED)
			http1_set_role(c, role);
		return;
	}
	conn_create(sk, role, tgid);
}

struct user_iov {
	const char *base;
	__u64 len;
};

/* Parse up to `total` bytes spread over an array of iovecs in user memory. */
static __noinline void parse_iov(struct flow *f, const struct user_iov *uiov, __u64 iovcnt,
				 __u64 total)
{
	struct kerno_conn *c = f->conn;
	struct user_iov iov;
	__u32 i;

	if (!c)
		return;
	for (i = 0; i < KERNO_MAX_IOV; i++) {
		__u64 n;

		if (i >= iovcnt || !total)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), &uiov[i])) {
			give_up(c, dir_of(c, f->dir), KERNO_DROP_READ_FAULT);
			return;
		}
		n = iov.len < total ? iov.len : total;
		if (http1_body_covers(c, f->dir, n))
			http1_skip_opaque(c, f->dir, n, f->now, KERNO_DROP_OPAQUE_BYTES);
		else
			http1_parse(f->key, flow_dir_tid(f), f->now, (__u64)iov.base,
				    n > 0x7fffffff ? 0x7fffffff : n);
		total -= n;
	}
	if (total)
		http1_skip_opaque(c, f->dir, total, f->now, KERNO_DROP_SCAN_LIMIT);
}

static __always_inline void parse_msghdr(struct flow *f, const struct user_msghdr *umsg,
					 __u64 total)
{
	struct user_msghdr msg;

	if (bpf_probe_read_user(&msg, sizeof(msg), umsg)) {
		give_up(f->conn, dir_of(f->conn, f->dir), KERNO_DROP_READ_FAULT);
		return;
	}
	parse_iov(f, (const struct user_iov *)msg.msg_iov, msg.msg_iovlen, total);
}

static __always_inline void parse_mmsg(struct flow *f, const struct mmsghdr *vec, __u64 nmsgs)
{
	struct mmsghdr m;
	__u32 i;

	for (i = 0; i < KERNO_MAX_MMSG; i++) {
		if (i >= nmsgs)
			return;
		if (bpf_probe_read_user(&m, sizeof(m), &vec[i])) {
			give_up(f->conn, dir_of(f->conn, f->dir), KERNO_DROP_READ_FAULT);
			return;
		}
		parse_iov(f, (const struct user_iov *)m.msg_hdr.msg_iov, m.msg_hdr.msg_iovlen,
			  m.msg_len);
	}
	/* Past the limit the sizes are unknown: the stream cannot be followed. */
	give_up(f->conn, dir_of(f->conn, f->dir), KERNO_DROP_SCAN_LIMIT);
}

static __always_inline int is_rx(__u64 nr)
{
	return nr == NR_read || nr == NR_readv || nr == NR_recvfrom || nr == NR_recvmsg ||
	       nr == NR_recvmmsg;
}

/* A data syscall on fd returned ret > 0: follow the bytes it moved. */
static __noinline int on_data(__u64 nr, __u64 fd, __u64 buf, __u64 arg2, __s64 ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct kerno_conn *c;
	struct sock *sk;
	struct flow f;

	if (tgid == self_tgid)
		return 0;
	sk = hinted_sock(pid_tgid, nr, ret);
	/*
	 * With the hints attached, every socket read and write leaves one, so a
	 * plain read or write without a hint is file or pipe I/O: it leaves
	 * here. sendfile and the mmsg calls return other counts than their
	 * socket calls saw, and still walk the fd table.
	 */
	if (!sk && use_sock_hints && nr != NR_sendfile && nr != NR_recvmmsg && nr != NR_sendmmsg)
		return 0;
	c = conn_of_fd(fd, tgid, &f.key, sk);
	if (!c)
		return 0;
	f.conn = c;
	f.now = bpf_ktime_get_ns();
	f.tid = tid;
	f.dir = is_rx(nr) ? KERNO_DIR_RX : KERNO_DIR_TX;
	if (f.dir == KERNO_DIR_RX)
		c->rx_bytes += ret;
	else
		c->tx_bytes += ret;
	if (c->dir[f.dir].state == KERNO_H_STOPPED)
		return 0;

	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_recvfrom:
	case NR_sendto:
		if (http1_body_covers(c, f.dir, ret))
			http1_skip_opaque(c, f.dir, ret, f.now, KERNO_DROP_OPAQUE_BYTES);
		else
			http1_parse(f.key, flow_dir_tid(&f), f.now, buf,
				    ret > 0x7fffffff ? 0x7fffffff : ret);
		break;
	case NR_readv:
	case NR_writev:
		parse_iov(&f, (const struct user_iov *)buf, arg2, ret);
		break;
	case NR_recvmsg:
	case NR_sendmsg:
		parse_msghdr(&f, (const struct user_msghdr *)buf, ret);
		break;
	case NR_recvmmsg:
	case NR_sendmmsg:
		parse_mmsg(&f, (const struct mmsghdr *)buf, ret);
		break;
	case NR_sendfile:
		http1_skip_opaque(c, f.dir, ret, f.now, KERNO_DROP_OPAQUE_BYTES);
		break;
	}
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

static __noinline int on_conn_syscall(__u64 nr, __u64 fd, __s64 ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (tgid == self_tgid)
		return 0;
	if (nr == NR_connect) {
		if (ret == 0 || ret == -EINPROGRESS)
			on_new_conn(fd, KERNO_ROLE_CLIENT, tgid);
	} else if (ret >= 0) {
		on_new_conn(ret, KERNO_ROLE_SERVER, tgid);
	}
	return 0;
}

static __always_inline int is_conn_nr(__u64 nr)
{
	return nr == NR_connect || nr == NR_accept || nr == NR_accept4;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(kerno_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 nr = regs->orig_ax;

	if (is_data_nr(nr)) {
		if (ret <= 0)
			return 0;
		return on_data(nr, regs->di, regs->si, regs->dx, ret);
	}
	if (is_conn_nr(nr))
		return on_conn_syscall(nr, regs->di, ret);
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(kerno_sys_exit_raw, struct pt_regs *regs, long ret)
{
	__u64 nr = BPF_CORE_READ(regs, orig_ax);

	if (is_data_nr(nr)) {
		if (ret <= 0)
			return 0;
		return on_data(nr, BPF_CORE_READ(regs, di), BPF_CORE_READ(regs, si),
			       BPF_CORE_READ(regs, dx), ret);
	}
	if (is_conn_nr(nr))
		return on_conn_syscall(nr, BPF_CORE_READ(regs, di), ret);
	return 0;
}

/*
 * Kernels with the sock_{send,recv}_length tracepoints (6.3+) name the socket
 * of every socket read and write: leave it for this syscall's sys_exit.
 */
static __always_inline int leave_hint(struct sock *sk, int ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u32 zero = 0;
	struct sock_hint *h = bpf_map_lookup_elem(&sock_hints, &zero);

	/* Only TCP is followed: other sockets' I/O then leaves sys_exit early. */
	if (!h || ret <= 0 || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	h->pid_tgid = bpf_get_current_pid_tgid();
	h->sk = (__u64)sk;
	h->ret = ret;
	h->nr = regs->orig_ax;
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(kerno_sock_send, struct sock *sk, int ret, int flags)
{
	return leave_hint(sk, ret);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(kerno_sock_recv, struct sock *sk, int ret, int flags)
{
	return leave_hint(sk, ret);
}

static __always_inline int on_state(const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;
	struct kerno_conn *c;

	if (newstate != TCP_CLOSE)
		return 0;
	if (oldstate == TCP_SYN_SENT)
		count(KERNO_EV_CONNECT_FAILED);
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return 0;
	http1_close(c, bpf_ktime_get_ns());
	bpf_map_delete_elem(&conns, &key);
	count(KERNO_EV_CLOSED);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(kerno_sock_state, const struct sock *sk, int oldstate, int newstate)
{
	return on_state(sk, oldstate, newstate);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(kerno_sock_state_raw, const struct sock *sk, int oldstate, int newstate)
{
	return on_state(sk, oldstate, newstate);
}
