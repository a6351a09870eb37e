// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

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

static int has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return !!(d[cap / 32].effective & (1U << (cap % 32)));
}

static int check_caps(char *msg, size_t len)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data)) {
		snprintf(msg, len, "cannot read this process's capabilities: %s", strerror(errno));
		return -1;
	}
	if (has_cap(data, CAP_SYS_ADMIN) || (has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON)))
		return 0;
	snprintf(msg, len,
		 "missing privilege: needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); "
		 "run as root or grant them (e.g. setcap cap_bpf,cap_perfmon+ep kerno)");
	return -1;
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

int preflight_capture(char *msg, size_t len)
{
	if (check_caps(msg, len))
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
