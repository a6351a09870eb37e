/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's error detectors (kern/errors.bpf.c): load, attach what this
 * kernel has (one line on stderr per tracepoint it lacks, the rest keeps
 * working), pin the maps, and turn the kernel's cumulative per-CPU counts
 * into per-interval observations for the error groups (errgroups.h).
 */
#ifndef KERNO_ERRORS_UNIT_H
#define KERNO_ERRORS_UNIT_H

#include <stdbool.h>
#include <stddef.h>

#include "errgroups.h"

struct errors_opts {
	const char *pin_dir; /* where to pin the maps (NULL: not pinned) */
	unsigned int max_groups; /* entries of the kernel's group table */
	unsigned int max_conns; /* connecting sockets remembered at once */
	const char *disable_hooks; /* "tp_btf": take the raw_tp twins everywhere */
	int conns_fd, procs_fd; /* the capture's tables (capture_load.h), or -1 */
	bool verbose;
};

struct errors_unit;

/*
 * Open, configure, load and attach. Returns 0 with *out set, or a negative
 * errno with a one-line reason in err.
 */
int errors_start(struct errors_unit **out, const struct errors_opts *o, char *err, size_t errlen);

/* Detach, unpin, free (NULL is fine). */
void errors_stop(struct errors_unit *u);

/* "tp_btf", "raw_tp" or "mixed": how the hooks attached, for the hello envelope. */
const char *errors_flavour(const struct errors_unit *u);

/*
 * Everything counted since the previous call, added to g; the kernel's
 * drop counters' deltas in drops. Groups idle for idle_rounds calls leave
 * the kernel map. Returns 0 or a negative errno.
 */
int errors_drain(struct errors_unit *u, struct errgroups *g, __u64 drops[KERNO_ERR_DROP__COUNT]);

#endif /* KERNO_ERRORS_UNIT_H */
