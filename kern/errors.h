/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Errors detected in the kernel (errors.bpf.c), shared with the userspace
 * that drains them (user/errors.c). The kernel counts each error into a
 * per-CPU hash keyed by what makes an error group (class, code, workload,
 * endpoint): nothing crosses to userspace per event.
 *
 * Field names read well in `bpftool map dump pinned .../err_groups`.
 */
#ifndef KERNO_ERRORS_H
#define KERNO_ERRORS_H

/*
 * Error classes. Stable numbers: they are the `class` of the kernel's keys.
 * Classes whose detector lives in userspace (HTTP, from the metric series;
 * SQL, Redis, DNS, gRPC from the protocol parsers) have numbers here too so
 * that one fingerprint space covers them all (user/errgroups.h).
 */
enum kerno_err_class {
	KERNO_ERR_NONE = 0,
	KERNO_ERR_CONNECT_REFUSED = 1, /* SYN answered by a reset; code ECONNREFUSED */
	KERNO_ERR_CONNECT_TIMEOUT = 2, /* SYN retries exhausted; code ETIMEDOUT */
	KERNO_ERR_CONNECT_FAILED = 3, /* other SYN_SENT -> CLOSE; code = socket errno (0: the
					 * application gave up: closed or timed out itself) */
	KERNO_ERR_RESET_RECEIVED = 4, /* RST on a synchronized connection; code = TCP state */
	KERNO_ERR_RESET_SENT = 5, /* RST sent; code = TCP state (0: no socket, e.g. closed port) */
	KERNO_ERR_RETRANSMIT = 6, /* segments retransmitted; code 0 */
	KERNO_ERR_TIMEOUT = 7, /* established connection given up (ETIMEDOUT) */
	KERNO_ERR_OOM_KILL = 8, /* process killed by the OOM killer; code = signal (9) */
	KERNO_ERR_FATAL_SIGNAL = 9, /* process killed by a fault/abort signal; code = signal */
	/* Detected in userspace. */
	KERNO_ERR_HTTP_SERVER = 16, /* code = status, 5xx */
	KERNO_ERR_HTTP_CLIENT = 17, /* code = status, 5xx seen by a client */
	KERNO_ERR_HTTP_SERVER_4XX = 18, /* client errors, kept apart from 5xx */
	KERNO_ERR_HTTP_CLIENT_4XX = 19,
	/* Reserved for the protocol parsers (branch protos): see user/errgroups.h. */
	KERNO_ERR_GRPC = 32, /* code = grpc-status */
	KERNO_ERR_SQL = 33, /* code = SQLSTATE packed (5 chars base 36) or MySQL error number */
	KERNO_ERR_REDIS = 34, /* code = hash of the error prefix (ERR, WRONGTYPE...) */
	KERNO_ERR_DNS = 35, /* code = RCODE (2 SERVFAIL, 3 NXDOMAIN...) */
	KERNO_ERR_CLASS__COUNT = 64,
};

/* Flags of a key. */
enum kerno_err_flags {
	KERNO_ERR_F_CORE = 1 << 0, /* the process dumped core */
	KERNO_ERR_F_CLIENT = 1 << 1, /* socket errors: the socket connected out (peer = server) */
};

/*
 * One error group as the kernel sees it. The workload is the cgroup and the
 * command name, not the pid, so that crashes of many processes of one
 * program make one group. The endpoint: for client sockets the peer
 * (address and port); for server sockets the local port and the peer's
 * address (its ephemeral port is left out).
 */
struct kerno_err_key {
	__u64 cgroup_id; /* cgroup v2 id of the process (or socket); 0 unknown */
	char comm[16]; /* command name; empty when not known (softirq, no owner) */
	__u8 addr[16]; /* peer address; IPv4 in the first four bytes */
	__u16 port; /* peer port (client) or local port (server) */
	__u16 class; /* enum kerno_err_class */
	__u32 code; /* 32 bits: room for a packed SQLSTATE */
	__u8 family; /* AF_INET, AF_INET6, 0 for process errors */
	__u8 flags; /* enum kerno_err_flags */
	__u8 pad[6];
};

/* Per-CPU value of a group: cumulative since the group was created. */
struct kerno_err_val {
	__u64 count;
	__u64 first_ns; /* bpf_ktime_get_ns() of the first error on this CPU */
	__u64 last_ns; /* and of the last */
	__u32 last_tgid; /* the process of the last error (0 unknown) */
	__u32 pad;
};

/* Who connected a socket: recorded at connect() time, kept until close. */
struct kerno_err_owner {
	__u64 cgroup_id;
	char comm[16];
	__u32 tgid;
	__u32 pad;
};

/* The unit's own losses and counts, in the per-CPU `err_counters` array. */
enum kerno_err_counter {
	KERNO_ERR_DROP_GROUPS_FULL = 0, /* an error counted nowhere: err_groups full */
	KERNO_ERR_DROP_OWNERS_FULL, /* a connecting socket not recorded: err_owners full */
	KERNO_ERR_DROP__COUNT,
	KERNO_ERR_EV_ERRORS = KERNO_ERR_DROP__COUNT, /* errors counted into a group */
	KERNO_ERR_COUNTER__COUNT,
};

#endif /* KERNO_ERRORS_H */
