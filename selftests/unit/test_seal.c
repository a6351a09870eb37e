// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Sealing at rest: round trips, truncation anywhere, tampering, keys and key files. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "seal.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/kerno-seal-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static const struct seal_key key1 = { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 } };
static const struct seal_key key2 = { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12 } };

static uint8_t *pattern(size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131 + (i >> 8));
	return p;
}

static void test_round_trip_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, 100, 65535, 65536, 65537, 3 * 65536, 200000 };
	size_t i, out_len;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i], slen = seal_size(len);
		uint8_t *in = pattern(len), *sealed = malloc(slen), *out = malloc(slen);

		assert_int_equal(slen, 24 + len + (len / 65536 + 1) * 16);
		assert_int_equal(seal_buf(&key1, in, len, sealed), 0);
		assert_int_equal(seal_open(&key1, sealed, slen, out, &out_len), 0);
		assert_int_equal(out_len, len);
		assert_memory_equal(out, in, len);
		free(in);
		free(sealed);
		free(out);
	}
}

/* Every prefix of a three-chunk object must be refused, boundaries included. */
static void test_every_truncation_refused(void **state)
{
	size_t len = 2 * 65536 + 10, slen = seal_size(len), cut, out_len;
	uint8_t *in = pattern(len), *sealed = malloc(slen), *out = malloc(slen);
	size_t cuts[] = { 0,
			  10,
			  23,
			  24,
			  39,
			  40,
			  24 + 65552,
			  24 + 65552 - 1,
			  24 + 65552 + 1,
			  24 + 2 * 65552,
			  24 + 2 * 65552 + 16,
			  slen - 1 };
	size_t i;

	assert_int_equal(seal_buf(&key1, in, len, sealed), 0);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		cut = cuts[i];
		assert_true(seal_open(&key1, sealed, cut, out, &out_len) < 0);
	}
	/* Exactly at a chunk boundary with an empty final chunk dropped. */
	free(in);
	free(sealed);
	free(out);
	len = 65536;
	slen = seal_size(len);
	in = pattern(len);
	sealed = malloc(slen);
	out = malloc(slen);
	assert_int_equal(seal_buf(&key1, in, len, sealed), 0);
	assert_int_equal(seal_open(&key1, sealed, slen - 16, out, &out_len), -EBADMSG);
	assert_int_equal(seal_open(&key1, sealed, slen, out, &out_len), 0);
	free(in);
	free(sealed);
	free(out);
}

static void test_tamper_and_wrong_key(void **state)
{
	size_t len = 70000, slen = seal_size(len), out_len, i;
	uint8_t *in = pattern(len), *sealed = malloc(slen), *out = malloc(slen);
	size_t spots[] = { 12, 20, 24, 5000, 24 + 65552 + 3, slen - 1 };

	assert_int_equal(seal_buf(&key1, in, len, sealed), 0);
	assert_int_equal(seal_open(&key2, sealed, slen, out, &out_len), -EBADMSG);
	for (i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		sealed[spots[i]] ^= 0x40;
		assert_int_equal(seal_open(&key1, sealed, slen, out, &out_len), -EBADMSG);
		sealed[spots[i]] ^= 0x40;
	}
	sealed[0] = 'X';
	assert_int_equal(seal_open(&key1, sealed, slen, out, &out_len), -EINVAL);
	free(in);
	free(sealed);
	free(out);
}

static void test_nonce_differs_each_seal(void **state)
{
	uint8_t a[64], b[64];

	assert_int_equal(seal_buf(&key1, "same", 4, a), 0);
	assert_int_equal(seal_buf(&key1, "same", 4, b), 0);
	assert_memory_not_equal(a + 12, b + 12, 12);
	assert_memory_not_equal(a + 24, b + 24, 4 + 16);
}

static void write_text(const char *p, const char *text, size_t len)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void test_key_file_created_0600_and_reloaded(void **state)
{
	struct seal_key a, b;
	char p[128], err[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/new.key", dir);
	assert_int_equal(seal_key_load(p, &a, err, sizeof(err)), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(seal_key_load(p, &b, err, sizeof(err)), 0);
	assert_memory_equal(a.k, b.k, 32);
}

static void test_key_formats(void **state)
{
	struct seal_key k;
	char p[128], err[256], want[256];
	uint8_t expect[32];
	int i;

	for (i = 0; i < 32; i++)
		expect[i] = (uint8_t)i;
	snprintf(p, sizeof(p), "%s/k", dir);
	write_text(p, "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F\n", 65);
	assert_int_equal(seal_key_load(p, &k, err, sizeof(err)), 0);
	assert_memory_equal(k.k, expect, 32);
	write_text(p, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 45);
	assert_int_equal(seal_key_load(p, &k, err, sizeof(err)), 0);
	assert_memory_equal(k.k, expect, 32);
	write_text(p, (const char *)expect, 32);
	assert_int_equal(seal_key_load(p, &k, err, sizeof(err)), 0);
	assert_memory_equal(k.k, expect, 32);
	write_text(p, "too short\n", 10);
	assert_int_equal(seal_key_load(p, &k, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
		 "key file %s: expected 32 bytes, raw, as 64 hex digits or in base64", p);
	assert_string_equal(err, want);
	snprintf(p, sizeof(p), "%s/no/such/dir/k", dir);
	assert_int_equal(seal_key_load(p, &k, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "key file %s: cannot create: No such file or directory", p);
	assert_string_equal(err, want);
}

static void test_file_round_trip_no_plaintext(void **state)
{
	static const char canary[] = "kerno-canary-4f1e2d";
	char p[128], tmp[160], raw[4096];
	uint8_t *back = NULL;
	size_t len;
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/obj.sealed", dir);
	assert_int_equal(seal_write_file(&key1, p, canary, sizeof(canary)), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	assert_int_equal(access(tmp, F_OK), -1);
	fd = open(p, O_RDONLY);
	n = read(fd, raw, sizeof(raw));
	close(fd);
	assert_int_equal(n, (ssize_t)seal_size(sizeof(canary)));
	assert_null(memmem(raw, (size_t)n, canary, sizeof(canary) - 1));
	assert_int_equal(seal_read_file(&key1, p, &back, &len), 0);
	assert_int_equal(len, sizeof(canary));
	assert_memory_equal(back, canary, len);
	free(back);
	assert_int_equal(truncate(p, n - 1), 0);
	assert_int_equal(seal_read_file(&key1, p, &back, &len), -EBADMSG);
	snprintf(p, sizeof(p), "%s/missing", dir);
	assert_int_equal(seal_read_file(&key1, p, &back, &len), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_sizes),
		cmocka_unit_test(test_every_truncation_refused),
		cmocka_unit_test(test_tamper_and_wrong_key),
		cmocka_unit_test(test_nonce_differs_each_seal),
		cmocka_unit_test(test_key_file_created_0600_and_reloaded),
		cmocka_unit_test(test_key_formats),
		cmocka_unit_test(test_file_round_trip_no_plaintext),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
