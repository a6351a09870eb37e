// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Credentials out of span payloads: see span_redact.h. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <linux/types.h>

#include "span_redact.h"
#include "../kern/proto.h"

/* Bytes as text: printable ASCII, CR, LF and TAB kept, anything else '.'. */
static void add_text(struct strbuf *out, const char *p, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if ((ch >= 0x20 && ch < 0x7f) || ch == '\r' || ch == '\n' || ch == '\t') {
			run++;
			continue;
		}
		sb_add(out, p + i - run, run);
		sb_addc(out, '.');
		run = 0;
	}
	sb_add(out, p + n - run, run);
}

static const char *find_any(const char *p, const char *end, const char *set)
{
	for (; p < end; p++)
		if (strchr(set, *p) && *p)
			return p;
	return end;
}

void span_redact_query(const char *in, size_t len, struct strbuf *out)
{
	const char *p = in, *end = in + len, *amp, *eq;

	while (p < end) {
		amp = find_any(p, end, "&;");
		eq = find_any(p, amp, "=");
		if (eq < amp) {
			add_text(out, p, eq + 1 - p);
			if (eq + 1 < amp)
				sb_adds(out, SPAN_REDACTED);
		} else if (amp > p) {
			sb_adds(out, SPAN_REDACTED);
		}
		if (amp == end)
			break;
		sb_addc(out, *amp);
		p = amp + 1;
	}
}

/* 1 to 5 digits (or nothing, or an IPv6 address's end): a port. */
static bool is_port(const char *p, const char *end)
{
	const char *q;

	if (memchr(p, ']', end - p))
		return true;
	if (end - p > 5)
		return false;
	for (q = p; q < end; q++)
		if (*q < '0' || *q > '9')
			return false;
	return true;
}

/*
 * scheme://userinfo@host: the userinfo's password (or a lone token) goes. A
 * password with an unescaped '/' in it would end the authority early: an
 * '@' anywhere before the query takes everything before it.
 */
static const char *redact_authority(const char *p, const char *end, struct strbuf *out)
{
	const char *before_query = find_any(p, end, "?#"), *at = NULL, *q, *colon;

	for (q = p; q < before_query; q++)
		if (*q == '@')
			at = q;
	if (at) {
		colon = memchr(p, ':', at - p);
		if (colon && !memchr(p, '/', at - p)) {
			add_text(out, p, colon + 1 - p);
			sb_adds(out, SPAN_REDACTED);
		} else {
			sb_adds(out, SPAN_REDACTED);
		}
		sb_addc(out, '@');
		p = at + 1;
	}
	q = find_any(p, end, "/?#");
	colon = memrchr(p, ':', q - p);
	if (!at && colon && !is_port(colon + 1, q)) {
		/* "user:password" cut before its '@': what follows ':' is no port. */
		add_text(out, p, colon + 1 - p);
		sb_adds(out, SPAN_REDACTED);
		return q;
	}
	add_text(out, p, q - p);
	return q;
}

/* The path, with ;parameters (jsessionid=...) redacted. */
static const char *redact_path(const char *p, const char *end, struct strbuf *out)
{
	const char *path_end = find_any(p, end, "?#"), *semi, *seg_end;

	while (p < path_end) {
		semi = memchr(p, ';', path_end - p);
		if (!semi) {
			add_text(out, p, path_end - p);
			break;
		}
		add_text(out, p, semi + 1 - p);
		seg_end = find_any(semi + 1, path_end, "/");
		if (seg_end > semi + 1)
			sb_adds(out, SPAN_REDACTED);
		p = seg_end;
	}
	return path_end;
}

void span_redact_url(const char *in, size_t len, struct strbuf *out)
{
	const char *p = in, *end = in + len, *first = find_any(in, end, "/?#"), *q;

	/* scheme://authority, or //authority */
	if (end - first >= 2 && first[0] == '/' && first[1] == '/' &&
	    (first == p || (first > p && first[-1] == ':'))) {
		add_text(out, p, first + 2 - p);
		p = redact_authority(first + 2, end, out);
	}
	p = redact_path(p, end, out);
	if (p < end && *p == '?') {
		sb_addc(out, '?');
		q = find_any(p + 1, end, "#");
		span_redact_query(p + 1, q - p - 1, out);
		p = q;
	}
	if (p < end && *p == '#') {
		sb_addc(out, '#');
		if (p + 1 < end)
			sb_adds(out, SPAN_REDACTED);
	}
}

static bool name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && !strncasecmp(name, want, n);
}

static bool name_has(const char *name, size_t n, const char *part)
{
	size_t k = strlen(part), i;

	for (i = 0; i + k <= n; i++)
		if (!strncasecmp(name + i, part, k))
			return true;
	return false;
}

static bool name_is_secret(const char *name, size_t n)
{
	static const char *const parts[] = { "auth",	   "cookie",  "token",	 "key",
					     "secret",	   "passw",   "session", "signature",
					     "credential", "api-sig", "csrf" };
	size_t i;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (name_has(name, n, parts[i]))
			return true;
	return false;
}

static bool name_is_url(const char *name, size_t n)
{
	return name_is(name, n, "location") || name_is(name, n, "referer") ||
	       name_is(name, n, "content-location") || name_is(name, n, "origin") ||
	       name_is(name, n, "refresh") || name_is(name, n, "link");
}

/* "METHOD SP": the length of the method and its blank, 0 if the line is no request line. */
static size_t request_method_len(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && q - p < 20 && *q >= 'A' && *q <= 'Z')
		q++;
	return q > p && q < end && *q == ' ' ? (size_t)(q + 1 - p) : 0;
}

static void redact_request_line(const char *p, const char *le, size_t mlen, struct strbuf *out)
{
	const char *target = p + mlen, *sp = memchr(target, ' ', le - target);

	if (!sp)
		sp = le;
	add_text(out, p, mlen);
	span_redact_url(target, sp - target, out);
	add_text(out, sp, le - sp);
}

struct head_state {
	bool fold_secret; /* a continuation line belongs to a redacted value */
	bool form; /* Content-Type: application/x-www-form-urlencoded */
};

/* One header line [p, le) without its line end. */
static void redact_header(struct head_state *h, const char *p, const char *le, struct strbuf *out)
{
	const char *colon, *v;

	if (*p == ' ' || *p == '\t') {
		if (h->fold_secret)
			sb_adds(out, SPAN_REDACTED);
		else
			add_text(out, p, le - p);
		return;
	}
	colon = memchr(p, ':', le - p);
	if (!colon || memchr(p, ' ', colon - p)) {
		/* Not "name: value": nothing says what it holds. */
		if (le > p)
			sb_adds(out, SPAN_REDACTED);
		h->fold_secret = true;
		return;
	}
	v = colon + 1;
	while (v < le && (*v == ' ' || *v == '\t'))
		v++;
	add_text(out, p, v - p);
	h->fold_secret = true;
	if (name_is_secret(p, colon - p)) {
		if (v < le)
			sb_adds(out, SPAN_REDACTED);
	} else if (name_is_url(p, colon - p)) {
		span_redact_url(v, le - v, out);
	} else {
		add_text(out, v, le - v);
		h->fold_secret = false;
		if (name_is(p, colon - p, "content-type") &&
		    name_has(v, le - v, "application/x-www-form-urlencoded"))
			h->form = true;
	}
}

void span_redact_http(const char *in, size_t len, struct strbuf *out)
{
	const char *p = in, *end = in + len, *nl, *le;
	struct head_state h = { 0 };
	bool first = true;
	size_t mlen;

	while (p < end) {
		nl = memchr(p, '\n', end - p);
		le = nl ? nl : end;
		if (le > p && le[-1] == '\r')
			le--;
		if (first) {
			mlen = request_method_len(p, le);
			if (mlen)
				redact_request_line(p, le, mlen, out);
			else if (le - p >= 5 && !memcmp(p, "HTTP/", 5))
				add_text(out, p, le - p);
			else {
				/* Not the start of a message: no telling headers from body. */
				sb_adds(out, SPAN_REDACTED);
				return;
			}
			first = false;
		} else if (le == p && nl) {
			/* The blank line: the body follows. */
			add_text(out, le, nl + 1 - le);
			p = nl + 1;
			if (h.form)
				span_redact_query(p, end - p, out);
			else
				add_text(out, p, end - p);
			return;
		} else {
			redact_header(&h, p, le, out);
		}
		if (!nl)
			return;
		add_text(out, le, nl + 1 - le);
		p = nl + 1;
	}
}

static bool is_ident(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '$' || (unsigned char)ch >= 0x80;
}

/* End of a quoted literal starting at p (the quote), doubled quotes and backslashes escaping. */
static const char *skip_quoted(const char *p, const char *end)
{
	char q = *p++;

	while (p < end) {
		if (*p == '\\') {
			p += 2;
			continue;
		}
		if (*p == q) {
			if (p + 1 < end && p[1] == q) {
				p += 2;
				continue;
			}
			return p + 1;
		}
		p++;
	}
	return end;
}

/* $tag$ ... $tag$: the end of the literal, or NULL if p starts none. */
static const char *skip_dollar(const char *p, const char *end)
{
	const char *t = p + 1, *q;
	size_t tag;

	while (t < end && (isalnum((unsigned char)*t) || *t == '_'))
		t++;
	if (t >= end || *t != '$' || (t > p + 1 && isdigit((unsigned char)p[1])))
		return NULL;
	tag = t + 1 - p;
	for (q = t + 1; q + tag <= end; q++)
		if (!memcmp(q, p, tag))
			return q + tag;
	return end;
}

static const char *skip_number(const char *p, const char *end)
{
	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	while (p < end && (isalnum((unsigned char)*p) || *p == '.' || *p == '_'))
		p++;
	return p;
}

void span_redact_sql(const char *in, size_t len, struct strbuf *out)
{
	const char *p = in, *end = in + len, *q;

	while (p < end) {
		char ch = *p;
		bool after_ident = p > in && is_ident(p[-1]);

		if (ch == '\'' || ch == '"' || ch == '`') {
			/* Backquotes name things in MySQL; quoted names may hold values too. */
			sb_addc(out, '?');
			p = skip_quoted(p, end);
		} else if (ch == '$' && !after_ident && (q = skip_dollar(p, end))) {
			sb_addc(out, '?');
			p = q;
		} else if (isdigit((unsigned char)ch) && !after_ident) {
			sb_addc(out, '?');
			p = skip_number(p, end);
		} else if (ch == '-' && p + 1 < end && p[1] == '-') {
			sb_adds(out, "--?");
			q = memchr(p, '\n', end - p);
			p = q ? q : end;
		} else if (ch == '/' && p + 1 < end && p[1] == '*') {
			sb_adds(out, "/*?*/");
			for (q = p + 2; q + 1 < end && !(q[0] == '*' && q[1] == '/'); q++)
				;
			p = q + 1 < end ? q + 2 : end;
		} else {
			add_text(out, p, 1);
			p++;
		}
	}
}

static size_t be32_of(const unsigned char *p)
{
	return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
}

/* The statement's bytes in [p, end): up to its NUL, if any. */
static void add_statement(const char *p, const char *end, struct strbuf *out)
{
	const char *nul = memchr(p, 0, end - p);

	span_redact_sql(p, (nul ? nul : end) - p, out);
}

/* PostgreSQL: Query ('Q', length, text) or Parse ('P', length, name NUL, text NUL, ...). */
static void pg_statement(const char *in, size_t len, struct strbuf *out)
{
	const char *end, *name_end;
	size_t msg;

	if (len < 5 || (in[0] != 'Q' && in[0] != 'P'))
		return;
	msg = be32_of((const unsigned char *)in + 1);
	if (msg < 4)
		return;
	end = msg + 1 < len ? in + msg + 1 : in + len;
	if (in[0] == 'Q') {
		add_statement(in + 5, end, out);
		return;
	}
	name_end = memchr(in + 5, 0, end - (in + 5));
	if (name_end)
		add_statement(name_end + 1, end, out);
}

/* MySQL: a packet (3-byte length, sequence 0) of COM_QUERY (3) or COM_STMT_PREPARE (0x16). */
static void mysql_statement(const char *in, size_t len, struct strbuf *out)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t plen;

	if (len < 5 || u[3] != 0 || (u[4] != 0x03 && u[4] != 0x16))
		return;
	plen = (size_t)u[0] | (size_t)u[1] << 8 | (size_t)u[2] << 16;
	if (plen < 1)
		return;
	span_redact_sql(in + 5, (plen + 4 < len ? plen + 4 : len) - 5, out);
}

void span_redact_db_request(unsigned int proto, const char *in, size_t len, struct strbuf *out)
{
	if (proto == KERNO_P_PGSQL)
		pg_statement(in, len, out);
	else if (proto == KERNO_P_MYSQL)
		mysql_statement(in, len, out);
}
