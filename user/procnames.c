// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "clock.h"
#include "procnames.h"
#include "../kern/capture.h"

int proc_names_lookup(void *ctx, __u32 pid, struct procinfo *out)
{
	struct proc_names *pn = ctx;
	struct kerno_proc kp;

	if (!procinfo_lookup(pn->cache, pid, out))
		return 0;
	if (pn->procs_fd < 0 || bpf_map_lookup_elem(pn->procs_fd, &pid, &kp))
		return -ESRCH;
	memset(out, 0, sizeof(*out));
	snprintf(out->exe, sizeof(out->exe), "%.*s", (int)sizeof(kp.comm), kp.comm);
	return 0;
}

static int by_pid(const void *a, const void *b)
{
	const struct proc_exited *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* When pid was first found exited, or now if this is the first time. */
static __u64 exited_since(const struct proc_names *pn, __u32 pid, __u64 now)
{
	struct proc_exited key = { .pid = pid }, *e;

	if (!pn->n_exited)
		return now;
	e = bsearch(&key, pn->exited, pn->n_exited, sizeof(key), by_pid);
	return e ? e->since_ns : now;
}

/* Append pid to the list of exited processes being built; -ENOMEM if it cannot grow. */
static int list_exited(struct proc_exited **list, size_t *n, size_t *cap, __u32 pid, __u64 since)
{
	struct proc_exited *grown;

	if (*n == *cap) {
		grown = realloc(*list, (*cap ? 2 * *cap : 64) * sizeof(**list));
		if (!grown)
			return -ENOMEM;
		*list = grown;
		*cap = *cap ? 2 * *cap : 64;
	}
	(*list)[(*n)++] = (struct proc_exited){ .pid = pid, .since_ns = since };
	return 0;
}

void proc_names_prune(struct proc_names *pn)
{
	struct proc_exited *kept = NULL;
	size_t n_kept = 0, cap = 0;
	__u64 now = clock_ns(CLOCK_MONOTONIC), since;
	__u32 pid, next;
	int err;

	procinfo_cache_prune(pn->cache);
	if (pn->procs_fd < 0)
		return;
	err = bpf_map_get_next_key(pn->procs_fd, NULL, &next);
	while (!err) {
		pid = next;
		err = bpf_map_get_next_key(pn->procs_fd, &pid, &next);
		if (!kill(pid, 0) || errno != ESRCH)
			continue;
		since = exited_since(pn, pid, now);
		/* Out of grace, or no memory to remember it by: forget the name now. */
		if (now - since >= PROC_NAME_GRACE_S * 1000000000ULL ||
		    list_exited(&kept, &n_kept, &cap, pid, since))
			bpf_map_delete_elem(pn->procs_fd, &pid);
	}
	if (n_kept)
		qsort(kept, n_kept, sizeof(*kept), by_pid);
	free(pn->exited);
	pn->exited = kept;
	pn->n_exited = n_kept;
}

void proc_names_free(struct proc_names *pn)
{
	if (pn->cache)
		procinfo_cache_free(pn->cache);
	pn->cache = NULL;
	free(pn->exited);
	pn->exited = NULL;
	pn->n_exited = 0;
}
