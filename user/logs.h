/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Log collection: the pipeline and its thread.
 *
 *   files (log_tail) -> lines -> messages (log_frame: CRI, Docker, raw)
 *     -> records (log_multiline) -> time and severity (log_parse)
 *     -> template (log_drain) -> keep or drop (log_filter)
 *     -> OTLP/JSON (log_otlp) -> gzip objects (objstore)
 *   error records -> error groups (log_errors) -> the uplink's `errors`
 *
 * After every object the store accepts durably, the checkpoint records for
 * each file the offset before which every byte is in an object or was
 * dropped on purpose (log_checkpoint); error counts become reportable at the
 * same moment. When the store pushes back, reading stops until it accepts
 * again: files wait on disk, memory does not grow.
 */
#ifndef KERNO_LOGS_H
#define KERNO_LOGS_H

#include <stdint.h>
#include <jansson.h>

#include "config.h"
#include "objstore.h"

struct logs;

/*
 * Start the log thread if any source is configured (a pods or Docker root
 * that exists, or --logs). *out stays NULL when there is nothing to
 * collect. Returns 0, or a negative errno with a one-line reason in err.
 */
int logs_start(const struct kerno_config *cfg, struct objstore *store, struct logs **out, char *err,
	       size_t errlen);

/* Stop reading, store what was read, write the checkpoint, join the thread. Idempotent. */
void logs_stop(struct logs *l);

/* logs_stop() if needed, then free (NULL is fine). */
void logs_free(struct logs *l);

/* Error groups that became reportable since the last call (JSON array), or NULL if none. */
json_t *logs_take_error_groups(struct logs *l);

/* The log pipeline's counters since the last call as an OTLP resourceMetrics entry. */
json_t *logs_metrics(struct logs *l, uint64_t start_ns, uint64_t end_ns, const char *host);

#endif /* KERNO_LOGS_H */
