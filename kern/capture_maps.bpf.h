/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Maps and small helpers shared by the capture programs. The maps named here
 * are pinned under /sys/fs/bpf/kerno/ by userspace.
 */
#ifndef KERNO_CAPTURE_MAPS_BPF_H
#define KERNO_CAPTURE_MAPS_BPF_H

#include "capture.h"

/* Bytes of user memory read at a time while looking for line ends. */
#define KERNO_WIN 256
/* Iovecs parsed per segment list (readv, writev, one message's msghdr). */
#define KERNO_MAX_IOV 8
/* Batches of KERNO_MAX_IOV iovecs followed per call (64 iovecs). */
#define KERNO_IOV_BATCHES 8
/* Bytes of a line its parsers may look at (start line, header name and value). */
#define KERNO_LINE_VIEW KERNO_LINE_KEEP

/* Load-time settings, written by userspace before the programs load. */
const volatile __u32 self_tgid = 0;
const volatile __u32 max_header_bytes = 16384;
/* Processes (by command name) whose connections are left alone. */
const volatile char ignore_comm[KERNO_IGNORE_MAX][16] = {};

/* One entry per tracked TCP connection, keyed by its struct sock address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct kerno_conn);
} conns SEC(".maps");

/* One latency histogram per series; userspace reads deltas every interval. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct kerno_series_key);
	__type(value, struct kerno_series_val);
} series SEC(".maps");

/* Plain TCP connections, by series (see struct kerno_tcp_val). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct kerno_series_key);
	__type(value, struct kerno_tcp_val);
} tcp_series SEC(".maps");

/* Names of the processes seen, for userspace to report after they exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct kerno_proc);
} procs SEC(".maps");

/* Drops and connection events, indexed by enum kerno_counter. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KERNO_COUNTER__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/*
 * State of the parse of one segment (see http1.bpf.h). It lives in scratch
 * memory rather than on the stack: the verifier does not track values kept
 * in a map, so every step looks alike to it and is checked once.
 */
struct seg_ctx {
	__u64 ubuf; /* user address of the segment */
	__u64 now;
	__u32 len; /* bytes in the segment */
	__u32 off; /* bytes of it consumed */
	__u32 win_off; /* segment offset of win[0] */
	__u32 win_len; /* valid bytes in win, 0 when none */
	__u32 tid;
	__u32 dir;
	__u32 nl; /* line end found in this step */
	__u32 view; /* bytes of the message head in line[] (proto.bpf.h) */
	__u32 kept; /* of which kept from an earlier syscall */
	__u32 step; /* what the last step asked for (STEP_* in proto.bpf.h) */
	__u32 pad;
};

/* State of the endpoint templating loop (see template_char). */
struct tmpl_ctx {
	__u32 src_off; /* where the target starts in line[] */
	__u32 n; /* target bytes available */
	__u32 out; /* bytes written to tmpl[] */
	__u32 seg_start; /* where the current segment starts in tmpl[] */
	__u32 seg_len;
	__u8 seg_digit; /* a digit was seen in the segment */
	__u8 seg_hexish; /* only hex digits and dashes so far */
	__u8 seg_first_digit;
	__u8 pad;
};

/*
 * A call handed by an entry program to the parser program it tail-calls
 * (kern/capture.bpf.c, "One parser per hook"; kern/tls.bpf.c): what the
 * entry saw of it, besides the context both share. The parser takes it at
 * once, and only in the thread that wrote it.
 */
struct parse_job {
	__u64 pid_tgid; /* the thread the job is for; 0 once taken */
	__u64 key; /* the connection's key (TLS: the parser has no socket) */
	__u64 now;
	__u64 nr; /* the syscall (capture) */
	__u64 buf; /* its buffer argument (capture), the plaintext (TLS) */
	__u64 arg2; /* its iovec count or vector length (capture) */
	__s64 ret; /* bytes moved */
	__u32 dir;
	__s32 flags; /* the socket call's MSG_* flags */
};

/*
 * Per-CPU working memory. A program never runs twice at once on one CPU (the
 * kernel skips and counts a recursive run), so this is private to one run.
 */
struct kerno_scratch {
	char win[KERNO_WIN + KERNO_LINE_VIEW + 8]; /* window of user bytes */
	char line[2 * KERNO_LINE_VIEW + 32]; /* head of the current line */
	char tmpl[2 * KERNO_PATH_LEN]; /* endpoint template being built */
	struct seg_ctx seg;
	struct tmpl_ctx tm;
	__u64 hdr[8]; /* a struct mmsghdr: see read_hdr() */
	__u64 iov[2 * KERNO_MAX_IOV]; /* the iovecs of one call: base, length */
	struct parse_job job; /* from an entry program to its parser program */
	__u64 sock_key; /* see scalar_key() in capture.bpf.c */
	struct kerno_series_key key; /* a series key being built (proto.bpf.h) */
	/* An HTTP/2 stream's key and entry (proto_http2.bpf.h): off the stack, which
	 * before 5.12 or so is 512 bytes for the whole call chain and is all used. */
	struct kerno_h2_stream_key h2_key;
	struct kerno_h2_stream h2_val;
	struct kerno_proc new_proc; /* a procs entry being made (remember_proc()); drops stay zero */
	struct kerno_conn zero_conn; /* stays zeroed: new entries */
	struct kerno_series_val zero_series; /* stays zeroed: new series */
	struct kerno_tcp_val zero_tcp; /* stays zeroed: new plain TCP series */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kerno_scratch);
} scratch SEC(".maps");

/*
 * Where a thread is in an mmsg call (sock hooks only: they run once per
 * message, not once per call): the entry its next message belongs to.
 */
struct mmsg_pos {
	__u64 vec; /* the call's mmsghdr vector, in user memory */
	__u32 next; /* entry of the next message */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct mmsg_pos);
} mmsg_pos SEC(".maps");

/* Entries in mmsg_pos: while 0, a failed call needs no lookup to end one. */
__u64 mmsg_live = 0;

/*
 * i, or last if i is not below n, as an index the verifier can trust. A
 * plain C bounds check may be compiled onto a copy of the register that
 * then indexes, and verifiers before 6.3 or so do not carry the bound over
 * to the copy: the check and the use must be one register, in asm.
 */
static __always_inline __u64 bounded_index(__u64 i, __u64 n, __u64 last)
{
#ifdef __bpf__
	asm volatile("if %[i] < %[n] goto +1; %[i] = %[last];"
		     : [i] "+r"(i)
		     : [n] "r"(n), [last] "r"(last));
	return i;
#else
	return i < n ? i : last;
#endif
}

/*
 * Copy n bytes (a constant multiple of 8) a word at a time. Where clang
 * cannot see the source's alignment (a variable offset, a choice between
 * two fields), __builtin_memcpy becomes one load and one store per byte:
 * the line head in assemble_line() alone was an eighth of the capture's
 * time. Unaligned word loads are fine on the architectures we build for.
 */
static __always_inline void copy_words(void *dst, const void *src, const __u32 n)
{
	__u32 i;

#pragma unroll
	for (i = 0; i < n / 8; i++)
		((__u64 *)dst)[i] = ((const __u64 *)src)[i];
}

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void count_n(__u32 which, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		__sync_fetch_and_add(v, n);
}

/* A drop on c's traffic: counted node-wide and for c's process. */
static __always_inline void count_conn_n(const struct kerno_conn *c, __u32 which, __u64 n)
{
	__u32 tgid = c->tgid;
	struct kerno_proc *p;

	count_n(which, n);
	if (!tgid || which >= KERNO_DROP__COUNT)
		return;
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (p)
		__sync_fetch_and_add(&p->drops[which], n);
}

static __always_inline void count_conn(const struct kerno_conn *c, __u32 which)
{
	count_conn_n(c, which, 1);
}

static __always_inline struct kerno_scratch *get_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

/*
 * A parser program's job, left in per-CPU scratch by the program that
 * tail-called it, if it is the current thread's (pid_tgid): taken, so that
 * it is parsed once. A job of another thread (one that ran on this CPU in
 * between, should the kernel preempt programs) is not this run's: counted
 * as a lost hand-over, and NULL.
 */
static __always_inline struct parse_job *parse_job_claim(__u64 pid_tgid)
{
	struct kerno_scratch *sc = get_scratch();

	if (!sc)
		return NULL;
	if (sc->job.pid_tgid != pid_tgid) {
		count(KERNO_DROP_TAIL_CALL);
		return NULL;
	}
	sc->job.pid_tgid = 0;
	return &sc->job;
}

#endif /* KERNO_CAPTURE_MAPS_BPF_H */
