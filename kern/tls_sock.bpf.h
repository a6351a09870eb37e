/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The socket hooks' side of the TLS capture (see kern/tls_capture.h): socket I/O
 * inside an SSL call is ciphertext. It tells the call its socket, marks the
 * connection TLS, and is never parsed as HTTP nor counted as unparsed.
 */
#ifndef KERNO_TLS_SOCK_BPF_H
#define KERNO_TLS_SOCK_BPF_H

#include "capture_maps.bpf.h"
#include "tls_capture.h"

/*
 * SSL calls in progress, per thread (pid_tgid). LRU: an entry whose return
 * was never seen (a thread that died inside SSL_read) cannot fill the table.
 * Shared with kern/tls.bpf.c, which fills it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct kerno_tls_call);
} tls_calls SEC(".maps");

/* Do the first bytes of a stream, at user address buf, start a TLS handshake record? */
static __always_inline int tls_sniff(__u64 buf)
{
	__u8 h[3];

	if (!buf || bpf_probe_read_user(h, sizeof(h), (const void *)buf))
		return 0;
	/* ContentType handshake (22), then the record's ProtocolVersion 3.0 to 3.4. */
	return h[0] == 0x16 && h[1] == 0x03 && h[2] <= 0x04;
}

/*
 * Is this I/O on c ciphertext? Then its bytes are counted here and nothing
 * else is done with them. A connection whose first data moves inside a
 * probed SSL call (the handshake), or that Go's probes saw start, is TLS
 * and measured; one whose first data is a TLS handshake record outside any
 * probed call is TLS and not measured (see enum kerno_tls_state).
 * dir_ret packs the direction (high half) and the byte count; first_buf is
 * the user buffer when the syscall moves one flat buffer, else 0. Not
 * inlined: plain connections come here once, at their first data.
 */
static __noinline int tls_ciphertext_slow(struct kerno_conn *c, struct sock *sk, __u64 pid_tgid,
					  __u64 dir_ret, __u64 first_buf)
{
	struct kerno_tls_call *t;

	if (!c)
		return 0;
	t = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	if (t)
		t->sk = (__u64)sk;
	if (!c->tls && t) {
		c->tls = KERNO_TLS_MEASURED;
	} else if (!c->tls && tls_sniff(first_buf)) {
		c->tls = KERNO_TLS_UNSEEN;
		count_conn(c, KERNO_DROP_TLS_UNSEEN);
	}
	if (!c->tls)
		return 0;
	if (dir_ret >> 32 == KERNO_DIR_RX)
		c->rx_bytes += (__u32)dir_ret;
	else
		c->tx_bytes += (__u32)dir_ret;
	return 1;
}

/* A plain connection past its first data pays one flag test and a byte count test. */
static __always_inline int tls_ciphertext(struct kerno_conn *c, struct sock *sk, __u64 pid_tgid,
					  __u32 dir, __s64 ret, __u64 first_buf)
{
	if (!c->tls && (c->rx_bytes | c->tx_bytes))
		return 0;
	return tls_ciphertext_slow(c, sk, pid_tgid, (__u64)dir << 32 | (__u32)ret, first_buf);
}

#endif /* KERNO_TLS_SOCK_BPF_H */
