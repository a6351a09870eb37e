/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/1.1 responses from servers we upload to or take credentials from:
 * the head (status line and header fields) and chunked transfer coding.
 * Input is untrusted: every length is bounded, nothing is read past len,
 * and malformed input is an error, never a crash (fuzzed:
 * selftests/fuzz/fuzz_http1_resp.c).
 */
#ifndef KERNO_HTTP1_RESP_H
#define KERNO_HTTP1_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "strbuf.h"

#define HTTP1_MAX_HEAD 65536
#define HTTP1_MAX_HEADERS 64

struct http1_field {
	const char *name, *value; /* into the parsed buffer, not NUL-terminated */
	size_t name_len, value_len; /* value trimmed of blanks */
};

struct http1_head {
	int status;
	size_t n_fields;
	struct http1_field fields[HTTP1_MAX_HEADERS];
	long long content_length; /* -1 when absent */
	bool chunked; /* Transfer-Encoding ends in chunked */
	bool close; /* Connection: close, or HTTP/1.0 */
};

/*
 * Parse a response head at the start of buf: its length (the body starts
 * there) once complete, 0 when more bytes are needed, -1 when malformed or
 * larger than HTTP1_MAX_HEAD or HTTP1_MAX_HEADERS.
 */
ssize_t http1_parse_head(const char *buf, size_t len, struct http1_head *h);

/* A header's value (first of that name, case-insensitive) copied into out, or -1. */
int http1_field(const struct http1_head *h, const char *name, char *out, size_t size);

struct http1_chunked {
	int state;
	unsigned long long left; /* bytes of the current chunk still to come */
	unsigned int digits;
	bool done;
};

/*
 * Decode chunked transfer coding: consume in[0..len), append the payload to
 * out. Returns the bytes consumed (less than len only once the last chunk
 * and trailers are through: c->done), or -1 when malformed.
 */
ssize_t http1_dechunk(struct http1_chunked *c, const char *in, size_t len, struct strbuf *out);

#endif /* KERNO_HTTP1_RESP_H */
