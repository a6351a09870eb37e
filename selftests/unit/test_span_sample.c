// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel's sampling rules for HTTP/2 and gRPC spans (user/span_sample.c):
 * which outcomes are errors, the slow threshold, the baseline decided from
 * the trace id as the kernel decides it, and the per-endpoint rate cap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto_names.h"
#include "span_sample.h"

#define MS 1000000ULL
#define SLOW (100 * MS)

static struct kerno_span_event span(__u8 proto, __u16 status, __u32 code, __u8 method)
{
	struct kerno_span_event e;

	memset(&e, 0, KERNO_SPAN_EVENT_HDR);
	e.proto = proto;
	e.status = status;
	e.code = code;
	e.method = method;
	e.role = KERNO_ROLE_SERVER;
	e.start_ns = 1000 * MS;
	e.end_ns = e.start_ns + 5 * MS;
	/* Bytes 8..15 of the id all 0xff: outside any baseline short of every trace. */
	memset(e.trace_id + 8, 0xff, 8);
	return e;
}

static __u8 reason(struct kerno_span_event e)
{
	return span_sample_reason(&e, SLOW, 0);
}

static void test_http2_outcomes(void **state)
{
	assert_int_equal(reason(span(KERNO_P_HTTP2, 200, 0, 0)), 0);
	assert_int_equal(reason(span(KERNO_P_HTTP2, 404, 0, 0)), KERNO_SPAN_R_CLIENT_ERROR);
	assert_int_equal(reason(span(KERNO_P_HTTP2, 503, 0, 0)), KERNO_SPAN_R_ERROR);
	/* Reset (code 1), with or without a status. */
	assert_int_equal(reason(span(KERNO_P_HTTP2, 0, 1, 0)), KERNO_SPAN_R_ERROR);
	assert_int_equal(reason(span(KERNO_P_HTTP2, 200, 1, 0)), KERNO_SPAN_R_ERROR);
}

static void test_grpc_outcomes(void **state)
{
	assert_int_equal(reason(span(KERNO_P_GRPC, 0, 200, 0)), 0);
	/* NOT_FOUND, INVALID_ARGUMENT: the caller's; INTERNAL, UNAVAILABLE: the server's. */
	assert_int_equal(reason(span(KERNO_P_GRPC, 5, 200, 0)), KERNO_SPAN_R_CLIENT_ERROR);
	assert_int_equal(reason(span(KERNO_P_GRPC, 3, 200, 0)), KERNO_SPAN_R_CLIENT_ERROR);
	assert_int_equal(reason(span(KERNO_P_GRPC, 13, 200, 0)), KERNO_SPAN_R_ERROR);
	assert_int_equal(reason(span(KERNO_P_GRPC, 14, 200, 0)), KERNO_SPAN_R_ERROR);
	/* No grpc-status, or reset (method 1). */
	assert_int_equal(reason(span(KERNO_P_GRPC, KERNO_GRPC_NO_STATUS, 200, 0)),
			 KERNO_SPAN_R_ERROR);
	assert_int_equal(reason(span(KERNO_P_GRPC, 0, 200, 1)), KERNO_SPAN_R_ERROR);
}

static void test_slow(void **state)
{
	struct kerno_span_event e = span(KERNO_P_GRPC, 0, 200, 0);

	e.end_ns = e.start_ns + SLOW - 1;
	assert_int_equal(span_sample_reason(&e, SLOW, 0), 0);
	e.end_ns = e.start_ns + SLOW;
	assert_int_equal(span_sample_reason(&e, SLOW, 0), KERNO_SPAN_R_SLOW);
	e.status = 13;
	assert_int_equal(span_sample_reason(&e, SLOW, 0), KERNO_SPAN_R_SLOW | KERNO_SPAN_R_ERROR);
}

static void test_baseline(void **state)
{
	struct kerno_span_event e = span(KERNO_P_HTTP2, 200, 0, 0);
	__u64 one_percent = span_baseline_bound(100);

	assert_int_equal(span_baseline_bound(0), 0);
	assert_int_equal(span_baseline_bound(10000), 1ULL << 32);
	assert_int_equal(one_percent, 42949672);
	/* The word of bytes 8..15, little-endian: its top half is bytes 12..15. */
	memset(e.trace_id + 8, 0, 8);
	e.trace_id[12] = 0x27; /* 0x27 < 42949672 */
	assert_int_equal(span_sample_reason(&e, SLOW, one_percent), KERNO_SPAN_R_BASELINE);
	memset(e.trace_id + 12, 0, 4);
	e.trace_id[15] = 0x03; /* 0x03000000 = 50331648 >= 42949672 */
	assert_int_equal(span_sample_reason(&e, SLOW, one_percent), 0);
	assert_int_equal(span_sample_reason(&e, SLOW, span_baseline_bound(10000)),
			 KERNO_SPAN_R_BASELINE);
}

static void test_caps(void **state)
{
	struct span_caps *c = span_caps_new();
	__u64 second = 1ULL << 30;
	int i, kept = 0;

	assert_non_null(c);
	for (i = 0; i < 10; i++)
		kept += span_caps_take(c, 7, 5 * second + i, 3);
	assert_int_equal(kept, 3);
	/* Another endpoint has its own count; the next second starts afresh. */
	assert_true(span_caps_take(c, 8, 5 * second, 3));
	for (i = 0, kept = 0; i < 10; i++)
		kept += span_caps_take(c, 7, 6 * second, 3);
	assert_int_equal(kept, 3);
	/* No cap. */
	for (i = 0, kept = 0; i < 10; i++)
		kept += span_caps_take(c, 7, 6 * second, 0);
	assert_int_equal(kept, 10);
	span_caps_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http2_outcomes), cmocka_unit_test(test_grpc_outcomes),
		cmocka_unit_test(test_slow),	       cmocka_unit_test(test_baseline),
		cmocka_unit_test(test_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
