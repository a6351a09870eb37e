/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The object store writer: OTLP/JSON lines are batched per signal, and a
 * batch is sealed into one gzip object once it holds `max_bytes` of JSON or
 * has been open `max_age_ms`, whichever comes first. The sealed object is
 * named
 *
 *   [<prefix>/]<signal>/year=YYYY/month=MM/day=DD/hour=HH/<node>-<unique>.json.gz
 *
 * (UTC hour the batch was opened) and handed whole to the backend
 * (objstore_backend.h). put() returning 0 is the durability point that
 * objstore_seal() reports to its caller: log checkpoints advance only after
 * it.
 *
 * Producers never block inside the writer. They append, ask whether the
 * batch is due, seal it, and when the backend pushes back (-EAGAIN or
 * -ENOSPC, or more than `max_pending_bytes` still on its way) they stop
 * reading their input and try again later: the sealed object stays in the
 * writer, nothing is lost. Only a line that can never fit (longer than
 * max_bytes) or a backend failure that is not backpressure loses data, and
 * both are counted.
 *
 * Thread safety: each signal has its own producer thread; the writer's
 * mutex serialises the backend, so put() runs on one thread at a time.
 */
#ifndef KERNO_OBJSTORE_H
#define KERNO_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "objstore_backend.h"

enum objstore_signal {
	OBJSTORE_TRACES,
	OBJSTORE_LOGS,
	OBJSTORE__SIGNALS,
};

struct objstore_opts {
	const char *prefix; /* key prefix without slashes at either end; NULL or "": none */
	const char *node; /* host name; characters outside [A-Za-z0-9._-] become '_' */
	size_t max_bytes; /* JSON bytes that seal a batch */
	unsigned long long max_age_ms; /* age that seals a non-empty batch */
	unsigned long long max_pending_bytes; /* backend's pending bytes that push back */
	int level; /* gzip level 1-9 */
};

struct objstore_stats {
	unsigned long long objects; /* durably put */
	unsigned long long lines; /* in durably put objects */
	unsigned long long json_bytes; /* uncompressed, in durably put objects */
	unsigned long long gzip_bytes; /* compressed, durably put */
	unsigned long long backpressure; /* put() or pending_bytes said "slow down" */
	unsigned long long failed_objects; /* put() failed for good: their lines are lost */
	unsigned long long dropped_lines; /* lost: failed objects, lines too long, no memory */
	unsigned long long dropped_bytes;
};

struct objstore;

/* A writer over `backend`, which it owns from here on (closed by objstore_close, even on error). */
int objstore_open(const struct objstore_opts *o, struct obj_backend *backend,
		  struct objstore **out);

/*
 * Add one line (no newline inside) to the signal's open batch. Returns 0, or
 * -E2BIG (a line longer than max_bytes) or -ENOMEM: the line is dropped and
 * counted. Never blocks on the backend.
 */
int objstore_append(struct objstore *w, enum objstore_signal s, const char *line, size_t len);

/* Whether the open batch should be sealed now (size or age; `now_ms` monotonic). */
bool objstore_due(struct objstore *w, enum objstore_signal s, unsigned long long now_ms);

/*
 * Called with the sealed object's key just before put(): the producer
 * records it (log checkpoints) so that after a crash it can ask
 * objstore_exists() whether the put completed. Nonzero: do not put now
 * (the batch is kept, objstore_seal returns -EAGAIN).
 */
typedef int (*objstore_intent_fn)(void *ctx, const char *key);

/*
 * Seal the open batch (if any) and put it, calling intent (if not NULL)
 * first. Returns 1 when an object was durably stored, 0 when there was
 * nothing to store, -EAGAIN when the backend pushed back or intent refused
 * (the batch is kept, compressed, and the next call retries it: stop
 * producing meanwhile), or another negative errno when the backend failed
 * (the batch is dropped and counted).
 */
int objstore_seal(struct objstore *w, enum objstore_signal s, objstore_intent_fn intent, void *ctx);

/* The backend's exists(): 1, 0, or a negative errno (-ENOSYS when it cannot tell). */
int objstore_exists(struct objstore *w, const char *key);

/* True while producers should pause: the last put was refused or too much is pending. */
bool objstore_congested(struct objstore *w);

/* Bytes the signal's open batch holds (JSON, or gzip once sealed and awaiting a retry). */
size_t objstore_buffered(struct objstore *w, enum objstore_signal s);

void objstore_get_stats(struct objstore *w, enum objstore_signal s, struct objstore_stats *out);

/* Seal and put what is open (one attempt each), then close the backend and free w. */
void objstore_close(struct objstore *w);

/*
 * Local-directory backend: objects under <data_dir>/objects/<key>, written to
 * <data_dir>/objects/.tmp/, fsync'ed, renamed into place, directories
 * fsync'ed. Leftover temporary files of a killed run are removed.
 * Returns NULL with a one-line reason in err.
 */
struct obj_backend *objstore_local_new(const char *data_dir, char *err, size_t errlen);

/* Monotonic milliseconds, the clock of max_age_ms. */
unsigned long long objstore_now_ms(void);

#endif /* KERNO_OBJSTORE_H */
