// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * user/h2hpack.c over header blocks written by hand (RFC 7541): a whole
 * sequence, a decoder that joined late, and one that missed a block, whose
 * references to older dynamic entries must come out lost, never wrong; and
 * the traceparent header, taken only when it is valid.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "h2hpack.h"

/* :method GET (static 2), then :path as a literal added to the table (name: static 4). */
static const uint8_t get_a[] = { 0x82, 0x44, 0x02, '/', 'a' };
static const uint8_t get_b[] = { 0x82, 0x44, 0x02, '/', 'b' };
static const uint8_t get_c[] = { 0x82, 0x44, 0x02, '/', 'c' };
/* :method GET, :path the newest dynamic entry (62), or the one before it (63). */
static const uint8_t get_newest[] = { 0x82, 0xbe };
static const uint8_t get_second[] = { 0x82, 0xbf };

/* Decode one block into fresh fields: the fields lost; the path in path. */
static int decode(struct h2_hpack *h, const uint8_t *in, size_t len, char *path)
{
	struct h2_fields f = { 0 };
	int lost = h2_hpack_block(h, in, len, &f);

	assert_string_equal(f.method, "GET");
	strcpy(path, f.path);
	return lost;
}

static void test_whole(void **state)
{
	struct h2_hpack *h = h2_hpack_new();
	char path[H2_PATH_MAX];

	assert_non_null(h);
	assert_int_equal(decode(h, get_a, sizeof(get_a), path), 0);
	assert_string_equal(path, "/a");
	assert_int_equal(decode(h, get_b, sizeof(get_b), path), 0);
	assert_int_equal(decode(h, get_newest, sizeof(get_newest), path), 0);
	assert_string_equal(path, "/b");
	assert_int_equal(decode(h, get_second, sizeof(get_second), path), 0);
	assert_string_equal(path, "/a");
	assert_int_equal(h2_hpack_resets(h), 0);
	h2_hpack_free(h);
}

static void test_joined_late(void **state)
{
	struct h2_hpack *h = h2_hpack_new();
	char path[H2_PATH_MAX];

	/* The peer's table has entries this one never saw. */
	assert_int_equal(decode(h, get_newest, sizeof(get_newest), path), 1);
	assert_string_equal(path, "");
	assert_int_equal(decode(h, get_c, sizeof(get_c), path), 0);
	assert_int_equal(decode(h, get_newest, sizeof(get_newest), path), 0);
	assert_string_equal(path, "/c");
	h2_hpack_free(h);
}

static void test_block_lost(void **state)
{
	struct h2_hpack *h = h2_hpack_new();
	char path[H2_PATH_MAX];

	assert_int_equal(decode(h, get_a, sizeof(get_a), path), 0);
	/* get_b is lost: the peer's newest entry is /b, ours still /a. */
	h2_hpack_gap(h);
	assert_int_equal(decode(h, get_newest, sizeof(get_newest), path), 1);
	assert_string_equal(path, "");
	/* What is added after the gap sits where the peer has it... */
	assert_int_equal(decode(h, get_c, sizeof(get_c), path), 0);
	assert_int_equal(decode(h, get_newest, sizeof(get_newest), path), 0);
	assert_string_equal(path, "/c");
	/* ...and the entry before it is the peer's /b, not our /a. */
	assert_int_equal(decode(h, get_second, sizeof(get_second), path), 1);
	assert_string_equal(path, "");
	assert_int_equal(h2_hpack_resets(h), 0);
	h2_hpack_free(h);
}

/* A block of one field, "traceparent: value", a literal with a new name, not indexed. */
static struct h2_fields traceparent_fields(const char *value)
{
	struct h2_hpack *h = h2_hpack_new();
	struct h2_fields f = { 0 };
	uint8_t block[128] = { 0x00, 11 };
	size_t n = strlen(value);

	assert_non_null(h);
	assert_true(n < 100);
	memcpy(block + 2, "traceparent", 11);
	block[13] = n;
	memcpy(block + 14, value, n);
	assert_int_equal(h2_hpack_block(h, block, 14 + n, &f), 0);
	h2_hpack_free(h);
	return f;
}

static void test_traceparent(void **state)
{
	static const uint8_t trace[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
					   0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
	struct h2_fields f;

	f = traceparent_fields("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	assert_true(f.has_traceparent);
	assert_memory_equal(f.trace_id, trace, sizeof(trace));
	assert_int_equal(f.parent_id, 0x00f067aa0ba902b7ULL);
	/* Not taken: another version, capitals, ids all zero, too short. */
	f = traceparent_fields("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	assert_false(f.has_traceparent);
	f = traceparent_fields("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01");
	assert_false(f.has_traceparent);
	f = traceparent_fields("00-00000000000000000000000000000000-00f067aa0ba902b7-01");
	assert_false(f.has_traceparent);
	f = traceparent_fields("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01");
	assert_false(f.has_traceparent);
	f = traceparent_fields("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7");
	assert_false(f.has_traceparent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_joined_late),
		cmocka_unit_test(test_block_lost),
		cmocka_unit_test(test_traceparent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
