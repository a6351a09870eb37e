// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Multi-line records: Java, Python, Go and Node traces come out as single records. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log_multiline.h"
#include "log_record.h"

struct collected {
	char *rec[16];
	int n;
};

static void collect(struct collected *c, const struct log_record *r)
{
	assert_true(c->n < 16);
	c->rec[c->n] = strndup(r->body, r->len);
	c->n++;
}

/* Feed lines (NULL-terminated) through a joiner, flush, collect records. */
static void run(const char *const *lines, struct collected *c)
{
	struct log_ml ml;
	struct log_record r;
	uint64_t off = 0;

	memset(c, 0, sizeof(*c));
	assert_int_equal(log_ml_init(&ml, 4096, 100), 0);
	for (; *lines; lines++) {
		struct log_message m = { .body = *lines, .len = strlen(*lines), .start_off = off };

		off += m.len + 1;
		if (log_ml_push(&ml, &m, &r))
			collect(c, &r);
	}
	if (log_ml_flush(&ml, &r))
		collect(c, &r);
	log_ml_free(&ml);
}

static void free_collected(struct collected *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		free(c->rec[i]);
}

static void test_java(void **state)
{
	const char *const lines[] = { "INFO starting",
				      "Exception in thread \"main\" java.lang.RuntimeException: x",
				      "\tat a.B.c(B.java:1)",
				      "Caused by: java.io.IOException: y",
				      "\t... 3 more",
				      "INFO next",
				      NULL };
	struct collected c;

	run(lines, &c);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.rec[1], "Exception in thread \"main\" java.lang.RuntimeException: x\n"
				      "\tat a.B.c(B.java:1)\nCaused by: java.io.IOException: y\n"
				      "\t... 3 more");
	assert_string_equal(c.rec[2], "INFO next");
	free_collected(&c);
}

static void test_python_chained(void **state)
{
	const char *const lines[] = {
		"ERROR:root:failed",
		"Traceback (most recent call last):",
		"  File \"a.py\", line 1, in <module>",
		"KeyError: 'k'",
		"",
		"During handling of the above exception, another exception occurred:",
		"",
		"Traceback (most recent call last):",
		"  File \"a.py\", line 3, in <module>",
		"ValueError: v",
		"INFO:root:after",
		NULL
	};
	struct collected c;

	run(lines, &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(
		c.rec[0], "ERROR:root:failed\nTraceback (most recent call last):\n  File \"a.py\", "
			  "line 1, in <module>\nKeyError: 'k'\n\nDuring handling of the above "
			  "exception, another exception occurred:\n\nTraceback (most recent call "
			  "last):\n  File \"a.py\", line 3, in <module>\nValueError: v");
	assert_string_equal(c.rec[1], "INFO:root:after");
	free_collected(&c);
}

static void test_python_uncaught_alone(void **state)
{
	/* An uncaught traceback after an ordinary line starts its own record. */
	const char *const lines[] = { "listening on :8080", "Traceback (most recent call last):",
				      "  File \"s.py\", line 9, in <module>", "OSError: busy",
				      NULL };
	struct collected c;

	run(lines, &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.rec[0], "listening on :8080");
	free_collected(&c);
}

static void test_go_panic(void **state)
{
	const char *const lines[] = { "panic: runtime error: index out of range [3] with length 3",
				      "",
				      "goroutine 1 [running]:",
				      "main.main()",
				      "\t/app/main.go:8 +0x1d",
				      "exit status 2",
				      "level=info msg=restarted",
				      NULL };
	struct collected c;

	run(lines, &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.rec[0], "panic: runtime error: index out of range [3] with length "
				      "3\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:8 "
				      "+0x1d\nexit status 2");
	free_collected(&c);
}

static void test_node(void **state)
{
	const char *const lines[] = { "Error: ECONNREFUSED", "    at TCPConnectWrap.afterConnect",
				      "    at process.tick (node:internal)", "server up", NULL };
	struct collected c;

	run(lines, &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.rec[0],
			    "Error: ECONNREFUSED\n    at TCPConnectWrap.afterConnect\n    "
			    "at process.tick (node:internal)");
	free_collected(&c);
}

static void test_caps(void **state)
{
	struct log_ml ml;
	struct log_record r;
	struct log_message m = { .body = "head", .len = 4 };
	struct log_message cont = { .body = "\tat x", .len = 5 };
	int i, done = 0;

	assert_int_equal(log_ml_init(&ml, 64, 3), 0);
	log_ml_push(&ml, &m, &r);
	for (i = 0; i < 5; i++)
		done += log_ml_push(&ml, &cont, &r);
	/* At three lines the record is complete; the fourth opens the next. */
	assert_int_equal(done, 1);
	assert_int_equal(r.lines, 3);
	log_ml_free(&ml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_java),
		cmocka_unit_test(test_python_chained),
		cmocka_unit_test(test_python_uncaught_alone),
		cmocka_unit_test(test_go_panic),
		cmocka_unit_test(test_node),
		cmocka_unit_test(test_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
