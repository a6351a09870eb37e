// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Log parsers: CRI, Docker json-file, JSON lines, logfmt, common log format, times, severities. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log_frame.h"
#include "log_parse.h"

#define S(lit) (lit), sizeof(lit) - 1

/* 2026-11-26T12:00:00Z */
#define T0 1795694400ULL

static void test_time_formats(void **state)
{
	uint64_t ns = 0;

	assert_int_equal(log_parse_time(S("2026-11-26T12:00:00Z rest"), &ns), 20);
	assert_int_equal(ns, T0 * 1000000000ULL);
	assert_int_equal(log_parse_time(S("2026-11-26T12:00:00.123456789Z"), &ns), 30);
	assert_int_equal(ns, T0 * 1000000000ULL + 123456789);
	assert_int_equal(log_parse_time(S("2026-11-26 13:00:00,5+01:00"), &ns), 27);
	assert_int_equal(ns, T0 * 1000000000ULL + 500000000);
	assert_int_equal(log_parse_time(S("2026/11/26 12:00:01"), &ns), 19);
	assert_int_equal(ns, (T0 + 1) * 1000000000ULL);
	assert_int_equal(log_parse_time(S("26/Nov/2026:04:00:00 -0800"), &ns), 26);
	assert_int_equal(ns, T0 * 1000000000ULL);
	assert_int_equal(log_parse_time(S("2026-13-26T12:00:00Z"), &ns), 0);
	assert_int_equal(log_parse_time(S("2026-11-26T12:00"), &ns), 0);
	assert_int_equal(log_parse_time(S("hello"), &ns), 0);
}

static void test_cri(void **state)
{
	struct log_frame_msg m;

	assert_int_equal(log_parse_cri(S("2026-11-26T12:00:00.5Z stdout F hello world"), &m), 0);
	assert_int_equal(m.stream, LOG_STREAM_STDOUT);
	assert_false(m.partial);
	assert_int_equal(m.time_ns, T0 * 1000000000ULL + 500000000);
	assert_int_equal(m.len, 11);
	assert_memory_equal(m.msg, "hello world", 11);
	assert_int_equal(log_parse_cri(S("2026-11-26T12:00:00Z stderr P part"), &m), 0);
	assert_true(m.partial);
	assert_int_equal(m.stream, LOG_STREAM_STDERR);
	/* An empty message, with and without the blank; a future tag with flags. */
	assert_int_equal(log_parse_cri(S("2026-11-26T12:00:00Z stdout F"), &m), 0);
	assert_int_equal(m.len, 0);
	assert_int_equal(log_parse_cri(S("2026-11-26T12:00:00Z stdout F:x msg"), &m), 0);
	assert_memory_equal(m.msg, "msg", 3);
	assert_int_equal(log_parse_cri(S("2026-11-26T12:00:00Z stdin F x"), &m), -1);
	assert_int_equal(log_parse_cri(S("2026-11-26T12:00:00Z stdout X x"), &m), -1);
	assert_int_equal(log_parse_cri(S("not a cri line"), &m), -1);
	assert_int_equal(log_parse_cri(S("2026-11-26T12:00:00Z"), &m), -1);
}

static void test_docker(void **state)
{
	const char line[] =
		"{\"log\":\"tab\\there \\\"q\\\" \\u00e9\\ud83d\\ude00\\n\",\"stream\":\"stderr\","
		"\"time\":\"2026-11-26T12:00:00.000000001Z\",\"attrs\":{\"a\":[1,2]}}";
	char buf[sizeof(line)];
	struct log_frame_msg m;
	const char want[] = "tab\there \"q\" \xc3\xa9\xf0\x9f\x98\x80";

	assert_int_equal(log_parse_docker(line, sizeof(line) - 1, buf, &m), 0);
	assert_int_equal(m.len, sizeof(want) - 1);
	assert_memory_equal(m.msg, want, m.len);
	assert_false(m.partial);
	assert_int_equal(m.stream, LOG_STREAM_STDERR);
	assert_int_equal(m.time_ns, T0 * 1000000000ULL + 1);
	assert_int_equal(
		log_parse_docker(S("{\"log\":\"no newline\",\"stream\":\"stdout\"}"), buf, &m), 0);
	assert_true(m.partial);
	assert_int_equal(log_parse_docker(S("{\"log\":\"unterminated}"), buf, &m), -1);
	assert_int_equal(log_parse_docker(S("{\"stream\":\"stdout\"}"), buf, &m), -1);
	assert_int_equal(log_parse_docker(S("{\"log\":\"bad \\x escape\"}"), buf, &m), -1);
	assert_int_equal(log_parse_docker(S("[1]"), buf, &m), -1);
}

static struct log_record rec(const char *s)
{
	struct log_record r = { .body = s, .len = strlen(s), .lines = 1 };

	log_parse_message(&r);
	return r;
}

static void test_message_formats(void **state)
{
	struct log_record r;

	r = rec("{\"level\":\"warning\",\"ts\":\"2026-11-26T12:00:00Z\",\"msg\":\"x\"}");
	assert_int_equal(r.severity, LOG_SEV_WARN);
	assert_int_equal(r.time_ns, T0 * 1000000000ULL);
	r = rec("{\"level\":50,\"time\":1795694400123,\"msg\":\"pino\"}");
	assert_int_equal(r.severity, LOG_SEV_ERROR);
	assert_int_equal(r.time_ns, T0 * 1000000000ULL + 123000000);
	r = rec("time=2026-11-26T12:00:00Z level=error msg=\"db down\" retries=3");
	assert_int_equal(r.severity, LOG_SEV_ERROR);
	assert_int_equal(r.time_ns, T0 * 1000000000ULL);
	r = rec("10.0.0.1 - - [26/Nov/2026:12:00:00 +0000] \"GET /a?b=\\\"c\\\" HTTP/1.1\" 503 12 \"-\" "
		"\"curl/8\"");
	assert_int_equal(r.severity, LOG_SEV_ERROR);
	assert_int_equal(r.time_ns, T0 * 1000000000ULL);
	r = rec("10.0.0.1 - - [26/Nov/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 404 0");
	assert_int_equal(r.severity, LOG_SEV_WARN);
	r = rec("2026-11-26 12:00:00,000 WARNING disk at 91%");
	assert_int_equal(r.severity, LOG_SEV_WARN);
	assert_int_equal(r.time_ns, T0 * 1000000000ULL);
	r = rec("E1126 12:00:00.000000 1 controller.go:1] sync failed");
	assert_int_equal(r.severity, LOG_SEV_ERROR);
	r = rec("[error] upstream closed");
	assert_int_equal(r.severity, LOG_SEV_ERROR);
	r = rec("no error found, all good");
	assert_int_equal(r.severity, LOG_SEV_INFO);
	r = rec("FATAL out of memory");
	assert_int_equal(r.severity, LOG_SEV_FATAL);
	r = rec("{\"broken json");
	assert_int_equal(r.severity, LOG_SEV_INFO);
	r = rec("");
	assert_int_equal(r.severity, LOG_SEV_INFO);
}

static void test_stack_trace_severity(void **state)
{
	struct log_record r = { .body = "Error: boom\n    at f (a.js:1:2)", .lines = 2 };

	r.len = strlen(r.body);
	log_parse_message(&r);
	assert_int_equal(r.severity, LOG_SEV_ERROR);
}

/* CRI partials merged to the cap, the rest cut and counted. */
static void test_frame_partials(void **state)
{
	struct log_frame f;
	struct log_message m;
	const char *p1 = "2026-11-26T12:00:00Z stdout P abcdef";
	const char *p2 = "2026-11-26T12:00:00Z stdout P ghijkl";
	const char *p3 = "2026-11-26T12:00:00Z stdout F mn";

	assert_int_equal(log_frame_init(&f, LOG_FORMAT_CRI, 10), 0);
	assert_int_equal(log_frame_line(&f, p1, strlen(p1), false, 100, &m), 0);
	assert_int_equal(log_frame_line(&f, p2, strlen(p2), false, 200, &m), 0);
	assert_int_equal(log_frame_line(&f, p3, strlen(p3), false, 300, &m), 1);
	assert_int_equal(m.len, 10);
	assert_memory_equal(m.body, "abcdefghij", 10);
	assert_true(m.truncated);
	assert_int_equal(m.start_off, 100);
	assert_int_equal(f.cut, 1);
	assert_int_equal(log_frame_line(&f, p3, strlen(p3), false, 400, &m), 1);
	assert_int_equal(m.len, 2);
	assert_false(m.truncated);
	/* A line that is not CRI is kept as it is. */
	assert_int_equal(log_frame_line(&f, S("plain"), false, 500, &m), 1);
	assert_memory_equal(m.body, "plain", 5);
	/* Pending partials are handed out on flush. */
	assert_int_equal(log_frame_line(&f, p1, strlen(p1), false, 600, &m), 0);
	assert_int_equal(log_frame_flush(&f, &m), 1);
	assert_memory_equal(m.body, "abcdef", 6);
	assert_int_equal(log_frame_flush(&f, &m), 0);
	log_frame_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_formats),
		cmocka_unit_test(test_cri),
		cmocka_unit_test(test_docker),
		cmocka_unit_test(test_message_formats),
		cmocka_unit_test(test_stack_trace_severity),
		cmocka_unit_test(test_frame_partials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
