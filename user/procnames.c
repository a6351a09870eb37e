// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>

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

void proc_names_prune(struct proc_names *pn)
{
	__u32 pid, next;
	int err;

	procinfo_cache_prune(pn->cache);
	if (pn->procs_fd < 0)
		return;
	err = bpf_map_get_next_key(pn->procs_fd, NULL, &next);
	while (!err) {
		pid = next;
		err = bpf_map_get_next_key(pn->procs_fd, &pid, &next);
		if (kill(pid, 0) && errno == ESRCH)
			bpf_map_delete_elem(pn->procs_fd, &pid);
	}
}
