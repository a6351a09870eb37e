/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Files that survive a crash or power loss: what the spools, queues,
 * checkpoints and object stores all need. A file is replaced by writing a
 * temporary beside it, fsync'ing it, renaming it over the old one and
 * fsync'ing the directory, so a reader sees the old content or the new,
 * never a part.
 */
#ifndef KERNO_DURABLE_H
#define KERNO_DURABLE_H

#include <stddef.h>

/* Write all len bytes (retrying short writes and EINTR). 0 or a negative errno. */
int durable_write_all(int fd, const void *data, size_t len);

/* fsync a directory, so the entries just made or renamed in it stay. 0 or -errno. */
int durable_sync_dir(const char *dir);

/* durable_sync_dir() of the directory holding path. */
int durable_sync_dir_of(const char *path);

/*
 * Replace path with len bytes of data (mode 0600), durably, as above.
 * 0, or a negative errno with path untouched and no temporary left.
 */
int durable_replace(const char *path, const void *data, size_t len);

/*
 * durable_replace() through the temporary tmp, which must be on the same
 * file system as path (a store that keeps its temporaries apart).
 */
int durable_replace_via(const char *tmp, const char *path, const void *data, size_t len);

#endif /* KERNO_DURABLE_H */
