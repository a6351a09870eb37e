// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for CRI framing (user/log_parse_cri.c through
 * user/log_frame.c). The input is a file's content: it is cut into lines
 * and framed with a small cap, so partial merging and cutting are reached.
 * Checked: messages lie inside the input or the merge buffer, never exceed
 * the cap, and every partial is eventually handed out.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log_frame.h"

#define CAP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct log_frame f;
	struct log_message m;
	struct log_frame_msg one;
	static volatile unsigned int sum;

	log_frame_init(&f, LOG_FORMAT_CRI, CAP);
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		if (!log_parse_cri(p, nl - p, &one))
			assert(one.msg >= p && one.msg + one.len <= nl);
		if (log_frame_line(&f, p, nl - p, false, p - (const char *)data, &m) == 1) {
			assert(m.len <= CAP);
			assert(m.start_off <= (uint64_t)(p - (const char *)data));
			/* Every byte readable (ASan checks the reads). */
			for (size_t i = 0; i < m.len; i++)
				sum += (unsigned char)m.body[i];
		}
		p = nl + 1;
	}
	if (log_frame_flush(&f, &m))
		assert(m.len <= CAP);
	assert(!f.pending);
	log_frame_free(&f);
	return 0;
}
