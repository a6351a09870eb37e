// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The common and combined log formats of nginx and Apache:
 *
 *   10.0.0.1 - frank [26/Nov/2026:12:00:00 +0000] "GET /a HTTP/1.1" 503 12 "-" "curl/8"
 *
 * Time from the bracketed date; severity from the status: 5xx ERROR, 4xx
 * WARN, anything else INFO.
 */
#include <string.h>

#include "log_parse.h"

/* Past `n` blank-separated fields. */
static const char *skip_fields(const char *p, const char *end, int n)
{
	while (n-- > 0) {
		while (p < end && *p != ' ')
			p++;
		if (p >= end)
			return NULL;
		p++;
	}
	return p;
}

bool log_parse_clf(const char *s, size_t len, struct log_record *r)
{
	const char *p, *end = s + len, *q;
	uint64_t ns;
	size_t used;
	int status = 0, i;

	p = skip_fields(s, end, 3);
	if (!p || p >= end || *p != '[')
		return false;
	used = log_parse_time(p + 1, end - p - 1, &ns);
	if (!used || p + 1 + used + 3 > end || p[1 + used] != ']' || p[2 + used] != ' ' ||
	    p[3 + used] != '"')
		return false;
	/* The request line, which may hold escaped quotes. */
	for (q = p + 4 + used; q < end && *q != '"'; q++)
		if (*q == '\\' && q + 1 < end)
			q++;
	if (q + 5 > end || q[1] != ' ')
		return false;
	for (i = 2; i < 5; i++) {
		if (q[i] < '0' || q[i] > '9')
			return false;
		status = status * 10 + (q[i] - '0');
	}
	if (q + 5 < end && q[5] != ' ')
		return false;
	if (!r->time_ns)
		r->time_ns = ns;
	r->severity = status >= 500 ? LOG_SEV_ERROR : status >= 400 ? LOG_SEV_WARN : LOG_SEV_INFO;
	return true;
}
