// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Credentials out of span payloads (user/span_redact.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <linux/types.h>

#include "span_redact.h"
#include "../../kern/proto.h"

#define CANARY "c4nary0x5ec"

typedef void (*redact_fn)(const char *in, size_t len, struct strbuf *out);

static void check_fn(redact_fn fn, const char *in, const char *want)
{
	struct strbuf out = { 0 };

	fn(in, strlen(in), &out);
	assert_false(out.oom);
	assert_string_equal(sb_str(&out), want);
	sb_free(&out);
}

/* Every prefix of in (a payload cut anywhere) leaks no canary. */
static void check_no_canary_any_cut(redact_fn fn, const char *in)
{
	struct strbuf out = { 0 };
	size_t n;

	for (n = 0; n <= strlen(in); n++) {
		sb_reset(&out);
		fn(in, n, &out);
		assert_false(out.oom);
		if (strstr(sb_str(&out), CANARY))
			fail_msg("canary through with %zu of %zu bytes: %s", n, strlen(in),
				 sb_str(&out));
		/* A part of it is as bad: its first 6 characters neither. */
		if (strstr(sb_str(&out), "c4nary"))
			fail_msg("part of the canary through at %zu bytes: %s", n, sb_str(&out));
	}
	sb_free(&out);
}

static void test_request_head(void **state)
{
	check_fn(span_redact_http,
		 "GET /users/42?token=abc&page=2 HTTP/1.1\r\n"
		 "Host: example.com\r\n"
		 "Authorization: Bearer abc.def\r\n"
		 "Cookie: sid=1; theme=dark\r\n"
		 "X-Api-Key: k-123\r\n"
		 "Api-Key: k-456\r\n"
		 "Accept: */*\r\n\r\n",
		 "GET /users/42?token=[redacted]&page=[redacted] HTTP/1.1\r\n"
		 "Host: example.com\r\n"
		 "Authorization: [redacted]\r\n"
		 "Cookie: [redacted]\r\n"
		 "X-Api-Key: [redacted]\r\n"
		 "Api-Key: [redacted]\r\n"
		 "Accept: */*\r\n\r\n");
}

static void test_response_head(void **state)
{
	check_fn(span_redact_http,
		 "HTTP/1.1 302 Found\r\nSet-Cookie: sid=zz; Path=/\r\n"
		 "Location: https://u:pw@x.io/cb?code=zz#access_token=zz\r\n"
		 "Content-Length: 0\r\n\r\n",
		 "HTTP/1.1 302 Found\r\nSet-Cookie: [redacted]\r\n"
		 "Location: https://u:[redacted]@x.io/cb?code=[redacted]#[redacted]\r\n"
		 "Content-Length: 0\r\n\r\n");
}

static void test_bodies(void **state)
{
	/* A plain body stays: it explains errors, and goes to the customer's store only. */
	check_fn(span_redact_http,
		 "POST /x HTTP/1.1\r\nContent-Type: text/plain\r\n\r\nhello " CANARY,
		 "POST /x HTTP/1.1\r\nContent-Type: text/plain\r\n\r\nhello " CANARY);
	/* A form body is a query string. */
	check_fn(span_redact_http,
		 "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
		 "user=bob&password=hunter2",
		 "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
		 "user=[redacted]&password=[redacted]");
	/* Bytes that are not text become dots. */
	check_fn(span_redact_http,
		 "HTTP/1.1 200 OK\r\n\r\n\x01\xff"
		 "a",
		 "HTTP/1.1 200 OK\r\n\r\n..a");
}

static void test_odd_heads(void **state)
{
	/* Folded continuation of a secret header. */
	check_fn(span_redact_http,
		 "GET / HTTP/1.1\r\nAuthorization: Basic\r\n  dXNlcjpwdw==\r\n\r\n",
		 "GET / HTTP/1.1\r\nAuthorization: [redacted]\r\n[redacted]\r\n\r\n");
	/* A line that is not "name: value". */
	check_fn(span_redact_http, "GET / HTTP/1.1\r\nwhat is this\r\n\r\n",
		 "GET / HTTP/1.1\r\n[redacted]\r\n\r\n");
	/* Not the start of a message: everything goes. */
	check_fn(span_redact_http, "ken=abc\r\nHost: x\r\n", "[redacted]");
	check_fn(span_redact_http, "", "");
	/* Bare LF line ends. */
	check_fn(span_redact_http, "GET /a?b=c HTTP/1.0\nCookie: x\n\nbody",
		 "GET /a?b=[redacted] HTTP/1.0\nCookie: [redacted]\n\nbody");
}

static void test_urls(void **state)
{
	check_fn(span_redact_url, "/a/b", "/a/b");
	check_fn(span_redact_url, "/a?x", "/a?[redacted]");
	check_fn(span_redact_url, "/a?x=&y=1;z=2", "/a?x=&y=[redacted];z=[redacted]");
	check_fn(span_redact_url, "/app;jsessionid=ABC/x", "/app;[redacted]/x");
	check_fn(span_redact_url, "http://tok@h/p", "http://[redacted]@h/p");
	check_fn(span_redact_url, "http://u:p/w@h/p", "http://[redacted]@h/p");
	check_fn(span_redact_url, "//u:p@h", "//u:[redacted]@h");
	check_fn(span_redact_url, "h:80", "h:80");
	check_fn(span_redact_url, "/#frag", "/#[redacted]");
}

static void test_sql(void **state)
{
	check_fn(span_redact_sql, "SELECT * FROM t WHERE a = 'x''y' AND b = 42 AND c1 = $1",
		 "SELECT * FROM t WHERE a = ? AND b = ? AND c1 = $1");
	check_fn(span_redact_sql, "INSERT INTO u VALUES (E'a\\'b', 0x1f, 1.5e3)",
		 "INSERT INTO u VALUES (E?, ?, ?)");
	check_fn(span_redact_sql, "SELECT $tag$secret$tag$, $$x$$ -- pw\nFROM t /* key */",
		 "SELECT ?, ? --?\nFROM t /*?*/");
	check_fn(span_redact_sql, "SELECT \"pw\", `col` FROM t", "SELECT ?, ? FROM t");
	check_fn(span_redact_sql, "SELECT 'unterminated", "SELECT ?");
}

static void check_db(unsigned int proto, const char *in, size_t len, const char *want)
{
	struct strbuf out = { 0 };
	size_t n;

	span_redact_db_request(proto, in, len, &out);
	assert_false(out.oom);
	assert_string_equal(sb_str(&out), want);
	/* Cut anywhere: never the literal, never a byte past the cut. */
	for (n = 0; n <= len; n++) {
		sb_reset(&out);
		span_redact_db_request(proto, in, n, &out);
		assert_null(strstr(sb_str(&out), "c4nary"));
	}
	sb_free(&out);
}

/* The statement of a PostgreSQL Query or Parse, of a MySQL COM_QUERY; nothing of other requests. */
static void test_db_requests(void **state)
{
	static const char q[] = "Q\0\0\0\x2cSELECT * FROM t WHERE p = '" CANARY "'\0";
	static const char parse[] = "P\0\0\0\x2es1\0UPDATE t SET p = '" CANARY "' WHERE\0\0\0";
	static const char my[] = "\x28\0\0\0\x03SELECT 1 FROM t WHERE p = '" CANARY "'";
	static const char exec[] = "\x0b\0\0\0\x17\1\0\0\0\0\1\0\0\0\0";

	check_db(KERNO_P_PGSQL, q, sizeof(q) - 1, "SELECT * FROM t WHERE p = ?");
	check_db(KERNO_P_PGSQL, parse, sizeof(parse) - 1, "UPDATE t SET p = ? WHERE");
	check_db(KERNO_P_MYSQL, my, sizeof(my) - 1, "SELECT ? FROM t WHERE p = ?");
	check_db(KERNO_P_MYSQL, exec, sizeof(exec) - 1, "");
	check_db(KERNO_P_REDIS, "*2\r\n$4\r\nAUTH\r\n$11\r\nc4nary0x5ec\r\n", 30, "");
	/* A length that says more than there is, or less than a header. */
	check_db(KERNO_P_PGSQL, "Q\xff\xff\xff\xffSELECT 1", 14, "SELECT ?");
	check_db(KERNO_P_PGSQL, "Q\0\0\0\2SELECT 1", 14, "");
}

static void test_canaries_any_cut(void **state)
{
	check_no_canary_any_cut(span_redact_http,
				"GET /x?token=" CANARY " HTTP/1.1\r\n"
				"Authorization: Bearer " CANARY "\r\n"
				"Cookie: a=" CANARY "\r\n"
				"X-Api-Key: " CANARY "\r\n"
				"Referer: http://u:" CANARY "@h/?q=" CANARY "\r\n\r\n");
	check_no_canary_any_cut(span_redact_http,
				"HTTP/1.1 200 OK\r\nSet-Cookie: s=" CANARY "\r\n\r\n");
	check_no_canary_any_cut(span_redact_http, "GET http://u:" CANARY "@h/ HTTP/1.1\r\n\r\n");
	check_no_canary_any_cut(span_redact_sql, "SELECT * FROM t WHERE p = '" CANARY "'");
	check_no_canary_any_cut(span_redact_sql, "SELECT $q$" CANARY "$q$");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_head), cmocka_unit_test(test_response_head),
		cmocka_unit_test(test_bodies),	     cmocka_unit_test(test_odd_heads),
		cmocka_unit_test(test_urls),	     cmocka_unit_test(test_sql),
		cmocka_unit_test(test_db_requests),  cmocka_unit_test(test_canaries_any_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
