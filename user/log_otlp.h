/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Log records as OTLP/JSON, one ExportLogsServiceRequest per object line:
 *
 *   {"resourceLogs":[{"resource":{"attributes":[...]},"scopeLogs":[{"scope":
 *    {"name":"kerno.logs","version":"..."},"logRecords":[{...},{...}]}]}]}
 *
 * Written by hand into a growing buffer (no JSON library on this path: it
 * runs for every kept record). Bodies are escaped as JSON and made valid
 * UTF-8 (invalid bytes become U+FFFD).
 */
#ifndef KERNO_LOG_OTLP_H
#define KERNO_LOG_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log_record.h"

struct log_otlp {
	char *p;
	size_t len, cap;
	unsigned int records; /* in the open request */
	bool failed; /* out of memory: the request is unusable */
};

/* The resource's attributes: NULL values are left out. */
struct log_resource {
	const char *host;
	const char *path;
	const char *k8s_namespace;
	const char *k8s_pod;
	const char *k8s_pod_uid;
	const char *k8s_container;
	const char *restart_count;
	const char *container_id;
};

/* The attributes array of a resource as JSON text (malloc'ed), NULL when out of memory. */
char *log_otlp_resource(const struct log_resource *r);

/* Open a request for a resource whose attributes are `attrs` (from log_otlp_resource). */
void log_otlp_begin(struct log_otlp *b, const char *attrs);
void log_otlp_record(struct log_otlp *b, const struct log_record *r, uint64_t observed_ns);
/* Close the request: b->p[0..b->len) is one line, without a newline. */
void log_otlp_end(struct log_otlp *b);
void log_otlp_reset(struct log_otlp *b);
void log_otlp_free(struct log_otlp *b);

/* Append s as a JSON string (quotes included). */
void log_otlp_string(struct log_otlp *b, const char *s, size_t len);

#endif /* KERNO_LOG_OTLP_H */
