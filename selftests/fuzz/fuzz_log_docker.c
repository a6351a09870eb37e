// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for Docker json-file lines (user/log_parse_docker.c and
 * the JSON scanner user/log_json.c). Checked: the unescaped message fits in
 * the input's length (the caller sizes its buffer so), a message without
 * its newline is partial, and the parse is deterministic.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *again = malloc(size + 1);
	struct log_frame_msg m, m2;
	int ret;

	if (!buf || !again)
		abort();
	ret = log_parse_docker((const char *)data, size, buf, &m);
	if (!ret) {
		assert(m.len <= size);
		assert(m.msg == buf);
		assert(log_parse_docker((const char *)data, size, again, &m2) == 0);
		assert(m2.len == m.len && !memcmp(buf, again, m.len));
		assert(m2.partial == m.partial && m2.time_ns == m.time_ns);
	}
	free(buf);
	free(again);
	return 0;
}
