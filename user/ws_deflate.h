/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * permessage-deflate (RFC 7692) for the WebSocket client, on zlib.
 *
 * The client offers
 *
 *   Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits
 *
 * and accepts what a server may answer to that offer: the four parameters
 * of RFC 7692 section 7.1, each at most once. Anything else in the answer
 * (another extension, an unknown or repeated parameter, a value out of
 * 8..15) fails the connection, as section 7 requires.
 *
 * Messages are compressed as raw deflate with a sync flush, the trailing
 * 00 00 ff ff removed; received ones have it appended back. Without context
 * takeover the stream is reset after every message.
 */
#ifndef KERNO_WS_DEFLATE_H
#define KERNO_WS_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_DEFLATE_OFFER "permessage-deflate; client_max_window_bits"

struct ws_deflate_params {
	bool enabled;
	bool server_no_context_takeover;
	bool client_no_context_takeover;
	int server_max_window_bits; /* 8..15; 15 when not given */
	int client_max_window_bits; /* 9..15; 15 when not given */
};

/*
 * Read the server's Sec-WebSocket-Extensions value (value[0..len)): 0 with
 * p filled (p->enabled when the server accepted), or -EPROTO with the
 * reason in err.
 */
int ws_deflate_parse_answer(const char *value, size_t len, struct ws_deflate_params *p, char *err,
			    size_t errlen);

struct ws_deflate;

/* A compressor and decompressor for one connection; NULL when out of memory. */
struct ws_deflate *ws_deflate_new(const struct ws_deflate_params *p);
void ws_deflate_free(struct ws_deflate *d);

/*
 * Compress one message. *out is malloc'ed (the caller frees it).
 * Returns 0, -ENOMEM, or -EIO on a zlib failure.
 */
int ws_deflate_message(struct ws_deflate *d, const uint8_t *in, size_t len, uint8_t **out,
		       size_t *out_len);

/*
 * Decompress one message into at most `max` bytes. *out is malloc'ed.
 * Returns 0, -EMSGSIZE when the result would be larger than max (a
 * decompression bomb is stopped there), -EPROTO for invalid deflate data,
 * -ENOMEM.
 */
int ws_inflate_message(struct ws_deflate *d, const uint8_t *in, size_t len, size_t max,
		       uint8_t **out, size_t *out_len);

#endif /* KERNO_WS_DEFLATE_H */
