// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "preflight.h"

#define BTF_VMLINUX "/sys/kernel/btf/vmlinux"
#define BPFFS_DIR "/sys/fs/bpf"
#define TRACEFS_DIR "/sys/kernel/tracing"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define CAP_BIT(cap) (1ULL << (cap))

struct cap_need {
	int cap;
	unsigned int needs; /* the PREFLIGHT_* that call for it */
	const char *name; /* as capabilities(7) spells it; Kubernetes drops the CAP_ */
	const char *why;
};

static const struct cap_need cap_needs[] = {
	{ CAP_BPF, PREFLIGHT_BPF, "CAP_BPF", "to load BPF programs and create maps" },
	{ CAP_PERFMON, PREFLIGHT_BPF, "CAP_PERFMON", "to attach tracing programs" },
	{ CAP_SYS_PTRACE, PREFLIGHT_PROCS, "CAP_SYS_PTRACE",
	  "to read /proc/PID/exe and /proc/PID/root of other users' processes" },
	{ CAP_DAC_READ_SEARCH, PREFLIGHT_FILES, "CAP_DAC_READ_SEARCH",
	  "to read log files and container files whatever their owner" },
	{ CAP_SYS_RESOURCE, PREFLIGHT_MEMLOCK, "CAP_SYS_RESOURCE",
	  "to raise RLIMIT_MEMLOCK for BPF maps on this kernel (before 5.11)" },
};

#define N_CAP_NEEDS (sizeof(cap_needs) / sizeof(cap_needs[0]))

static int held(__u64 effective, const struct cap_need *n)
{
	if (effective & CAP_BIT(n->cap))
		return 1;
	/* Before CAP_BPF and CAP_PERFMON existed, CAP_SYS_ADMIN granted both; it still does. */
	return (n->cap == CAP_BPF || n->cap == CAP_PERFMON) && (effective & CAP_BIT(CAP_SYS_ADMIN));
}

/* "cap_bpf,cap_perfmon" for setcap: every capability `needs` calls for. */
static void setcap_list(unsigned int needs, char *out, size_t len)
{
	size_t i, used = 0;
	char *p;

	out[0] = '\0';
	for (i = 0; i < N_CAP_NEEDS && used < len; i++)
		if (cap_needs[i].needs & needs)
			used += snprintf(out + used, len - used, "%s%s", used ? "," : "",
					 cap_needs[i].name);
	for (p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

int preflight_caps(__u64 effective, unsigned int needs, char *msg, size_t len)
{
	const struct cap_need *n;
	char all[128];
	size_t i;

	for (i = 0; i < N_CAP_NEEDS; i++) {
		n = &cap_needs[i];
		if (!(n->needs & needs) || held(effective, n))
			continue;
		setcap_list(needs, all, sizeof(all));
		snprintf(msg, len,
			 "missing capability %s (%s): run as root, or grant it (Kubernetes: "
			 "securityContext.capabilities.add: [%s]; a host: setcap %s+ep kerno)",
			 n->name, n->why, n->name + 4, all);
		return -1;
	}
	return 0;
}

/* Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK, which libbpf then raises. */
bool kernel_at_least(int major, int minor)
{
	struct utsname un;
	int ma = 0, mi = 0;

	if (uname(&un) || sscanf(un.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

static int memlock_needed(void)
{
	struct utsname u;
	struct rlimit rl;
	unsigned int major = 0, minor = 0;

	if (!getrlimit(RLIMIT_MEMLOCK, &rl) && rl.rlim_cur == RLIM_INFINITY)
		return 0;
	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return 0;
	return major < 5 || (major == 5 && minor < 11);
}

static int check_caps(unsigned int needs, char *msg, size_t len)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	__u64 effective;

	if (syscall(SYS_capget, &hdr, data)) {
		snprintf(msg, len, "cannot read this process's capabilities: %s", strerror(errno));
		return -1;
	}
	effective = data[0].effective | (__u64)data[1].effective << 32;
	if ((needs & PREFLIGHT_BPF) && memlock_needed())
		needs |= PREFLIGHT_MEMLOCK;
	return preflight_caps(effective, needs, msg, len);
}

static int is_fs(const char *dir, long magic)
{
	struct statfs st;

	return !statfs(dir, &st) && st.f_type == magic;
}

static int ensure_mounted(const char *dir, const char *type, long magic, char *msg, size_t len)
{
	if (is_fs(dir, magic))
		return 0;
	if (!mount(type, dir, type, 0, "mode=0700"))
		return 0;
	snprintf(msg, len,
		 "%s is not mounted on %s and mounting it failed (%s): mount it with "
		 "`mount -t %s %s %s`",
		 type, dir, strerror(errno), type, type, dir);
	return -1;
}

int preflight_capture(unsigned int needs, char *msg, size_t len)
{
	if (check_caps(needs, msg, len))
		return -1;
	if (access(BTF_VMLINUX, R_OK)) {
		snprintf(msg, len,
			 "this kernel exposes no BTF (%s: %s): use a kernel built with "
			 "CONFIG_DEBUG_INFO_BTF=y (most distributions since Linux 5.4)",
			 BTF_VMLINUX, strerror(errno));
		return -1;
	}
	if (ensure_mounted(BPFFS_DIR, "bpf", BPF_FS_MAGIC, msg, len))
		return -1;
	return ensure_mounted(TRACEFS_DIR, "tracefs", TRACEFS_MAGIC, msg, len);
}
