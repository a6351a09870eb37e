// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for what the uplink does with bytes from the server
 * after the handshake: wslay's frame parser and ws_conn's handling on top
 * (fragments, control frames, close codes, permessage-deflate inflation
 * with its size bound, UTF-8 validation). One input is one connection.
 *
 * Input layout:
 *   [0]  bit 0: permessage-deflate negotiated; bit 1: server_no_context_takeover;
 *        bit 2: client_no_context_takeover; bits 3-7: read size in 8-byte steps (+1)
 *   [1]  bits 0-3: max message as 2^(n+4) bytes
 *   then the bytes the server sends, handed over as reads of that size.
 * Invariants: every message handed over is valid UTF-8 and within the bound;
 * whatever the input, the connection ends or waits without a crash or leak.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ws_conn.h"

struct mem {
	const uint8_t *p;
	size_t len, step;
	size_t written;
};

static size_t max_message;

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct mem *m = ctx;
	size_t n = len < m->step ? len : m->step;

	if (!m->len)
		return -EAGAIN;
	if (n > m->len)
		n = m->len;
	memcpy(buf, m->p, n);
	m->p += n;
	m->len -= n;
	return n;
}

static ssize_t mem_write(void *ctx, const void *buf, size_t len)
{
	struct mem *m = ctx;

	m->written += len;
	return len;
}

static void on_message(void *ud, const char *text, size_t len)
{
	assert(len <= max_message);
	assert(ws_utf8_valid((const uint8_t *)text, len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem m = { 0 };
	struct ws_io io = { .ctx = &m, .read = mem_read, .write = mem_write };
	struct ws_conn_opts o = { .on_message = on_message };
	struct ws_conn *c;
	int rounds;

	if (size < 2)
		return 0;
	o.deflate.enabled = data[0] & 1;
	o.deflate.server_no_context_takeover = data[0] & 2;
	o.deflate.client_no_context_takeover = data[0] & 4;
	o.deflate.server_max_window_bits = 15;
	o.deflate.client_max_window_bits = 15;
	m.step = ((data[0] >> 3) + 1) * 8;
	max_message = (size_t)1 << ((data[1] & 15) + 4);
	o.max_message = max_message;
	m.p = data + 2;
	m.len = size - 2;
	c = ws_conn_new(&io, &o);
	if (!c)
		return 0;
	/* Something to send too, so answers interleave with our own frames. */
	ws_conn_send_text(c, "{\"v\":1}", 7);
	for (rounds = 0; rounds < 100000; rounds++) {
		ssize_t n = ws_conn_read(c);

		ws_conn_write(c);
		if (n <= 0)
			break;
	}
	ws_conn_free(c);
	return 0;
}
