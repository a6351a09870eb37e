// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Credentials out of stored log records. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log_redact.h"

static void check(const char *in, const char *want)
{
	struct log_redactor r = {};
	const char *out;
	size_t n;

	out = log_redact(&r, in, strlen(in), &n);
	assert_non_null(out);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	log_redactor_free(&r);
}

static void test_redact(void **state)
{
	check("login ok user=bob password=hunter2 from 10.0.0.1",
	      "login ok user=bob password=[REDACTED] from 10.0.0.1");
	check("{\"user\":\"bob\",\"api_key\":\"sk-123\\\"x\",\"n\":1}",
	      "{\"user\":\"bob\",\"api_key\":\"[REDACTED]\",\"n\":1}");
	check("Authorization: Bearer eyJhbGciOi.x.y next", "Authorization: Bearer [REDACTED] next");
	check("GET /cb?code=1&access_token=abc&x=2 HTTP/1.1",
	      "GET /cb?code=1&access_token=[REDACTED]&x=2 HTTP/1.1");
	check("Cookie: sid=abc; theme=dark\nnext line", "Cookie: [REDACTED]\nnext line");
	check("connecting to postgres://app:s3cr3t@db:5432/x",
	      "connecting to postgres://app:[REDACTED]@db:5432/x");
	check("DB_PASSWORD = \"p w\" done", "DB_PASSWORD = \"[REDACTED]\" done");
	/* Nothing to redact: the same bytes, not a copy. */
	check("mail bob@example.com at 12:00 key=value", "mail bob@example.com at 12:00 key=value");
	check("password=", "password=");
	check("", "");
}

static void test_same_pointer(void **state)
{
	struct log_redactor r = {};
	const char *in = "nothing secret here";
	size_t n;

	assert_ptr_equal(log_redact(&r, in, strlen(in), &n), in);
	assert_int_equal(r.redacted, 0);
	log_redactor_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_same_pointer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
