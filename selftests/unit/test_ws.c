// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The WebSocket uplink's pieces without a network: the handshake (request
 * and the answer's checks), permessage-deflate, UTF-8, the HTTP head parser,
 * URL and proxy parsing, and the sealed disk queue.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "http_head.h"
#include "uplink_queue.h"
#include "uplink_ws.h"
#include "ws_client.h"
#include "ws_conn.h"
#include "ws_deflate.h"
#include "ws_handshake.h"

/* RFC 6455 section 1.3's example. */
#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define ANSWER_START                                                                        \
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
	"Sec-WebSocket-Protocol: kerno-uplink.v1\r\n"

static long check(const char *answer, bool deflate, struct ws_deflate_params *p, char *err)
{
	return ws_answer_check(answer, strlen(answer), KEY, deflate, p, err, 256);
}

static void test_accept_and_request(void **state)
{
	struct ws_request r = { .host = "cloud.example",
				.port = "443",
				.path = "/v1/up?x=1",
				.token = "tok",
				.stream = "abc",
				.user_agent = "kerno/t",
				.deflate = true };
	char accept[WS_ACCEPT_LEN + 1], buf[1024], key[WS_KEY_LEN + 1], key2[WS_KEY_LEN + 1];
	int n;

	ws_accept_for(KEY, accept);
	assert_string_equal(accept, ACCEPT);
	n = ws_request_build(&r, KEY, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_string_equal(
		buf, "GET /v1/up?x=1 HTTP/1.1\r\n"
		     "Host: cloud.example\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: " KEY "\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "Sec-WebSocket-Protocol: kerno-uplink.v1\r\n"
		     "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
		     "Authorization: Bearer tok\r\n"
		     "Kerno-Stream: abc\r\n"
		     "User-Agent: kerno/t\r\n\r\n");
	r.port = "8443";
	r.deflate = false;
	r.token = NULL;
	assert_true(ws_request_build(&r, KEY, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "Host: cloud.example:8443\r\n"));
	assert_null(strstr(buf, "Extensions"));
	assert_null(strstr(buf, "Authorization"));
	r.token = "a\r\nX-Evil: 1";
	assert_int_equal(ws_request_build(&r, KEY, buf, sizeof(buf)), -EINVAL);
	r.token = "tok";
	assert_int_equal(ws_request_build(&r, KEY, buf, 10), -ENOSPC);
	/* Keys are random and new each time. */
	assert_int_equal(ws_key_new(key), 0);
	assert_int_equal(ws_key_new(key2), 0);
	assert_int_equal(strlen(key), WS_KEY_LEN);
	assert_string_not_equal(key, key2);
}

static void test_answer_checks(void **state)
{
	struct ws_deflate_params p;
	char err[256];
	const char *ok = ANSWER_START "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n\x81\x02{}";

	/* The head's length: the frame after it is the caller's. */
	assert_int_equal(check(ok, false, &p, err), strlen(ok) - 4);
	assert_false(p.enabled);
	assert_int_equal(ws_answer_check(ok, 20, KEY, false, &p, err, sizeof(err)), 0);
	assert_int_equal(check(ANSWER_START
			       "Sec-WebSocket-Accept: AAAApLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
			       false, &p, err),
			 -EPROTO);
	assert_non_null(strstr(err, "does not match the key sent"));
	assert_int_equal(check(ANSWER_START "\r\n", false, &p, err), -EPROTO);
	assert_non_null(strstr(err, "Sec-WebSocket-Accept missing"));
	assert_int_equal(check(ANSWER_START "Sec-WebSocket-Accept: " ACCEPT
					    "\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
			       false, &p, err),
			 -EPROTO);
	assert_int_equal(check("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
			       "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
			       false, &p, err),
			 -EPROTO);
	assert_non_null(strstr(err, "upgrade token"));
	assert_int_equal(check("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: x, UPGRADE\r\n"
			       "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
			       false, &p, err),
			 -EPROTO); /* no subprotocol */
	assert_non_null(strstr(err, "subprotocol"));
	assert_int_equal(check("HTTP/1.1 401 Unauthorized\r\n\r\n", false, &p, err), -EACCES);
	assert_non_null(strstr(err, "--cloud-token-file"));
	assert_int_equal(check("HTTP/1.1 200 OK\r\n\r\n", false, &p, err), -EPROTO);
	/* Extensions: only what was offered. */
	assert_int_equal(check(ANSWER_START
			       "Sec-WebSocket-Accept: " ACCEPT
			       "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
			       false, &p, err),
			 -EPROTO);
	assert_true(check(ANSWER_START
			  "Sec-WebSocket-Accept: " ACCEPT
			  "\r\nSec-WebSocket-Extensions: permessage-deflate; "
			  "client_no_context_takeover; server_max_window_bits=\"10\"\r\n\r\n",
			  true, &p, err) > 0);
	assert_true(p.enabled);
	assert_true(p.client_no_context_takeover);
	assert_false(p.server_no_context_takeover);
	assert_int_equal(p.server_max_window_bits, 10);
	assert_int_equal(p.client_max_window_bits, 15);
}

static void test_deflate_answers(void **state)
{
	static const char *const bad[] = {
		"permessage-deflate; foo",
		"permessage-deflate; client_no_context_takeover; client_no_context_takeover",
		"permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; server_max_window_bits",
		"permessage-deflate; client_max_window_bits=8",
		"permessage-deflate; server_no_context_takeover=1",
		"x-webkit-deflate-frame",
		"permessage-deflate, permessage-deflate",
	};
	struct ws_deflate_params p;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ws_deflate_parse_answer(bad[i], strlen(bad[i]), &p, err,
							 sizeof(err)),
				 -EPROTO);
	assert_int_equal(ws_deflate_parse_answer("permessage-deflate ; client_max_window_bits = 9",
						 47, &p, err, sizeof(err)),
			 0);
	assert_int_equal(p.client_max_window_bits, 9);
}

static void roundtrip(bool no_context, size_t *second_len)
{
	struct ws_deflate_params p = { .enabled = true,
				       .server_no_context_takeover = no_context,
				       .client_no_context_takeover = no_context,
				       .server_max_window_bits = 15,
				       .client_max_window_bits = 15 };
	const char *msg =
		"{\"v\":1,\"type\":\"metrics\",\"seq\":1,\"data\":{\"k\":\"aaaaaaaaaaaaaaaa\"}}";
	struct ws_deflate *tx = ws_deflate_new(&p), *rx = ws_deflate_new(&p);
	uint8_t *z, *out;
	size_t zlen, olen;
	int i;

	for (i = 0; i < 2; i++) {
		assert_int_equal(
			ws_deflate_message(tx, (const uint8_t *)msg, strlen(msg), &z, &zlen), 0);
		/* The sync flush's 00 00 ff ff is not sent. */
		assert_true(zlen < 4 || memcmp(z + zlen - 4, "\0\0\xff\xff", 4));
		/* The peer's decompressor: this module's own, as deflate is symmetric. */
		assert_int_equal(ws_inflate_message(rx, z, zlen, 1000, &out, &olen), 0);
		assert_int_equal(olen, strlen(msg));
		assert_memory_equal(out, msg, olen);
		free(out);
		free(z);
		*second_len = zlen;
	}
	ws_deflate_free(tx);
	ws_deflate_free(rx);
}

static void test_deflate_roundtrip(void **state)
{
	struct ws_deflate_params p = { .enabled = true,
				       .server_max_window_bits = 15,
				       .client_max_window_bits = 15 };
	size_t with_ctx, without_ctx, olen;
	struct ws_deflate *d;
	uint8_t *big, *z, *out;
	size_t zlen;

	roundtrip(false, &with_ctx);
	roundtrip(true, &without_ctx);
	/* With context takeover the second copy is a back-reference: much smaller. */
	assert_true(with_ctx < without_ctx / 2);

	/* A bomb stops at the bound. */
	d = ws_deflate_new(&p);
	big = calloc(1, 1 << 20);
	assert_int_equal(ws_deflate_message(d, big, 1 << 20, &z, &zlen), 0);
	assert_int_equal(ws_inflate_message(d, z, zlen, 65536, &out, &olen), -EMSGSIZE);
	assert_int_equal(ws_inflate_message(d, (const uint8_t *)"\xff\xff\xff", 3, 100, &out,
					    &olen),
			 -EPROTO);
	free(z);
	free(big);
	ws_deflate_free(d);
}

static void test_utf8(void **state)
{
	assert_true(ws_utf8_valid((const uint8_t *)"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
	assert_false(ws_utf8_valid((const uint8_t *)"\xc0\xaf", 2)); /* overlong */
	assert_false(ws_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* surrogate */
	assert_false(ws_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(ws_utf8_valid((const uint8_t *)"\xe2\x82", 2)); /* cut short */
	assert_false(ws_utf8_valid((const uint8_t *)"\xff", 1));
}

static void test_http_head(void **state)
{
	const char *h = "HTTP/1.1 200 Connection established\r\nA: 1\r\nB:\t two \r\n\r\nrest";
	const struct http_field *f;
	struct http_head head;

	assert_int_equal(http_head_parse(h, strlen(h), &head), strlen(h) - 4);
	assert_int_equal(head.status, 200);
	f = http_head_field(&head, "b");
	assert_non_null(f);
	assert_int_equal(f->value_len, 3);
	assert_memory_equal(f->value, "two", 3);
	assert_int_equal(http_head_parse("HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n", 35, &head),
			 -EPROTO);
	assert_int_equal(http_head_parse("HTTP/1.1 200 OK\nA: 1\r\n\r\n", 24, &head), -EPROTO);
	assert_int_equal(http_head_parse("HTTP/2 200\r\n\r\n", 14, &head), -EPROTO);
	assert_int_equal(http_head_parse("HTTP/1.1 200 OK\r\nA", 18, &head), 0);
}

static void test_url_and_proxy(void **state)
{
	struct ws_proxy p;
	struct ws_url u;
	char err[256];

	assert_int_equal(ws_url_parse("wss://h.example/v1", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "h.example");
	assert_string_equal(u.port, "443");
	assert_string_equal(u.path, "/v1");
	assert_int_equal(ws_url_parse("wss://[::1]:8443", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "8443");
	assert_string_equal(u.path, "/");
	assert_true(u.ipv6);
	assert_int_equal(ws_url_parse("ws://h/", &u, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "wss://"));
	assert_int_equal(ws_url_parse("wss://u:p@h/", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(ws_url_parse("wss://h:99999/", &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(ws_url_parse("wss://h/#frag", &u, err, sizeof(err)), -EINVAL);

	unsetenv("HTTPS_PROXY");
	unsetenv("https_proxy");
	unsetenv("NO_PROXY");
	unsetenv("no_proxy");
	assert_int_equal(ws_proxy_for("h.example", &p, err, sizeof(err)), 0);
	setenv("HTTPS_PROXY", "http://user:pw@proxy.local:3128/", 1);
	assert_int_equal(ws_proxy_for("h.example", &p, err, sizeof(err)), 1);
	assert_string_equal(p.host, "proxy.local");
	assert_string_equal(p.port, "3128");
	assert_string_equal(p.auth, "Basic dXNlcjpwdw==");
	setenv("NO_PROXY", "localhost, .example", 1);
	assert_int_equal(ws_proxy_for("h.example", &p, err, sizeof(err)), 0);
	assert_int_equal(ws_proxy_for("example", &p, err, sizeof(err)), 0);
	assert_int_equal(ws_proxy_for("notexample", &p, err, sizeof(err)), 1);
	setenv("HTTPS_PROXY", "https://proxy.local", 1);
	assert_int_equal(ws_proxy_for("other", &p, err, sizeof(err)), -EINVAL);
	unsetenv("HTTPS_PROXY");
	unsetenv("NO_PROXY");
}

struct text {
	const char *type;
};

static char *build(void *ctx, unsigned long long seq, size_t *len)
{
	char *s = NULL;

	*len = asprintf(&s, "{\"v\":1,\"type\":\"%s\",\"seq\":%llu,\"ts\":\"x\",\"data\":{}}",
			((struct text *)ctx)->type, seq);
	return s;
}

static void test_queue(void **state)
{
	char dir[64] = "/tmp/kerno-queue-XXXXXX", path[128], path2[128], cmd[300], err[256];
	struct seal_key key = { { 1, 2, 3 } }, other = { { 9 } };
	struct text t = { "metrics" };
	struct uplink_queue_stats s;
	struct uplink_queue *q;
	unsigned long long got;
	char *text;
	size_t len;
	FILE *f;
	int i;

	assert_non_null(mkdtemp(dir));
	strcat(dir, "/q");
	assert_int_equal(uplink_queue_open(dir, &key, 1 << 20, &q, err, sizeof(err)), 0);
	for (i = 1; i <= 3; i++)
		assert_int_equal(uplink_queue_push(q, build, &t, 0), i);
	assert_int_equal(uplink_queue_get(q, 2, &got, &text, &len), 0);
	assert_int_equal(got, 2);
	assert_string_equal(text,
			    "{\"v\":1,\"type\":\"metrics\",\"seq\":2,\"ts\":\"x\",\"data\":{}}");
	free(text);
	assert_int_equal(uplink_queue_ack(q, 2), 2);
	uplink_queue_close(q);

	/* Reopened: what was not acked is there, numbering goes on. */
	assert_int_equal(uplink_queue_open(dir, &key, 1 << 20, &q, err, sizeof(err)), 0);
	uplink_queue_stats(q, &s);
	assert_int_equal(s.first_seq, 3);
	assert_int_equal(s.last_seq, 3);
	assert_int_equal(s.envelopes, 1);
	assert_int_equal(uplink_queue_get(q, 1, &got, &text, &len), 0);
	assert_int_equal(got, 3);
	free(text);
	assert_int_equal(uplink_queue_push(q, build, &t, 0), 4);
	assert_int_equal(uplink_queue_ack(q, 4), 2);
	assert_int_equal(uplink_queue_get(q, 1, &got, &text, &len), -ENOENT);
	uplink_queue_close(q);
	/* Empty, yet the next number is 5: last-seq remembers. */
	assert_int_equal(uplink_queue_open(dir, &key, 1 << 20, &q, err, sizeof(err)), 0);
	assert_int_equal(uplink_queue_push(q, build, &t, 0), 5);

	/* Sealed on disk: no plain text. */
	snprintf(path, sizeof(path), "%s/%020d.env", dir, 5);
	f = fopen(path, "rb");
	assert_non_null(f);
	len = fread(cmd, 1, sizeof(cmd), f);
	fclose(f);
	assert_null(memmem(cmd, len, "metrics", 7));

	/* A file renamed to another number is refused (the number is inside, authenticated). */
	snprintf(path2, sizeof(path2), "%s/%020d.env", dir, 7);
	snprintf(cmd, sizeof(cmd), "cp %s %s", path, path2);
	assert_int_equal(system(cmd), 0);
	uplink_queue_close(q);
	assert_int_equal(uplink_queue_open(dir, &key, 1 << 20, &q, err, sizeof(err)), 0);
	assert_int_equal(uplink_queue_get(q, 6, &got, &text, &len), -EBADMSG);
	assert_int_equal(got, 7);
	uplink_queue_drop(q, 7);
	assert_int_equal(uplink_queue_push(q, build, &t, 0), 8);
	uplink_queue_close(q);

	/* Another key: nothing readable. */
	assert_int_equal(uplink_queue_open(dir, &other, 1 << 20, &q, err, sizeof(err)), 0);
	assert_int_equal(uplink_queue_get(q, 0, &got, &text, &len), -EBADMSG);
	uplink_queue_close(q);

	/* The bound: refused, no number used, a reserve lets a heartbeat through. */
	assert_int_equal(uplink_queue_open(dir, &key, 300, &q, err, sizeof(err)), 0);
	uplink_queue_stats(q, &s);
	assert_true(s.bytes > 0);
	while (uplink_queue_push(q, build, &t, 0) > 0)
		;
	uplink_queue_stats(q, &s);
	assert_true(s.bytes <= 300);
	assert_int_equal(uplink_queue_push(q, build, &t, 0), -ENOSPC);
	assert_int_equal(uplink_queue_push(q, build, &t, 1000), s.last_seq + 1);
	assert_int_equal(strlen(uplink_queue_stream(q)), UPLINK_STREAM_ID_LEN);
	uplink_queue_close(q);

	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)strlen(dir) - 2, dir);
	assert_int_equal(system(cmd), 0);
}

static void test_backoff(void **state)
{
	/* First retry within 1 s; doubling; capped at 60 s; the whole range reachable. */
	assert_int_equal(uplink_ws_backoff_ms(1, 0), 0);
	assert_int_equal(uplink_ws_backoff_ms(1, UINT32_MAX), 999);
	assert_int_equal(uplink_ws_backoff_ms(2, UINT32_MAX), 1999);
	assert_int_equal(uplink_ws_backoff_ms(3, 1U << 31), 2000);
	assert_int_equal(uplink_ws_backoff_ms(6, UINT32_MAX), 31999);
	assert_int_equal(uplink_ws_backoff_ms(7, UINT32_MAX), 59999);
	assert_int_equal(uplink_ws_backoff_ms(1000, UINT32_MAX), 59999);
	assert_int_equal(uplink_ws_backoff_ms(1000, 1U << 31), 30000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_and_request),
		cmocka_unit_test(test_answer_checks),
		cmocka_unit_test(test_deflate_answers),
		cmocka_unit_test(test_deflate_roundtrip),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_http_head),
		cmocka_unit_test(test_url_and_proxy),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
