// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/1.1 response heads and chunked bodies, from untrusted bytes: see http1_resp.h. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1_resp.h"

/* The end of the line starting at p (the '\n'), or NULL. */
static const char *line_end(const char *p, const char *end)
{
	return memchr(p, '\n', (size_t)(end - p));
}

static int parse_status(const char *p, const char *eol, struct http1_head *h)
{
	size_t len = (size_t)(eol - p);
	int i, s = 0;

	if (len < 12 || memcmp(p, "HTTP/1.", 7) || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
		return -1;
	for (i = 9; i < 12; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		s = s * 10 + (p[i] - '0');
	}
	if (len > 12 && p[12] != ' ' && p[12] != '\r')
		return -1;
	h->status = s;
	h->close = p[7] == '0';
	return 0;
}

static bool token_is(const char *v, size_t len, const char *word)
{
	size_t wl = strlen(word);

	return len == wl && !strncasecmp(v, word, wl);
}

/* Content-Length, Transfer-Encoding and Connection decide how the body is read. */
static int framing(struct http1_head *h, const struct http1_field *f)
{
	long long v = 0;
	size_t i;

	if (token_is(f->name, f->name_len, "content-length")) {
		if (!f->value_len || f->value_len > 18)
			return -1;
		for (i = 0; i < f->value_len; i++) {
			if (!isdigit((unsigned char)f->value[i]))
				return -1;
			v = v * 10 + (f->value[i] - '0');
		}
		if (h->content_length >= 0 && h->content_length != v)
			return -1;
		h->content_length = v;
	} else if (token_is(f->name, f->name_len, "transfer-encoding")) {
		h->chunked = f->value_len >= 7 &&
			     !strncasecmp(f->value + f->value_len - 7, "chunked", 7);
	} else if (token_is(f->name, f->name_len, "connection")) {
		if (token_is(f->value, f->value_len, "close"))
			h->close = true;
		else if (token_is(f->value, f->value_len, "keep-alive"))
			h->close = false;
	}
	return 0;
}

static int parse_field(const char *p, const char *eol, struct http1_head *h)
{
	const char *colon = memchr(p, ':', (size_t)(eol - p)), *v, *e = eol;
	struct http1_field *f;
	const char *n;

	if (!colon || colon == p || h->n_fields == HTTP1_MAX_HEADERS)
		return -1;
	for (n = p; n < colon; n++)
		if (!isgraph((unsigned char)*n))
			return -1;
	v = colon + 1;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	f = &h->fields[h->n_fields++];
	*f = (struct http1_field){ p, v, (size_t)(colon - p), (size_t)(e - v) };
	return framing(h, f);
}

ssize_t http1_parse_head(const char *buf, size_t len, struct http1_head *h)
{
	const char *end = buf + (len < HTTP1_MAX_HEAD ? len : HTTP1_MAX_HEAD), *p = buf, *eol;

	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	eol = line_end(p, end);
	if (!eol)
		return len >= HTTP1_MAX_HEAD ? -1 : 0;
	if (parse_status(p, eol, h))
		return -1;
	for (p = eol + 1;; p = eol + 1) {
		eol = line_end(p, end);
		if (!eol)
			return len >= HTTP1_MAX_HEAD ? -1 : 0;
		if (eol == p || (eol == p + 1 && *p == '\r'))
			return eol + 1 - buf;
		if (*p == ' ' || *p == '\t' || parse_field(p, eol, h))
			return -1; /* obsolete line folding is refused (RFC 9112) */
	}
}

int http1_field(const struct http1_head *h, const char *name, char *out, size_t size)
{
	size_t i, n;

	for (i = 0; i < h->n_fields; i++) {
		if (!token_is(h->fields[i].name, h->fields[i].name_len, name))
			continue;
		n = h->fields[i].value_len < size - 1 ? h->fields[i].value_len : size - 1;
		memcpy(out, h->fields[i].value, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LINE };

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One byte of the size line; -1 when malformed. */
static int size_byte(struct http1_chunked *c, char ch)
{
	int v = hexv(ch);

	if (c->state == CH_SIZE && v >= 0) {
		if (++c->digits > 15)
			return -1;
		c->left = c->left * 16 + (unsigned)v;
		return 0;
	}
	if (!c->digits)
		return -1;
	if (ch == '\r') {
		c->state = CH_SIZE_LF;
	} else if (ch == '\n') {
		c->state = c->left ? CH_DATA : CH_TRAILER;
	} else if (c->state == CH_SIZE && (ch == ';' || ch == ' ' || ch == '\t')) {
		c->state = CH_EXT;
	} else if (c->state != CH_EXT) {
		return -1;
	}
	return 0;
}

ssize_t http1_dechunk(struct http1_chunked *c, const char *in, size_t len, struct strbuf *out)
{
	size_t i = 0, n;

	while (i < len && !c->done) {
		char ch = in[i];

		switch (c->state) {
		case CH_SIZE:
		case CH_EXT:
			if (size_byte(c, ch))
				return -1;
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return -1;
			c->state = c->left ? CH_DATA : CH_TRAILER;
			i++;
			break;
		case CH_DATA:
			n = len - i < c->left ? len - i : (size_t)c->left;
			sb_add(out, in + i, n);
			i += n;
			c->left -= n;
			if (!c->left)
				c->state = CH_DATA_CR;
			break;
		case CH_DATA_CR:
		case CH_DATA_LF:
			if (ch == '\r' && c->state == CH_DATA_CR) {
				c->state = CH_DATA_LF;
			} else if (ch == '\n') {
				c->state = CH_SIZE;
				c->digits = 0;
			} else {
				return -1;
			}
			i++;
			break;
		case CH_TRAILER:
			/* Start of a trailer line: an empty one ends the message. */
			if (ch == '\n')
				c->done = true;
			else if (ch != '\r')
				c->state = CH_TRAILER_LINE;
			i++;
			break;
		case CH_TRAILER_LINE:
			if (ch == '\n')
				c->state = CH_TRAILER;
			i++;
			break;
		}
	}
	return out->oom ? -1 : (ssize_t)i;
}
