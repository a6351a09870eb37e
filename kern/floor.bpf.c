// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Empty programs at the capture's attach points. `kerno bench-floor` attaches
 * these so that `make bench` can tell the cost of the hooks themselves from
 * the cost of the work capture.bpf.c does in them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_sock_state, const struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(floor_sock_send, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(floor_sock_recv, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(floor_tcp_sendmsg, struct sock *sk)
{
	return 0;
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(floor_tcp_recvmsg, struct sock *sk)
{
	return 0;
}

SEC("fexit/tcp_sendpage")
int BPF_PROG(floor_tcp_sendpage, struct sock *sk)
{
	return 0;
}
