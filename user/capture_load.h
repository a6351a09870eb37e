/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Loading, attaching and pinning the capture programs (kern/capture.bpf.c). */
#ifndef KERNO_CAPTURE_LOAD_H
#define KERNO_CAPTURE_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

struct capture_bpf;

struct capture_opts {
	const char *pin_dir; /* where to pin the maps; NULL to not pin */
	__u32 max_conns; /* entries of the connection table */
	__u32 max_series; /* entries of the series table */
	__u32 max_header_bytes; /* header block size past which a message is given up */
	bool force_raw_tp; /* skip tp_btf even where the kernel has it */
	bool sock_hints; /* use the sock_*_length tracepoints where present */
	bool verbose; /* pass libbpf's debug output (verifier logs) through */
	const char *ignore; /* comma-separated process names not to measure, or NULL */
};

struct capture {
	struct capture_bpf *skel;
	const char *hook; /* the flavour attached: "tp_btf" or "raw_tp" */
	bool sock_hints; /* the socket-hint programs are attached */
	char pin_dir[256]; /* empty when not pinned */
	int series_fd;
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
