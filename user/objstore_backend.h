/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where sealed objects go. The object store writer (objstore.c) batches
 * OTLP/JSON lines per signal into gzip objects bounded by size and age, names
 * each one
 *
 *   <prefix>/<signal>/year=YYYY/month=MM/day=DD/hour=HH/<node>-<unique>.json.gz
 *
 * (DESIGN.md) and hands it, whole, to one backend:
 *
 *   - local: DATA_DIR/objects/<key>, written to a temporary name, fsync'ed,
 *     renamed into place, directory fsync'ed: no reader sees a partial object;
 *   - s3: sealed into the encrypted disk spool, fsync'ed, and uploaded from
 *     there by the uploader's own thread.
 *
 * put() returning 0 is the durability point: log checkpoints advance only
 * after it (issue 6), and spans are counted as stored only after it.
 */
#ifndef KERNO_OBJSTORE_BACKEND_H
#define KERNO_OBJSTORE_BACKEND_H

#include <stddef.h>

struct obj_backend {
	const char *name; /* "local", "s3": for log lines and the hello envelope */

	/*
	 * Durably accept one complete object: `key` as above (no leading '/'),
	 * `data` the gzip bytes. Called from the writer's thread only.
	 * Returns 0 once the object can no longer be lost (it survives a
	 * SIGKILL or power loss from here on); -ENOSPC or -EAGAIN when the
	 * backend is full and the caller should slow down and retry later
	 * (backpressure, nothing was kept); another negative errno on failure
	 * (nothing was kept).
	 */
	int (*put)(struct obj_backend *b, const char *key, const void *data, size_t len);

	/*
	 * Bytes accepted but not yet at their final destination (0 for local):
	 * the writer reads it to apply backpressure before put() has to refuse.
	 */
	unsigned long long (*pending_bytes)(struct obj_backend *b);

	/*
	 * Whether an object put() earlier (possibly by a run that was killed
	 * right after) is durably kept: 1 yes, 0 no, negative errno when it
	 * cannot tell. Optional (NULL: cannot tell). Log checkpoints record the
	 * key of the object they are about to put; on restart this decides
	 * whether its lines are already stored, so a SIGKILL between put() and
	 * the checkpoint neither loses nor duplicates them. Answering 0 or
	 * failing is safe (the lines are read again: duplicates, never loss).
	 */
	int (*exists)(struct obj_backend *b, const char *key);

	/* Stop any thread, flush what can be flushed within a short bound, free b. */
	void (*close)(struct obj_backend *b);
};

#endif /* KERNO_OBJSTORE_BACKEND_H */
