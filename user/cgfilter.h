/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which series belong to a cgroup v2 subtree, decided in userspace by the
 * cgroup id the kernel recorded with each series (on cgroup2 a cgroup's id
 * is its directory's inode number). The subtree is walked again on every
 * refresh, so cgroups created later are included.
 */
#ifndef KERNO_CGFILTER_H
#define KERNO_CGFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cgfilter {
	char *root;
	uint64_t *ids; /* sorted */
	size_t n, cap;
};

/* 0, or -1 with a one-line message when root is not a cgroup v2 directory. */
int cgfilter_init(struct cgfilter *f, const char *root, char *err, size_t errlen);
void cgfilter_free(struct cgfilter *f);

/* Walk the subtree again. 0 or a negative errno (the old set is kept then). */
int cgfilter_refresh(struct cgfilter *f);

bool cgfilter_has(const struct cgfilter *f, uint64_t cgroup_id);

#endif /* KERNO_CGFILTER_H */
