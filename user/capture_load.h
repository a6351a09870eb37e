/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Loading, attaching and pinning the capture programs (kern/capture.bpf.c). */
#ifndef KERNO_CAPTURE_LOAD_H
#define KERNO_CAPTURE_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

struct capture_bpf;

/*
 * Where the capture hooks in (see kern/capture.bpf.c), best first: the
 * first one this kernel has is the "auto" choice.
 */
enum capture_hook {
	CAPTURE_HOOK_SOCK, /* tp_btf/sock_{send,recv}_length: socket I/O only (6.3+) */
	CAPTURE_HOOK_FEXIT, /* fexit on tcp_sendmsg/tcp_recvmsg: the same, with trampolines */
	CAPTURE_HOOK_SYS_EXIT, /* tp_btf/sys_exit: every syscall, fd-table walk */
	CAPTURE_HOOK_RAW_TP, /* raw_tp/sys_exit: the same without BTF-typed tracepoints */
	CAPTURE_HOOK__COUNT,
};

extern const char *const capture_hook_names[CAPTURE_HOOK__COUNT];

/*
 * Leave the flavours named in `list` (comma-separated) out of every choice,
 * as if this kernel lacked them: how tests show that the fallbacks work.
 * -1 with a one-line reason in err when a name is unknown.
 */
int capture_disable_hooks(const char *list, char *err, size_t errlen);

/* Does the running kernel have this function (in its BTF)? */
bool capture_have_function(const char *name);

/* Can this kernel attach flavour h (and has it not been disabled)? */
bool capture_hook_available(enum capture_hook h);

/*
 * The flavour `name` names ("auto" or NULL: the best available), or -1 with
 * a one-line reason in err when the name is unknown or this kernel lacks it.
 */
int capture_pick_hook(const char *name, char *err, size_t errlen);

struct capture_opts {
	const char *pin_dir; /* where to pin the maps; NULL to not pin */
	__u32 max_conns; /* entries of the connection table */
	__u32 max_series; /* entries of the series table */
	__u32 max_header_bytes; /* header block size past which a message is given up */
	const char *hook; /* a flavour's name, or "auto" (or NULL): the best this kernel has */
	const char *disable_hooks; /* flavours to leave out, comma-separated, or NULL */
	bool verbose; /* pass libbpf's debug output (verifier logs) through */
	const char *ignore; /* comma-separated process names not to measure, or NULL */
};

struct capture {
	struct capture_bpf *skel;
	const char *hook; /* name of the flavour attached */
	char pin_dir[256]; /* empty when not pinned */
	int series_fd;
	int tcp_series_fd; /* plain TCP connections (struct kerno_tcp_val) */
	int counters_fd;
	int conns_fd;
	int procs_fd;
};

/*
 * Open, configure, load and attach. On failure returns a negative errno and
 * leaves a one-line reason in err.
 */
int capture_start(struct capture *cap, const struct capture_opts *o, char *err, size_t errlen);
void capture_stop(struct capture *cap);

/* Runs of the capture programs the kernel skipped (recursion), summed. */
__u64 capture_prog_misses(const struct capture *cap);

/*
 * Load every flavour on this kernel without attaching it and print, per
 * program, the instructions the verifier processed against its limit.
 * Returns 0, or a negative errno when a flavour does not load.
 */
int capture_verifier_report(FILE *out, const struct capture_opts *o);

/* Route libbpf's messages: warnings always, debug output only when verbose. */
void capture_set_libbpf_verbose(bool verbose);

#endif /* KERNO_CAPTURE_LOAD_H */
