// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Keep, sample or cap: see log_filter.h. */
#include "log_filter.h"

static bool take_token(const struct log_filter_opts *o, struct log_rate *rate, uint64_t now_ms)
{
	if (!o->rate_limit)
		return true;
	if (!rate->last_ms) {
		rate->tokens = o->rate_limit;
		rate->last_ms = now_ms;
	}
	rate->tokens += (double)(now_ms - rate->last_ms) * o->rate_limit / 1000.0;
	rate->last_ms = now_ms;
	if (rate->tokens > o->rate_limit)
		rate->tokens = o->rate_limit;
	if (rate->tokens < 1.0)
		return false;
	rate->tokens -= 1.0;
	return true;
}

enum log_verdict log_filter_judge(const struct log_filter_opts *o, struct log_rate *rate,
				  struct log_record *r, const struct log_template_hit *hit,
				  uint64_t now_ms)
{
	uint64_t past_first;
	unsigned int every = o->sample_every ? o->sample_every : 1;
	enum log_verdict v;

	r->weight = 1;
	if (r->severity >= LOG_SEV_WARN)
		return LOG_KEEP_SEVERE;
	if (o->keep_all) {
		v = LOG_KEEP_ALL;
	} else if (hit->count <= o->first_n) {
		v = LOG_KEEP_FIRST;
	} else {
		past_first = hit->count - o->first_n;
		if ((past_first - 1) % every)
			return LOG_DROP_SAMPLED;
		r->weight = every;
		v = LOG_KEEP_SAMPLE;
	}
	return take_token(o, rate, now_ms) ? v : LOG_DROP_RATE;
}
