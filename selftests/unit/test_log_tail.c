// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Following files through copytruncate: a copy being written, a copy that
 * waits for its original, a copy made while the agent was down, a restart in
 * the middle of a copy. Offsets are exact: every byte is handed out once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "log_tail.h"

#define LINES 200 /* 20 bytes each: 4000 bytes, past the fingerprint's 1 KiB */

struct fixture {
	char dir[64];
	char orig[128], copy[128];
	char content[LINES * 20 + 1];
	struct log_tail t;
	char buf[65536];
};

static void put(const char *path, const char *data, size_t len, bool append)
{
	int fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	int i;

	assert_non_null(x);
	snprintf(x->dir, sizeof(x->dir), "/tmp/kerno-tail-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->orig, sizeof(x->orig), "%s/app.log", x->dir);
	snprintf(x->copy, sizeof(x->copy), "%s/app.log.1", x->dir);
	for (i = 0; i < LINES; i++)
		snprintf(x->content + i * 20, 21, "line %014d\n", i);
	put(x->orig, x->content, strlen(x->content), false);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	log_tail_free(&x->t);
	unlink(x->orig);
	unlink(x->copy);
	rmdir(x->dir);
	free(x);
	return 0;
}

static void follow(struct fixture *x, struct log_ckpt *restored)
{
	struct log_tail_source src = { .format = LOG_FORMAT_AUTO };
	struct log_tail_hooks hooks = {};
	struct log_ckpt none = {};
	char pattern[96];

	snprintf(pattern, sizeof(pattern), "%s/app.log*", x->dir);
	src.pattern = pattern;
	assert_int_equal(log_tail_init(&x->t, &src, 1, 16, restored ? restored : &none, &hooks), 0);
	log_tail_scan(&x->t, 1000);
}

static struct log_file *file(struct fixture *x, const char *path)
{
	struct log_file *f;
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	for (f = x->t.files; f; f = f->next)
		if (f->ino == st.st_ino)
			return f;
	fail_msg("%s is not followed", path);
	return NULL;
}

/* Reads up to want bytes of f from its offset, as the reader would; returns the bytes handed out. */
static size_t take(struct fixture *x, struct log_file *f, size_t want, uint64_t now_ms)
{
	size_t total = 0, cap;
	ssize_t n;

	while (total < want) {
		cap = want - total < sizeof(x->buf) ? want - total : sizeof(x->buf);
		n = log_tail_read(&x->t, f, x->buf, cap, now_ms);
		if (n == -EAGAIN)
			continue;
		if (n == 0)
			break;
		assert_true(n > 0);
		f->read_off += n;
		total += n;
	}
	return total;
}

static size_t drain(struct fixture *x, struct log_file *f, uint64_t now_ms)
{
	return take(x, f, SIZE_MAX, now_ms);
}

static void copy_bytes(struct fixture *x, size_t len)
{
	put(x->copy, x->content, len, false);
}

static void truncate_and_write(struct fixture *x, const char *fresh)
{
	assert_int_equal(truncate(x->orig, 0), 0);
	put(x->orig, fresh, strlen(fresh), true);
}

/* Live: the copy appears empty, grows, waits while the original is read on, then takes over. */
static void test_copy_while_following(void **state)
{
	struct fixture *x = *state;
	struct log_file *o, *c;

	follow(x, NULL);
	o = file(x, x->orig);
	assert_int_equal(take(x, o, 1500, 1000), 1500); /* behind: one short read */
	o->committed_off = 1000; /* stored up to here */

	copy_bytes(x, 0);
	log_tail_scan(&x->t, 1100);
	c = file(x, x->copy);
	assert_true(c->undecided);
	copy_bytes(x, 30); /* a beginning of the original's: may still be its copy */
	assert_int_equal(drain(x, c, 1200), 0);
	assert_true(c->undecided);
	copy_bytes(x, 3000); /* past the fingerprint: a copy, and the original still holds it */
	assert_int_equal(drain(x, c, 1300), 0);
	assert_ptr_equal(c->copy_of, o);
	assert_false(c->undecided);
	assert_int_equal(x->t.stats.copies, 1);

	assert_int_equal(take(x, o, 1000, 1400), 1000); /* the original is read on, to 2500 */
	truncate_and_write(x, "fresh content after the truncation\n");
	assert_int_equal(drain(x, o, 1500), strlen("fresh content after the truncation\n"));
	assert_int_equal(x->t.stats.truncations, 1);
	assert_null(c->copy_of);
	assert_int_equal(c->read_off, 2500);
	assert_int_equal(c->committed_off, 1000); /* what the original had not stored */
	assert_int_equal(drain(x, c, 1600), 3000 - 2500);
	assert_int_equal(x->t.stats.copies, 1);
}

/* A copy shorter than what the original had been read to holds nothing new. */
static void test_copy_shorter_than_read(void **state)
{
	struct fixture *x = *state;
	struct log_file *o, *c;

	follow(x, NULL);
	o = file(x, x->orig);
	assert_int_equal(drain(x, o, 1000), 4000);
	o->committed_off = 4000;
	copy_bytes(x, 3000);
	log_tail_scan(&x->t, 1100);
	c = file(x, x->copy);
	assert_ptr_equal(c->copy_of, o);
	truncate_and_write(x, "new\n");
	assert_int_equal(drain(x, o, 1200), 4);
	assert_int_equal(c->read_off, 3000);
	assert_int_equal(drain(x, c, 1300), 0);
}

static void checkpoint_fp(struct fixture *x, struct log_ckpt *c, uint64_t off, uint32_t fp_len)
{
	struct log_ckpt_entry e = {
		.fp_len = fp_len, .off = off, .pending_off = off, .path = x->orig
	};
	struct stat st;

	assert_int_equal(stat(x->orig, &st), 0);
	e.dev = st.st_dev;
	e.ino = st.st_ino;
	e.fp = log_tail_hash(x->content, fp_len);
	memset(c, 0, sizeof(*c));
	assert_int_equal(log_ckpt_add(c, &e), 0);
}

static void checkpoint_of(struct fixture *x, struct log_ckpt *c, uint64_t off)
{
	checkpoint_fp(x, c, off, 1024);
}

/* Down during the whole copytruncate: the original is new content, the copy resumes. */
static void test_copy_while_down(void **state)
{
	struct fixture *x = *state;
	struct log_ckpt restored;

	checkpoint_of(x, &restored, 1800);
	copy_bytes(x, 4000);
	truncate_and_write(x, "after the restart\n");
	follow(x, &restored);
	assert_int_equal(x->t.stats.inode_reuse, 1);
	assert_int_equal(x->t.stats.copies, 1);
	assert_int_equal(drain(x, file(x, x->orig), 1100), strlen("after the restart\n"));
	assert_int_equal(file(x, x->copy)->read_off, 1800);
	assert_int_equal(file(x, x->copy)->committed_off, 1800);
	assert_int_equal(drain(x, file(x, x->copy), 1200), 4000 - 1800);
	log_ckpt_free(&restored);
}

/* Down in the middle of the copy: the original resumes and is read on; the copy waits. */
static void test_restart_mid_copy(void **state)
{
	struct fixture *x = *state;
	struct log_ckpt restored;
	struct log_file *o, *c;

	checkpoint_of(x, &restored, 1800);
	copy_bytes(x, 2000);
	follow(x, &restored);
	o = file(x, x->orig);
	c = file(x, x->copy);
	assert_int_equal(o->read_off, 1800);
	assert_int_equal(x->t.stats.resumed, 1);
	assert_ptr_equal(c->copy_of, o);
	assert_int_equal(drain(x, c, 1100), 0);
	copy_bytes(x, 4000);
	assert_int_equal(drain(x, o, 1200), 4000 - 1800);
	truncate_and_write(x, "new\n");
	assert_int_equal(drain(x, o, 1300), 4);
	assert_int_equal(c->read_off, 4000);
	assert_int_equal(drain(x, c, 1400), 0);
	log_ckpt_free(&restored);
}

/* The checkpoint's fingerprint is shorter than the copy's start: the original still rules. */
static void test_restart_mid_copy_short_checkpoint(void **state)
{
	struct fixture *x = *state;
	struct log_ckpt restored;
	struct log_file *o, *c;

	checkpoint_fp(x, &restored, 400, 500); /* the original had 500 bytes then */
	copy_bytes(x, 500);
	follow(x, &restored);
	o = file(x, x->orig);
	c = file(x, x->copy);
	assert_int_equal(o->read_off, 400);
	assert_true(c->undecided);
	assert_int_equal(drain(x, c, 1100), 0);
	copy_bytes(x, 4000);
	assert_int_equal(drain(x, c, 1200), 0);
	assert_ptr_equal(c->copy_of, o);
	log_ckpt_free(&restored);
}

/* New files that are no copy: other bytes at once, a stalled beginning after the wait. */
static void test_not_a_copy(void **state)
{
	struct fixture *x = *state;
	struct log_file *c;

	follow(x, NULL);
	put(x->copy, "something else entirely\n", 24, false);
	log_tail_scan(&x->t, 1100);
	c = file(x, x->copy);
	assert_false(log_tail_waiting(c));
	assert_int_equal(drain(x, c, 1200), 24);
	assert_int_equal(x->t.stats.copies, 0);

	unlink(x->copy);
	log_tail_scan(&x->t, 1300);
	copy_bytes(x, 40); /* the original's first 40 bytes, and no more */
	log_tail_scan(&x->t, 2000);
	c = file(x, x->copy);
	assert_true(c->undecided);
	assert_int_equal(drain(x, c, 2000 + LOG_TAIL_UNDECIDED_MS - 1), 0);
	assert_int_equal(drain(x, c, 2000 + LOG_TAIL_UNDECIDED_MS), 40);
	assert_int_equal(x->t.stats.copies, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_copy_while_following, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_shorter_than_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_while_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_mid_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_mid_copy_short_checkpoint, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_not_a_copy, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
