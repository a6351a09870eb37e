/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Drops per process: the kernel keeps them cumulative in each process's
 * entry of the `procs` map (struct kerno_proc); this turns them into deltas
 * per interval, so that `kerno.capture.drops` can name the process whose
 * traffic was not measured (the agent's own resource carries the node-wide
 * totals, which also include drops no process can be blamed for).
 */
#ifndef KERNO_PROCDROPS_H
#define KERNO_PROCDROPS_H

#include <stddef.h>

#include "kerno_types.h"
#include "../kern/capture.h"

struct kerno_proc_drops {
	__u32 tgid;
	__u64 drops[KERNO_DROP__COUNT];
};

struct procdrops {
	struct kerno_proc_drops *seen; /* cumulative values last read, by tgid */
	size_t n_seen;
	struct kerno_proc_drops *delta; /* the last interval's non-zero deltas, by tgid */
	size_t n_delta;
};

/*
 * Read every process of the procs map and return, in *out (valid until the
 * next call), the processes whose drops grew since the last call, with by
 * how much, sorted by tgid. A process first seen counts from zero. Returns
 * their number, or a negative errno.
 */
long procdrops_collect(struct procdrops *pd, int procs_fd, const struct kerno_proc_drops **out);

void procdrops_free(struct procdrops *pd);

#endif /* KERNO_PROCDROPS_H */
