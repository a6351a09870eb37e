/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS in the kernel, over TCP (each message after a two-byte length) and
 * over UDP (one message a datagram). A query and its response are matched by
 * transaction id; the query type and the response's rcode make the series.
 * Names are not kept. Included by proto.bpf.h.
 *
 * UDP sockets have no connection entry: a query waits for its response in
 * dns_pending, keyed by socket and transaction id, an LRU map so that
 * queries never answered cannot fill it.
 */
#ifndef KERNO_PROTO_DNS_BPF_H
#define KERNO_PROTO_DNS_BPF_H

#define DNS_HDR 12
#define DNS_LABELS 32
#define DNS_IDX(i) ((i) & (2 * KERNO_PROTO_HEAD - 1))

/*
 * The query type of the single question of the message at v[at, at + n),
 * when its name ends within the view; 0 otherwise.
 */
static __always_inline __u32 dns_qtype(struct seg_ctx *x, const char *v, __u32 at, __u32 n)
{
	__u32 pos = at + DNS_HDR, i;
	__u8 l;

	if (n > KERNO_PROTO_HEAD)
		n = KERNO_PROTO_HEAD;
	for (i = 0; i < DNS_LABELS; i++) {
		if (pos >= at + n)
			return 0;
		l = v[DNS_IDX(pos)];
		if (!l)
			goto end;
		if (l >= 64)
			return 0; /* compressed or malformed: not in a question */
		pos += l + 1;
	}
	return 0;
end:
	pos = launder(&x->nl, pos);
	if (pos + 3 > at + n || pos + 3 >= KERNO_PROTO_HEAD)
		return 0;
	return be16_at(v, pos + 1);
}

/* Is v[at, at + n) the header of a standard query (0), a response (1), or neither (-1)? */
static __always_inline int dns_kind(const char *v, __u32 at, __u32 n)
{
	__u8 flags = v[DNS_IDX(at + 2)];

	if (n < DNS_HDR || (flags & 0x78) || be16_at(v, at + 4) != 1)
		return -1;
	if (!(flags & 0x80))
		return be16_at(v, at + 6) || be16_at(v, at + 8) ? -1 : 0;
	return 1;
}

/* One DNS message over TCP: its head is v[0, avail). */
static __always_inline long dns_tcp_message(struct kerno_conn *c, struct seg_ctx *x,
					    struct kerno_http_dir *d, const char *v, __u32 avail)
{
	__u64 total;
	__u32 len, qtype;
	struct kerno_req_slot *s;
	int kind;

	if (avail < 2 + DNS_HDR)
		return PROTO_MORE;
	len = be16_at(v, 0);
	total = (__u64)len + 2;
	if (pg_need_more(total, KERNO_PROTO_HEAD, avail))
		return PROTO_MORE;
	kind = dns_kind(v, 2, len);
	if (kind < 0)
		return PROTO_BAD;
	if (kind == 0 && (d->flags & KERNO_F_REQUEST)) {
		qtype = dns_qtype(x, v, 2, avail - 2 < len ? avail - 2 : len);
		if (proto_push(c, x, KERNO_DNS_TCP)) {
			s = proto_newest(c);
			s->path[0] = v[2];
			s->path[1] = v[3];
			s->path[2] = qtype;
			s->path[3] = qtype >> 8;
		}
	} else if (kind == 1 && (d->flags & KERNO_F_RESPONSE)) {
		proto_answer(c, v[5] & 0xf, 0, x->now);
	} else {
		return PROTO_BAD;
	}
	return pg_consume(d, total, avail);
}

/* A query seen on a UDP socket, waiting for its response. */
struct dns_key {
	__u64 sk;
	__u32 id; /* transaction id */
	__u32 pad;
};

struct dns_query {
	__u64 start_ns;
	__u64 cgroup_id;
	__u32 tgid;
	__u16 qtype;
	__u16 server_port;
	__u8 role;
	__u8 family;
	__u8 pad[6];
	__u8 peer_addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct dns_key);
	__type(value, struct dns_query);
} dns_pending SEC(".maps");

struct sockaddr_any {
	__u16 family;
	__u16 port; /* network order */
	__u32 flowinfo_or_v4; /* sin_addr for AF_INET */
	__u8 v6[16];
};

/*
 * Where a UDP query goes: the address given to sendto() or sendmsg(), or
 * the socket's peer when it is connected.
 */
static __always_inline void dns_dest(struct dns_query *q, struct sock *sk, const void *uaddr)
{
	struct sockaddr_any a = {};

	if (uaddr && !bpf_probe_read_user(&a, sizeof(a), uaddr) &&
	    (a.family == 2 || a.family == 10)) {
		q->family = a.family;
		q->server_port = bpf_ntohs(a.port);
		if (a.family == 2)
			__builtin_memcpy(q->peer_addr, &a.flowinfo_or_v4, 4);
		else
			__builtin_memcpy(q->peer_addr, a.v6, 16);
		return;
	}
	q->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	q->server_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (q->family == 2)
		bpf_core_read(q->peer_addr, 4, &sk->__sk_common.skc_daddr);
	else
		bpf_core_read(q->peer_addr, 16, &sk->__sk_common.skc_v6_daddr);
}

/*
 * A datagram of n bytes at ubuf moved on UDP socket sk in direction dir;
 * uaddr is the destination the caller named, if any. Queries wait in
 * dns_pending, responses to them make a series observation.
 */
#ifndef KERNO_PROTO_NO_UDP /* the TLS object (kern/tls.bpf.c) sees TCP only */
static __noinline int dns_udp(struct sock *sk, __u64 dir, __u64 ubuf, __u64 n, const void *uaddr)
{
	struct kerno_scratch *sc = get_scratch();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct dns_key key = { .sk = (__u64)sk };
	struct kerno_series_key *k;
	struct kerno_series_val *v;
	struct dns_query q = {}, *w;
	int kind;
	__u32 b;

	if (!sc || n < DNS_HDR)
		return 0;
	if (n > KERNO_PROTO_HEAD)
		n = KERNO_PROTO_HEAD;
	if (bpf_probe_read_user(sc->line, bounded_index(n, KERNO_PROTO_HEAD + 1, KERNO_PROTO_HEAD),
				(const void *)ubuf))
		return 0;
	kind = dns_kind(sc->line, 0, n);
	if (kind < 0)
		return 0;
	key.id = be16_at(sc->line, 0);
	if (kind == 0) {
		q.start_ns = bpf_ktime_get_ns();
		q.tgid = pid_tgid >> 32;
		q.cgroup_id = bpf_get_current_cgroup_id();
		q.qtype = dns_qtype(&sc->seg, sc->line, 0, n);
		if (remember_proc(q.tgid, q.cgroup_id))
			return 0;
		if (dir == KERNO_DIR_TX) {
			q.role = KERNO_ROLE_CLIENT;
			dns_dest(&q, sk, uaddr);
		} else {
			/* The client's address is not known here. */
			q.role = KERNO_ROLE_SERVER;
			q.family = BPF_CORE_READ(sk, __sk_common.skc_family);
			q.server_port = BPF_CORE_READ(sk, __sk_common.skc_num);
		}
		bpf_map_update_elem(&dns_pending, &key, &q, BPF_ANY);
		return 0;
	}
	w = bpf_map_lookup_elem(&dns_pending, &key);
	if (!w || (w->role == KERNO_ROLE_CLIENT) != (dir == KERNO_DIR_RX))
		return 0;
	k = &sc->key;
	__builtin_memset(k, 0, sizeof(*k));
	k->cgroup_id = w->cgroup_id;
	k->tgid = w->tgid;
	k->server_port = w->server_port;
	k->status = sc->line[3] & 0xf;
	k->role = w->role;
	k->family = w->family;
	k->proto = KERNO_P_DNS;
	k->code = w->qtype;
	__builtin_memcpy(k->peer_addr, w->peer_addr, sizeof(k->peer_addr));
	n = bpf_ktime_get_ns() - w->start_ns;
	bpf_map_delete_elem(&dns_pending, &key);
	v = bpf_map_lookup_elem(&series, k);
	if (!v) {
		bpf_map_update_elem(&series, k, &sc->zero_series, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&series, k);
		if (!v) {
			count(KERNO_DROP_SERIES_TABLE_FULL);
			return 0;
		}
	}
	b = kerno_hist_bucket(n);
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->sum_ns, n);
	__sync_fetch_and_add(
		&v->buckets[bounded_index(b, KERNO_HIST_BUCKETS, KERNO_HIST_BUCKETS - 1)], 1);
	count(KERNO_EV_REQUESTS);
	return 0;
}
#endif

#endif /* KERNO_PROTO_DNS_BPF_H */
