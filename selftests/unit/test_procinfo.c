// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Container ids from cgroup paths, and the /proc cache against a fake /proc tree. */
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

#include "procinfo.h"

#define ID "4f1e5b2c9d8a7e6f5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
#define ID2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void expect_cid(const char *text, const char *want)
{
	char out[PROCINFO_CID_LEN + 1] = "junk";
	int ret = procinfo_container_id_from_cgroup(text, out);

	assert_string_equal(out, want);
	assert_int_equal(ret, want[0] ? 0 : -ENOENT);
}

static void test_cid_shapes(void **state)
{
	expect_cid("0::/system.slice/docker-" ID ".scope\n", ID);
	expect_cid(
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f6a_"
		"4b7c_8d9e_0f1a2b3c4d5e.slice/cri-containerd-" ID ".scope\n",
		ID);
	expect_cid("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podabc.slice/"
		   "crio-" ID ".scope\n",
		   ID);
	expect_cid("12:memory:/docker/" ID "\n", ID);
	expect_cid("11:pids:/kubepods/burstable/pod1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e/" ID "\n",
		   ID);
	expect_cid("0::/machine.slice/libpod-" ID ".scope/container\n", ID);
	/* A nested cgroup inside the container still names it. */
	expect_cid("0::/docker/" ID "/init.scope\n", ID);
	/* cgroup v1: the id of the first line that has one; no trailing newline. */
	expect_cid("13:rdma:/\n12:cpuset:/docker/" ID "\n11:memory:/docker/" ID, ID);
	/* The innermost container wins. */
	expect_cid("0::/docker/" ID "/docker/" ID2 "\n", ID2);
}

static void test_cid_none(void **state)
{
	expect_cid("", "");
	expect_cid("0::/\n", "");
	expect_cid("0::/user.slice/user-0.slice/session-1.scope\n", "");
	expect_cid("0::/system.slice/docker.service\n", "");
	/* conmon runs beside the container, not in it. */
	expect_cid("0::/machine.slice/crio-conmon-" ID ".scope\n", "");
	/* 63 and 65 digits, upper case, a non-hex letter, no colons at all. */
	expect_cid("0::/docker/"
		   "4f1e5b2c9d8a7e6f5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2\n",
		   "");
	expect_cid("0::/docker/" ID "0\n", "");
	expect_cid("0::/docker/4F1E5B2C9D8A7E6F5B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A\n",
		   "");
	expect_cid("0::/docker/g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
		   "");
	expect_cid(ID "\n", "");
	expect_cid("\n\n::\n:::::\n///\n0::/docker-.scope\n", "");
}

/* A fake /proc with one process: comm, cgroup and optionally an exe link. */
struct fake {
	char root[64];
};

static void put(const char *root, const char *pid, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", root, pid, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void unlink_pid(const char *root, const char *pid)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", root, pid);
	assert_int_equal(system(cmd), 0);
}

static int fake_setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	char path[256];

	snprintf(f->root, sizeof(f->root), "/tmp/kerno-proc-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	put(f->root, "100", "comm", "worker-thread\n");
	put(f->root, "100", "cgroup", "0::/system.slice/docker-" ID ".scope\n");
	snprintf(path, sizeof(path), "%s/100/exe", f->root);
	assert_int_equal(symlink("/usr/sbin/nginx (deleted)", path), 0);
	put(f->root, "200", "comm", "bash\n");
	put(f->root, "200", "cgroup", "0::/user.slice\n");
	put(f->root, "300", "comm", "three\n");
	*state = f;
	return 0;
}

static int fake_teardown(void **state)
{
	struct fake *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_lookup_fake(void **state)
{
	struct fake *f = *state;
	struct procinfo_cache *c = procinfo_cache_new(f->root, 0, 60);
	struct procinfo info;

	assert_non_null(c);
	assert_int_equal(procinfo_lookup(c, 100, &info), 0);
	assert_string_equal(info.exe, "nginx"); /* exe over comm, " (deleted)" cut */
	assert_string_equal(info.container_id, ID);
	assert_int_equal(procinfo_lookup(c, 200, &info), 0);
	assert_string_equal(info.exe, "bash"); /* no exe link: comm */
	assert_string_equal(info.container_id, "");
	assert_int_equal(procinfo_lookup(c, 999, &info), -ESRCH);
	assert_int_equal(procinfo_cache_size(c), 2);
	procinfo_cache_free(c);
}

static void test_cache_ttl_and_prune(void **state)
{
	struct fake *f = *state;
	struct procinfo_cache *cached = procinfo_cache_new(f->root, 0, 60);
	struct procinfo_cache *fresh = procinfo_cache_new(f->root, 0, 0);
	struct procinfo info;

	assert_int_equal(procinfo_lookup(cached, 200, &info), 0);
	assert_int_equal(procinfo_lookup(fresh, 200, &info), 0);
	put(f->root, "200", "comm", "zsh\n");
	assert_int_equal(procinfo_lookup(cached, 200, &info), 0);
	assert_string_equal(info.exe, "bash"); /* within 60 s: cached */
	assert_int_equal(procinfo_lookup(fresh, 200, &info), 0);
	assert_string_equal(info.exe, "zsh"); /* ttl 0: reread */

	/* Gone: still known until pruned, so the last interval keeps its name. */
	unlink_pid(f->root, "200");
	assert_int_equal(procinfo_lookup(cached, 200, &info), 0);
	assert_string_equal(info.exe, "bash");
	assert_int_equal(procinfo_lookup(fresh, 200, &info), -ESRCH);
	assert_int_equal(procinfo_cache_size(fresh), 0);
	assert_int_equal(procinfo_cache_prune(cached), 1);
	assert_int_equal(procinfo_cache_size(cached), 0);
	assert_int_equal(procinfo_lookup(cached, 200, &info), -ESRCH);
	procinfo_cache_free(cached);
	procinfo_cache_free(fresh);
}

static void test_cache_bound(void **state)
{
	struct fake *f = *state;
	struct procinfo_cache *c = procinfo_cache_new(f->root, 2, 60);
	struct procinfo info;

	assert_int_equal(procinfo_lookup(c, 100, &info), 0);
	assert_int_equal(procinfo_lookup(c, 200, &info), 0);
	put(f->root, "100", "cgroup", "0::/\n");
	assert_int_equal(procinfo_lookup(c, 300, &info), 0);
	assert_string_equal(info.exe, "three");
	assert_int_equal(procinfo_cache_size(c), 2);
	/* 100 was the oldest: evicted, so reading it again sees the new cgroup. */
	assert_int_equal(procinfo_lookup(c, 100, &info), 0);
	assert_string_equal(info.container_id, "");
	assert_int_equal(procinfo_cache_size(c), 2);
	procinfo_cache_free(c);
}

static void test_lookup_self(void **state)
{
	struct procinfo_cache *c = procinfo_cache_new(NULL, 16, 60);
	char text[4096] = "", want[PROCINFO_CID_LEN + 1];
	struct procinfo info;
	FILE *f = fopen("/proc/self/cgroup", "r");
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	procinfo_container_id_from_cgroup(text, want);
	assert_int_equal(procinfo_lookup_cb(c, getpid(), &info), 0);
	assert_string_equal(info.exe, "test_procinfo");
	assert_string_equal(info.container_id, want);
	procinfo_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cid_shapes),
		cmocka_unit_test(test_cid_none),
		cmocka_unit_test_setup_teardown(test_lookup_fake, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_cache_ttl_and_prune, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_cache_bound, fake_setup, fake_teardown),
		cmocka_unit_test(test_lookup_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
