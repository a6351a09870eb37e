// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The uplink envelope's bytes: see envelope.h. */
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

char *envelope_line(const char *type, unsigned long long seq, time_t now, json_t *data, size_t *len)
{
	char ts[32], *text, *line;
	struct tm tm;
	json_t *env;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* Built in the documented key order, which jansson keeps. */
	env = json_pack("{s:i, s:s, s:I, s:s, s:O}", "v", ENVELOPE_VERSION, "type", type, "seq",
			(json_int_t)seq, "ts", ts, "data", data);
	if (!env)
		return NULL;
	/* 15 digits: bounds such as 1.024e-6 print as written, not 1.0240000000000001e-6. */
	text = json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	json_decref(env);
	if (!text)
		return NULL;
	*len = strlen(text);
	line = realloc(text, *len + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	line[(*len)++] = '\n';
	line[*len] = '\0';
	return line;
}
