/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Naming the processes behind series: from /proc while they run, else from
 * the kernel's `procs` map, which kept the command name of every process that
 * owned a tracked connection (a client that ran and exited within one
 * interval is still named in that interval's data).
 */
#ifndef KERNO_PROCNAMES_H
#define KERNO_PROCNAMES_H

#include "procinfo.h"

/* A process found exited, still named in the procs map until its grace ends. */
struct proc_exited {
	__u32 pid;
	__u64 since_ns; /* CLOCK_MONOTONIC when first found exited */
};

struct proc_names {
	struct procinfo_cache *cache;
	int procs_fd; /* the kernel's procs map */
	struct proc_exited *exited; /* sorted by pid */
	size_t n_exited;
};

/* An otlp_proc_lookup_fn; ctx is a struct proc_names. */
int proc_names_lookup(void *ctx, __u32 pid, struct procinfo *out);

/*
 * Forget processes that have exited: at once in the cache, PROC_NAME_GRACE_S
 * after they were first found exited in the kernel map, so that a client
 * that ran between two screens of `kerno top` (or two drains) still has its
 * name there. A live process is named from /proc first, so a pid reused
 * meanwhile shows its own name.
 */
#define PROC_NAME_GRACE_S 30
void proc_names_prune(struct proc_names *pn);

/* Free the cache and the list of exited processes (not procs_fd: its owner closes it). */
void proc_names_free(struct proc_names *pn);

#endif /* KERNO_PROCNAMES_H */
