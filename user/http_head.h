/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A strict parser for the head of an HTTP/1.1 response, as the WebSocket
 * client reads it twice: from an HTTP CONNECT proxy and from the server's
 * answer to the upgrade request. Both come from the network, so every byte
 * is checked and nothing is trusted to be terminated or bounded.
 *
 * The parsed head points into the caller's buffer; it is valid as long as
 * that buffer is.
 */
#ifndef KERNO_HTTP_HEAD_H
#define KERNO_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_HEAD_MAX_BYTES 8192
#define HTTP_HEAD_MAX_FIELDS 48

struct http_field {
	const char *name;
	size_t name_len;
	const char *value; /* leading and trailing blanks removed */
	size_t value_len;
};

struct http_head {
	int status; /* 100..999 */
	size_t n_fields;
	struct http_field fields[HTTP_HEAD_MAX_FIELDS];
};

/*
 * Parse the response head at the start of buf[0..len). Returns the head's
 * length (through the blank line), 0 when more bytes are needed, -EPROTO
 * when it is not a well-formed HTTP/1.x response head, -E2BIG when it is
 * longer than HTTP_HEAD_MAX_BYTES or has more than HTTP_HEAD_MAX_FIELDS
 * fields. Obsolete line folding is refused (RFC 9112 allows that).
 */
long http_head_parse(const char *buf, size_t len, struct http_head *h);

/* The first field named `name` (case-insensitive), or NULL. */
const struct http_field *http_head_field(const struct http_head *h, const char *name);

/* How many fields are named `name`. */
size_t http_head_count(const struct http_head *h, const char *name);

/*
 * Whether a comma-separated field value holds `token` (case-insensitive),
 * as "Connection: keep-alive, Upgrade" holds "upgrade".
 */
bool http_field_has_token(const struct http_field *f, const char *token);

/* Whether the field's whole value is `text`, compared case-insensitively or exactly. */
bool http_field_is(const struct http_field *f, const char *text, bool ignore_case);

#endif /* KERNO_HTTP_HEAD_H */
