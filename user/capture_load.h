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
	__u32 max_procs; /* entries of the process table; 0: the map's own size */
	__u32 max_header_bytes; /* header block size past which a message is given up */
	const char *hook; /* a flavour's name, or "auto" (or NULL): the best this kernel has */
	const char *disable_hooks; /* flavours to leave out, comma-separated, or NULL */
	bool verbose; /* pass libbpf's debug output (verifier logs) through */
	const char *ignore; /* comma-separated process names not to measure, or NULL */
	/* Spans (kern/span.bpf.h); all off when !spans. */
	bool spans;
	__u32 span_baseline_bp; /* baseline, in basis points (10000: every trace) */
	__u64 span_slow_ns; /* every endpoint's threshold; 0: per endpoint, from its latencies */
	__u32 span_rate_cap; /* spans kept per endpoint and second; 0: no cap */
	__u32 span_payload_bytes; /* first bytes kept per direction; 0: none */
	__u32 span_payload_conns; /* connections whose request head is kept at once */
	__u32 span_ringbuf_bytes; /* a power of two, at least a page */
	__u32 h2_ringbuf_bytes; /* the same; 0: the map's own size */
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
	int span_events_fd; /* ring buffer of sampled spans; -1 without spans */
	int span_slow_fd; /* per endpoint slot thresholds (ns), written by userspace */
	int h2_events_fd; /* ring buffer of HTTP/2 header blocks and stream ends */
	int h2_streams_fd; /* HTTP/2 streams open, by connection and stream id */
	int h2_series_fd; /* HTTP/2 and gRPC series' totals, written for `kerno top` */
};

/* A one-line reason when the span or ring buffer options cannot work, else NULL. */
const char *capture_check_ring_opts(const struct capture_opts *o);

/*
 * Open, configure, load and attach. On failure returns a negative errno and
 * leaves a one-line reason in err.
 */
int capture_start(struct capture *cap, const struct capture_opts *o, char *err, size_t errlen);
void capture_stop(struct capture *cap);

/*
 * Detach the programs, keep the maps: nothing moves any more, so a last
 * read of the counters and the span ring buffer agree exactly.
 */
void capture_detach(struct capture *cap);

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
