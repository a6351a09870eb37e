/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Error groups from logs: error and fatal records counted per template
 * fingerprint and source, for the uplink's `errors` envelopes. Only the
 * fingerprint, the severity, counts, times and the source's Kubernetes
 * names leave: never the text (DESIGN.md, privacy).
 *
 * Counts are pending until the records' file offsets are committed (the
 * checkpoint that follows a durable object), so a crash and re-read counts
 * no record twice. The table holds at most `max` groups; records of groups
 * that find no room are counted as untracked.
 *
 * Thread safety: the log thread adds and commits, the agent's loop takes.
 */
#ifndef KERNO_LOG_ERRORS_H
#define KERNO_LOG_ERRORS_H

#include <stdint.h>
#include <jansson.h>

#include "log_record.h"

struct log_errors;

struct log_error_source {
	const char *k8s_namespace, *k8s_pod, *k8s_container, *container_id, *path;
};

struct log_errors *log_errors_new(unsigned int max);
void log_errors_free(struct log_errors *e);

void log_errors_add(struct log_errors *e, uint64_t fingerprint, enum log_severity sev,
		    const struct log_error_source *src, uint64_t time_ns);

/* What was added so far becomes reportable. */
void log_errors_commit(struct log_errors *e);

/*
 * The reportable groups as a JSON array (new reference; NULL when out of
 * memory) of {"source":"logs","fingerprint","severity","count","first_seen",
 * "last_seen", "attributes":{...}}; their counts restart from zero.
 */
json_t *log_errors_take(struct log_errors *e);

/* Records of error groups that found no room in the table. */
unsigned long long log_errors_untracked(struct log_errors *e);

#endif /* KERNO_LOG_ERRORS_H */
