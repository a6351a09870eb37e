// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The local-directory backend: DATA_DIR/objects/<key>. An object is written
 * under DATA_DIR/objects/.tmp/ (same file system), fsync'ed, renamed into
 * place and the directory fsync'ed, so a reader sees either nothing or the
 * whole object, and put() returning 0 means it survives a crash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "durable.h"
#include "objstore.h"

struct local_backend {
	struct obj_backend ops;
	char root[PATH_MAX]; /* DATA_DIR/objects */
	char tmp[PATH_MAX]; /* DATA_DIR/objects/.tmp */
	unsigned long long serial;
};

/* mkdir -p of the directories in `path` below root, each new one made durable in its parent. */
static int make_parents(const char *root, char *path)
{
	size_t rlen = strlen(root);
	char *slash;
	int ret;

	for (slash = strchr(path + rlen + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (!mkdir(path, 0700)) {
			char *up = strrchr(path, '/');

			*up = '\0';
			ret = durable_sync_dir(path);
			*up = '/';
			if (ret) {
				*slash = '/';
				return ret;
			}
		} else if (errno != EEXIST) {
			ret = -errno;
			*slash = '/';
			return ret;
		}
		*slash = '/';
	}
	return 0;
}

static int local_put(struct obj_backend *ob, const char *key, const void *data, size_t len)
{
	struct local_backend *b = (struct local_backend *)ob;
	char final[PATH_MAX], tmp[PATH_MAX + 64];
	int ret;

	if (!*key || *key == '/' || strstr(key, "..") ||
	    (size_t)snprintf(final, sizeof(final), "%s/%s", b->root, key) >= sizeof(final))
		return -EINVAL;
	snprintf(tmp, sizeof(tmp), "%s/%llu-%d.tmp", b->tmp, ++b->serial, (int)getpid());
	ret = make_parents(b->root, final);
	if (ret)
		return ret;
	return durable_replace_via(tmp, final, data, len);
}

static int local_exists(struct obj_backend *ob, const char *key)
{
	struct local_backend *b = (struct local_backend *)ob;
	char path[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", b->root, key) >= sizeof(path))
		return -ENAMETOOLONG;
	if (!stat(path, &st))
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

static unsigned long long local_pending(struct obj_backend *ob)
{
	return 0;
}

static void local_close(struct obj_backend *ob)
{
	free(ob);
}

/* Temporary files of a run that was killed mid-write are garbage: no object refers to them. */
static void remove_leftovers(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

struct obj_backend *objstore_local_new(const char *data_dir, char *err, size_t errlen)
{
	struct local_backend *b = calloc(1, sizeof(*b));

	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->ops.name = "local";
	b->ops.put = local_put;
	b->ops.pending_bytes = local_pending;
	b->ops.exists = local_exists;
	b->ops.close = local_close;
	snprintf(b->root, sizeof(b->root), "%s/objects", data_dir);
	snprintf(b->tmp, sizeof(b->tmp), "%s/objects/.tmp", data_dir);
	if ((mkdir(data_dir, 0700) && errno != EEXIST) ||
	    (mkdir(b->root, 0700) && errno != EEXIST) || (mkdir(b->tmp, 0700) && errno != EEXIST)) {
		snprintf(err, errlen, "cannot create %s: %s", b->tmp, strerror(errno));
		free(b);
		return NULL;
	}
	remove_leftovers(b->tmp);
	return &b->ops;
}
