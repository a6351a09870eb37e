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

struct proc_names {
	struct procinfo_cache *cache;
	int procs_fd; /* the kernel's procs map */
};

/* An otlp_proc_lookup_fn; ctx is a struct proc_names. */
int proc_names_lookup(void *ctx, __u32 pid, struct procinfo *out);

/* Forget processes that have exited, in the cache and in the kernel map. */
void proc_names_prune(struct proc_names *pn);

#endif /* KERNO_PROCNAMES_H */
