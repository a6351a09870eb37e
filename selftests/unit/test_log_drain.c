// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The template miner and the filter: templates, variables, bounded memory, verdicts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log_drain.h"
#include "log_filter.h"

static struct log_template_hit match(struct log_drain *d, const char *s)
{
	struct log_template_hit h;

	log_drain_match(d, s, strlen(s), &h);
	return h;
}

static void test_templates(void **state)
{
	struct log_drain *d = log_drain_new(64, 50);
	struct log_template_hit a, b, c, e;
	char text[256];

	a = match(d, "user 17 logged in from web");
	assert_true(a.created);
	b = match(d, "user 42 logged in from web");
	assert_false(b.created);
	assert_int_equal(b.id, a.id);
	assert_int_equal(b.count, 2);
	assert_true(b.fingerprint == a.fingerprint);
	/* A differing word becomes a variable: same template, new fingerprint. */
	c = match(d, "user 43 logged in from mobile");
	assert_int_equal(c.id, a.id);
	assert_true(c.fingerprint != a.fingerprint);
	log_drain_template(d, c.id, text, sizeof(text));
	assert_string_equal(text, "user <*> logged in from <*>");
	/* A message that shares too little is a template of its own. */
	e = match(d, "user 1 deleted the account for good");
	assert_true(e.created);
	assert_true(e.id != a.id);
	/* Only the first line counts. */
	a = match(d, "user 9 logged in from web\n\tat something");
	assert_int_equal(a.id, c.id);
	log_drain_free(d);
}

static void test_fingerprint_stable(void **state)
{
	struct log_drain *d1 = log_drain_new(16, 50), *d2 = log_drain_new(16, 50);
	struct log_template_hit a, b;

	match(d2, "something else entirely");
	a = match(d1, "payment declined for order 12");
	b = match(d2, "payment declined for order 99");
	assert_true(a.fingerprint == b.fingerprint);
	log_drain_free(d1);
	log_drain_free(d2);
}

static void test_bounded(void **state)
{
	struct log_drain *d = log_drain_new(16, 50);
	struct log_drain_stats st;
	struct log_template_hit h;
	char line[64];
	int i;

	for (i = 0; i < 100; i++) {
		snprintf(line, sizeof(line), "w%c%c unique", 'a' + i % 26, 'a' + i / 26);
		match(d, line);
	}
	log_drain_get_stats(d, &st);
	assert_int_equal(st.templates, 16);
	assert_int_equal(st.created, 100);
	assert_int_equal(st.evicted, 84);
	/* A recent one is still known. */
	h = match(d, "wvd unique");
	assert_false(h.created);
	assert_int_equal(h.count, 2);
	log_drain_free(d);
}

static void test_filter(void **state)
{
	struct log_filter_opts o = { .first_n = 2, .sample_every = 10 };
	struct log_record r = { .severity = LOG_SEV_INFO };
	struct log_template_hit h = {};
	struct log_rate rate = {};
	int kept = 0, weight = 0;
	uint64_t n;

	for (n = 1; n <= 102; n++) {
		h.count = n;
		if (log_verdict_kept(log_filter_judge(&o, &rate, &r, &h, 1))) {
			kept++;
			weight += r.weight;
		}
	}
	/* 2 first ones, then counts 3, 13, ..., 93: 10 samples of weight 10. */
	assert_int_equal(kept, 12);
	assert_int_equal(weight, 2 + 100);
	r.severity = LOG_SEV_ERROR;
	h.count = 55;
	assert_int_equal(log_filter_judge(&o, &rate, &r, &h, 1), LOG_KEEP_SEVERE);
}

static void test_rate_cap(void **state)
{
	struct log_filter_opts o = { .keep_all = true, .rate_limit = 5 };
	struct log_record r = { .severity = LOG_SEV_INFO };
	struct log_template_hit h = { .count = 1 };
	struct log_rate rate = {};
	int i, kept = 0;

	for (i = 0; i < 20; i++)
		kept += log_filter_judge(&o, &rate, &r, &h, 1000) == LOG_KEEP_ALL;
	assert_int_equal(kept, 5);
	/* A second later, five more; warnings always pass. */
	for (i = 0; i < 20; i++)
		kept += log_filter_judge(&o, &rate, &r, &h, 2000) == LOG_KEEP_ALL;
	assert_int_equal(kept, 10);
	r.severity = LOG_SEV_WARN;
	assert_int_equal(log_filter_judge(&o, &rate, &r, &h, 2000), LOG_KEEP_SEVERE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_templates), cmocka_unit_test(test_fingerprint_stable),
		cmocka_unit_test(test_bounded),	  cmocka_unit_test(test_filter),
		cmocka_unit_test(test_rate_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
