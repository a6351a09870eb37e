// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* uprobe_multi links through the bpf() system call (see uprobe_multi.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

#include "preflight.h"
#include "uprobe_multi.h"

#define UPROBE_MULTI_RETURN 1U /* BPF_F_UPROBE_MULTI_RETURN */

/* union bpf_attr's link_create for uprobe_multi, as of Linux 6.6. */
struct uprobe_multi_link_attr {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__aligned_u64 path;
	__aligned_u64 offsets;
	__aligned_u64 ref_ctr_offsets;
	__aligned_u64 cookies;
	__u32 cnt;
	__u32 multi_flags;
	__u32 pid;
};

bool uprobe_multi_supported(void)
{
	return kernel_at_least(6, 6);
}

int uprobe_multi_attach(int prog_fd, const char *path, const __u64 *offsets, __u32 cnt, bool ret)
{
	struct uprobe_multi_link_attr attr;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = prog_fd;
	attr.attach_type = UPROBE_MULTI_ATTACH_TYPE;
	attr.path = (__u64)(unsigned long)path;
	attr.offsets = (__u64)(unsigned long)offsets;
	attr.cnt = cnt;
	attr.multi_flags = ret ? UPROBE_MULTI_RETURN : 0;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : (int)fd;
}
