// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* preflight_caps(): which capability is missing, named in one actionable line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <linux/capability.h>

#include "preflight.h"

#define BIT(cap) (1ULL << (cap))
#define CAP_PERFMON_ 38
#define CAP_BPF_ 39
#define ALL_CAPS (~0ULL)

static void test_everything_held(void **state)
{
	char msg[512] = "untouched";

	assert_int_equal(preflight_caps(ALL_CAPS,
					PREFLIGHT_BPF | PREFLIGHT_PROCS | PREFLIGHT_FILES |
						PREFLIGHT_MEMLOCK,
					msg, sizeof(msg)),
			 0);
	assert_string_equal(msg, "untouched");
	assert_int_equal(preflight_caps(0, 0, msg, sizeof(msg)), 0);
}

static void test_none_held_names_cap_bpf_first(void **state)
{
	char msg[512];

	assert_int_equal(preflight_caps(0, PREFLIGHT_BPF, msg, sizeof(msg)), -1);
	assert_string_equal(msg,
			    "missing capability CAP_BPF (to load BPF programs and create maps): "
			    "run as root, or grant it (Kubernetes: "
			    "securityContext.capabilities.add: [BPF]; a host: setcap "
			    "cap_bpf,cap_perfmon+ep kerno)");
}

static void test_perfmon_missing(void **state)
{
	char msg[512];

	assert_int_equal(preflight_caps(BIT(CAP_BPF_), PREFLIGHT_BPF, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "missing capability CAP_PERFMON (to attach tracing programs)"));
	assert_non_null(strstr(msg, "capabilities.add: [PERFMON]"));
}

/* The kernel accepts CAP_SYS_ADMIN for what CAP_BPF and CAP_PERFMON allow, nothing more here. */
static void test_sys_admin_stands_for_bpf_and_perfmon_only(void **state)
{
	char msg[512];

	assert_int_equal(preflight_caps(BIT(CAP_SYS_ADMIN), PREFLIGHT_BPF, msg, sizeof(msg)), 0);
	assert_int_equal(preflight_caps(BIT(CAP_SYS_ADMIN), PREFLIGHT_BPF | PREFLIGHT_PROCS, msg,
					sizeof(msg)),
			 -1);
	assert_string_equal(msg,
			    "missing capability CAP_SYS_PTRACE (to read /proc/PID/exe and "
			    "/proc/PID/root of other users' processes): run as root, or grant it "
			    "(Kubernetes: securityContext.capabilities.add: [SYS_PTRACE]; a host: "
			    "setcap cap_bpf,cap_perfmon,cap_sys_ptrace+ep kerno)");
	assert_int_equal(preflight_caps(BIT(CAP_SYS_ADMIN), PREFLIGHT_FILES, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "missing capability CAP_DAC_READ_SEARCH "));
}

/* Preon's set in deploy/preon.yaml: enough for everything but the pre-5.11 memlock rlimit. */
static void test_preon_manifest_set(void **state)
{
	__u64 preon = BIT(CAP_BPF_) | BIT(CAP_PERFMON_) | BIT(CAP_SYS_PTRACE) |
		      BIT(CAP_DAC_READ_SEARCH);
	char msg[512];

	assert_int_equal(preflight_caps(preon, PREFLIGHT_BPF | PREFLIGHT_PROCS | PREFLIGHT_FILES,
					msg, sizeof(msg)),
			 0);
	assert_int_equal(preflight_caps(preon, PREFLIGHT_BPF | PREFLIGHT_MEMLOCK, msg, sizeof(msg)),
			 -1);
	assert_string_equal(msg,
			    "missing capability CAP_SYS_RESOURCE (to raise RLIMIT_MEMLOCK for BPF "
			    "maps on this kernel (before 5.11)): run as root, or grant it "
			    "(Kubernetes: securityContext.capabilities.add: [SYS_RESOURCE]; a "
			    "host: setcap cap_bpf,cap_perfmon,cap_sys_resource+ep kerno)");
}

/* A short buffer gets a truncated, terminated line, and nothing past its end (ASan). */
static void test_short_buffer(void **state)
{
	char msg[17];

	memset(msg, 'x', sizeof(msg));
	assert_int_equal(preflight_caps(0, PREFLIGHT_BPF, msg, 16), -1);
	assert_string_equal(msg, "missing capabil");
	assert_int_equal(msg[16], 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_everything_held),
		cmocka_unit_test(test_none_held_names_cap_bpf_first),
		cmocka_unit_test(test_perfmon_missing),
		cmocka_unit_test(test_sys_admin_stands_for_bpf_and_perfmon_only),
		cmocka_unit_test(test_preon_manifest_set),
		cmocka_unit_test(test_short_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
