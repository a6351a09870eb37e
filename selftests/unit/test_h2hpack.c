// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * user/h2hpack.c over header blocks written by hand (RFC 7541): a whole
 * sequence, a decoder that joined late, and one that missed a block, whose
 * references to older dynamic entries must come out lost, never wrong.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_joined_late),
		cmocka_unit_test(test_block_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
