// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* permessage-deflate on zlib: see ws_deflate.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "ws_deflate.h"

static const uint8_t tail[4] = { 0x00, 0x00, 0xff, 0xff };

struct ws_deflate {
	struct ws_deflate_params p;
	z_stream tx, rx;
	bool tx_ready, rx_ready;
};

static int fail(char *err, size_t errlen, const char *what, const char *s, size_t n)
{
	snprintf(err, errlen, "bad permessage-deflate answer: %s '%.*s'", what,
		 (int)(n > 64 ? 64 : n), s);
	return -EPROTO;
}

/* "N" or "\"N\"" with N in 8..15; -1 otherwise. */
static int window_bits(const char *v, size_t n)
{
	if (n == 3 && v[0] == '"' && v[2] == '"') {
		v++;
		n = 1;
	} else if (n == 4 && v[0] == '"' && v[3] == '"') {
		v++;
		n = 2;
	}
	if (n == 1 && v[0] >= '8' && v[0] <= '9')
		return v[0] - '0';
	if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
		return 10 + v[1] - '0';
	return -1;
}

static size_t trim(const char **s, size_t n)
{
	while (n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		n--;
	}
	while (n && ((*s)[n - 1] == ' ' || (*s)[n - 1] == '\t'))
		n--;
	return n;
}

/* One "name[=value]" parameter; seen[] catches repeats. */
static int parse_param(const char *s, size_t n, struct ws_deflate_params *p, bool seen[4],
		       char *err, size_t errlen)
{
	static const char *const names[4] = { "server_no_context_takeover",
					      "client_no_context_takeover",
					      "server_max_window_bits", "client_max_window_bits" };
	const char *eq = memchr(s, '=', n), *v = NULL;
	size_t nlen = eq ? (size_t)(eq - s) : n, vlen = 0;
	int i, bits = -1;

	if (eq) {
		v = eq + 1;
		vlen = trim(&v, n - nlen - 1);
	}
	nlen = trim(&s, nlen);
	for (i = 0; i < 4; i++)
		if (strlen(names[i]) == nlen && !strncasecmp(s, names[i], nlen))
			break;
	if (i == 4)
		return fail(err, errlen, "unknown parameter", s, nlen);
	if (seen[i])
		return fail(err, errlen, "repeated parameter", s, nlen);
	seen[i] = true;
	if (i < 2 && eq)
		return fail(err, errlen, "parameter takes no value", s, nlen);
	if (i >= 2 && (!eq || (bits = window_bits(v, vlen)) < 0))
		return fail(err, errlen, "window bits not in 8..15", s, n);
	if (i == 0)
		p->server_no_context_takeover = true;
	else if (i == 1)
		p->client_no_context_takeover = true;
	else if (i == 2)
		p->server_max_window_bits = bits;
	else if (bits == 8) /* zlib's raw deflate cannot keep to a 256-byte window */
		return fail(err, errlen, "client window of 8 bits unsupported", s, n);
	else
		p->client_max_window_bits = bits;
	return 0;
}

int ws_deflate_parse_answer(const char *value, size_t len, struct ws_deflate_params *p, char *err,
			    size_t errlen)
{
	const char *end = value + len, *s = value, *semi, *name;
	bool seen[4] = { false };
	size_t n;
	int ret;

	memset(p, 0, sizeof(*p));
	p->server_max_window_bits = 15;
	p->client_max_window_bits = 15;
	if (!len)
		return 0;
	if (memchr(value, ',', len))
		return fail(err, errlen, "more than the one extension offered", value, len);
	semi = memchr(s, ';', end - s);
	name = s;
	n = trim(&name, (semi ? semi : end) - s);
	if (n != strlen("permessage-deflate") || strncasecmp(name, "permessage-deflate", n))
		return fail(err, errlen, "an extension not offered", name, n);
	while (semi) {
		s = semi + 1;
		semi = memchr(s, ';', end - s);
		ret = parse_param(s, (semi ? semi : end) - s, p, seen, err, errlen);
		if (ret)
			return ret;
	}
	p->enabled = true;
	return 0;
}

struct ws_deflate *ws_deflate_new(const struct ws_deflate_params *p)
{
	struct ws_deflate *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->p = *p;
	if (deflateInit2(&d->tx, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -p->client_max_window_bits, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		goto fail;
	d->tx_ready = true;
	/* 15 bits reads whatever window the server used. */
	if (inflateInit2(&d->rx, -15) != Z_OK)
		goto fail;
	d->rx_ready = true;
	return d;
fail:
	ws_deflate_free(d);
	return NULL;
}

void ws_deflate_free(struct ws_deflate *d)
{
	if (!d)
		return;
	if (d->tx_ready)
		deflateEnd(&d->tx);
	if (d->rx_ready)
		inflateEnd(&d->rx);
	free(d);
}

int ws_deflate_message(struct ws_deflate *d, const uint8_t *in, size_t len, uint8_t **out,
		       size_t *out_len)
{
	size_t cap = deflateBound(&d->tx, len) + 16;
	uint8_t *buf = malloc(cap);
	int zr;

	if (!buf)
		return -ENOMEM;
	d->tx.next_in = (Bytef *)in;
	d->tx.avail_in = len;
	d->tx.next_out = buf;
	d->tx.avail_out = cap;
	zr = deflate(&d->tx, Z_SYNC_FLUSH);
	if (zr != Z_OK || d->tx.avail_in || d->tx.avail_out == 0) {
		free(buf);
		deflateReset(&d->tx);
		return -EIO;
	}
	*out_len = cap - d->tx.avail_out;
	/* A sync flush always ends in the empty stored block RFC 7692 strips. */
	if (*out_len >= 4 && !memcmp(buf + *out_len - 4, tail, 4))
		*out_len -= 4;
	if (d->p.client_no_context_takeover)
		deflateReset(&d->tx);
	*out = buf;
	return 0;
}

/*
 * Inflate all available input into *buf, growing it up to max + 1 bytes
 * (one past the limit tells "too big" from "exactly max"). Output zlib
 * still holds when the buffer fills is drained by the next turn.
 */
static int inflate_some(z_stream *z, uint8_t **buf, size_t *cap, size_t *used, size_t max)
{
	uint8_t *nb;
	int zr;

	for (;;) {
		if (*used == *cap) {
			if (*cap >= max + 1)
				return -EMSGSIZE;
			*cap = *cap * 2 > max + 1 ? max + 1 : *cap * 2;
			nb = realloc(*buf, *cap);
			if (!nb)
				return -ENOMEM;
			*buf = nb;
		}
		z->next_out = *buf + *used;
		z->avail_out = *cap - *used;
		zr = inflate(z, Z_SYNC_FLUSH);
		*used = *cap - z->avail_out;
		if (*used > max)
			return -EMSGSIZE;
		if (zr == Z_STREAM_END) {
			/* A final block ends the stream: nothing may follow it. */
			if (z->avail_in)
				return -EPROTO;
			inflateReset(z);
			return 0;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return -EPROTO;
		if (z->avail_out) /* all input consumed and all output out */
			return z->avail_in ? -EPROTO : 0;
	}
}

int ws_inflate_message(struct ws_deflate *d, const uint8_t *in, size_t len, size_t max,
		       uint8_t **out, size_t *out_len)
{
	size_t cap = len * 4 + 64 < max + 1 ? len * 4 + 64 : max + 1, used = 0;
	uint8_t *buf = malloc(cap);
	int ret;

	if (!buf)
		return -ENOMEM;
	d->rx.next_in = (Bytef *)in;
	d->rx.avail_in = len;
	ret = inflate_some(&d->rx, &buf, &cap, &used, max);
	if (!ret) {
		d->rx.next_in = (Bytef *)tail;
		d->rx.avail_in = sizeof(tail);
		ret = inflate_some(&d->rx, &buf, &cap, &used, max);
	}
	if (ret || d->p.server_no_context_takeover)
		inflateReset(&d->rx);
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	*out_len = used;
	return 0;
}
