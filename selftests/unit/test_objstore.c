// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The object store writer over the local backend: keys, gzip content,
 * sealing by size and age, backpressure (a backend that refuses keeps the
 * batch and says so), the intent hook, exists(); and log checkpoints.
 */
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zlib.h>
#include <cmocka.h>

#include "log_checkpoint.h"
#include "objstore.h"

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/kerno-objstore-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct objstore *open_store(struct fixture *f, struct obj_backend *b, size_t max_bytes,
				   unsigned long long max_age_ms)
{
	struct objstore_opts o = { .prefix = "/pre/",
				   .node = "node one",
				   .max_bytes = max_bytes,
				   .max_age_ms = max_age_ms,
				   .max_pending_bytes = 1 << 20,
				   .level = 1 };
	struct objstore *w;
	char err[128];

	if (!b)
		b = objstore_local_new(f->dir, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(objstore_open(&o, b, &w), 0);
	return w;
}

static size_t objects(struct fixture *f, char paths[][512], size_t max)
{
	char pattern[256];
	glob_t g;
	size_t i, n;

	snprintf(pattern, sizeof(pattern), "%s/objects/pre/logs/year=*/month=*/day=*/hour=*/*",
		 f->dir);
	if (glob(pattern, 0, NULL, &g))
		return 0;
	n = g.gl_pathc;
	for (i = 0; i < n && i < max; i++)
		snprintf(paths[i], 512, "%s", g.gl_pathv[i]);
	globfree(&g);
	return n;
}

static size_t gunzip(const char *path, char *out, size_t size)
{
	gzFile z = gzopen(path, "rb");
	int n;

	assert_non_null(z);
	n = gzread(z, out, size - 1);
	gzclose(z);
	assert_true(n >= 0);
	out[n] = '\0';
	return n;
}

static void test_keys_and_content(void **state)
{
	struct fixture *f = *state;
	struct objstore *w = open_store(f, NULL, 1 << 20, 60000);
	struct objstore_stats st;
	char paths[4][512], buf[256], *base;

	assert_int_equal(objstore_seal(w, OBJSTORE_LOGS, NULL, NULL), 0); /* nothing yet */
	assert_int_equal(objstore_append(w, OBJSTORE_LOGS, "{\"a\":1}", 7), 0);
	assert_int_equal(objstore_append(w, OBJSTORE_LOGS, "{\"b\":2}", 7), 0);
	assert_false(objstore_due(w, OBJSTORE_LOGS, objstore_now_ms()));
	assert_int_equal(objstore_seal(w, OBJSTORE_LOGS, NULL, NULL), 1);
	assert_int_equal(objects(f, paths, 4), 1);
	base = strrchr(paths[0], '/') + 1;
	assert_int_equal(strncmp(base, "node_one-", 9), 0);
	assert_non_null(strstr(base, ".json.gz"));
	assert_int_equal(gunzip(paths[0], buf, sizeof(buf)), 16);
	assert_string_equal(buf, "{\"a\":1}\n{\"b\":2}\n");
	objstore_get_stats(w, OBJSTORE_LOGS, &st);
	assert_int_equal(st.objects, 1);
	assert_int_equal(st.lines, 2);
	assert_int_equal(st.json_bytes, 16);
	/* No temporary file is left behind. */
	snprintf(buf, sizeof(buf), "%s/objects/.tmp", f->dir);
	assert_int_equal(rmdir(buf), 0);
	objstore_close(w);
}

static void test_size_and_age(void **state)
{
	struct fixture *f = *state;
	struct objstore *w = open_store(f, NULL, 100, 50);
	struct objstore_stats st;
	char line[300];

	memset(line, 'x', sizeof(line));
	assert_int_equal(objstore_append(w, OBJSTORE_LOGS, line, 60), 0);
	assert_false(objstore_due(w, OBJSTORE_LOGS, objstore_now_ms()));
	assert_true(objstore_due(w, OBJSTORE_LOGS, objstore_now_ms() + 50));
	assert_int_equal(objstore_append(w, OBJSTORE_LOGS, line, 60), 0);
	assert_true(objstore_due(w, OBJSTORE_LOGS, objstore_now_ms()));
	/* A line that can never fit is dropped and counted. */
	assert_int_equal(objstore_append(w, OBJSTORE_LOGS, line, 200), -E2BIG);
	objstore_get_stats(w, OBJSTORE_LOGS, &st);
	assert_int_equal(st.dropped_lines, 1);
	assert_int_equal(st.dropped_bytes, 200);
	objstore_close(w); /* seals what is open */
}

/* The local backend behind a switch: while `refuse` is set it says -ENOSPC. */
struct refusing {
	struct obj_backend ops;
	struct obj_backend *inner;
	int refuse;
	int puts;
};

static int refusing_put(struct obj_backend *b, const char *key, const void *data, size_t len)
{
	struct refusing *r = (struct refusing *)b;

	if (r->refuse)
		return -ENOSPC;
	r->puts++;
	return r->inner->put(r->inner, key, data, len);
}

static int refusing_exists(struct obj_backend *b, const char *key)
{
	struct refusing *r = (struct refusing *)b;

	return r->inner->exists(r->inner, key);
}

static void refusing_close(struct obj_backend *b)
{
	struct refusing *r = (struct refusing *)b;

	r->inner->close(r->inner);
}

static int intents;
static char intent_key[512];

static int record_intent(void *ctx, const char *key)
{
	intents++;
	snprintf(intent_key, sizeof(intent_key), "%s", key);
	return 0;
}

static void test_backpressure_and_intent(void **state)
{
	struct fixture *f = *state;
	char err[128];
	struct refusing r = {
		.ops = { .name = "refusing", .put = refusing_put, .close = refusing_close }
	};
	struct objstore *w;
	struct objstore_stats st;
	char paths[4][512], buf[64];

	r.inner = objstore_local_new(f->dir, err, sizeof(err));
	r.ops.exists = refusing_exists;
	w = open_store(f, &r.ops, 1 << 20, 60000);
	r.refuse = 1;
	assert_int_equal(objstore_append(w, OBJSTORE_LOGS, "one", 3), 0);
	assert_int_equal(objstore_seal(w, OBJSTORE_LOGS, record_intent, NULL), -EAGAIN);
	assert_true(objstore_congested(w));
	assert_true(objstore_due(w, OBJSTORE_LOGS, objstore_now_ms()));
	assert_int_equal(objects(f, paths, 4), 0);
	/* Appended while the sealed object waits: kept for the next object. */
	assert_int_equal(objstore_append(w, OBJSTORE_LOGS, "two", 3), 0);
	r.refuse = 0;
	assert_int_equal(objstore_seal(w, OBJSTORE_LOGS, record_intent, NULL), 1);
	assert_int_equal(objects(f, paths, 4), 1);
	assert_int_equal(gunzip(paths[0], buf, sizeof(buf)), 4);
	assert_string_equal(buf, "one\n");
	assert_int_equal(objstore_buffered(w, OBJSTORE_LOGS), 4);
	assert_false(objstore_congested(w));
	assert_int_equal(r.puts, 1);
	assert_int_equal(intents, 2); /* before each attempt, with the same key */
	assert_int_equal(objstore_exists(w, intent_key), 1);
	assert_int_equal(objstore_exists(w, "pre/logs/year=2000/none.json.gz"), 0);
	objstore_get_stats(w, OBJSTORE_LOGS, &st);
	assert_int_equal(st.backpressure, 1);
	assert_int_equal(st.dropped_lines, 0);
	assert_int_equal(st.lines, 1);
	assert_int_equal(objstore_seal(w, OBJSTORE_LOGS, NULL, NULL), 1);
	assert_int_equal(objects(f, paths, 4), 2);
	objstore_get_stats(w, OBJSTORE_LOGS, &st);
	assert_int_equal(st.lines, 2);
	objstore_close(w);
}

static void test_checkpoint_pending(void **state)
{
	struct fixture *f = *state;
	struct log_ckpt c = {}, back;
	struct log_ckpt_entry e = { .dev = 1,
				    .ino = 2,
				    .fp_len = 1024,
				    .fp = 0xabc,
				    .off = 100,
				    .pending_off = 250,
				    .path = "/var/log/a b.log" };
	char path[128];

	snprintf(path, sizeof(path), "%s/ckpt", f->dir);
	assert_int_equal(log_ckpt_add(&c, &e), 0);
	c.pending_key = strdup("logs/year=2026/x.json.gz");
	assert_int_equal(log_ckpt_save(path, &c), 0);
	assert_int_equal(log_ckpt_load(path, &back), 0);
	assert_int_equal(back.n, 1);
	assert_string_equal(back.pending_key, "logs/year=2026/x.json.gz");
	assert_int_equal(back.e[0].off, 100);
	assert_int_equal(back.e[0].pending_off, 250);
	assert_string_equal(back.e[0].path, "/var/log/a b.log");
	log_ckpt_settle(&back, true);
	assert_int_equal(back.e[0].off, 250);
	assert_null(back.pending_key);
	log_ckpt_free(&back);
	assert_int_equal(log_ckpt_load(path, &back), 0);
	log_ckpt_settle(&back, false);
	assert_int_equal(back.e[0].off, 100);
	assert_non_null(log_ckpt_find(&back, 1, 2));
	assert_null(log_ckpt_find(&back, 1, 3));
	log_ckpt_free(&back);
	log_ckpt_free(&c);
	/* A missing file is empty; garbage lines are skipped and counted. */
	snprintf(path, sizeof(path), "%s/none", f->dir);
	assert_int_equal(log_ckpt_load(path, &back), 0);
	assert_int_equal(back.n, 0);
	log_ckpt_free(&back);
	snprintf(path, sizeof(path), "%s/bad", f->dir);
	FILE *fp = fopen(path, "w");
	fputs("kerno-log-checkpoints 2\nnot numbers\n1 2 3 4 5 6 /ok\n", fp);
	fclose(fp);
	assert_int_equal(log_ckpt_load(path, &back), 0);
	assert_int_equal(back.n, 1);
	assert_int_equal(back.bad_lines, 1);
	log_ckpt_free(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keys_and_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_and_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure_and_intent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_pending, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
