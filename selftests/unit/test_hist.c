// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Bucket boundaries of kern/hist.h and percentiles of user/histogram.c. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "histogram.h"

static void test_bucket_boundaries(void **state)
{
	assert_int_equal(KERNO_HIST_BUCKETS, 433); /* 1 + 27 powers of two * 16 */
	assert_int_equal(kerno_hist_bucket(0), 0);
	assert_int_equal(kerno_hist_bucket(1023), 0);
	assert_int_equal(kerno_hist_bucket(1024), 1);
	assert_int_equal(kerno_hist_bucket(1087), 1); /* 1024 + 64 - 1 */
	assert_int_equal(kerno_hist_bucket(1088), 2);
	assert_int_equal(kerno_hist_bucket(2047), 16);
	assert_int_equal(kerno_hist_bucket(2048), 17);
	assert_int_equal(kerno_hist_bucket(20000000), 228); /* 20 ms: 1 + 14 * 16 + 3 */
	assert_int_equal(kerno_hist_bucket((1ULL << 37) - 1), 432);
	assert_int_equal(kerno_hist_bucket(1ULL << 37), 432);
	assert_int_equal(kerno_hist_bucket(~0ULL), 432);
}

static void test_bucket_bounds(void **state)
{
	unsigned int b;

	assert_int_equal(kerno_hist_lower(0), 0);
	assert_int_equal(kerno_hist_upper(0), 1024);
	assert_int_equal(kerno_hist_lower(1), 1024);
	assert_int_equal(kerno_hist_upper(1), 1088);
	assert_int_equal(kerno_hist_lower(228), 19922944); /* 19 << 20 */
	assert_int_equal(kerno_hist_upper(228), 20971520); /* 20 << 20 */
	assert_int_equal(kerno_hist_upper(432), 1ULL << 37);
	/* Every bound lands in its own bucket, one below it in the previous one. */
	for (b = 1; b < KERNO_HIST_BUCKETS; b++) {
		assert_int_equal(kerno_hist_bucket(kerno_hist_lower(b)), b);
		assert_int_equal(kerno_hist_bucket(kerno_hist_lower(b) - 1), b - 1);
	}
}

static void test_range(void **state)
{
	__u32 buckets[KERNO_HIST_BUCKETS] = { 0 };
	unsigned int f = 99, l = 99;

	assert_false(kerno_hist_range(buckets, &f, &l));
	assert_int_equal(f, 99);
	buckets[0] = 1;
	assert_true(kerno_hist_range(buckets, &f, &l));
	assert_int_equal(f, 0);
	assert_int_equal(l, 0);
	buckets[0] = 0;
	buckets[7] = 3;
	buckets[432] = 2;
	assert_true(kerno_hist_range(buckets, &f, &l));
	assert_int_equal(f, 7);
	assert_int_equal(l, 432);
	assert_int_equal(kerno_hist_total(buckets), 5);
}

static void test_quantile_single_value(void **state)
{
	__u32 buckets[KERNO_HIST_BUCKETS] = { 0 };
	double p50;

	buckets[kerno_hist_bucket(20000000)] = 1000;
	p50 = kerno_hist_quantile(buckets, 1000, 0.5);
	/* The middle of [19922944, 20971520). */
	assert_float_equal(p50, 20447232.0, 0.5);
	assert_true(fabs(p50 - 20e6) / 20e6 < 0.06);
	assert_float_equal(kerno_hist_quantile(buckets, 1000, 0.0), 19922944.0, 0.5);
	assert_float_equal(kerno_hist_quantile(buckets, 1000, 1.0), 20971520.0, 0.5);
	/* 19922944 + 1048576 * 0.99 */
	assert_float_equal(kerno_hist_quantile(buckets, 1000, 0.99), 20961034.24, 0.01);
	/* count 0 means "sum the buckets"; a wrong count does not move the answer. */
	assert_float_equal(kerno_hist_quantile(buckets, 0, 0.5), 20447232.0, 0.5);
	assert_float_equal(kerno_hist_quantile(buckets, 7, 0.5), 20447232.0, 0.5);
}

static void test_quantile_two_modes(void **state)
{
	__u32 buckets[KERNO_HIST_BUCKETS] = { 0 };

	/* 900 requests at 1 ms, 100 at 100 ms: p50 and p90 in the first mode, p99 in the second. */
	buckets[kerno_hist_bucket(1000000)] = 900;
	buckets[kerno_hist_bucket(100000000)] = 100;
	assert_int_equal(kerno_hist_bucket(1000000), 159); /* 1 + 9 * 16 + 14 */
	assert_int_equal(kerno_hist_bucket(100000000), 264); /* 1 + 16 * 16 + 7 */
	/* bucket 159 = [983040, 1015808): rank 500 of 900 -> 983040 + 32768 * 500 / 900 */
	assert_float_equal(kerno_hist_quantile(buckets, 1000, 0.5), 983040.0 + 32768.0 * 5 / 9,
			   0.01);
	assert_float_equal(kerno_hist_quantile(buckets, 1000, 0.9), 1015808.0, 0.01);
	/* bucket 264 = [96468992, 100663296): rank 990 is the 90th of 100 */
	assert_float_equal(kerno_hist_quantile(buckets, 1000, 0.99), 96468992.0 + 4194304.0 * 0.9,
			   0.01);
	assert_true(fabs(kerno_hist_quantile(buckets, 1000, 0.99) - 100e6) / 100e6 < 0.1);
}

static void test_quantile_edges(void **state)
{
	__u32 buckets[KERNO_HIST_BUCKETS] = { 0 };

	assert_true(isnan(kerno_hist_quantile(buckets, 0, 0.5)));
	buckets[0] = 4;
	assert_float_equal(kerno_hist_quantile(buckets, 4, 0.5), 512.0, 0.001);
	assert_float_equal(kerno_hist_quantile(buckets, 4, -1.0), 0.0, 0.001);
	assert_float_equal(kerno_hist_quantile(buckets, 4, 2.0), 1024.0, 0.001);
	assert_float_equal(kerno_hist_quantile(buckets, 4, NAN), 0.0, 0.001);
	/* Empty buckets between two populated ones are skipped, not interpolated into. */
	buckets[0] = 1;
	buckets[10] = 1;
	assert_float_equal(kerno_hist_quantile(buckets, 2, 0.5), 1024.0, 0.001);
	assert_float_equal(kerno_hist_quantile(buckets, 2, 0.75),
			   (double)kerno_hist_lower(10) +
				   (double)(kerno_hist_upper(10) - kerno_hist_lower(10)) / 2,
			   0.001);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_boundaries),
		cmocka_unit_test(test_bucket_bounds),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_quantile_single_value),
		cmocka_unit_test(test_quantile_two_modes),
		cmocka_unit_test(test_quantile_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
