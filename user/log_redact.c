// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Credentials out of log records: see log_redact.h. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log_redact.h"

#define MASK "[REDACTED]"
#define MASK_LEN (sizeof(MASK) - 1)
#define KEY_MAX 64

static const char *const secret_words[] = { "password", "passwd",  "secret",	 "token",
					    "api_key",	"apikey",  "api-key",	 "authorization",
					    "cookie",	"session", "credential", "private_key",
					    NULL };
static const char *const schemes[] = { "bearer ", "basic ", "token ", "negotiate ", NULL };

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

enum secret_kind {
	NOT_SECRET,
	SECRET_VALUE, /* up to the next delimiter */
	SECRET_LINE, /* cookies: every pair up to the end of the line */
};

static enum secret_kind sensitive(const char *k, size_t len)
{
	const char *const *w;
	size_t wl, i;

	if (!len || len > KEY_MAX)
		return NOT_SECRET;
	for (w = secret_words; *w; w++) {
		wl = strlen(*w);
		for (i = 0; i + wl <= len; i++)
			if (!strncasecmp(k + i, *w, wl))
				return strcmp(*w, "cookie") ? SECRET_VALUE : SECRET_LINE;
	}
	return NOT_SECRET;
}

static bool value_end(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '&' || c == ',' || c == ';' || c == '"' ||
	       c == '\'' || c == '}' || c == ')';
}

/* The value after the separator at sep: [*vs, *ve), or false when there is none. */
static bool value_at(const char *s, size_t len, size_t sep, enum secret_kind kind, size_t *vs,
		     size_t *ve)
{
	const char *const *sc;
	size_t v = sep + 1, e;
	bool quoted;

	while (v < len && s[v] == ' ')
		v++;
	quoted = v < len && s[v] == '"';
	v += quoted;
	for (sc = schemes; *sc; sc++)
		if (len - v > strlen(*sc) && !strncasecmp(s + v, *sc, strlen(*sc)))
			v += strlen(*sc);
	for (e = v; e < len; e++) {
		if (quoted		? s[e] == '"' && s[e - 1] != '\\' :
		    kind == SECRET_LINE ? s[e] == '\n' :
					  value_end(s[e]))
			break;
	}
	*vs = v;
	*ve = e;
	return e > v;
}

/* A key ends right before the separator at sep (a JSON key's closing quote skipped). */
static enum secret_kind key_before(const char *s, size_t sep)
{
	size_t end = sep, start;

	while (end && s[end - 1] == ' ')
		end--;
	if (end && s[end - 1] == '"')
		end--;
	for (start = end; start && key_char(s[start - 1]); start--)
		;
	return sensitive(s + start, end - start);
}

/* scheme://user:PASSWORD@ with '@' at at: the password's range. */
static bool userinfo(const char *s, size_t at, size_t *vs, size_t *ve)
{
	size_t i, colon = 0;

	for (i = at; i > 2 && at - i < 256; i--) {
		char c = s[i - 1];

		if (c == ':' && !colon)
			colon = i;
		if (c == '/' && s[i - 2] == '/' && i >= 3 && s[i - 3] == ':') {
			if (!colon || colon <= i)
				return false;
			*vs = colon;
			*ve = at;
			return *ve > *vs;
		}
		if (c == ' ' || c == '"' || c == '\n')
			return false;
	}
	return false;
}

static bool put(struct log_redactor *r, size_t *n, const char *s, size_t len)
{
	size_t cap = r->cap ? r->cap : 256;
	char *p;

	while (cap < *n + len)
		cap *= 2;
	if (cap != r->cap) {
		p = realloc(r->buf, cap);
		if (!p)
			return false;
		r->buf = p;
		r->cap = cap;
	}
	memcpy(r->buf + *n, s, len);
	*n += len;
	return true;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

#define W4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static const uint32_t secret_starts[] = {
	W4('p', 'a', 's', 's'), W4('s', 'e', 'c', 'r'), W4('t', 'o', 'k', 'e'),
	W4('a', 'p', 'i', '_'), W4('a', 'p', 'i', 'k'), W4('a', 'p', 'i', '-'),
	W4('a', 'u', 't', 'h'), W4('c', 'o', 'o', 'k'), W4('s', 'e', 's', 's'),
	W4('c', 'r', 'e', 'd'), W4('p', 'r', 'i', 'v'),
};

/* A 1024-bit filter over the starts' hashes: about 1 % of windows pass it by chance. */
static uint64_t start_filter[16];
static pthread_once_t filter_once = PTHREAD_ONCE_INIT;

static unsigned int window_hash(uint32_t w)
{
	return (w * 0x9e3779b1u) >> 22;
}

static void build_filter(void)
{
	size_t j;

	for (j = 0; j < sizeof(secret_starts) / sizeof(secret_starts[0]); j++) {
		unsigned int h = window_hash(secret_starts[j]);

		start_filter[h / 64] |= 1ULL << (h % 64);
	}
}

/*
 * Whether the text may hold a credential at all: one pass over 4-byte
 * windows for the first four letters of every secret word, and for "://".
 * Most records hold none, and this costs a few instructions a byte.
 */
static bool may_hold_secret(const char *s, size_t len)
{
	uint32_t w = 0;
	unsigned int h;
	size_t i, j;

	pthread_once(&filter_once, build_filter);
	for (i = 0; i < len; i++) {
		w = w << 8 | lower((unsigned char)s[i]);
		if ((w & 0xffffff) == W4(0, ':', '/', '/'))
			return true;
		h = window_hash(w);
		if (!(start_filter[h / 64] & (1ULL << (h % 64))))
			continue;
		for (j = 0; j < sizeof(secret_starts) / sizeof(secret_starts[0]); j++)
			if (w == secret_starts[j])
				return true;
	}
	return false;
}

const char *log_redact(struct log_redactor *r, const char *in, size_t len, size_t *out_len)
{
	size_t i, copied = 0, n = 0, vs, ve;
	bool found = false, hit;
	enum secret_kind kind;

	if (!may_hold_secret(in, len)) {
		*out_len = len;
		return in;
	}
	for (i = 0; i < len; i++) {
		char c = in[i];

		hit = false;
		if ((c == '=' || c == ':') && i > 0 && (kind = key_before(in, i)))
			hit = value_at(in, len, i, kind, &vs, &ve);
		else if (c == '@')
			hit = userinfo(in, i, &vs, &ve);
		if (!hit || vs < copied)
			continue;
		if (!put(r, &n, in + copied, vs - copied) || !put(r, &n, MASK, MASK_LEN))
			return NULL;
		copied = ve;
		i = ve ? ve - 1 : 0;
		found = true;
		r->redacted++;
	}
	if (!found) {
		*out_len = len;
		return in;
	}
	if (!put(r, &n, in + copied, len - copied))
		return NULL;
	*out_len = n;
	return r->buf;
}

void log_redactor_free(struct log_redactor *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}
