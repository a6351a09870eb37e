/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Preon's spool: batches waiting for Nanobe, sealed at rest (seal.h), one
 * file per batch, sent oldest first and deleted once Nanobe acknowledged
 * them. A batch is on disk before the first attempt to send it, so a Preon
 * restart or a Nanobe outage loses nothing.
 *
 * Every batch has an id "<spool id>-<seq>": the spool id is random, made
 * when the directory is first used and kept in it; seq grows by one per
 * batch and is kept on disk too, so ids never repeat, across restarts
 * included. Nanobe uses them to recognise a batch sent twice (acknowledged
 * but the answer lost).
 *
 * Bounded: past max_bytes of sealed files the oldest batches are deleted,
 * and counted, to make room.
 *
 * Layout: DIR/id (the spool id), DIR/seq (the next seq),
 * DIR/b-<seq, 20 digits>.seal (a batch: its path line, "\n", its body).
 */
#ifndef KERNO_BATCH_SPOOL_H
#define KERNO_BATCH_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "seal.h"

struct batch_spool;

struct spooled_batch {
	unsigned long long seq;
	char id[64]; /* "<spool id>-<seq>" */
	char path[64]; /* where it goes, e.g. "/v1/metrics" */
	uint8_t *body; /* malloc'ed */
	size_t len;
};

/* Create or reopen dir (mode 0700). 0, or a negative errno with a one-line reason in err. */
int batch_spool_open(const char *dir, const struct seal_key *key, unsigned long long max_bytes,
		     struct batch_spool **out, char *err, size_t errlen);
void batch_spool_close(struct batch_spool *s);

/* Seal and store one batch for path. 0 or a negative errno (nothing stored). */
int batch_spool_put(struct batch_spool *s, const char *path, const void *body, size_t len);

/*
 * The oldest batch into *b (free with batch_spool_batch_free). 0, -ENOENT when
 * the spool is empty, or a negative errno. A batch that fails to open
 * (corrupt, or sealed with another key) is deleted and counted as dropped,
 * and the next one is read.
 */
int batch_spool_peek(struct batch_spool *s, struct spooled_batch *b);

/* Delete the batch of that seq once delivered. */
int batch_spool_remove(struct batch_spool *s, unsigned long long seq);

void batch_spool_batch_free(struct spooled_batch *b);

/* Batches stored now, bytes they take, and batches dropped (full or corrupt) since opening. */
size_t batch_spool_count(const struct batch_spool *s);
unsigned long long batch_spool_bytes(const struct batch_spool *s);
unsigned long long batch_spool_dropped(const struct batch_spool *s);

#endif /* KERNO_BATCH_SPOOL_H */
