// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-process drop deltas from the procs map: see procdrops.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "procdrops.h"

static int cmp_tgid(const void *a, const void *b)
{
	__u32 x = ((const struct kerno_proc_drops *)a)->tgid;
	__u32 y = ((const struct kerno_proc_drops *)b)->tgid;

	return x < y ? -1 : x > y;
}

/* Every entry of the map, sorted by tgid; *n set. NULL with errno on failure. */
static struct kerno_proc_drops *read_all(int fd, size_t *n)
{
	struct kerno_proc_drops *v = NULL, *grown;
	size_t cap = 0;
	struct kerno_proc p;
	__u32 key, next;
	int err;

	*n = 0;
	err = bpf_map_get_next_key(fd, NULL, &next);
	while (!err) {
		key = next;
		err = bpf_map_get_next_key(fd, &key, &next);
		if (bpf_map_lookup_elem(fd, &key, &p))
			continue; /* deleted meanwhile */
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown) {
				free(v);
				errno = ENOMEM;
				return NULL;
			}
			v = grown;
		}
		v[*n].tgid = key;
		memcpy(v[*n].drops, p.drops, sizeof(p.drops));
		(*n)++;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_tgid);
	return v ? v : calloc(1, sizeof(*v));
}

/* cur minus what was seen of the same process; true if anything grew. */
static bool delta_of(const struct procdrops *pd, const struct kerno_proc_drops *cur,
		     struct kerno_proc_drops *out)
{
	const struct kerno_proc_drops *old =
		pd->n_seen ? bsearch(cur, pd->seen, pd->n_seen, sizeof(*cur), cmp_tgid) : NULL;
	bool grew = false;
	unsigned int i;

	out->tgid = cur->tgid;
	for (i = 0; i < KERNO_DROP__COUNT; i++) {
		/* Less than before: the pid belongs to a new process now. */
		__u64 base = old && old->drops[i] <= cur->drops[i] ? old->drops[i] : 0;

		out->drops[i] = cur->drops[i] - base;
		grew |= out->drops[i] != 0;
	}
	return grew;
}

long procdrops_collect(struct procdrops *pd, int procs_fd, const struct kerno_proc_drops **out)
{
	struct kerno_proc_drops *cur, *delta;
	size_t n, i;

	cur = read_all(procs_fd, &n);
	if (!cur)
		return -errno;
	delta = malloc((n ? n : 1) * sizeof(*delta));
	if (!delta) {
		free(cur);
		return -ENOMEM;
	}
	pd->n_delta = 0;
	for (i = 0; i < n; i++)
		if (delta_of(pd, &cur[i], &delta[pd->n_delta]))
			pd->n_delta++;
	free(pd->seen);
	free(pd->delta);
	pd->seen = cur;
	pd->n_seen = n;
	pd->delta = delta;
	*out = delta;
	return pd->n_delta;
}

void procdrops_free(struct procdrops *pd)
{
	free(pd->seen);
	free(pd->delta);
	memset(pd, 0, sizeof(*pd));
}
