// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HPACK header blocks, tolerant of a dynamic table that missed entries: see h2hpack.h. */
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>

#include "h2hpack.h"

/* Dynamic table sizes a peer may announce: generous, so no size update is refused. */
#define H2_TABLE_SETTINGS_MAX (1U << 20)
/* A literal whose name the table lost keeps its slot under this name. */
static const uint8_t lost_name[] = "\x0cx-kerno-lost";

/* Entries of the static table (RFC 7541, appendix A): indices above it are dynamic. */
#define H2_STATIC_ENTRIES 61
/* Every dynamic entry is the peer's: no block was lost yet. */
#define H2_ALL_TRUSTED UINT32_MAX

struct h2_hpack {
	nghttp2_hd_inflater *inf;
	uint64_t resets;
	uint32_t trusted; /* newest dynamic entries known to match the peer's, since a gap */
};

static nghttp2_hd_inflater *inflater_new(void)
{
	nghttp2_hd_inflater *inf = NULL;

	if (nghttp2_hd_inflate_new(&inf))
		return NULL;
	if (nghttp2_hd_inflate_change_table_size(inf, H2_TABLE_SETTINGS_MAX)) {
		nghttp2_hd_inflate_del(inf);
		return NULL;
	}
	return inf;
}

struct h2_hpack *h2_hpack_new(void)
{
	struct h2_hpack *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->inf = inflater_new();
	if (!h->inf) {
		free(h);
		return NULL;
	}
	h->trusted = H2_ALL_TRUSTED;
	return h;
}

void h2_hpack_gap(struct h2_hpack *h)
{
	if (h)
		h->trusted = 0;
}

/* Does index idx name an entry our table lacks, or may hold other than the peer's? */
static bool lacks(const struct h2_hpack *h, uint32_t idx, uint32_t have)
{
	return idx > have || (idx > H2_STATIC_ENTRIES && idx - H2_STATIC_ENTRIES > h->trusted);
}

/* A literal with incremental indexing went into both tables, at the same place. */
static void added(struct h2_hpack *h)
{
	if (h->trusted != H2_ALL_TRUSTED)
		h->trusted++;
}

void h2_hpack_free(struct h2_hpack *h)
{
	if (!h)
		return;
	nghttp2_hd_inflate_del(h->inf);
	free(h);
}

uint64_t h2_hpack_resets(const struct h2_hpack *h)
{
	return h ? h->resets : 0;
}

/* An HPACK integer with a prefix of `bits` bits at in[*pos]. 0, or -1 when cut or too big. */
static int hp_int(const uint8_t *in, size_t len, size_t *pos, unsigned int bits, uint32_t *out)
{
	uint32_t max = (1U << bits) - 1, v;
	unsigned int shift = 0;
	uint8_t b;

	if (*pos >= len)
		return -1;
	v = in[(*pos)++] & max;
	if (v < max) {
		*out = v;
		return 0;
	}
	do {
		if (*pos >= len || shift > 21)
			return -1;
		b = in[(*pos)++];
		v += (uint32_t)(b & 127) << shift;
		shift += 7;
	} while (b & 128);
	*out = v;
	return 0;
}

/* Step over a string literal at in[*pos]. 0, or -1 when it runs past the block. */
static int hp_str(const uint8_t *in, size_t len, size_t *pos)
{
	uint32_t n;

	if (hp_int(in, len, pos, 7, &n) || n > len - *pos)
		return -1;
	*pos += n;
	return 0;
}

static bool name_is(const nghttp2_nv *nv, const char *name)
{
	size_t n = strlen(name);

	return nv->namelen == n && !memcmp(nv->name, name, n);
}

/* Up to 3 decimal digits, all of the value; -1 when it is not that. */
static int small_number(const uint8_t *v, size_t n)
{
	int x = 0;
	size_t i;

	if (!n || n > 3)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

static void copy_value(char *dst, size_t size, const nghttp2_nv *nv)
{
	size_t n = nv->valuelen < size - 1 ? nv->valuelen : size - 1;

	memcpy(dst, nv->value, n);
	dst[n] = '\0';
}

static int hex_digit(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/*
 * "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", the kernel's rule
 * for HTTP/1.x (span_traceparent() in kern/span.bpf.h): lowercase hex, ids
 * not all zero; anything else leaves the fields unset.
 */
static void take_traceparent(const uint8_t *v, size_t n, struct h2_fields *out)
{
	uint64_t w[3] = { 0 };
	int i, h;

	if (n < 55 || v[0] != '0' || v[1] != '0' || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return;
	for (i = 0; i < 48; i++) {
		h = hex_digit(v[3 + i + (i >= 32)]);
		if (h < 0)
			return;
		w[i >> 4] = w[i >> 4] << 4 | (uint64_t)h;
	}
	if (!(w[0] | w[1]) || !w[2])
		return;
	for (i = 0; i < 8; i++) {
		out->trace_id[i] = w[0] >> (56 - 8 * i);
		out->trace_id[8 + i] = w[1] >> (56 - 8 * i);
	}
	out->parent_id = w[2];
	out->has_traceparent = true;
}

/* Keep the field if it is one Kerno measures or traces by. */
static void take_field(const nghttp2_nv *nv, struct h2_fields *out)
{
	static const char grpc_type[] = "application/grpc";
	size_t gl = sizeof(grpc_type) - 1;
	int x;

	if (name_is(nv, ":method")) {
		copy_value(out->method, sizeof(out->method), nv);
	} else if (name_is(nv, ":path")) {
		copy_value(out->path, sizeof(out->path), nv);
	} else if (name_is(nv, ":status")) {
		x = small_number(nv->value, nv->valuelen);
		if (x >= 100)
			out->status = x;
	} else if (name_is(nv, "content-type")) {
		out->grpc = nv->valuelen >= gl && !memcmp(nv->value, grpc_type, gl) &&
			    (nv->valuelen == gl || nv->value[gl] == '+' || nv->value[gl] == ';');
	} else if (name_is(nv, "grpc-status")) {
		x = small_number(nv->value, nv->valuelen);
		if (x >= 0 && x <= 255) {
			out->has_grpc_status = true;
			out->grpc_status = x;
		}
	} else if (name_is(nv, "traceparent")) {
		take_traceparent(nv->value, nv->valuelen, out);
	}
}

/* Feed in[0, len) to the inflater (final: the block ends there). 0 or -1. */
static int feed(struct h2_hpack *h, const uint8_t *in, size_t len, int final, struct h2_fields *out)
{
	nghttp2_nv nv;
	ssize_t rv;
	int flags;

	for (;;) {
		flags = 0;
		rv = nghttp2_hd_inflate_hd2(h->inf, &nv, &flags, in, len, final);
		if (rv < 0 || (size_t)rv > len)
			return -1;
		in += rv;
		len -= rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			take_field(&nv, out);
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(h->inf);
			return 0;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && !len)
			return 0;
	}
}

/*
 * One field representation at in[*pos]: fed as it is, fed with a
 * placeholder name, or left out when it names an entry the table lacks.
 * Returns fields lost (0 or 1), or -1 when the block is malformed.
 */
static int one_field(struct h2_hpack *h, const uint8_t *in, size_t len, size_t *pos,
		     struct h2_fields *out)
{
	size_t start = *pos, value;
	uint8_t b = in[start];
	bool lost;
	uint32_t idx, have = (uint32_t)nghttp2_hd_inflate_get_num_table_entries(h->inf);
	unsigned int bits = (b & 0x80) ? 7 : (b & 0x40) ? 6 : (b & 0x20) ? 5 : 4;

	if (hp_int(in, len, pos, bits, &idx))
		return -1;
	if (b & 0x80) {
		if (!idx)
			return -1;
		if (lacks(h, idx, have))
			return 1; /* an indexed field the table lost */
		return feed(h, in + start, *pos - start, 0, out);
	}
	if ((b & 0xe0) == 0x20) /* dynamic table size update */
		return feed(h, in + start, *pos - start, 0, out);
	if (!idx && hp_str(in, len, pos))
		return -1;
	value = *pos;
	if (hp_str(in, len, pos))
		return -1;
	/* The name's index is read against the table before this field joins it. */
	lost = idx && lacks(h, idx, have);
	if (b & 0x40)
		added(h);
	if (!lost)
		return feed(h, in + start, *pos - start, 0, out);
	if (!(b & 0x40))
		return 1; /* not indexed: nothing in the table depends on it */
	/* Indexed, so the table keeps step: the same value under a placeholder name. */
	if (feed(h, (const uint8_t *)"\x40", 1, 0, out) ||
	    feed(h, lost_name, sizeof(lost_name) - 1, 0, out) ||
	    feed(h, in + value, *pos - value, 0, out))
		return -1;
	return 1;
}

static int refuse(struct h2_hpack *h)
{
	nghttp2_hd_inflater *fresh = inflater_new();

	h->resets++;
	h->trusted = 0; /* the refused block may have added entries */
	if (fresh) {
		nghttp2_hd_inflate_del(h->inf);
		h->inf = fresh;
	}
	return -1;
}

int h2_hpack_block(struct h2_hpack *h, const uint8_t *in, size_t len, struct h2_fields *out)
{
	size_t pos = 0;
	int lost = 0, r;

	if (!h)
		return -1;
	while (pos < len) {
		r = one_field(h, in, len, &pos, out);
		if (r < 0)
			return refuse(h);
		lost += r;
	}
	if (feed(h, (const uint8_t *)"", 0, 1, out))
		return refuse(h);
	return lost;
}
