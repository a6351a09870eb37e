/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The S3 uploader's disk spool: one sealed file per object, named by a
 * sequence number so the oldest goes first, each sealed (seal.h) with the
 * object's key inside, fsync'ed before spool_put() returns. Multipart
 * progress (upload id, part ETags) sits beside its object in a sealed .mpu
 * file, so an upload resumes after a restart.
 *
 * Bounded: spool_put() refuses (-ENOSPC) what would take the sealed bytes
 * over max_bytes. Leftover temporary files are removed at open, and a
 * progress file whose object is gone (completed just before a crash) too.
 */
#ifndef KERNO_SPOOL_H
#define KERNO_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "s3.h"
#include "seal.h"

struct spool;

struct spool *spool_open(const char *dir, const struct seal_key *key, unsigned long long max_bytes,
			 char *err, size_t errlen);
void spool_close(struct spool *sp);

/*
 * 0 once durable; -ENOSPC when full (retry later), -EFBIG when larger than
 * the whole spool, other -errno on failure (nothing kept).
 */
int spool_put(struct spool *sp, const char *key, const void *data, size_t len);

unsigned long long spool_bytes(struct spool *sp);
size_t spool_count(struct spool *sp);

/* Up to max oldest entry ids (and their sealed sizes when sizes is not NULL). */
size_t spool_oldest(struct spool *sp, uint64_t *ids, size_t max);
size_t spool_oldest_sized(struct spool *sp, uint64_t *ids, unsigned long long *sizes, size_t max);

/*
 * Open entry id: malloc'ed key and data (free both). -EBADMSG when the file
 * does not open (corrupt, truncated, another key): the caller drops it.
 */
int spool_load(struct spool *sp, uint64_t id, char **key, uint8_t **data, size_t *len);

/* 1 when an entry holds this object key, 0 when none, negative errno on failure. */
int spool_has_key(struct spool *sp, const char *key);

/* Delete entry id and its progress file. */
int spool_remove(struct spool *sp, uint64_t id);

struct spool_mpu {
	char upload_id[1024];
	struct s3_part *parts; /* malloc'ed, n entries, in any order */
	size_t n;
};

/* Multipart progress of entry id: 0, -ENOENT when none, other -errno. */
int spool_mpu_load(struct spool *sp, uint64_t id, struct spool_mpu *m);
int spool_mpu_save(struct spool *sp, uint64_t id, const struct spool_mpu *m);
int spool_mpu_drop(struct spool *sp, uint64_t id);
void spool_mpu_free(struct spool_mpu *m);

/* Whether any entry's progress file names this upload id (for the stale-upload sweep). */
int spool_mpu_ids(struct spool *sp, char ***ids, size_t *n);

#endif /* KERNO_SPOOL_H */
