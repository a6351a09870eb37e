/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Checks before loading anything: capabilities, BTF, bpffs, tracefs. */
#ifndef KERNO_PREFLIGHT_H
#define KERNO_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* What a command is about to do; each needs its own capabilities. */
enum preflight_need {
	PREFLIGHT_BPF = 1 << 0, /* load and attach programs: CAP_BPF, CAP_PERFMON */
	PREFLIGHT_PROCS = 1 << 1, /* read /proc/PID/exe and root of others: CAP_SYS_PTRACE */
	PREFLIGHT_FILES =
		1 << 2, /* read logs and container files of any owner: CAP_DAC_READ_SEARCH */
	PREFLIGHT_MEMLOCK = 1 << 3, /* raise RLIMIT_MEMLOCK (before 5.11): CAP_SYS_RESOURCE */
};

/*
 * Returns 0 when the effective capability set `effective` (bit N = capability N) holds every
 * capability `needs` calls for, else -1 with one line in msg naming the first one missing,
 * what it is for, and how to grant it. CAP_SYS_ADMIN stands for CAP_BPF and CAP_PERFMON, as
 * the kernel lets it.
 */
int preflight_caps(__u64 effective, unsigned int needs, char *msg, size_t len);

/*
 * Returns 0 when the agent can do what `needs` says here, else -1 with one line in msg that
 * says what is missing and what to do (exit code 2): this process's capabilities (with
 * PREFLIGHT_MEMLOCK added when the kernel charges BPF memory to RLIMIT_MEMLOCK and the limit
 * is finite), BTF, bpffs and tracefs. Mounts bpffs on /sys/fs/bpf and tracefs on
 * /sys/kernel/tracing when they are missing and this process may mount.
 */
int preflight_capture(unsigned int needs, char *msg, size_t len);

/* Is the running kernel release major.minor or later (false when uname() says nothing)? */
bool kernel_at_least(int major, int minor);

#endif /* KERNO_PREFLIGHT_H */
