/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where reading resumes after a restart: per file its identity (device,
 * inode and a fingerprint of its first bytes, which tells a reused inode
 * from the same file) and the offset up to which every byte has been
 * durably stored or deliberately dropped.
 *
 * DATA_DIR/logs/checkpoints, text, one file a line after a version line:
 *
 *   kerno-log-checkpoints 2
 *   [pending <object key>]
 *   <dev> <ino> <fp_len> <fp hex> <offset> <pending offset> <path>
 *
 * A `pending` line is written just before an object is put: its offsets
 * are those the object completes. On restart, when the object exists the
 * pending offsets hold, otherwise the committed ones do (the object's
 * lines are read again), so a crash between put and checkpoint neither
 * loses nor duplicates lines.
 *
 * Saved whole to a temporary file, fsync'ed, renamed over the old one and
 * the directory fsync'ed: a crash leaves the old or the new file, never a
 * mix. Lines that do not parse are skipped (and counted).
 */
#ifndef KERNO_LOG_CHECKPOINT_H
#define KERNO_LOG_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct log_ckpt_entry {
	uint64_t dev, ino;
	uint32_t fp_len;
	uint64_t fp;
	uint64_t off;
	uint64_t pending_off; /* once the pending object exists */
	char *path; /* for people reading the file; not used to match */
};

struct log_ckpt {
	struct log_ckpt_entry *e;
	size_t n, cap;
	char *pending_key; /* NULL: no object in flight */
	unsigned long long bad_lines;
};

/* A missing file is an empty checkpoint. Returns 0 or a negative errno. */
int log_ckpt_load(const char *path, struct log_ckpt *c);

/* Settle a pending object: its offsets hold if it was stored, the committed ones otherwise. */
void log_ckpt_settle(struct log_ckpt *c, bool stored);

/* Add an entry (path copied). Returns 0 or -ENOMEM. */
int log_ckpt_add(struct log_ckpt *c, const struct log_ckpt_entry *e);

/* Write c atomically to path. Returns 0 or a negative errno. */
int log_ckpt_save(const char *path, const struct log_ckpt *c);

/* Drop every entry (the array stays for reuse); log_ckpt_free also frees it. */
void log_ckpt_clear(struct log_ckpt *c);
void log_ckpt_free(struct log_ckpt *c);

/* The entry of (dev, ino), or NULL. */
struct log_ckpt_entry *log_ckpt_find(struct log_ckpt *c, uint64_t dev, uint64_t ino);

#endif /* KERNO_LOG_CHECKPOINT_H */
