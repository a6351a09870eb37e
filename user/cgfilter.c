// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Series of one cgroup v2 subtree: see cgfilter.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgfilter.h"

#define MAX_DEPTH 32

static int push(struct cgfilter *f, uint64_t id)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 64;
		uint64_t *p = realloc(f->ids, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		f->ids = p;
		f->cap = cap;
	}
	f->ids[f->n++] = id;
	return 0;
}

/* dirfd is consumed. */
static int walk(struct cgfilter *f, int dirfd, int depth)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int ret = 0, sub;

	if (fstat(dirfd, &st) || (ret = push(f, st.st_ino))) {
		close(dirfd);
		return ret ? ret : -errno;
	}
	d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return -errno;
	}
	while (!ret && depth < MAX_DEPTH && (e = readdir(d))) {
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0) /* a cgroup removed meanwhile is simply gone */
			ret = walk(f, sub, depth + 1);
	}
	closedir(d);
	return ret;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int cgfilter_refresh(struct cgfilter *f)
{
	struct cgfilter next = { .root = f->root };
	int fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = walk(&next, fd, 0);
	if (ret) {
		free(next.ids);
		return ret;
	}
	if (next.n)
		qsort(next.ids, next.n, sizeof(*next.ids), cmp_u64);
	free(f->ids);
	*f = next;
	return 0;
}

int cgfilter_init(struct cgfilter *f, const char *root, char *err, size_t errlen)
{
	struct statfs sfs;
	int ret;

	memset(f, 0, sizeof(*f));
	if (statfs(root, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(err, errlen, "--cgroup %s is not a cgroup v2 directory", root);
		return -1;
	}
	f->root = strdup(root);
	if (!f->root)
		return -1;
	ret = cgfilter_refresh(f);
	if (ret) {
		snprintf(err, errlen, "cannot read the cgroup tree under %s: %s", root,
			 strerror(-ret));
		return -1;
	}
	return 0;
}

void cgfilter_free(struct cgfilter *f)
{
	free(f->ids);
	free(f->root);
	memset(f, 0, sizeof(*f));
}

bool cgfilter_has(const struct cgfilter *f, uint64_t cgroup_id)
{
	return bsearch(&cgroup_id, f->ids, f->n, sizeof(*f->ids), cmp_u64) != NULL;
}
