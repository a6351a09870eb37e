// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The log options: --logs is repeatable and adds up across sources; defaults. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static void test_logs_list(void **state)
{
	char *argv[] = { "--logs", "/a/*.log", "--logs=/b/*.log" };
	struct kerno_config cfg;
	char err[256];

	setenv("KERNO_LOGS", "/env/*.log", 1);
	assert_int_equal(kerno_config_load(&cfg, 3, argv, err, sizeof(err)), 0);
	assert_string_equal(cfg.logs, "/env/*.log\n/a/*.log\n/b/*.log");
	assert_string_equal(cfg.log_pods_root, "/var/log/pods");
	assert_int_equal(cfg.log_max_line_bytes, 65536);
	assert_int_equal(cfg.log_sample_every, 100);
	assert_int_equal(cfg.object_max_bytes, 8 << 20);
	assert_int_equal(cfg.object_max_age, 60);
	assert_false(cfg.log_keep_all);
	kerno_config_free(&cfg);
	unsetenv("KERNO_LOGS");
}

static void test_bad_values(void **state)
{
	char *small[] = { "--object-max-bytes", "10" };
	char *line[] = { "--log-max-line-bytes", "12" };
	struct kerno_config cfg;
	char err[256];

	assert_int_equal(kerno_config_load(&cfg, 2, small, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));
	kerno_config_free(&cfg);
	assert_int_equal(kerno_config_load(&cfg, 2, line, err, sizeof(err)), -1);
	kerno_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logs_list),
		cmocka_unit_test(test_bad_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
