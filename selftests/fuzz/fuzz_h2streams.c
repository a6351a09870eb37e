// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the HTTP/2 header-block path in userspace
 * (user/h2streams.c, user/h2hpack.c): the bytes come from any process's
 * traffic. The first byte picks the mode:
 *   even: the rest is one HPACK block, decoded twice by one inflater (so the
 *         second pass meets the dynamic table the first one left);
 *   odd:  the rest is a series of events as the kernel sends them, each a
 *         7-byte record (kind, dir/role/conn/piece bits, frame type, frame
 *         flags, stream id, seq, length) and `length` bytes of block.
 * Whatever the bytes: no crash, no leak, fields NUL-terminated, every
 * stream end counted once (in a series or as a drop), and every stream end
 * counted in a series offered once as a span (user/h2spans.c), if not then
 * at the sync.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2hpack.h"
#include "h2streams.h"

static void check_fields(const struct h2_fields *f)
{
	if (memchr(f->method, 0, sizeof(f->method)) == NULL ||
	    memchr(f->path, 0, sizeof(f->path)) == NULL)
		abort();
}

static void one_block(const uint8_t *data, size_t size)
{
	struct h2_hpack *h = h2_hpack_new();
	struct h2_fields f;
	int i;

	if (!h)
		return;
	for (i = 0; i < 2; i++) {
		memset(&f, 0, sizeof(f));
		h2_hpack_block(h, data, size, &f);
		check_fields(&f);
	}
	h2_hpack_free(h);
}

static void count_span(void *ctx, struct kerno_span_event *ev)
{
	if (ev->role != KERNO_ROLE_SERVER && ev->role != KERNO_ROLE_CLIENT)
		abort();
	++*(__u64 *)ctx;
}

static void events(const uint8_t *data, size_t size)
{
	__u64 spans = 0;
	struct h2streams *h = h2streams_new_detached(4, 64, count_span, &spans);
	struct kerno_h2_event e;
	const struct kerno_sample *out;
	__u64 drops[KERNO_DROP__COUNT] = { 0 }, counted = 0, ends = 0;
	size_t len;
	long n, i;

	if (!h)
		return;
	while (size >= 7) {
		memset(&e, 0, sizeof(e));
		e.kind = 1 + data[0] % 4;
		e.dir = data[1] & 1;
		e.role = data[1] & 2 ? KERNO_ROLE_SERVER : KERNO_ROLE_CLIENT;
		e.conn.conn_id = 1 + (data[1] >> 2 & 1);
		e.piece = data[1] >> 3 & 7;
		e.frame_type = data[2];
		e.frame_flags = data[3];
		e.stream_id = data[4];
		e.seq = data[5];
		e.dur_ns = data[6] * 1000ULL;
		len = data[6];
		data += 7;
		size -= 7;
		if (len > size)
			len = size;
		memcpy(e.data, data, len);
		e.len = len;
		data += len;
		size -= len;
		if (e.kind == KERNO_H2_EV_END || e.kind == KERNO_H2_EV_RESET)
			ends++;
		h2streams_event(h, &e, KERNO_H2_EVENT_HDR + len);
	}
	h2streams_sync(h); /* the held server spans too */
	n = h2streams_take(h, &out, drops);
	for (i = 0; i < n; i++)
		counted += out[i].count;
	/* Each end counted once: in a series, or as a drop (series full, blocks not decoded). */
	if (counted + drops[KERNO_DROP_SERIES_TABLE_FULL] + drops[KERNO_DROP_H2_NO_HEADERS] != ends)
		abort();
	/* And each one with its blocks a span, whether its series had room or not. */
	if (spans != counted + drops[KERNO_DROP_SERIES_TABLE_FULL])
		abort();
	h2streams_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		events(data + 1, size - 1);
	else
		one_block(data + 1, size - 1);
	return 0;
}
