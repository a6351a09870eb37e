/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The WebSocket opening handshake (RFC 6455 section 4), client side: the
 * upgrade request, and the checks on the server's answer that section 4.1
 * makes mandatory: status 101, "Upgrade: websocket", a Connection field
 * with the "upgrade" token, Sec-WebSocket-Accept equal to
 * base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)), no extension
 * and no subprotocol that was not offered. Any failure fails the
 * connection before a single frame is sent.
 */
#ifndef KERNO_WS_HANDSHAKE_H
#define KERNO_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "ws_deflate.h"

#define WS_KEY_LEN 24 /* base64 of 16 random bytes */
#define WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */
#define WS_SUBPROTOCOL "kerno-uplink.v1"

struct ws_request {
	const char *host; /* as in the URL: name, IPv4 or [IPv6] */
	const char *port; /* omitted from Host when "443" */
	const char *path; /* "/..." with any query */
	const char *token; /* bearer token, or NULL */
	const char *stream; /* Kerno-Stream value, or NULL */
	const char *user_agent; /* e.g. "kerno/1.2" */
	bool deflate; /* offer permessage-deflate */
};

/* A fresh random key (NUL-terminated). Returns 0 or -EIO. */
int ws_key_new(char key[WS_KEY_LEN + 1]);

/* The accept value the server must answer for key (NUL-terminated). */
void ws_accept_for(const char *key, char accept[WS_ACCEPT_LEN + 1]);

/*
 * The upgrade request for key into buf. Returns its length, or -ENOSPC when
 * buf is too small, -EINVAL when a field would carry a CR, LF or other
 * control character.
 */
int ws_request_build(const struct ws_request *r, const char *key, char *buf, size_t size);

/*
 * Check the server's answer at the start of buf[0..len). Returns the
 * length of the head (frames may follow it in buf), 0 when more bytes are
 * needed, or a negative errno with one line in err: -EACCES for 401/403,
 * -EPROTO for anything else that is not a valid acceptance of this
 * request. *deflate says what was negotiated.
 */
long ws_answer_check(const char *buf, size_t len, const char *key, bool offered_deflate,
		     struct ws_deflate_params *deflate, char *err, size_t errlen);

#endif /* KERNO_WS_HANDSHAKE_H */
