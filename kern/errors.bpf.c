// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Errors detected in the kernel, counted in place (kern/errors.h):
 *
 *   inet_sock_set_state  CLOSE -> SYN_SENT records who connects (process
 *                        context); SYN_SENT -> CLOSE is a failed connect,
 *                        classed by the socket's error (ECONNREFUSED,
 *                        ETIMEDOUT, other, or 0 when the application gave
 *                        up); ESTABLISHED/CLOSE_WAIT -> CLOSE with
 *                        ETIMEDOUT is an established connection timing out.
 *   tcp_receive_reset    a reset on a synchronized connection (a reset in
 *                        SYN_SENT is the refusal, counted once, above).
 *   tcp_send_reset       every reset sent: active (abort, SO_LINGER 0,
 *                        unread data at close) and in reply to a segment,
 *                        with or without a socket (a closed port); before
 *                        6.10 only those of full sockets, the rest through
 *                        fentry on tcp_v{4,6}_send_reset where it attaches.
 *   tcp_retransmit_skb   segments retransmitted (tcp_skb_pcount).
 *   sched_process_exit   the thread group leader's exit code: a fault or
 *                        abort signal, or SIGKILL from the OOM killer
 *                        (signal->oom_mm is what mark_oom_victim() sets
 *                        right before oom:mark_victim fires).
 *
 * Every hook exists as tp_btf and raw_tp; userspace loads one of the two per
 * hook, or neither when the kernel lacks the tracepoint. Reads go through
 * CO-RE probes so one body serves both. Nothing is sent per event: each
 * error is one per-CPU hash update.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "capture.h"
#include "errors.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define ECONNREFUSED 111
#define ECONNRESET 104
#define ETIMEDOUT 110
#define SIGKILL 9

enum {
	ST_ESTABLISHED = 1,
	ST_SYN_SENT = 2,
	ST_TIME_WAIT = 6,
	ST_CLOSE = 7,
	ST_CLOSE_WAIT = 8,
	ST_LISTEN = 10,
	ST_NEW_SYN_RECV = 12,
};

/* Set by userspace before load. */
const volatile __u16 eph_lo = 32768; /* net.ipv4.ip_local_port_range */
const volatile __u16 eph_hi = 60999;
/* tcp_destroy_sock is attached: owners stay until then, not just until CLOSE
 * (an active reset goes out after the move to CLOSE). */
const volatile bool owners_until_destroy;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096); /* --max-error-groups */
	__type(key, struct kerno_err_key);
	__type(value, struct kerno_err_val);
} err_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192); /* --max-conns */
	__type(key, __u64); /* struct sock address */
	__type(value, struct kerno_err_owner);
} err_owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KERNO_ERR_COUNTER__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} err_counters SEC(".maps");

/*
 * The capture's connection table and process names (kern/capture.h), shared
 * by userspace (bpf_map__reuse_fd) so that errors on sockets this unit did
 * not see connect, accepted ones above all, still name their process: the
 * capture learns it at the connection's first read or write.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct kerno_conn);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kerno_proc);
} procs SEC(".maps");

/* Kernels up to 5.14 kept the cgroup pointer in a u64 with flag bits. */
struct sock_cgroup_data___old {
	__u64 val;
};

static __always_inline void bump(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&err_counters, &idx);

	if (c)
		__sync_fetch_and_add(c, 1);
}

/* Count n errors into the group of k. */
static __always_inline void count(const struct kerno_err_key *k, __u32 tgid, __u64 n)
{
	__u64 now = bpf_ktime_get_ns();
	struct kerno_err_val *v = bpf_map_lookup_elem(&err_groups, k);

	if (!v) {
		struct kerno_err_val fresh = {};

		/* -EEXIST: another CPU made it meanwhile; look again. */
		bpf_map_update_elem(&err_groups, k, &fresh, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&err_groups, k);
		if (!v) {
			bump(KERNO_ERR_DROP_GROUPS_FULL);
			return;
		}
	}
	/* A softirq program may interrupt a process-context one on this CPU. */
	__sync_fetch_and_add(&v->count, n);
	if (!v->first_ns)
		v->first_ns = now;
	v->last_ns = now;
	v->last_tgid = tgid;
	bump(KERNO_ERR_EV_ERRORS);
}

static __always_inline __u64 cgroup_of_sock(const struct sock *sk)
{
	struct cgroup *cg;

	if (bpf_core_field_exists(struct sock_cgroup_data, cgroup)) {
		cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	} else {
		struct sock_cgroup_data___old *d = (void *)&sk->sk_cgrp_data;
		__u64 val = BPF_CORE_READ(d, val);

		/* The low bit set means the field holds net_cls/prio data, no cgroup. */
		cg = (val & 1) ? NULL : (struct cgroup *)val;
	}
	return cg ? BPF_CORE_READ(cg, kn, id) : 0;
}

static __always_inline bool is_tcp(const struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) == IPPROTO_TCP;
}

static __always_inline bool ephemeral(__u16 port)
{
	return port >= eph_lo && port <= eph_hi;
}

/* The process the capture saw using the socket, if any: its tgid, else 0. */
static __always_inline __u32 capture_owner(struct kerno_err_key *k, __u64 skaddr, int *role)
{
	struct kerno_conn *c = bpf_map_lookup_elem(&conns, &skaddr);
	struct kerno_proc *p;
	__u32 tgid;

	if (!c || !c->tgid)
		return 0;
	tgid = c->tgid;
	*role = c->role;
	k->cgroup_id = c->cgroup_id;
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (p)
		__builtin_memcpy(k->comm, p->comm, sizeof(k->comm));
	return tgid;
}

/*
 * The workload and endpoint of a socket. A socket this unit saw connect is
 * a client: its peer is the endpoint; one the capture knows has its role
 * from there. Otherwise a socket whose local port is ephemeral and whose
 * peer's is not is taken for a client too (it connected before the agent
 * started); the rest are servers, keyed by their local port and the peer's
 * address.
 */
static __always_inline __u32 key_of_sock(struct kerno_err_key *k, const struct sock *sk, bool full)
{
	__u64 skaddr = (__u64)sk;
	struct kerno_err_owner *o = full ? bpf_map_lookup_elem(&err_owners, &skaddr) : NULL;
	__u16 local = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 peer = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	int role = KERNO_ROLE_UNKNOWN;
	__u32 tgid = 0;

	/* A socket moving to CLOSE gives its port back (inet_put_port) before an
	 * active reset goes out; inet_sport keeps it. */
	if (!local && full)
		local = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	k->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (k->family == AF_INET6)
		BPF_CORE_READ_INTO(&k->addr, sk, __sk_common.skc_v6_daddr);
	else
		BPF_CORE_READ_INTO((__u32 *)k->addr, sk, __sk_common.skc_daddr);
	if (o) {
		role = KERNO_ROLE_CLIENT;
		k->cgroup_id = o->cgroup_id;
		__builtin_memcpy(k->comm, o->comm, sizeof(k->comm));
		tgid = o->tgid;
	} else if (full) {
		tgid = capture_owner(k, skaddr, &role);
		if (!tgid)
			k->cgroup_id = cgroup_of_sock(sk);
	}
	if (role == KERNO_ROLE_CLIENT ||
	    (role == KERNO_ROLE_UNKNOWN && ephemeral(local) && !ephemeral(peer))) {
		k->flags |= KERNO_ERR_F_CLIENT;
		k->port = peer;
	} else {
		k->port = local;
	}
	return tgid;
}

static __always_inline void record_owner(const struct sock *sk)
{
	struct kerno_err_owner o = {
		.cgroup_id = bpf_get_current_cgroup_id(),
		.tgid = bpf_get_current_pid_tgid() >> 32,
	};
	__u64 skaddr = (__u64)sk;

	bpf_get_current_comm(&o.comm, sizeof(o.comm));
	if (bpf_map_update_elem(&err_owners, &skaddr, &o, BPF_ANY))
		bump(KERNO_ERR_DROP_OWNERS_FULL);
}

static __always_inline void on_connect_failed(const struct sock *sk)
{
	int err = BPF_CORE_READ(sk, sk_err);
	struct kerno_err_key k = { .code = err };
	__u32 tgid = key_of_sock(&k, sk, true);

	k.class = err == ECONNREFUSED ? KERNO_ERR_CONNECT_REFUSED :
		  err == ETIMEDOUT    ? KERNO_ERR_CONNECT_TIMEOUT :
					KERNO_ERR_CONNECT_FAILED;
	count(&k, tgid, 1);
}

static __always_inline int on_state(const struct sock *sk, int old, int new)
{
	__u64 skaddr = (__u64)sk;
	bool connecting = old == ST_CLOSE && new == ST_SYN_SENT;

	/* Most transitions are neither: leave before reading the socket. */
	if ((!connecting && new != ST_CLOSE) || !is_tcp(sk))
		return 0;
	if (connecting) {
		record_owner(sk);
		return 0;
	}
	if (old == ST_SYN_SENT) {
		on_connect_failed(sk);
	} else if ((old == ST_ESTABLISHED || old == ST_CLOSE_WAIT) &&
		   BPF_CORE_READ(sk, sk_err) == ETIMEDOUT) {
		struct kerno_err_key k = { .class = KERNO_ERR_TIMEOUT, .code = ETIMEDOUT };
		__u32 tgid = key_of_sock(&k, sk, true);

		count(&k, tgid, 1);
	}
	if (!owners_until_destroy)
		bpf_map_delete_elem(&err_owners, &skaddr);
	return 0;
}

static __always_inline int on_destroy(const struct sock *sk)
{
	__u64 skaddr = (__u64)sk;

	bpf_map_delete_elem(&err_owners, &skaddr);
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(err_destroy_sock, struct sock *sk)
{
	return on_destroy(sk);
}

SEC("raw_tp/tcp_destroy_sock")
int BPF_PROG(err_destroy_sock_raw, struct sock *sk)
{
	return on_destroy(sk);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(err_sock_state, const struct sock *sk, int old, int new)
{
	return on_state(sk, old, new);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(err_sock_state_raw, const struct sock *sk, int old, int new)
{
	return on_state(sk, old, new);
}

static __always_inline int on_receive_reset(const struct sock *sk)
{
	struct kerno_err_key k = { .class = KERNO_ERR_RESET_RECEIVED, .code = ECONNRESET };
	__u32 tgid;

	/* In SYN_SENT the reset is a refusal, counted when the socket closes. */
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == ST_SYN_SENT)
		return 0;
	tgid = key_of_sock(&k, sk, true);
	count(&k, tgid, 1);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(err_receive_reset, struct sock *sk)
{
	return on_receive_reset(sk);
}

SEC("raw_tp/tcp_receive_reset")
int BPF_PROG(err_receive_reset_raw, struct sock *sk)
{
	return on_receive_reset(sk);
}

/*
 * A reset in reply to a segment no socket wanted (or a listener's): the
 * endpoint is the segment's destination port and its sender's address.
 */
static __always_inline void key_of_segment(struct kerno_err_key *k, const struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	struct tcphdr tcp = {};
	__u8 ver = 0;

	if (!head)
		return;
	bpf_probe_read_kernel(&ver, 1, head + nh);
	if (ver >> 4 == 4) {
		k->family = AF_INET;
		bpf_probe_read_kernel(k->addr, 4, head + nh + offsetof(struct iphdr, saddr));
	} else if (ver >> 4 == 6) {
		k->family = AF_INET6;
		bpf_probe_read_kernel(k->addr, 16, head + nh + offsetof(struct ipv6hdr, saddr));
	}
	if (!bpf_probe_read_kernel(&tcp, sizeof(tcp), head + th))
		k->port = bpf_ntohs(tcp.dest);
}

static __always_inline int on_send_reset(const struct sock *sk, const struct sk_buff *skb)
{
	struct kerno_err_key k = { .class = KERNO_ERR_RESET_SENT };
	__u32 tgid = 0;
	int state = sk ? BPF_CORE_READ(sk, __sk_common.skc_state) : 0;

	if (sk && state != ST_LISTEN)
		/* Time-wait and request sockets share only sock_common. */
		tgid = key_of_sock(&k, sk, state != ST_TIME_WAIT && state != ST_NEW_SYN_RECV);
	else if (skb)
		key_of_segment(&k, skb);
	if (sk && state == ST_LISTEN)
		k.cgroup_id = cgroup_of_sock(sk);
	count(&k, tgid, 1);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(err_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	return on_send_reset(sk, skb);
}

SEC("raw_tp/tcp_send_reset")
int BPF_PROG(err_send_reset_raw, const struct sock *sk, const struct sk_buff *skb)
{
	return on_send_reset(sk, skb);
}

/*
 * Before 6.10 tcp_send_reset fired only for full sockets: replies to a
 * segment no socket wanted (a closed port) or a time-wait or request socket
 * got are counted at tcp_v{4,6}_send_reset() instead, where fentry exists.
 */
static __always_inline int on_reply_reset(const struct sock *sk, const struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	struct kerno_err_key k = { .class = KERNO_ERR_RESET_SENT };
	struct tcphdr tcp = {};
	int state = sk ? BPF_CORE_READ(sk, __sk_common.skc_state) : 0;

	if (sk && state != ST_TIME_WAIT && state != ST_NEW_SYN_RECV)
		return 0; /* a full socket: the tracepoint counts it */
	/* The function sends nothing in reply to a reset. */
	if (!head || bpf_probe_read_kernel(&tcp, sizeof(tcp), head + th) || tcp.rst)
		return 0;
	if (sk)
		key_of_sock(&k, sk, false);
	else
		key_of_segment(&k, skb);
	count(&k, 0, 1);
	return 0;
}

SEC("fentry/tcp_v4_send_reset")
int BPF_PROG(err_v4_send_reset, const struct sock *sk, struct sk_buff *skb)
{
	return on_reply_reset(sk, skb);
}

SEC("fentry/tcp_v6_send_reset")
int BPF_PROG(err_v6_send_reset, const struct sock *sk, struct sk_buff *skb)
{
	return on_reply_reset(sk, skb);
}

static __always_inline int on_retransmit(const struct sock *sk, const struct sk_buff *skb, int err)
{
	struct kerno_err_key k = { .class = KERNO_ERR_RETRANSMIT };
	struct tcp_skb_cb *cb = (void *)&skb->cb;
	__u16 segs = BPF_CORE_READ(cb, tcp_gso_segs);
	__u32 tgid;

	if (err)
		return 0; /* not sent: not a retransmission (the kernel counts it apart) */
	tgid = key_of_sock(&k, sk, true);
	count(&k, tgid, segs ? segs : 1);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(err_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
	return on_retransmit(sk, skb, 0);
}

/* Since 6.15 the tracepoint also fires for failed retransmissions, with their error. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(err_retransmit_err, const struct sock *sk, const struct sk_buff *skb, int err)
{
	return on_retransmit(sk, skb, err);
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(err_retransmit_raw, const struct sock *sk, const struct sk_buff *skb)
{
	return on_retransmit(sk, skb, 0);
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(err_retransmit_err_raw, const struct sock *sk, const struct sk_buff *skb, int err)
{
	return on_retransmit(sk, skb, err);
}

/* Signals whose default action dumps core: faults, aborts, limits. */
static __always_inline bool fault_signal(int sig)
{
	return sig == 3 /* QUIT */ || sig == 4 /* ILL */ || sig == 5 /* TRAP */ ||
	       sig == 6 /* ABRT */ || sig == 7 /* BUS */ || sig == 8 /* FPE */ ||
	       sig == 11 /* SEGV */ || sig == 24 /* XCPU */ || sig == 25 /* XFSZ */ ||
	       sig == 31 /* SYS */;
}

/*
 * The leader's exit, once per process: every thread of a group killed by a
 * signal exits with the group's exit code (signal, 0x80 when it dumped core).
 */
static __always_inline int on_exit(struct task_struct *task)
{
	int code = BPF_CORE_READ(task, exit_code), sig = code & 0x7f;
	struct kerno_err_key k = { .code = sig };
	__u32 tgid = BPF_CORE_READ(task, tgid);

	if (!sig || BPF_CORE_READ(task, pid) != tgid)
		return 0;
	if (sig == SIGKILL && BPF_CORE_READ(task, signal, oom_mm))
		k.class = KERNO_ERR_OOM_KILL;
	else if (fault_signal(sig))
		k.class = KERNO_ERR_FATAL_SIGNAL;
	else
		return 0; /* SIGTERM, SIGKILL, SIGINT...: someone asked for it */
	if (code & 0x80)
		k.flags |= KERNO_ERR_F_CORE;
	/* The exiting task is current: its cgroup is still attached. */
	k.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(&k.comm, sizeof(k.comm));
	count(&k, tgid, 1);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(err_exit, struct task_struct *task)
{
	return on_exit(task);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(err_exit_raw, struct task_struct *task)
{
	return on_exit(task);
}
