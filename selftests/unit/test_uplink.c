// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The local uplink sink: file names, envelope bytes, seq numbering, day rotation. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "uplink.h"

struct dirs {
	char tmp[64];
	char data[128];
};

static int setup(void **state)
{
	struct dirs *d = calloc(1, sizeof(*d));

	snprintf(d->tmp, sizeof(d->tmp), "/tmp/kerno-uplink-XXXXXX");
	assert_non_null(mkdtemp(d->tmp));
	snprintf(d->data, sizeof(d->data), "%s/data", d->tmp);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dirs *d = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->tmp);
	assert_int_equal(system(cmd), 0);
	free(d);
	return 0;
}

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900,
			 .tm_mon = mo - 1,
			 .tm_mday = d,
			 .tm_hour = h,
			 .tm_min = mi,
			 .tm_sec = s };

	return timegm(&tm);
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_envelopes_and_rotation(void **state)
{
	struct dirs *d = *state;
	json_t *data = json_pack("{s:s, s:i}", "k", "v", "n", 2);
	char path[256];
	struct uplink *u;
	struct stat st;

	assert_int_equal(uplink_open(d->data, "node-1", &u), 0);
	assert_int_equal(stat(d->data, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/uplink", d->data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(uplink_last_seq(u), 0);

	assert_int_equal(uplink_send_at(u, "hello", data, utc(2026, 11, 26, 12, 0, 0)), 0);
	assert_int_equal(uplink_send_at(u, "metrics", data, utc(2026, 11, 26, 23, 59, 59)), 0);
	assert_int_equal(json_object_get(data, "k")->refcount, 1);
	assert_int_equal(data->refcount, 1); /* borrowed, not stolen */
	snprintf(path, sizeof(path), "%s/uplink/uplink-node-1-20261126.ndjson", d->data);
	assert_string_equal(uplink_path(u), path);
	assert_string_equal(
		slurp(path),
		"{\"v\":1,\"type\":\"hello\",\"seq\":1,\"ts\":\"2026-11-26T12:00:00Z\","
		"\"data\":{\"k\":\"v\",\"n\":2}}\n"
		"{\"v\":1,\"type\":\"metrics\",\"seq\":2,\"ts\":\"2026-11-26T23:59:59Z\","
		"\"data\":{\"k\":\"v\",\"n\":2}}\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Midnight UTC: a new file, seq goes on. */
	assert_int_equal(uplink_send_at(u, "heartbeat", data, utc(2026, 11, 27, 0, 0, 0)), 0);
	assert_int_equal(uplink_last_seq(u), 3);
	snprintf(path, sizeof(path), "%s/uplink/uplink-node-1-20261127.ndjson", d->data);
	assert_string_equal(uplink_path(u), path);
	assert_string_equal(
		slurp(path),
		"{\"v\":1,\"type\":\"heartbeat\",\"seq\":3,\"ts\":\"2026-11-27T00:00:00Z\","
		"\"data\":{\"k\":\"v\",\"n\":2}}\n");
	/* Bad arguments do not use up a number. */
	assert_int_equal(uplink_send_at(u, "metrics", NULL, utc(2026, 11, 27, 0, 0, 1)), -EINVAL);
	assert_int_equal(uplink_last_seq(u), 3);
	uplink_close(u);

	/* A new run appends to the day's file and counts from 1 again. */
	assert_int_equal(uplink_open(d->data, "node-1", &u), 0);
	assert_int_equal(uplink_send_at(u, "hello", data, utc(2026, 11, 27, 1, 2, 3)), 0);
	assert_int_equal(uplink_last_seq(u), 1);
	assert_string_equal(
		slurp(path),
		"{\"v\":1,\"type\":\"heartbeat\",\"seq\":3,\"ts\":\"2026-11-27T00:00:00Z\","
		"\"data\":{\"k\":\"v\",\"n\":2}}\n"
		"{\"v\":1,\"type\":\"hello\",\"seq\":1,\"ts\":\"2026-11-27T01:02:03Z\","
		"\"data\":{\"k\":\"v\",\"n\":2}}\n");
	uplink_close(u);
	json_decref(data);
}

static void test_host_in_name(void **state)
{
	struct dirs *d = *state;
	json_t *data = json_object();
	char want[256];
	struct uplink *u;

	assert_int_equal(uplink_open(d->data, "../a b/c", &u), 0);
	assert_int_equal(uplink_send_at(u, "hello", data, utc(2027, 1, 2, 3, 4, 5)), 0);
	snprintf(want, sizeof(want), "%s/uplink/uplink-.._a_b_c-20270102.ndjson", d->data);
	assert_string_equal(uplink_path(u), want);
	assert_int_equal(access(want, F_OK), 0);
	uplink_close(u);
	json_decref(data);
}

static void test_doubles(void **state)
{
	struct dirs *d = *state;
	json_t *data = json_pack("{s:f, s:f}", "a", 1.024e-6, "b", 0.1 + 0.2);
	char want[256];
	struct uplink *u;

	assert_int_equal(uplink_open(d->data, "h", &u), 0);
	assert_int_equal(uplink_send_at(u, "metrics", data, utc(2026, 1, 1, 0, 0, 0)), 0);
	snprintf(want, sizeof(want), "%s/uplink/uplink-h-20260101.ndjson", d->data);
	assert_string_equal(slurp(want), "{\"v\":1,\"type\":\"metrics\",\"seq\":1,\"ts\":"
					 "\"2026-01-01T00:00:00Z\",\"data\":{\"a\":1.024e-6,"
					 "\"b\":0.3}}\n");
	uplink_close(u);
	json_decref(data);
}

static void test_open_errors(void **state)
{
	struct dirs *d = *state;
	struct uplink *u = NULL;
	char file[160];
	FILE *f;

	/* DATA_DIR is a file. */
	snprintf(file, sizeof(file), "%s/plain", d->tmp);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(uplink_open(file, "h", &u), -ENOTDIR);
	assert_null(u);
	/* Its parent does not exist. */
	snprintf(file, sizeof(file), "%s/missing/data", d->tmp);
	assert_int_equal(uplink_open(file, "h", &u), -ENOENT);
	assert_null(u);
}

/* A write cut short by the file size limit leaves no partial line and uses no seq. */
static void test_no_partial_line(void **state)
{
	struct dirs *d = *state;
	json_t *small = json_object(), *big = json_pack("{s:s}", "pad", "");
	char pad[300], before[4096];
	struct rlimit old, lim;
	struct uplink *u;

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	json_object_set_new(big, "pad", json_string(pad));
	assert_int_equal(uplink_open(d->data, "h", &u), 0);
	assert_int_equal(uplink_send_at(u, "hello", small, utc(2026, 2, 3, 4, 5, 6)), 0);
	strcpy(before, slurp(uplink_path(u)));

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = strlen(before) + 100;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(uplink_send_at(u, "metrics", big, utc(2026, 2, 3, 4, 5, 7)), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_string_equal(slurp(uplink_path(u)), before);
	assert_int_equal(uplink_last_seq(u), 1);

	assert_int_equal(uplink_send_at(u, "heartbeat", small, utc(2026, 2, 3, 4, 5, 8)), 0);
	assert_int_equal(uplink_last_seq(u), 2);
	assert_non_null(
		strstr(slurp(uplink_path(u)), "\n{\"v\":1,\"type\":\"heartbeat\",\"seq\":2,"));
	uplink_close(u);
	json_decref(small);
	json_decref(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_envelopes_and_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_in_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doubles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_partial_line, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
