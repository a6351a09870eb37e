// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the HTTP/1.1 response parser of the S3 client and
 * the credential providers (user/http1_resp.c). Input: [0] how the body is
 * cut into pieces for the chunked decoder (piece length 1 + byte % 64, or
 * all at once when 0), then the response bytes. Checked: the head parser
 * never claims more bytes than it was given, every field lies inside the
 * input, and the chunked decoder gives the same bytes whatever the cuts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1_resp.h"

static void check_head(const char *buf, size_t len, ssize_t used, const struct http1_head *h)
{
	size_t i;

	if (used > (ssize_t)len)
		abort();
	for (i = 0; used > 0 && i < h->n_fields; i++) {
		const struct http1_field *f = &h->fields[i];

		if (f->name < buf || f->name + f->name_len > buf + used || f->value < buf ||
		    f->value + f->value_len > buf + used)
			abort();
	}
}

static ssize_t dechunk_cut(const char *in, size_t len, size_t piece, struct strbuf *out, bool *done)
{
	struct http1_chunked c = { 0 };
	size_t off = 0, n;
	ssize_t r;

	while (off < len && !c.done) {
		n = piece && len - off > piece ? piece : len - off;
		r = http1_dechunk(&c, in + off, n, out);
		if (r < 0)
			return -1;
		if ((size_t)r > n || ((size_t)r < n && !c.done))
			abort();
		off += (size_t)r;
	}
	*done = c.done;
	return (ssize_t)off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf whole = { 0 }, cut = { 0 };
	struct http1_head h;
	bool d1, d2;
	ssize_t used, r1, r2;
	char *buf;
	char v[64];
	size_t len;

	if (size < 1)
		return 0;
	len = size - 1;
	buf = malloc(len ? len : 1);
	memcpy(buf, data + 1, len);
	used = http1_parse_head(buf, len, &h);
	check_head(buf, len, used, &h);
	if (used > 0) {
		http1_field(&h, "content-length", v, sizeof(v));
		http1_field(&h, "etag", v, 1);
	}
	/* The decoder on whatever follows the head (or on everything). */
	used = used > 0 ? used : 0;
	r1 = dechunk_cut(buf + used, len - (size_t)used, 0, &whole, &d1);
	r2 = dechunk_cut(buf + used, len - (size_t)used, data[0] ? 1 + data[0] % 64 : 0, &cut, &d2);
	if ((r1 < 0) != (r2 < 0))
		abort();
	if (r1 >= 0 && (r1 != r2 || d1 != d2 || whole.len != cut.len ||
			(whole.len && memcmp(whole.s, cut.s, whole.len))))
		abort();
	sb_free(&whole);
	sb_free(&cut);
	free(buf);
	return 0;
}
