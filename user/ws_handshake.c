// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The WebSocket opening handshake, client side: see ws_handshake.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/base64.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "http_head.h"
#include "ws_handshake.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int ws_key_new(char key[WS_KEY_LEN + 1])
{
	uint8_t raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	EVP_EncodeBlock((uint8_t *)key, raw, sizeof(raw));
	return 0;
}

void ws_accept_for(const char *key, char accept[WS_ACCEPT_LEN + 1])
{
	uint8_t digest[SHA_DIGEST_LENGTH];
	SHA_CTX sha;

	SHA1_Init(&sha);
	SHA1_Update(&sha, key, strlen(key));
	SHA1_Update(&sha, ws_guid, strlen(ws_guid));
	SHA1_Final(digest, &sha);
	EVP_EncodeBlock((uint8_t *)accept, digest, sizeof(digest));
}

/* Header values must not be able to end the line they are on. */
static bool field_safe(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int ws_request_build(const struct ws_request *r, const char *key, char *buf, size_t size)
{
	bool default_port = !strcmp(r->port, "443");
	int n;

	if (!field_safe(r->host) || !field_safe(r->port) || !field_safe(r->path) ||
	    !field_safe(r->token) || !field_safe(r->stream) || !field_safe(r->user_agent) ||
	    strchr(r->path, ' '))
		return -EINVAL;
	n = snprintf(buf, size,
		     "GET %s HTTP/1.1\r\n"
		     "Host: %s%s%s\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "Sec-WebSocket-Protocol: " WS_SUBPROTOCOL "\r\n"
		     "%s%s%s"
		     "%s%s%s"
		     "%s%s%s"
		     "User-Agent: %s\r\n"
		     "\r\n",
		     r->path, r->host, default_port ? "" : ":", default_port ? "" : r->port, key,
		     r->deflate ? "Sec-WebSocket-Extensions: " : "",
		     r->deflate ? WS_DEFLATE_OFFER : "", r->deflate ? "\r\n" : "",
		     r->token ? "Authorization: Bearer " : "", r->token ? r->token : "",
		     r->token ? "\r\n" : "", r->stream ? "Kerno-Stream: " : "",
		     r->stream ? r->stream : "", r->stream ? "\r\n" : "", r->user_agent);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

static long refuse(char *err, size_t errlen, long code, const char *fmt, const char *what, size_t n)
{
	snprintf(err, errlen, fmt, (int)(n > 80 ? 80 : n), what);
	return code;
}

static long say(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "handshake refused: %s", why);
	return -EPROTO;
}

/* A field that must appear exactly once. */
static const struct http_field *single(const struct http_head *h, const char *name, char *err,
				       size_t errlen)
{
	if (http_head_count(h, name) == 1)
		return http_head_field(h, name);
	snprintf(err, errlen, "handshake refused: %s %s", name,
		 http_head_count(h, name) ? "repeated" : "missing");
	return NULL;
}

static long check_status(const struct http_head *h, char *err, size_t errlen)
{
	if (h->status == 101)
		return 0;
	if (h->status == 401 || h->status == 403) {
		snprintf(err, errlen,
			 "the server refused the token (HTTP %d): check --cloud-token-file",
			 h->status);
		return -EACCES;
	}
	snprintf(err, errlen, "the server answered HTTP %d instead of 101 Switching Protocols",
		 h->status);
	return -EPROTO;
}

long ws_answer_check(const char *buf, size_t len, const char *key, bool offered_deflate,
		     struct ws_deflate_params *deflate, char *err, size_t errlen)
{
	char accept[WS_ACCEPT_LEN + 1];
	const struct http_field *f;
	struct http_head h;
	long n = http_head_parse(buf, len, &h), ret;

	memset(deflate, 0, sizeof(*deflate));
	if (n == -E2BIG || n == -EPROTO)
		return say(err, errlen, "malformed HTTP answer");
	if (n <= 0)
		return n;
	ret = check_status(&h, err, errlen);
	if (ret)
		return ret;
	f = single(&h, "Upgrade", err, errlen);
	if (!f)
		return -EPROTO;
	if (!http_field_is(f, "websocket", true))
		return refuse(err, errlen, -EPROTO, "handshake refused: Upgrade is '%.*s'",
			      f->value, f->value_len);
	f = http_head_field(&h, "Connection");
	if (!f || !http_field_has_token(f, "upgrade"))
		return say(err, errlen, "Connection lacks the upgrade token");
	f = single(&h, "Sec-WebSocket-Accept", err, errlen);
	if (!f)
		return -EPROTO;
	ws_accept_for(key, accept);
	if (!http_field_is(f, accept, false))
		return refuse(
			err, errlen, -EPROTO,
			"handshake refused: Sec-WebSocket-Accept '%.*s' does not match the key "
			"sent (not a WebSocket server, or something in the path altered the "
			"answer)",
			f->value, f->value_len);
	f = http_head_field(&h, "Sec-WebSocket-Protocol");
	if (http_head_count(&h, "Sec-WebSocket-Protocol") != 1 ||
	    !http_field_is(f, WS_SUBPROTOCOL, false))
		return say(err, errlen, "the server did not select subprotocol " WS_SUBPROTOCOL);
	if (http_head_count(&h, "Sec-WebSocket-Extensions") > 1)
		return say(err, errlen, "Sec-WebSocket-Extensions repeated");
	f = http_head_field(&h, "Sec-WebSocket-Extensions");
	if (f && !offered_deflate)
		return refuse(err, errlen, -EPROTO,
			      "handshake refused: extension '%.*s' was not offered", f->value,
			      f->value_len);
	if (f && ws_deflate_parse_answer(f->value, f->value_len, deflate, err, errlen))
		return -EPROTO;
	return n;
}
