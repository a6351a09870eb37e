// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One WebSocket connection over wslay: see ws_conn.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "ws_conn.h"

struct ws_conn {
	struct ws_io io;
	struct ws_conn_opts o;
	wslay_event_context_ptr ctx;
	struct ws_deflate *deflate; /* NULL unless negotiated */
	size_t bytes_read; /* by the current ws_conn_read() */
	unsigned long pongs;
	bool eof, io_failed;
	char error[160];
};

bool ws_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		uint8_t b = s[i];

		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf)
			n = 1, cp = b & 0x1f;
		else if (b >= 0xe0 && b <= 0xef)
			n = 2, cp = b & 0x0f;
		else if (b >= 0xf0 && b <= 0xf4)
			n = 3, cp = b & 0x07;
		else
			return false;
		if (n >= len - i)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* Fail the connection (RFC 6455 7.1.7): say why, send a close with code, read no more. */
static void fail_conn(struct ws_conn *c, uint16_t code, const char *why)
{
	if (!c->error[0])
		snprintf(c->error, sizeof(c->error), "%s (closing with %u)", why, code);
	wslay_event_queue_close(c->ctx, code, NULL, 0);
	wslay_event_shutdown_read(c->ctx);
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
	struct ws_conn *c = ud;
	ssize_t n = c->io.read(c->io.ctx, buf, len);

	if (n > 0) {
		c->bytes_read += n;
		return n;
	}
	if (n == -EAGAIN) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n == 0)
		c->eof = true;
	else
		c->io_failed = true;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
		       void *ud)
{
	struct ws_conn *c = ud;
	ssize_t n = c->io.write(c->io.ctx, data, len);

	if (n > 0)
		return n;
	if (n == 0 || n == -EAGAIN) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	c->io_failed = true;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
	return RAND_bytes(buf, len) == 1 ? 0 : -1;
}

/* A text message: inflate if compressed, bound, validate, hand over. */
static void on_text(struct ws_conn *c, const struct wslay_event_on_msg_recv_arg *arg)
{
	const uint8_t *text = arg->msg;
	size_t len = arg->msg_length;
	uint8_t *plain = NULL;
	int ret;

	if (arg->rsv & WSLAY_RSV1_BIT) {
		ret = ws_inflate_message(c->deflate, arg->msg, arg->msg_length, c->o.max_message,
					 &plain, &len);
		if (ret == -EMSGSIZE)
			fail_conn(c, WSLAY_CODE_MESSAGE_TOO_BIG,
				  "the server sent a message larger than the limit");
		else if (ret)
			fail_conn(c, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA,
				  "the server sent invalid compressed data");
		if (ret)
			return;
		text = plain;
	}
	if (len > c->o.max_message)
		fail_conn(c, WSLAY_CODE_MESSAGE_TOO_BIG,
			  "the server sent a message larger than the limit");
	else if (!ws_utf8_valid(text, len))
		fail_conn(c, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA,
			  "the server sent a text message that is not UTF-8");
	else if (c->o.on_message)
		c->o.on_message(c->o.ud, (const char *)text, len);
	free(plain);
}

static void on_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
		      void *ud)
{
	struct ws_conn *c = ud;

	switch (arg->opcode) {
	case WSLAY_TEXT_FRAME:
		on_text(c, arg);
		break;
	case WSLAY_BINARY_FRAME:
		fail_conn(c, WSLAY_CODE_UNSUPPORTED_DATA,
			  "the server sent a binary message; the protocol is text only");
		break;
	case WSLAY_PONG:
		c->pongs++;
		break;
	case WSLAY_CONNECTION_CLOSE:
		/* wslay has queued the answering close already. */
		if (!c->error[0] && wslay_event_get_close_sent(ctx))
			snprintf(c->error, sizeof(c->error), "close handshake complete (%u)",
				 wslay_event_get_status_code_received(ctx));
		else if (!c->error[0])
			snprintf(c->error, sizeof(c->error), "the server closed with %u%s%.*s",
				 wslay_event_get_status_code_received(ctx),
				 arg->msg_length > 2 ? ": " : "",
				 arg->msg_length > 2 ? (int)arg->msg_length - 2 : 0,
				 arg->msg_length > 2 ? (const char *)arg->msg + 2 : "");
		break;
	default:
		break;
	}
}

struct ws_conn *ws_conn_new(const struct ws_io *io, const struct ws_conn_opts *o)
{
	struct wslay_event_callbacks cb = {
		.recv_callback = recv_cb,
		.send_callback = send_cb,
		.genmask_callback = genmask_cb,
		.on_msg_recv_callback = on_msg_cb,
	};
	struct ws_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->io = *io;
	c->o = *o;
	if (wslay_event_context_client_init(&c->ctx, &cb, c))
		goto fail;
	if (o->deflate.enabled) {
		c->deflate = ws_deflate_new(&o->deflate);
		if (!c->deflate)
			goto fail;
		wslay_event_config_set_allowed_rsv_bits(c->ctx, WSLAY_RSV1_BIT);
	}
	wslay_event_config_set_max_recv_msg_length(c->ctx, o->max_message);
	return c;
fail:
	ws_conn_free(c);
	return NULL;
}

void ws_conn_free(struct ws_conn *c)
{
	if (!c)
		return;
	if (c->ctx)
		wslay_event_context_free(c->ctx);
	ws_deflate_free(c->deflate);
	free(c);
}

ssize_t ws_conn_read(struct ws_conn *c)
{
	int ret;

	c->bytes_read = 0;
	if (!wslay_event_want_read(c->ctx))
		return c->error[0] ? -EPROTO : -EPIPE;
	ret = wslay_event_recv(c->ctx);
	if (c->eof && !c->error[0])
		snprintf(c->error, sizeof(c->error), "the server ended the TCP stream");
	if (c->io_failed && !c->error[0])
		snprintf(c->error, sizeof(c->error), "reading from the server failed");
	if (ret && !c->error[0])
		snprintf(c->error, sizeof(c->error), "wslay failed reading: %d", ret);
	if (c->eof || c->io_failed || ret)
		return -EPIPE;
	if (!wslay_event_get_read_enabled(c->ctx) && !wslay_event_get_close_received(c->ctx)) {
		/* wslay itself found a protocol violation and queued the close. */
		if (!c->error[0])
			snprintf(c->error, sizeof(c->error),
				 "the server broke the WebSocket protocol (bad frame, close code, "
				 "UTF-8 or size)");
		return -EPROTO;
	}
	return c->bytes_read;
}

int ws_conn_discard(struct ws_conn *c)
{
	uint8_t buf[16384];
	ssize_t n;

	do
		n = c->io.read(c->io.ctx, buf, sizeof(buf));
	while (n > 0);
	return n == -EAGAIN ? -EAGAIN : 0;
}

int ws_conn_write(struct ws_conn *c)
{
	if (wslay_event_send(c->ctx)) {
		if (!c->error[0])
			snprintf(c->error, sizeof(c->error), "writing to the server failed");
		return -EPIPE;
	}
	return 0;
}

bool ws_conn_want_write(const struct ws_conn *c)
{
	return wslay_event_want_write(c->ctx);
}

int ws_conn_send_text(struct ws_conn *c, const void *text, size_t len)
{
	struct wslay_event_msg msg = { .opcode = WSLAY_TEXT_FRAME, .msg = text, .msg_length = len };
	uint8_t *packed = NULL;
	uint8_t rsv = WSLAY_RSV_NONE;
	int ret;

	if (c->deflate) {
		ret = ws_deflate_message(c->deflate, text, len, &packed, &msg.msg_length);
		if (ret)
			return ret;
		msg.msg = packed;
		rsv = WSLAY_RSV1_BIT;
	}
	ret = wslay_event_queue_msg_ex(c->ctx, &msg, rsv);
	free(packed);
	if (ret == WSLAY_ERR_NOMEM)
		return -ENOMEM;
	return ret ? -EPIPE : 0;
}

size_t ws_conn_queued_bytes(const struct ws_conn *c)
{
	return wslay_event_get_queued_msg_length(c->ctx);
}

int ws_conn_ping(struct ws_conn *c, const void *payload, size_t len)
{
	struct wslay_event_msg msg = { .opcode = WSLAY_PING, .msg = payload, .msg_length = len };

	return wslay_event_queue_msg(c->ctx, &msg) ? -EPIPE : 0;
}

int ws_conn_close(struct ws_conn *c, uint16_t code, const char *reason)
{
	return wslay_event_queue_close(c->ctx, code, (const uint8_t *)reason,
				       reason ? strlen(reason) : 0) ?
		       -EPIPE :
		       0;
}

unsigned long ws_conn_pongs(const struct ws_conn *c)
{
	return c->pongs;
}

bool ws_conn_close_done(const struct ws_conn *c)
{
	return wslay_event_get_close_sent(c->ctx) && wslay_event_get_close_received(c->ctx);
}

bool ws_conn_close_received(const struct ws_conn *c)
{
	return wslay_event_get_close_received(c->ctx);
}

uint16_t ws_conn_peer_close_code(const struct ws_conn *c)
{
	return wslay_event_get_status_code_received(c->ctx);
}

const char *ws_conn_error(const struct ws_conn *c)
{
	return c->error;
}
