// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the parsers of what comes back before any frame:
 * the HTTP response head (http_head.c, also read from CONNECT proxies), the
 * upgrade answer's checks (ws_handshake.c) and the permessage-deflate
 * answer (ws_deflate.c), plus the URL parser.
 *
 * Input layout: [0] bit 0: deflate offered; the rest is the server's answer.
 * Invariants: a positive result is a head length within the input; a
 * refused answer says why; an accepted one had the right accept value.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"
#include "ws_client.h"
#include "ws_handshake.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static void check_head(const char *buf, size_t len)
{
	struct http_head h;
	long n = http_head_parse(buf, len, &h);
	size_t i;

	assert(n == 0 || n == -EPROTO || n == -E2BIG || (n > 0 && (size_t)n <= len));
	if (n <= 0)
		return;
	assert(h.status >= 100 && h.status <= 999);
	for (i = 0; i < h.n_fields; i++) {
		assert(h.fields[i].name >= buf &&
		       h.fields[i].name + h.fields[i].name_len <= buf + n);
		assert(h.fields[i].value >= buf &&
		       h.fields[i].value + h.fields[i].value_len <= buf + n);
		http_field_has_token(&h.fields[i], "upgrade");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_deflate_params p;
	char err[256] = "", *copy;
	struct ws_url url;
	long n;

	if (size < 1)
		return 0;
	check_head((const char *)data + 1, size - 1);
	n = ws_answer_check((const char *)data + 1, size - 1, KEY, data[0] & 1, &p, err,
			    sizeof(err));
	assert(n == 0 || n == -EPROTO || n == -EACCES || (n > 0 && (size_t)n <= size - 1));
	if (n < 0)
		assert(err[0]);
	if (n > 0) {
		assert(memmem(data + 1, n, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28));
		assert(!p.enabled || (data[0] & 1));
	}
	ws_deflate_parse_answer((const char *)data + 1, size - 1, &p, err, sizeof(err));
	copy = strndup((const char *)data + 1, size - 1);
	if (copy) {
		ws_url_parse(copy, &url, err, sizeof(err));
		free(copy);
	}
	return 0;
}
