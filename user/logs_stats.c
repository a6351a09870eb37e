// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The log pipeline's counters as OTLP/JSON: see logs_stats.h. */
#include <stdio.h>

#include "logs_stats.h"

#ifndef KERNO_VERSION
#define KERNO_VERSION "dev"
#endif

static const char *const names[LOGS__COUNT] = {
	[LOGS_LINES] = "lines",
	[LOGS_BYTES] = "bytes",
	[LOGS_RECORDS] = "records",
	[LOGS_KEPT_SEVERE] = "kept_severe",
	[LOGS_KEPT_FIRST] = "kept_first",
	[LOGS_KEPT_SAMPLE] = "kept_sample",
	[LOGS_KEPT_ALL] = "kept_all",
	[LOGS_DROP_SAMPLED] = "sampled",
	[LOGS_DROP_RATE] = "rate_limited",
	[LOGS_DROP_CUT] = "line_cut",
	[LOGS_DROP_STORE] = "store_refused",
	[LOGS_DROP_STORE_FAILED] = "store_failed",
	[LOGS_DROP_NOMEM] = "no_memory",
	[LOGS_DROP_ERRORS_UNTRACKED] = "error_groups_full",
	[LOGS_DROP_FILES_OVER_LIMIT] = "files_over_limit",
	[LOGS_OBJECTS] = "objects",
	[LOGS_STORED_JSON] = "stored_json_bytes",
	[LOGS_STORED_GZIP] = "stored_gzip_bytes",
	[LOGS_BACKPRESSURE] = "backpressure",
	[LOGS_CKPTS] = "checkpoints",
	[LOGS_CKPT_FAILED] = "checkpoint_failures",
	[LOGS_FILES_OPENED] = "files_opened",
	[LOGS_FILES_CLOSED] = "files_closed",
	[LOGS_TRUNCATIONS] = "truncations",
	[LOGS_COPIES] = "copies",
	[LOGS_INODE_REUSE] = "inode_reuse",
	[LOGS_RESUMED] = "resumed",
	[LOGS_TEMPLATES_EVICTED] = "templates_evicted",
	[LOGS_REDACTED] = "redacted",
};

const char *logs_stat_name(int i)
{
	return i >= 0 && i < LOGS__COUNT && names[i] ? names[i] : "unknown";
}

bool logs_stat_is_drop(int i)
{
	return i == LOGS_DROP_SAMPLED || i == LOGS_DROP_RATE || i == LOGS_DROP_CUT ||
	       i == LOGS_DROP_STORE || i == LOGS_DROP_STORE_FAILED || i == LOGS_DROP_NOMEM ||
	       i == LOGS_DROP_ERRORS_UNTRACKED || i == LOGS_DROP_FILES_OVER_LIMIT;
}

bool logs_stat_is_gauge(int i)
{
	return i == LOGS_DROP_FILES_OVER_LIMIT;
}

static json_t *u64_str(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

static json_t *sum(const struct logs_stats *d, bool drops, uint64_t start_ns, uint64_t end_ns)
{
	json_t *points = json_array(), *dp;
	int i;

	for (i = 0; points && i < LOGS__COUNT; i++) {
		if (logs_stat_is_drop(i) != drops)
			continue;
		dp = json_pack("{s:[{s:s, s:{s:s}}], s:o, s:o, s:o}", "attributes", "key",
			       drops ? "reason" : "event", "value", "stringValue", names[i],
			       "startTimeUnixNano", u64_str(start_ns), "timeUnixNano",
			       u64_str(end_ns), "asInt", u64_str(d->c[i]));
		if (!dp || json_array_append_new(points, dp)) {
			json_decref(points);
			return NULL;
		}
	}
	return json_pack("{s:s, s:s, s:s, s:{s:i, s:b, s:o}}", "name",
			 drops ? "kerno.logs.drops" : "kerno.logs.events", "description",
			 drops ? "Log records and lines not stored as read, by reason." :
				 "Log pipeline events, by event.",
			 "unit", "{event}", "sum", "aggregationTemporality", 1, "isMonotonic", 1,
			 "dataPoints", points);
}

json_t *logs_stats_json(const struct logs_stats *d, uint64_t start_ns, uint64_t end_ns,
			const char *host)
{
	return json_pack("{s:{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}]}, s:[{s:{s:s}, s:[o, o]}]}",
			 "resource", "attributes", "key", "service.name", "value", "stringValue",
			 "kerno", "key", "host.name", "value", "stringValue", host, "scopeMetrics",
			 "scope", "name", "kerno.logs", "metrics", sum(d, false, start_ns, end_ns),
			 sum(d, true, start_ns, end_ns));
}
