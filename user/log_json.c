// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A minimal JSON scanner for log parsers: see log_json.h. */
#include <stdbool.h>

#include "log_json.h"

const char *log_json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int hex4(const char *p, const char *end)
{
	int v = 0, i, h;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		h = hexval(p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

static char *put_utf8(char *o, unsigned int cp)
{
	if (cp < 0x80) {
		*o++ = cp;
	} else if (cp < 0x800) {
		*o++ = 0xc0 | cp >> 6;
		*o++ = 0x80 | (cp & 0x3f);
	} else if (cp < 0x10000) {
		*o++ = 0xe0 | cp >> 12;
		*o++ = 0x80 | ((cp >> 6) & 0x3f);
		*o++ = 0x80 | (cp & 0x3f);
	} else {
		*o++ = 0xf0 | cp >> 18;
		*o++ = 0x80 | ((cp >> 12) & 0x3f);
		*o++ = 0x80 | ((cp >> 6) & 0x3f);
		*o++ = 0x80 | (cp & 0x3f);
	}
	return o;
}

/* \uXXXX after the 'u'; a lone surrogate becomes U+FFFD. */
static const char *unicode_escape(const char *p, const char *end, char **o)
{
	int cp = hex4(p, end), lo;

	if (cp < 0)
		return NULL;
	p += 4;
	if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
	    (lo = hex4(p + 2, end)) >= 0xdc00 && lo < 0xe000) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	} else if (cp >= 0xd800 && cp < 0xe000) {
		cp = 0xfffd;
	}
	if (*o)
		*o = put_utf8(*o, cp);
	return p;
}

static char unescape(char c)
{
	switch (c) {
	case 'n':
		return '\n';
	case 't':
		return '\t';
	case 'r':
		return '\r';
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case '"':
	case '\\':
	case '/':
		return c;
	default:
		return 0;
	}
}

const char *log_json_string(const char *p, const char *end, char *out, size_t *olen)
{
	char *o = out;
	char c;

	while (p < end) {
		c = *p++;
		if (c == '"') {
			if (olen)
				*olen = o - out;
			return p;
		}
		if (c != '\\') {
			if (o)
				*o++ = c;
			continue;
		}
		if (p >= end)
			return NULL;
		c = *p++;
		if (c == 'u') {
			p = unicode_escape(p, end, &o);
			if (!p)
				return NULL;
			continue;
		}
		c = unescape(c);
		if (!c)
			return NULL;
		if (o)
			*o++ = c;
	}
	return NULL;
}

const char *log_json_skip(const char *p, const char *end)
{
	int depth = 0;

	while (p < end) {
		char c = *p;

		if (c == '"') {
			p = log_json_string(p + 1, end, NULL, NULL);
			if (!p)
				return NULL;
			if (!depth)
				return p;
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (!depth)
				return p; /* the end of the enclosing value */
			if (!--depth)
				return p + 1;
		} else if (!depth &&
			   (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
			return p;
		}
		p++;
	}
	return depth ? NULL : p;
}

int log_json_object(const char *p, const char *end, log_json_member_fn fn, void *ctx)
{
	const char *key, *v;
	size_t klen;

	p = log_json_ws(p, end);
	if (p >= end || *p++ != '{')
		return -1;
	p = log_json_ws(p, end);
	if (p < end && *p == '}')
		return 0;
	for (;;) {
		if (p >= end || *p != '"')
			return -1;
		key = p + 1;
		p = log_json_string(key, end, NULL, NULL);
		if (!p)
			return -1;
		klen = p - 1 - key;
		p = log_json_ws(p, end);
		if (p >= end || *p++ != ':')
			return -1;
		v = log_json_ws(p, end);
		p = log_json_skip(v, end);
		if (!p || p == v)
			return -1;
		fn(key, klen, v, p, ctx);
		p = log_json_ws(p, end);
		if (p < end && *p == ',') {
			p = log_json_ws(p + 1, end);
			continue;
		}
		return p < end && *p == '}' ? 0 : -1;
	}
}
