// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A bounded XML element finder for S3 and STS replies: see xml_lite.h. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "xml_lite.h"

/* Does an opening tag for `name` start at p ('<' at p)? Sets *gt to its '>'. */
static bool open_tag(const char *p, const char *end, const char *name, size_t nl, const char **gt,
		     bool *empty)
{
	const char *q = p + 1 + nl;

	if (end - p < (ptrdiff_t)(nl + 2) || memcmp(p + 1, name, nl))
		return false;
	if (*q != '>' && *q != '/' && !isspace((unsigned char)*q))
		return false;
	*gt = memchr(q, '>', (size_t)(end - q));
	if (!*gt)
		return false;
	*empty = (*gt)[-1] == '/';
	return true;
}

/* The closing tag </name> at or after p, or NULL. */
static const char *close_tag(const char *p, const char *end, const char *name, size_t nl)
{
	while (p < end) {
		p = memchr(p, '<', (size_t)(end - p));
		if (!p)
			return NULL;
		if (end - p >= (ptrdiff_t)(nl + 3) && p[1] == '/' && !memcmp(p + 2, name, nl) &&
		    p[2 + nl] == '>')
			return p;
		p++;
	}
	return NULL;
}

int xml_next(const char *xml, size_t len, const char *name, size_t *pos, const char **inner,
	     size_t *inner_len)
{
	const char *end = xml + len, *p = xml + (*pos < len ? *pos : len), *gt, *c;
	size_t nl = strlen(name);
	bool empty;

	while (p < end) {
		p = memchr(p, '<', (size_t)(end - p));
		if (!p)
			return -1;
		if (!open_tag(p, end, name, nl, &gt, &empty)) {
			p++;
			continue;
		}
		if (empty) {
			*inner = gt + 1;
			*inner_len = 0;
			*pos = (size_t)(gt + 1 - xml);
			return 0;
		}
		c = close_tag(gt + 1, end, name, nl);
		if (!c)
			return -1;
		*inner = gt + 1;
		*inner_len = (size_t)(c - gt - 1);
		*pos = (size_t)(c + nl + 3 - xml);
		return 0;
	}
	return -1;
}

/* Append code point cp as UTF-8. */
static void utf8(struct strbuf *out, unsigned long cp)
{
	char b[4];

	if (cp < 0x80) {
		b[0] = (char)cp;
		sb_add(out, b, 1);
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		sb_add(out, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		sb_add(out, b, 3);
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		sb_add(out, b, 4);
	}
}

/* Decode the entity at p (p[0] == '&'): the bytes it spans, or 0 when it is not one. */
static size_t entity(const char *p, const char *end, struct strbuf *out)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' }
	};
	const char *semi = memchr(p, ';', (size_t)(end - p) < 12 ? (size_t)(end - p) : 12);
	unsigned long cp = 0;
	const char *d;
	size_t i;

	if (!semi)
		return 0;
	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if ((size_t)(semi - p) == strlen(named[i].name) &&
		    !memcmp(p + 1, named[i].name, strlen(named[i].name))) {
			sb_addc(out, named[i].c);
			return (size_t)(semi - p + 1);
		}
	}
	if (semi - p < 3 || p[1] != '#')
		return 0;
	d = p + 2;
	if (*d == 'x' || *d == 'X') {
		for (d++; d < semi && isxdigit((unsigned char)*d); d++)
			cp = cp * 16 +
			     (unsigned long)(isdigit((unsigned char)*d) ?
						     *d - '0' :
						     (tolower((unsigned char)*d) - 'a' + 10));
	} else {
		for (; d < semi && isdigit((unsigned char)*d); d++)
			cp = cp * 10 + (unsigned long)(*d - '0');
	}
	if (d != semi || cp == 0 || cp > 0x10ffff)
		return 0;
	utf8(out, cp);
	return (size_t)(semi - p + 1);
}

int xml_text(const char *xml, size_t len, const char *name, struct strbuf *out)
{
	const char *inner, *p, *end;
	size_t pos = 0, n, inner_len;

	if (xml_next(xml, len, name, &pos, &inner, &inner_len))
		return -1;
	for (p = inner, end = inner + inner_len; p < end;) {
		if (*p == '&' && (n = entity(p, end, out)) > 0) {
			p += n;
			continue;
		}
		sb_addc(out, *p++);
	}
	return out->oom ? -1 : 0;
}
