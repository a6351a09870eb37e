/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The log pipeline's counters and how they are reported: two OTLP sums in
 * the agent's metrics envelope, `kerno.logs.events` (by event) and
 * `kerno.logs.drops` (by reason: every record or line the pipeline lost or
 * refused on purpose). Delta temporality like every Kerno metric.
 */
#ifndef KERNO_LOGS_STATS_H
#define KERNO_LOGS_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "log_filter.h"

enum logs_stat {
	LOGS_LINES, /* physical lines read */
	LOGS_BYTES, /* bytes read */
	LOGS_RECORDS, /* records after framing and joining */
	LOGS_VERDICT_BASE, /* one per enum log_verdict, in its order */
	LOGS_KEPT_SEVERE = LOGS_VERDICT_BASE + LOG_KEEP_SEVERE,
	LOGS_KEPT_FIRST = LOGS_VERDICT_BASE + LOG_KEEP_FIRST,
	LOGS_KEPT_SAMPLE = LOGS_VERDICT_BASE + LOG_KEEP_SAMPLE,
	LOGS_KEPT_ALL = LOGS_VERDICT_BASE + LOG_KEEP_ALL,
	LOGS_DROP_SAMPLED = LOGS_VERDICT_BASE + LOG_DROP_SAMPLED,
	LOGS_DROP_RATE = LOGS_VERDICT_BASE + LOG_DROP_RATE,
	LOGS_DROP_CUT, /* records cut at the line cap (kept, shortened) */
	LOGS_DROP_STORE, /* records the store refused to take (too big, no memory) */
	LOGS_DROP_STORE_FAILED, /* lines in objects the backend failed to keep */
	LOGS_DROP_NOMEM,
	LOGS_DROP_ERRORS_UNTRACKED, /* error records without room for their group */
	LOGS_DROP_FILES_OVER_LIMIT, /* gauge: files left unopened by max-files */
	LOGS_OBJECTS,
	LOGS_STORED_JSON,
	LOGS_STORED_GZIP,
	LOGS_BACKPRESSURE,
	LOGS_CKPTS,
	LOGS_CKPT_FAILED,
	LOGS_FILES_OPENED,
	LOGS_FILES_CLOSED,
	LOGS_TRUNCATIONS,
	LOGS_COPIES,
	LOGS_INODE_REUSE,
	LOGS_RESUMED,
	LOGS_TEMPLATES_EVICTED,
	LOGS_REDACTED, /* credentials replaced in stored records */
	LOGS__COUNT,
};

struct logs_stats {
	unsigned long long c[LOGS__COUNT];
};

const char *logs_stat_name(int i);
bool logs_stat_is_drop(int i);
bool logs_stat_is_gauge(int i);

/* One resourceMetrics entry for the agent with both sums; NULL when out of memory. */
json_t *logs_stats_json(const struct logs_stats *delta, uint64_t start_ns, uint64_t end_ns,
			const char *host);

#endif /* KERNO_LOGS_STATS_H */
