// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for message parsing (user/log_parse.c: logfmt, JSON
 * lines, the common log format, timestamps and severity heuristics). The
 * first byte says how many lines the record claims (stack-trace
 * heuristics). Checked: a severity is always set and valid, and a time
 * parsed from the message is a plausible Unix time.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#include "log_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log_record r = {};
	uint64_t ns;
	size_t used;

	if (!size)
		return 0;
	r.lines = data[0] % 4;
	r.body = (const char *)data + 1;
	r.len = size - 1;
	log_parse_message(&r);
	assert(r.severity == LOG_SEV_TRACE || r.severity == LOG_SEV_DEBUG ||
	       r.severity == LOG_SEV_INFO || r.severity == LOG_SEV_WARN ||
	       r.severity == LOG_SEV_ERROR || r.severity == LOG_SEV_FATAL);
	assert(r.time_ns < 7258118400ULL * 1000000000ULL); /* before 2200 */
	log_parse_logfmt(r.body, r.len, &r);
	used = log_parse_time(r.body, r.len, &ns);
	assert(used <= r.len);
	return 0;
}
