// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where tls_elf_inspect() puts the Go probes, on executables in miniature
 * (selftests/unit/fixtures/go_tls.S, built in four variants): past the
 * stack check of a function that has one, at the entry of one that has
 * none, on every RET of Read; nothing for Go before 1.17 or a Read without
 * a RET. The expected offsets come from the fixture's own labels, read here
 * from its symbol table.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tls_elf.h"

static char fixtures[1024];

/* The fixtures are built beside the unit tests: $(OUT)/unit/../fixtures/. */
static int find_fixtures(void **state)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -1;
	self[n] = '\0';
	snprintf(fixtures, sizeof(fixtures), "%s/../fixtures", dirname(self));
	return 0;
}

static void fixture(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", fixtures, name);
}

/* File offset of symbol name in the executable at path (its PT_LOAD segments). */
static uint64_t sym_offset(const char *path, const char *name)
{
	uint64_t off = 0, value = 0;
	Elf_Scn *scn = NULL;
	size_t i, n;
	GElf_Shdr sh;
	GElf_Phdr ph;
	GElf_Sym sym;
	Elf *elf;
	int fd;

	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	while ((scn = elf_nextscn(elf, scn)) && !value) {
		Elf_Data *data = elf_getdata(scn, NULL);

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !data)
			continue;
		for (i = 0; i < sh.sh_size / sh.sh_entsize; i++)
			if (gelf_getsym(data, (int)i, &sym) &&
			    !strcmp(elf_strptr(elf, sh.sh_link, sym.st_name), name))
				value = sym.st_value;
	}
	assert_int_equal(elf_getphdrnum(elf, &n), 0);
	for (i = 0; i < n && value; i++)
		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && value >= ph.p_vaddr &&
		    value < ph.p_vaddr + ph.p_filesz)
			off = value - ph.p_vaddr + ph.p_offset;
	elf_end(elf);
	close(fd);
	if (!off)
		fail_msg("no symbol %s in %s", name, path);
	return off;
}

static void inspect(const char *name, struct tls_elf_info *info, char *path, size_t size)
{
	fixture(path, size, name);
	assert_int_equal(tls_elf_inspect(path, info), 0);
}

/* The offset of the one point of kind hook, which must be there exactly once. */
static uint64_t point(const struct tls_elf_info *info, enum tls_hook hook)
{
	uint64_t off = 0;
	int seen = 0;
	size_t i;

	for (i = 0; i < info->n_points; i++)
		if (info->points[i].hook == hook) {
			off = info->points[i].offset;
			seen++;
		}
	if (seen != 1)
		fail_msg("hook %d: %d points, expected 1", hook, seen);
	return off;
}

static void test_go_probes_past_the_stack_check(void **state)
{
	struct tls_elf_info info;
	uint64_t rets[2] = { 0 };
	char path[PATH_MAX];
	size_t i, n = 0;

	inspect("go_tls", &info, path, sizeof(path));
	assert_int_equal(info.lib, TLS_LIB_GO);
	assert_int_equal(info.go_minor, 21);
	assert_int_equal(info.n_points, 5);
	assert_int_equal(point(&info, TLS_HOOK_GO_WRITE), sym_offset(path, "fixture_write_body"));
	assert_int_equal(point(&info, TLS_HOOK_GO_READ), sym_offset(path, "fixture_read_body"));
	/* No stack check (NOSPLIT): probed at its first instruction. */
	assert_int_equal(point(&info, TLS_HOOK_GO_HANDSHAKE),
			 sym_offset(path, "crypto/tls.(*Conn).handshakeContext"));
	for (i = 0; i < info.n_points; i++)
		if (info.points[i].hook == TLS_HOOK_GO_RET && n < 2)
			rets[n++] = info.points[i].offset;
	assert_int_equal(n, 2);
	assert_int_equal(rets[0], sym_offset(path, "fixture_read_ret1"));
	assert_int_equal(rets[1], sym_offset(path, "fixture_read_ret2"));
}

/* A compare against g.stackguard0 not followed by jbe is not the check: the entry is probed. */
static void test_go_other_branch_probes_the_entry(void **state)
{
	struct tls_elf_info info;
	char path[PATH_MAX];

	inspect("go_tls_odd", &info, path, sizeof(path));
	assert_int_equal(info.lib, TLS_LIB_GO);
	assert_int_equal(point(&info, TLS_HOOK_GO_WRITE),
			 sym_offset(path, "crypto/tls.(*Conn).Write"));
	assert_int_equal(point(&info, TLS_HOOK_GO_READ), sym_offset(path, "fixture_read_body"));
}

/* An executable whose Go functions cannot be followed: no probe, no library. */
static void assert_not_probed(const char *name, int go_minor)
{
	struct tls_elf_info info;
	char path[PATH_MAX];

	inspect(name, &info, path, sizeof(path));
	assert_int_equal(info.lib, TLS_LIB_NONE);
	assert_int_equal(info.go_minor, go_minor);
	assert_int_equal(info.n_points, 0);
}

/* Before Go 1.17 the arguments are on the stack, which the probes do not read. */
static void test_go_before_1_17_not_probed(void **state)
{
	assert_not_probed("go_tls_116", 16);
}

/* A Read whose returns cannot all be found is not probed at all. */
static void test_go_read_without_ret_not_probed(void **state)
{
	assert_not_probed("go_tls_noret", 21);
}

static void test_not_elf(void **state)
{
	char path[] = "/tmp/kerno-tls-elf-XXXXXX";
	struct tls_elf_info info;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	assert_int_equal(tls_elf_inspect(path, &info), -ENOEXEC);
	assert_int_equal(info.lib, TLS_LIB_NONE);
	unlink(path);
	assert_int_equal(tls_elf_inspect(path, &info), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_go_probes_past_the_stack_check),
		cmocka_unit_test(test_go_other_branch_probes_the_entry),
		cmocka_unit_test(test_go_before_1_17_not_probed),
		cmocka_unit_test(test_go_read_without_ret_not_probed),
		cmocka_unit_test(test_not_elf),
	};

	return cmocka_run_group_tests(tests, find_fixtures, NULL);
}
