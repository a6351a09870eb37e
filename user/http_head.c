// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/1.1 response head parser: see http_head.h. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http_head.h"

/* RFC 9110 tchar: what a field name may be made of. */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Field values: visible ASCII, obs-text, space and tab; no controls. */
static bool is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* The end of the line starting at p (pointing at its CR), or NULL if not within end. */
static const char *line_end(const char *p, const char *end)
{
	const char *cr = memchr(p, '\r', end - p);

	return cr && cr + 1 < end ? cr : NULL;
}

/* "HTTP/1.x NNN reason" */
static int parse_status_line(const char *p, const char *eol, struct http_head *h)
{
	size_t len = eol - p;
	int i;

	if (len < 12 || memcmp(p, "HTTP/1.", 7) || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
		return -EPROTO;
	h->status = 0;
	for (i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EPROTO;
		h->status = h->status * 10 + (p[i] - '0');
	}
	if (h->status < 100 || (len > 12 && p[12] != ' '))
		return -EPROTO;
	for (p += 12; p < eol; p++)
		if (!is_value_char(*p))
			return -EPROTO;
	return 0;
}

static int parse_field(const char *p, const char *eol, struct http_head *h)
{
	const char *colon = memchr(p, ':', eol - p), *v, *ve;
	struct http_field *f;

	if (!colon || colon == p)
		return -EPROTO;
	for (v = p; v < colon; v++)
		if (!is_tchar(*v))
			return -EPROTO; /* includes obs-fold's leading blank */
	for (v = colon + 1; v < eol; v++)
		if (!is_value_char(*v))
			return -EPROTO;
	if (h->n_fields == HTTP_HEAD_MAX_FIELDS)
		return -E2BIG;
	for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
		;
	for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
		;
	f = &h->fields[h->n_fields++];
	f->name = p;
	f->name_len = colon - p;
	f->value = v;
	f->value_len = ve - v;
	return 0;
}

long http_head_parse(const char *buf, size_t len, struct http_head *h)
{
	const char *end = buf + (len > HTTP_HEAD_MAX_BYTES ? HTTP_HEAD_MAX_BYTES : len);
	const char *p = buf, *eol;
	int err;

	h->n_fields = 0;
	h->status = 0;
	for (;;) {
		eol = line_end(p, end);
		if (!eol)
			return len >= HTTP_HEAD_MAX_BYTES ? -E2BIG : 0;
		if (eol[1] != '\n')
			return -EPROTO;
		if (p == buf)
			err = parse_status_line(p, eol, h);
		else if (eol == p)
			return eol + 2 - buf;
		else
			err = parse_field(p, eol, h);
		if (err)
			return err;
		p = eol + 2;
	}
}

static bool name_is(const struct http_field *f, const char *name)
{
	return strlen(name) == f->name_len && !strncasecmp(f->name, name, f->name_len);
}

const struct http_field *http_head_field(const struct http_head *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n_fields; i++)
		if (name_is(&h->fields[i], name))
			return &h->fields[i];
	return NULL;
}

size_t http_head_count(const struct http_head *h, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < h->n_fields; i++)
		n += name_is(&h->fields[i], name);
	return n;
}

bool http_field_has_token(const struct http_field *f, const char *token)
{
	const char *p = f->value, *end = f->value + f->value_len, *tok, *te;
	size_t tlen = strlen(token);

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		tok = p;
		while (p < end && *p != ',')
			p++;
		for (te = p; te > tok && (te[-1] == ' ' || te[-1] == '\t'); te--)
			;
		if ((size_t)(te - tok) == tlen && tlen && !strncasecmp(tok, token, tlen))
			return true;
	}
	return false;
}

bool http_field_is(const struct http_field *f, const char *text, bool ignore_case)
{
	size_t n = strlen(text);

	if (n != f->value_len)
		return false;
	return ignore_case ? !strncasecmp(f->value, text, n) : !memcmp(f->value, text, n);
}
