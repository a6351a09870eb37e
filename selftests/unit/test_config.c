// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Options: defaults, precedence file < env < argv, forms, errors, help. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char conf_path[64];

static int clean_env(void **state)
{
	size_t i;
	char var[128], *p;

	for (i = 0; i < kerno_n_options; i++) {
		snprintf(var, sizeof(var), "KERNO_%s", kerno_options[i].name);
		for (p = var; *p; p++)
			*p = *p == '-' ? '_' : (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		unsetenv(var);
	}
	return 0;
}

static const char *write_conf(const char *text)
{
	FILE *f;

	snprintf(conf_path, sizeof(conf_path), "/tmp/kerno-conf-%d.conf", (int)getpid());
	f = fopen(conf_path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return conf_path;
}

/* Load from a NULL-terminated argument list; returns what kerno_config_load did. */
#define LOAD(cfg, err, ...)                                                              \
	({                                                                               \
		char *argv_[] = { __VA_ARGS__ };                                         \
		kerno_config_load(cfg, sizeof(argv_) / sizeof(argv_[0]) - 1, argv_, err, \
				  sizeof(err));                                          \
	})

static void test_defaults(void **state)
{
	struct kerno_config cfg;
	char err[256] = "", host[HOST_NAME_MAX + 1];

	assert_int_equal(LOAD(&cfg, err, NULL), 0);
	assert_string_equal(cfg.data_dir, "./kerno-data");
	assert_int_equal(cfg.interval, 10);
	assert_int_equal(cfg.duration, 0);
	assert_int_equal(cfg.max_conns, 8192);
	assert_int_equal(cfg.max_series, 4096);
	assert_int_equal(cfg.max_series_per_process, 200);
	assert_int_equal(cfg.max_header_bytes, 16384);
	assert_string_equal(cfg.pin_dir, "/sys/fs/bpf/kerno");
	assert_false(cfg.verbose);
	assert_null(cfg.config);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_string_equal(cfg.host_name, host);
	kerno_config_free(&cfg);
	assert_null(cfg.data_dir);
}

static void test_precedence(void **state)
{
	struct kerno_config cfg;
	char err[256] = "";

	write_conf("# a comment\n"
		   "\n"
		   "interval = 20\n"
		   "max_conns=100   # underscores, trailing comment\n"
		   "  data-dir = \"/srv/kerno data\"  \n"
		   "pin-dir = /fs/#not-a-comment\n"
		   "host_name = from-file\n"
		   "verbose = yes\n");
	setenv("KERNO_CONFIG", conf_path, 1);
	setenv("KERNO_INTERVAL", "30", 1);
	setenv("KERNO_MAX_CONNS", "200", 1);
	setenv("KERNO_HOST_NAME", "", 1); /* empty: unset */
	assert_int_equal(LOAD(&cfg, err, "--interval", "40", "--no-verbose", NULL), 0);
	assert_string_equal(err, "");
	assert_int_equal(cfg.interval, 40); /* argv over env over file */
	assert_int_equal(cfg.max_conns, 200); /* env over file */
	assert_string_equal(cfg.data_dir, "/srv/kerno data"); /* file over default */
	assert_string_equal(cfg.pin_dir, "/fs/#not-a-comment");
	assert_string_equal(cfg.host_name, "from-file");
	assert_false(cfg.verbose);
	assert_string_equal(cfg.config, conf_path);
	assert_int_equal(cfg.max_series, 4096); /* untouched: default */
	kerno_config_free(&cfg);
	unlink(conf_path);
}

static void test_config_flag_over_env(void **state)
{
	struct kerno_config cfg;
	char err[256] = "", flag[96];

	setenv("KERNO_CONFIG", "/nonexistent/kerno.conf", 1);
	write_conf("duration = 2h\n");
	snprintf(flag, sizeof(flag), "--config=%s", conf_path);
	assert_int_equal(LOAD(&cfg, err, flag, NULL), 0);
	assert_int_equal(cfg.duration, 7200);
	assert_string_equal(cfg.config, conf_path);
	kerno_config_free(&cfg);
	/* Only the env names it: its error shows. */
	assert_int_equal(LOAD(&cfg, err, NULL), -1);
	assert_string_equal(err, "cannot read config file '/nonexistent/kerno.conf': "
				 "No such file or directory");
	kerno_config_free(&cfg);
	unlink(conf_path);
}

static void test_forms(void **state)
{
	struct kerno_config cfg;
	char err[256] = "";

	assert_int_equal(LOAD(&cfg, err, "--data-dir=/d", "--duration", "5m", "--verbose",
			      "--interval=1d", "--max_series", "7", "--max-series-per-process=0",
			      "--", NULL),
			 0);
	assert_string_equal(cfg.data_dir, "/d");
	assert_int_equal(cfg.duration, 300);
	assert_int_equal(cfg.interval, 86400);
	assert_true(cfg.verbose);
	assert_int_equal(cfg.max_series, 7);
	assert_int_equal(cfg.max_series_per_process, 0);
	kerno_config_free(&cfg);
	/* Later wins on the command line too; bools take a value after `=`. */
	assert_int_equal(
		LOAD(&cfg, err, "--interval", "3", "--interval", "4s", "--verbose=off", NULL), 0);
	assert_int_equal(cfg.interval, 4);
	assert_false(cfg.verbose);
	kerno_config_free(&cfg);
}

static void expect_error(const char *want, char **argv, int argc)
{
	struct kerno_config cfg;
	char err[256] = "";

	assert_int_equal(kerno_config_load(&cfg, argc, argv, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	kerno_config_free(&cfg);
}

#define EXPECT_ERROR(want, ...)                                              \
	do {                                                                 \
		char *argv_[] = { __VA_ARGS__ };                             \
		expect_error(want, argv_, sizeof(argv_) / sizeof(argv_[0])); \
	} while (0)

static void test_argv_errors(void **state)
{
	EXPECT_ERROR("unknown option '--bogus' (try --help)", "--bogus");
	EXPECT_ERROR("unknown option '--bogus' (try --help)", "--bogus=1");
	EXPECT_ERROR("--interval needs a value", "--interval");
	EXPECT_ERROR("--interval: 'abc' is not a whole number of seconds (or with m, h, d)",
		     "--interval", "abc");
	EXPECT_ERROR("--interval: '5x' is not a whole number of seconds (or with m, h, d)",
		     "--interval=5x");
	EXPECT_ERROR("--interval: 0 is out of range (1 to 86400)", "--interval", "0");
	EXPECT_ERROR("--max-conns: '12s' is not a whole number", "--max-conns", "12s");
	EXPECT_ERROR("--max-conns: ' 12' is not a whole number", "--max-conns", " 12");
	EXPECT_ERROR("--max-conns: '99999999999999999999' is not a whole number", "--max-conns",
		     "99999999999999999999");
	EXPECT_ERROR("--max-conns: -1 is out of range (1 to 16777216)", "--max-conns=-1");
	EXPECT_ERROR("--verbose: 'maybe' is not a boolean (true or false)", "--verbose=maybe");
	EXPECT_ERROR("--no-interval: --interval is not a boolean", "--no-interval");
	EXPECT_ERROR("--no-verbose takes no value", "--no-verbose=1");
	EXPECT_ERROR("unexpected argument 'run' (try --help)", "run");
	EXPECT_ERROR("unexpected argument 'x' (try --help)", "--", "x");
	EXPECT_ERROR("unexpected argument '-v' (try --help)", "-v");
}

static void test_source_errors(void **state)
{
	char want[256], flag[96];

	snprintf(flag, sizeof(flag), "--config=%s", conf_path);
	write_conf("interval = 5\n\nnope = 1\n");
	snprintf(want, sizeof(want), "%s:3: unknown option 'nope'", conf_path);
	EXPECT_ERROR(want, flag);
	write_conf("interval\n");
	snprintf(want, sizeof(want), "%s:1: expected `name = value`", conf_path);
	EXPECT_ERROR(want, flag);
	write_conf("max_conns = lots\n");
	snprintf(want, sizeof(want), "%s:1: max-conns: 'lots' is not a whole number", conf_path);
	EXPECT_ERROR(want, flag);
	unlink(conf_path);
	EXPECT_ERROR("cannot read config file '/nonexistent': No such file or directory",
		     "--config", "/nonexistent");
	EXPECT_ERROR("cannot read config file '/tmp': Is a directory", "--config", "/tmp");
	setenv("KERNO_MAX_CONNS", "x", 1);
	EXPECT_ERROR("KERNO_MAX_CONNS: 'x' is not a whole number", "--interval", "5");
	/* The command line would override it, but a broken environment is still an error. */
	EXPECT_ERROR("KERNO_MAX_CONNS: 'x' is not a whole number", "--max-conns", "5");
}

static void test_help(void **state)
{
	struct kerno_config cfg;
	char err[256] = "", *text = NULL;
	size_t len = 0;
	FILE *out;

	assert_int_equal(LOAD(&cfg, err, "--interval", "5", "--help", NULL), 1);
	kerno_config_free(&cfg);
	/* Help wins over a config file that cannot be read. */
	assert_int_equal(LOAD(&cfg, err, "--config", "/nonexistent", "-h", NULL), 1);
	kerno_config_free(&cfg);

	out = open_memstream(&text, &len);
	kerno_config_help(out, "kerno run [OPTIONS]");
	fclose(out);
	assert_non_null(strstr(text, "Usage: kerno run [OPTIONS]\n"));
	assert_non_null(strstr(text, "  --data-dir DIR "));
	assert_non_null(strstr(text, "KERNO_DATA_DIR, default ./kerno-data\n"));
	assert_non_null(strstr(text, "KERNO_INTERVAL, default 10s\n"));
	assert_non_null(strstr(text, "KERNO_MAX_SERIES_PER_PROCESS, default 200\n"));
	assert_non_null(strstr(text, "  --[no-]verbose "));
	assert_non_null(strstr(text, "  -h, --help "));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, clean_env),
		cmocka_unit_test_setup(test_precedence, clean_env),
		cmocka_unit_test_setup(test_config_flag_over_env, clean_env),
		cmocka_unit_test_setup(test_forms, clean_env),
		cmocka_unit_test_setup(test_argv_errors, clean_env),
		cmocka_unit_test_setup(test_source_errors, clean_env),
		cmocka_unit_test_setup(test_help, clean_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
