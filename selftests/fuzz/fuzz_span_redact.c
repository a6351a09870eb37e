// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for span payload redaction (user/span_redact.c). The
 * first byte picks the redactor (HTTP message, URL, query, SQL; with bit 2
 * set, the statement of a PostgreSQL or MySQL request, by bit 0), the rest
 * is the payload. Checked: the output is text (printable ASCII, CR, LF,
 * TAB); in an HTTP message, no header line named Authorization, Cookie or
 * Set-Cookie keeps a value other than the redaction mark.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <linux/types.h>

#include "span_redact.h"
#include "../../kern/proto.h"

static void check_text(const struct strbuf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++) {
		unsigned char ch = (unsigned char)b->s[i];

		assert((ch >= 0x20 && ch < 0x7f) || ch == '\r' || ch == '\n' || ch == '\t');
	}
}

/* "Name: value" lines of a secret header carry the mark or nothing (header block only). */
static void check_secret_headers(const struct strbuf *b)
{
	static const char *const names[] = { "authorization:", "cookie:", "set-cookie:" };
	const char *p = b->s, *end, *nl, *v;
	size_t i, n;

	if (!p)
		return;
	end = p + b->len;
	while (p && p < end) {
		nl = memchr(p, '\n', end - p);
		if (p != b->s && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')))
			return; /* the blank line: the body follows */
		for (i = 0; i < 3; i++) {
			n = strlen(names[i]);
			if ((size_t)(end - p) < n || strncasecmp(p, names[i], n))
				continue;
			for (v = p + n; v < end && (*v == ' ' || *v == '\t'); v++)
				;
			if (v == end || *v == '\r' || *v == '\n')
				continue;
			assert(!strncmp(v, SPAN_REDACTED, strlen(SPAN_REDACTED)));
			v += strlen(SPAN_REDACTED);
			assert(v == end || *v == '\r' || *v == '\n');
		}
		p = nl ? nl + 1 : NULL;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf out = { 0 };
	const char *in = (const char *)data + 1;

	if (!size)
		return 0;
	if (data[0] & 4) {
		span_redact_db_request(data[0] & 1 ? KERNO_P_MYSQL : KERNO_P_PGSQL, in, size - 1,
				       &out);
		assert(!out.oom);
		check_text(&out);
		sb_free(&out);
		return 0;
	}
	switch (data[0] & 3) {
	case 0:
		span_redact_http(in, size - 1, &out);
		break;
	case 1:
		span_redact_url(in, size - 1, &out);
		break;
	case 2:
		span_redact_query(in, size - 1, &out);
		break;
	default:
		span_redact_sql(in, size - 1, &out);
		break;
	}
	assert(!out.oom);
	check_text(&out);
	if ((data[0] & 3) == 0)
		check_secret_headers(&out);
	sb_free(&out);
	return 0;
}
