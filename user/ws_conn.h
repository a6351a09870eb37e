/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One WebSocket connection after the opening handshake: RFC 6455 framing
 * by wslay (masking, fragments, control frames in between, the close
 * handshake) plus what wslay leaves to its user: permessage-deflate,
 * UTF-8 validation of text messages (also after inflating), a bound on a
 * message's size, and failing the connection with the right close code.
 *
 * The connection does no I/O of its own: it reads and writes through the
 * caller's ws_io (a TLS connection, or memory in the fuzz target), which
 * never blocks. Not thread-safe: one thread owns a connection.
 */
#ifndef KERNO_WS_CONN_H
#define KERNO_WS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ws_deflate.h"

struct ws_io {
	void *ctx;
	/* Bytes read (> 0), 0 at end of stream, -EAGAIN when none now, or a negative errno. */
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	/* Bytes written (0 when none can be now), or a negative errno. */
	ssize_t (*write)(void *ctx, const void *buf, size_t len);
};

/* A complete text message (inflated, valid UTF-8), borrowed for the call. */
typedef void (*ws_on_message)(void *ud, const char *text, size_t len);

struct ws_conn_opts {
	struct ws_deflate_params deflate; /* as negotiated */
	size_t max_message; /* bytes, after inflating; larger fails with 1009 */
	ws_on_message on_message;
	void *ud;
};

struct ws_conn;

/* NULL when out of memory. io is copied. */
struct ws_conn *ws_conn_new(const struct ws_io *io, const struct ws_conn_opts *o);
void ws_conn_free(struct ws_conn *c);

/*
 * Read and process what the peer sent, calling on_message per message.
 * Returns the count of bytes read (0 when there were none), or a negative
 * errno once the connection cannot go on: -EPIPE when the peer ended the
 * stream, -EPROTO when it broke the protocol (a close frame is queued with
 * the reason; flush it with ws_conn_write()). ws_conn_error() says why.
 */
ssize_t ws_conn_read(struct ws_conn *c);

/*
 * After ws_conn_read() returned -EPROTO and the close frame is out: read
 * and throw away what the peer still sends. 0 once the peer ended the
 * stream (or reading failed), -EAGAIN while it goes on.
 */
int ws_conn_discard(struct ws_conn *c);

/* Write queued frames as far as the socket takes them: 0 or a negative errno. */
int ws_conn_write(struct ws_conn *c);
bool ws_conn_want_write(const struct ws_conn *c);

/* Queue one text message (compressed when negotiated). 0, -ENOMEM, -EPIPE once closing. */
int ws_conn_send_text(struct ws_conn *c, const void *text, size_t len);

/* Bytes of messages queued and not yet handed to the socket. */
size_t ws_conn_queued_bytes(const struct ws_conn *c);

/* Queue a ping carrying `payload` (at most 125 bytes). */
int ws_conn_ping(struct ws_conn *c, const void *payload, size_t len);

/* Start the close handshake with code and a short reason. */
int ws_conn_close(struct ws_conn *c, uint16_t code, const char *reason);

/* Pongs received so far (any payload). */
unsigned long ws_conn_pongs(const struct ws_conn *c);

/* The close handshake is complete: close frames both sent and received. */
bool ws_conn_close_done(const struct ws_conn *c);
bool ws_conn_close_received(const struct ws_conn *c);

/* The code of the peer's close frame (1005 when it had none, 1006 before one came). */
uint16_t ws_conn_peer_close_code(const struct ws_conn *c);

/* Why the connection ended or failed, one line; "" while all is well. */
const char *ws_conn_error(const struct ws_conn *c);

/* Whether s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool ws_utf8_valid(const uint8_t *s, size_t len);

#endif /* KERNO_WS_CONN_H */
