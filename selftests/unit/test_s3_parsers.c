// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The S3 client's parsers: HTTP/1.1 response heads, chunked bodies, XML replies; URLs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http1_resp.h"
#include "httpc.h"
#include "xml_lite.h"

static void test_head_complete_and_partial(void **state)
{
	static const char r[] = "HTTP/1.1 200 OK\r\nETag: \"e1\"  \r\nContent-Length: 12\r\n"
				"Connection: keep-alive\r\n\r\nbody";
	struct http1_head h;
	char v[32];
	size_t i;

	for (i = 0; i < sizeof(r) - 5; i++)
		assert_int_equal(http1_parse_head(r, i, &h), 0);
	assert_int_equal(http1_parse_head(r, sizeof(r) - 1, &h), sizeof(r) - 5);
	assert_int_equal(h.status, 200);
	assert_int_equal(h.content_length, 12);
	assert_false(h.chunked);
	assert_false(h.close);
	assert_int_equal(http1_field(&h, "etag", v, sizeof(v)), 0);
	assert_string_equal(v, "\"e1\"");
	assert_int_equal(http1_field(&h, "x-missing", v, sizeof(v)), -1);
}

static void test_head_malformed(void **state)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
	};
	struct http1_head h;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(http1_parse_head(bad[i], strlen(bad[i]), &h), -1);
	assert_int_equal(http1_parse_head("HTTP/1.0 204 No\r\n\r\n", 19, &h), 19);
	assert_true(h.close);
}

static void test_dechunk_any_cut(void **state)
{
	static const char in[] = "4;name=v\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
				 "0\r\nTrailer: x\r\n\r\nNEXT";
	size_t piece, off;

	for (piece = 1; piece < sizeof(in); piece++) {
		struct http1_chunked c = { 0 };
		struct strbuf out = { 0 };
		ssize_t r;

		for (off = 0; off < sizeof(in) - 1 && !c.done; off += (size_t)r) {
			size_t n = sizeof(in) - 1 - off < piece ? sizeof(in) - 1 - off : piece;

			r = http1_dechunk(&c, in + off, n, &out);
			assert_true(r >= 0);
		}
		assert_true(c.done);
		assert_int_equal(off, sizeof(in) - 1 - 4);
		assert_string_equal(sb_str(&out), "Wikipedia in\r\n\r\nchunks.");
		sb_free(&out);
	}
}

static void test_dechunk_malformed(void **state)
{
	static const char *const bad[] = { "x\r\n", "\r\n", "5\r\nhelloXX",
					   "fffffffffffffffff\r\n" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http1_chunked c = { 0 };
		struct strbuf out = { 0 };

		assert_int_equal(http1_dechunk(&c, bad[i], strlen(bad[i]), &out), -1);
		sb_free(&out);
	}
}

static void test_xml(void **state)
{
	static const char x[] = "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"
				"<Message>a &amp; b &lt;c&gt; &#x41;&#66; &bogus; &#0;</Message>"
				"<Codex>no</Codex><Empty/></Error>";
	struct strbuf out = { 0 };

	assert_int_equal(xml_text(x, sizeof(x) - 1, "Code", &out), 0);
	assert_string_equal(sb_str(&out), "SlowDown");
	sb_reset(&out);
	assert_int_equal(xml_text(x, sizeof(x) - 1, "Message", &out), 0);
	assert_string_equal(sb_str(&out), "a & b <c> AB &bogus; &#0;");
	sb_reset(&out);
	assert_int_equal(xml_text(x, sizeof(x) - 1, "Empty", &out), 0);
	assert_string_equal(sb_str(&out), "");
	assert_int_equal(xml_text(x, sizeof(x) - 1, "Missing", &out), -1);
	/* Cut before the closing tag: not found, nothing read past the end. */
	assert_int_equal(xml_text(x, 40, "Code", &out), -1);
	sb_free(&out);
}

static void test_xml_walk(void **state)
{
	static const char x[] = "<R><Upload><Key>a</Key></Upload><Uploads>x</Uploads>"
				"<Upload id=\"2\"><Key>b</Key></Upload></R>";
	struct strbuf k = { 0 };
	const char *inner;
	size_t pos = 0, ilen;

	assert_int_equal(xml_next(x, sizeof(x) - 1, "Upload", &pos, &inner, &ilen), 0);
	assert_int_equal(xml_text(inner, ilen, "Key", &k), 0);
	assert_string_equal(sb_str(&k), "a");
	sb_reset(&k);
	assert_int_equal(xml_next(x, sizeof(x) - 1, "Upload", &pos, &inner, &ilen), 0);
	assert_int_equal(xml_text(inner, ilen, "Key", &k), 0);
	assert_string_equal(sb_str(&k), "b");
	assert_int_equal(xml_next(x, sizeof(x) - 1, "Upload", &pos, &inner, &ilen), -1);
	sb_free(&k);
}

static void test_urls(void **state)
{
	struct url u;

	assert_int_equal(url_parse("https://minio.local:9000/x?y=1", &u), 0);
	assert_true(u.tls);
	assert_string_equal(u.host, "minio.local");
	assert_string_equal(u.port, "9000");
	assert_string_equal(u.path, "/x?y=1");
	assert_int_equal(url_parse("http://[::1]/", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "80");
	assert_int_equal(url_parse("http://169.254.170.23", &u), 0);
	assert_string_equal(u.path, "/");
	assert_int_equal(url_parse("ftp://x/", &u), -1);
	assert_int_equal(url_parse("https://:443/", &u), -1);
	assert_int_equal(url_parse("https://h:44x3/", &u), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_complete_and_partial),
		cmocka_unit_test(test_head_malformed),
		cmocka_unit_test(test_dechunk_any_cut),
		cmocka_unit_test(test_dechunk_malformed),
		cmocka_unit_test(test_xml),
		cmocka_unit_test(test_xml_walk),
		cmocka_unit_test(test_urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
