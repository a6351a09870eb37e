// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Preon's spool and Nanobe's journal: order, ids across restarts, bounds, corruption, settling. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "nbstore.h"
#include "batch_spool.h"

static char tmp[64];

static int setup(void **state)
{
	snprintf(tmp, sizeof(tmp), "/tmp/kerno-spool-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct seal_key key = { { 1, 2, 3 } };

static struct batch_spool *open_spool(unsigned long long max)
{
	char dir[128], err[256];
	struct batch_spool *s = NULL;

	snprintf(dir, sizeof(dir), "%s/spool", tmp);
	assert_int_equal(batch_spool_open(dir, &key, max, &s, err, sizeof(err)), 0);
	return s;
}

static void expect_batch(struct batch_spool *s, unsigned long long seq, const char *body)
{
	struct spooled_batch b;
	char id[64];

	assert_int_equal(batch_spool_peek(s, &b), 0);
	assert_int_equal(b.seq, seq);
	assert_string_equal(b.path, "/v1/metrics");
	assert_int_equal(b.len, strlen(body));
	assert_memory_equal(b.body, body, b.len);
	snprintf(id, sizeof(id), "-%llu", seq);
	assert_string_equal(b.id + strlen(b.id) - strlen(id), id);
	assert_int_equal(strlen(b.id), 16 + strlen(id));
	batch_spool_batch_free(&b);
}

static void test_spool_order_and_restart(void **state)
{
	struct batch_spool *s = open_spool(1 << 20);
	struct spooled_batch b;

	assert_int_equal(batch_spool_put(s, "/v1/metrics", "one", 3), 0);
	assert_int_equal(batch_spool_put(s, "/v1/metrics", "two", 3), 0);
	expect_batch(s, 1, "one");
	assert_int_equal(batch_spool_remove(s, 1), 0);
	batch_spool_close(s);
	/* Reopened: the second batch is still there, and ids go on from 3. */
	s = open_spool(1 << 20);
	assert_int_equal(batch_spool_count(s), 1);
	expect_batch(s, 2, "two");
	assert_int_equal(batch_spool_remove(s, 2), 0);
	assert_int_equal(batch_spool_peek(s, &b), -ENOENT);
	assert_int_equal(batch_spool_put(s, "/v1/metrics", "three", 5), 0);
	expect_batch(s, 3, "three");
	batch_spool_close(s);
}

static void test_spool_bounded_and_corrupt(void **state)
{
	unsigned long long one = seal_size(strlen("/v1/metrics\nxxxx"));
	struct batch_spool *s = open_spool(2 * one + 1);
	struct spooled_batch b;
	char path[160];

	assert_int_equal(batch_spool_put(s, "/v1/metrics", "aaaa", 4), 0);
	assert_int_equal(batch_spool_put(s, "/v1/metrics", "bbbb", 4), 0);
	assert_int_equal(batch_spool_put(s, "/v1/metrics", "cccc", 4), 0);
	assert_int_equal(batch_spool_count(s), 2);
	assert_int_equal(batch_spool_dropped(s), 1);
	assert_int_equal(batch_spool_bytes(s), 2 * one);
	/* A batch cut short is dropped and counted; the next one is read. */
	snprintf(path, sizeof(path), "%s/spool/b-%020d.seal", tmp, 2);
	assert_int_equal(truncate(path, 30), 0);
	expect_batch(s, 3, "cccc");
	assert_int_equal(batch_spool_dropped(s), 2);
	/* Another key cannot read the spool: its batches are dropped, not sent. */
	batch_spool_close(s);
	key.k[0] ^= 1;
	s = open_spool(1 << 20);
	assert_int_equal(batch_spool_peek(s, &b), -ENOENT);
	assert_int_equal(batch_spool_dropped(s), 1);
	key.k[0] ^= 1;
	batch_spool_close(s);
}

static int replayed;
static long long replayed_sum;

static int count_replay(void *ctx, json_t *req)
{
	replayed++;
	replayed_sum += json_integer_value(json_object_get(req, "n"));
	return 0;
}

static struct nbstore *open_store(void)
{
	char up[128], err[256];
	struct nbstore *s = NULL;

	snprintf(up, sizeof(up), "%s/uplink", tmp);
	replayed = 0;
	replayed_sum = 0;
	assert_int_equal(nbstore_open(tmp, up, count_replay, NULL, &s, err, sizeof(err)), 0);
	return s;
}

static void append(struct nbstore *s, const char *id, int n)
{
	json_t *j = json_pack("{s:i}", "n", n);

	assert_int_equal(nbstore_append(s, id, j), 0);
	json_decref(j);
}

static void test_journal(void **state)
{
	struct nbstore *s = open_store();
	unsigned long long flush;
	char path[160], mark[128];
	json_t *open;
	FILE *f;

	append(s, "abc-1", 1);
	append(s, "abc-2", 2);
	append(s, NULL, 4);
	assert_true(nbstore_seen(s, "abc-2"));
	assert_true(nbstore_seen(s, "abc-1"));
	assert_false(nbstore_seen(s, "abc-3"));
	assert_false(nbstore_seen(s, "other-1"));
	assert_false(nbstore_seen(s, "no dash"));
	nbstore_close(s);
	/* A line cut by a crash is skipped; the rest is replayed. */
	snprintf(path, sizeof(path), "%s/nanobe/journal.ndjson", tmp);
	f = fopen(path, "a");
	fputs("{\"t\":\"batch\",\"id\":\"abc-3\",\"bo", f);
	fclose(f);
	s = open_store();
	assert_int_equal(replayed, 3);
	assert_int_equal(replayed_sum, 7);
	assert_int_equal(nbstore_skipped(s), 1);
	assert_true(nbstore_seen(s, "abc-2"));
	assert_false(nbstore_seen(s, "abc-3"));

	/* A flush whose envelope was never written: the old journal stands. */
	open = json_pack("{s:i}", "n", 100);
	assert_int_equal(nbstore_rotate(s, open, &flush), 0);
	assert_int_equal(flush, 1);
	nbstore_close(s);
	s = open_store();
	assert_int_equal(replayed_sum, 7);
	/* Its envelope written, then a crash: journal.next is taken. */
	assert_int_equal(nbstore_rotate(s, open, &flush), 0);
	assert_int_equal(flush, 1);
	snprintf(path, sizeof(path), "%s/uplink", tmp);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/uplink/u.ndjson", tmp);
	snprintf(mark, sizeof(mark), NBSTORE_MARK_FMT "\n", 1ULL);
	f = fopen(path, "w");
	fputs(mark, f);
	fclose(f);
	nbstore_close(s);
	s = open_store();
	assert_int_equal(replayed, 1);
	assert_int_equal(replayed_sum, 100);
	assert_true(nbstore_seen(s, "abc-2"));
	/* A normal flush: commit, and the next number follows. */
	assert_int_equal(nbstore_rotate(s, NULL, &flush), 0);
	assert_int_equal(flush, 2);
	assert_int_equal(nbstore_commit(s), 0);
	nbstore_close(s);
	s = open_store();
	assert_int_equal(replayed, 0);
	assert_true(nbstore_seen(s, "abc-2"));
	json_decref(open);
	nbstore_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spool_order_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spool_bounded_and_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
