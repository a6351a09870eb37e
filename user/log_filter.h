/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Edge filtering: which records are worth the customer's bucket.
 *
 *   - warnings, errors and worse are always kept;
 *   - the first `first_n` records of every template are kept;
 *   - past those, one record in `sample_every` of a template is kept and
 *     carries the number of records it stands for (its weight);
 *   - a source (one container's file) keeps at most `rate_limit` records a
 *     second beyond its warnings and errors (a token bucket with one
 *     second of burst); what the cap refuses is counted.
 *
 * With keep_all every record is kept (the cap still applies when set).
 */
#ifndef KERNO_LOG_FILTER_H
#define KERNO_LOG_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "log_drain.h"
#include "log_record.h"

struct log_filter_opts {
	bool keep_all;
	unsigned int first_n;
	unsigned int sample_every; /* 1: keep every repeat */
	unsigned int rate_limit; /* records a second per source; 0: none */
};

enum log_verdict {
	LOG_KEEP_SEVERE, /* warning or worse */
	LOG_KEEP_FIRST, /* one of a template's first records */
	LOG_KEEP_SAMPLE, /* a baseline sample, with a weight */
	LOG_KEEP_ALL, /* keep_all */
	LOG_DROP_SAMPLED, /* represented by a sample's weight */
	LOG_DROP_RATE, /* refused by the source's rate cap */
};

/* A source's token bucket. */
struct log_rate {
	double tokens;
	uint64_t last_ms;
};

static inline bool log_verdict_kept(enum log_verdict v)
{
	return v <= LOG_KEEP_ALL;
}

/*
 * Judge one record of template `hit` from a source with bucket `rate` at
 * monotonic time now_ms. Sets r->weight for kept records.
 */
enum log_verdict log_filter_judge(const struct log_filter_opts *o, struct log_rate *rate,
				  struct log_record *r, const struct log_template_hit *hit,
				  uint64_t now_ms);

#endif /* KERNO_LOG_FILTER_H */
