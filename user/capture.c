// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loading the capture programs: pick the best hook flavour this kernel has
 * (sock, else sys_exit, else raw_tp), size the maps from the configuration, load, attach,
 * and pin the maps under pin_dir so that bpftool and `kerno top` can read
 * them while the agent runs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kerno_types.h"
#include "../kern/capture.h"
#include "capture_load.h"
#include "capture.skel.h"
#include "floor.skel.h"
#include "preflight.h"
#include "span_sample.h"
#include "tls_probe.h"

/* Instructions the verifier may process for one program (since Linux 5.2). */
#define KERNO_VERIFIER_LIMIT 1000000U

static bool libbpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !libbpf_verbose)
		return 0;
	if (level == LIBBPF_INFO && !libbpf_verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void capture_set_libbpf_verbose(bool verbose)
{
	libbpf_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

/* Does the running kernel's BTF name this type (or function) of this kind? */
static bool have_btf(const char *name, __u32 kind)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool ret;

	if (!vmlinux)
		return false;
	ret = btf__find_by_name_kind(vmlinux, name, kind) > 0;
	btf__free(vmlinux);
	return ret;
}

bool capture_have_function(const char *name)
{
	return have_btf(name, BTF_KIND_FUNC);
}

static bool have_tracepoint(const char *name)
{
	char type[128];

	snprintf(type, sizeof(type), "btf_trace_%s", name);
	return have_btf(type, BTF_KIND_TYPEDEF);
}

/*
 * Can fexit programs attach here? Kernels without BPF trampolines (or with
 * them switched off) load them but refuse to attach: try the floor's empty
 * program on tcp_sendmsg for real.
 */
static bool fexit_attaches(void)
{
	/* A refusal is the answer, not an error to print. */
	libbpf_print_fn_t old = libbpf_set_print(libbpf_verbose ? libbpf_print : NULL);
	struct floor_bpf *skel = floor_bpf__open();
	struct bpf_program *prog;
	struct bpf_link *link = NULL;
	bool ok = false;

	if (!skel) {
		libbpf_set_print(old);
		return false;
	}
	bpf_object__for_each_program(prog, skel->obj)
	{
		bpf_program__set_autoload(prog, prog == skel->progs.floor_tcp_sendmsg);
	}
	if (!floor_bpf__load(skel))
		link = bpf_program__attach(skel->progs.floor_tcp_sendmsg);
	ok = link != NULL;
	bpf_link__destroy(link);
	floor_bpf__destroy(skel);
	libbpf_set_print(old);
	return ok;
}

static bool hook_disabled[CAPTURE_HOOK__COUNT];

int capture_disable_hooks(const char *list, char *err, size_t errlen)
{
	const char *p = list;
	size_t len;
	int h;

	while (p && *p) {
		len = strcspn(p, ",");
		for (h = 0; h < CAPTURE_HOOK__COUNT; h++)
			if (len == strlen(capture_hook_names[h]) &&
			    !strncmp(p, capture_hook_names[h], len))
				break;
		if (len && h == CAPTURE_HOOK__COUNT) {
			snprintf(
				err, errlen,
				"--disable-hooks %s: unknown flavour; use sock, fexit, sys_exit or "
				"raw_tp",
				list);
			return -1;
		}
		if (len)
			hook_disabled[h] = true;
		p += len + (p[len] == ',');
	}
	return 0;
}

const char *const capture_hook_names[CAPTURE_HOOK__COUNT] = {
	[CAPTURE_HOOK_SOCK] = "sock",
	[CAPTURE_HOOK_FEXIT] = "fexit",
	[CAPTURE_HOOK_SYS_EXIT] = "sys_exit",
	[CAPTURE_HOOK_RAW_TP] = "raw_tp",
};

bool capture_hook_available(enum capture_hook h)
{
	if (h >= CAPTURE_HOOK__COUNT || hook_disabled[h])
		return false;
	switch (h) {
	case CAPTURE_HOOK_SOCK:
		return have_tracepoint("sock_send_length") && have_tracepoint("sock_recv_length") &&
		       have_tracepoint("inet_sock_set_state");
	case CAPTURE_HOOK_FEXIT:
		/* bpf_get_func_ret() and bpf_get_func_arg_cnt(): Linux 5.17. */
		return kernel_at_least(5, 17) && have_btf("tcp_sendmsg", BTF_KIND_FUNC) &&
		       have_btf("tcp_recvmsg", BTF_KIND_FUNC) &&
		       have_tracepoint("inet_sock_set_state") && fexit_attaches();
	case CAPTURE_HOOK_SYS_EXIT:
		return have_tracepoint("sys_exit") && have_tracepoint("inet_sock_set_state");
	case CAPTURE_HOOK_RAW_TP:
		return true;
	default:
		return false;
	}
}

int capture_pick_hook(const char *name, char *err, size_t errlen)
{
	int h;

	if (!name || !strcmp(name, "auto")) {
		for (h = 0; h < CAPTURE_HOOK__COUNT; h++)
			if (capture_hook_available(h))
				return h;
		snprintf(err, errlen, "no capture hook flavour is available on this kernel");
		return -1;
	}
	for (h = 0; h < CAPTURE_HOOK__COUNT; h++) {
		if (strcmp(name, capture_hook_names[h]))
			continue;
		if (capture_hook_available(h))
			return h;
		snprintf(err, errlen, "--hook %s: this kernel cannot attach it (try --hook auto)",
			 name);
		return -1;
	}
	snprintf(err, errlen, "--hook %s: unknown; use auto, sock, fexit, sys_exit or raw_tp",
		 name);
	return -1;
}

/*
 * The BTF id of the prototype the kernel checks a tracing program's tail
 * calls against when it attaches to `name` (a function for fexit, the
 * btf_trace_ typedef's target for a tracepoint): programs may tail-call one
 * another only when theirs agree. 0 when the kernel's BTF does not say.
 */
static __s32 hook_proto(const struct btf *vmlinux, const char *name, bool tracepoint)
{
	const struct btf_type *t;
	char type[128];
	__s32 id;

	snprintf(type, sizeof(type), "%s%s", tracepoint ? "btf_trace_" : "", name);
	id = btf__find_by_name_kind(vmlinux, type, tracepoint ? BTF_KIND_TYPEDEF : BTF_KIND_FUNC);
	t = id > 0 ? btf__type_by_id(vmlinux, id) : NULL;
	if (t && tracepoint) {
		t = btf__type_by_id(vmlinux, t->type);
		if (!t || !btf_is_ptr(t))
			return 0;
	}
	return t && t->type > 0 ? (__s32)t->type : 0;
}

/* Can the send and receive hooks of flavour h share one parser program (kern/capture.bpf.c)? */
static bool one_parser(enum capture_hook h)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	const char *tx = h == CAPTURE_HOOK_SOCK ? "sock_send_length" : "tcp_sendmsg";
	const char *rx = h == CAPTURE_HOOK_SOCK ? "sock_recv_length" : "tcp_recvmsg";
	bool tp = h == CAPTURE_HOOK_SOCK;
	__s32 proto;

	if (!vmlinux)
		return false;
	proto = hook_proto(vmlinux, tx, tp);
	proto = proto && proto == hook_proto(vmlinux, rx, tp) ? proto : 0;
	btf__free(vmlinux);
	return proto != 0;
}

/*
 * The parser programs of the sock and fexit flavours (see "One parser per
 * hook" in kern/capture.bpf.c): loaded with the flavour, never attached;
 * the receive hook's only when it cannot tail-call the send hook's.
 */
static void choose_parsers(struct capture_bpf *skel, enum capture_hook h)
{
	typeof(skel->progs) *p = &skel->progs;
	bool tail_calls = h == CAPTURE_HOOK_SOCK || h == CAPTURE_HOOK_FEXIT;
	bool shared = tail_calls && one_parser(h);

	bpf_program__set_autoload(p->kerno_parse_sock_tx, h == CAPTURE_HOOK_SOCK);
	bpf_program__set_autoload(p->kerno_parse_sock_rx, h == CAPTURE_HOOK_SOCK && !shared);
	bpf_program__set_autoload(p->kerno_parse_tcp_tx, h == CAPTURE_HOOK_FEXIT);
	bpf_program__set_autoload(p->kerno_parse_tcp_rx, h == CAPTURE_HOOK_FEXIT && !shared);
	bpf_program__set_autoattach(p->kerno_parse_sock_tx, false);
	bpf_program__set_autoattach(p->kerno_parse_sock_rx, false);
	bpf_program__set_autoattach(p->kerno_parse_tcp_tx, false);
	bpf_program__set_autoattach(p->kerno_parse_tcp_rx, false);
}

/* The loaded program of these two, or NULL. */
static struct bpf_program *loaded(struct bpf_program *a, struct bpf_program *b)
{
	return bpf_program__fd(a) >= 0 ? a : bpf_program__fd(b) >= 0 ? b : NULL;
}

/* Put the loaded parser programs where the entry programs tail-call them. */
static int install_parsers(struct capture_bpf *skel)
{
	typeof(skel->progs) *p = &skel->progs;
	struct bpf_program *tx = loaded(p->kerno_parse_sock_tx, p->kerno_parse_tcp_tx);
	struct bpf_program *rx = loaded(p->kerno_parse_sock_rx, p->kerno_parse_tcp_rx);
	__u32 zero = 0;
	int fd;

	if (!tx)
		return 0; /* a flavour that parses in its entry program */
	fd = bpf_program__fd(tx);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.parse_tx_jmp), &zero, &fd, BPF_ANY))
		return -errno;
	fd = bpf_program__fd(rx ? rx : tx);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.parse_rx_jmp), &zero, &fd, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * Load the programs of flavour h, and only those. Kernels before 5.12 take
 * the legacy twins of the syscall programs, whose global functions take
 * scalars only (see skip_bytes() in kern/capture.bpf.c).
 */
static void choose_flavour(struct capture_bpf *skel, enum capture_hook h)
{
	typeof(skel->progs) *p = &skel->progs;
	bool legacy = !kernel_at_least(5, 12);

	bpf_program__set_autoload(p->kerno_sock_send, h == CAPTURE_HOOK_SOCK);
	bpf_program__set_autoload(p->kerno_sock_recv, h == CAPTURE_HOOK_SOCK);
	bpf_program__set_autoload(p->kerno_tcp_sendmsg, h == CAPTURE_HOOK_FEXIT);
	bpf_program__set_autoload(p->kerno_tcp_recvmsg, h == CAPTURE_HOOK_FEXIT);
	bpf_program__set_autoload(p->kerno_udp_sendmsg, h == CAPTURE_HOOK_FEXIT);
	bpf_program__set_autoload(p->kerno_udp_recvmsg, h == CAPTURE_HOOK_FEXIT);
	/* IPv6 may be a module, or missing. */
	bpf_program__set_autoload(p->kerno_udpv6_sendmsg,
				  h == CAPTURE_HOOK_FEXIT &&
					  have_btf("udpv6_sendmsg", BTF_KIND_FUNC));
	bpf_program__set_autoload(p->kerno_udpv6_recvmsg,
				  h == CAPTURE_HOOK_FEXIT &&
					  have_btf("udpv6_recvmsg", BTF_KIND_FUNC));
	/* Gone in 6.5, when splice learnt to go through tcp_sendmsg(). */
	bpf_program__set_autoload(p->kerno_tcp_sendpage,
				  h == CAPTURE_HOOK_FEXIT &&
					  have_btf("tcp_sendpage", BTF_KIND_FUNC));
	bpf_program__set_autoload(p->kerno_sys_exit, h == CAPTURE_HOOK_SYS_EXIT && !legacy);
	bpf_program__set_autoload(p->kerno_sys_exit_legacy, h == CAPTURE_HOOK_SYS_EXIT && legacy);
	bpf_program__set_autoload(p->kerno_sys_exit_raw, h == CAPTURE_HOOK_RAW_TP && !legacy);
	bpf_program__set_autoload(p->kerno_sys_exit_raw_legacy, h == CAPTURE_HOOK_RAW_TP && legacy);
	bpf_program__set_autoload(p->kerno_sock_state, h != CAPTURE_HOOK_RAW_TP);
	bpf_program__set_autoload(p->kerno_sock_state_raw, h == CAPTURE_HOOK_RAW_TP);
	choose_parsers(skel, h);
}

const char *capture_check_ring_opts(const struct capture_opts *o)
{
	__u32 rb = o->span_ringbuf_bytes, h2 = o->h2_ringbuf_bytes;

	if (h2 && (h2 < 4096 || (h2 & (h2 - 1))))
		return "--h2-ringbuf-bytes must be a power of two of at least 4096";
	if (!o->spans)
		return NULL;
	if (rb < 4096 || (rb & (rb - 1)))
		return "--span-ringbuf-bytes must be a power of two of at least 4096";
	if (o->span_payload_bytes > KERNO_SPAN_PAYLOAD_MAX)
		return "--span-payload-bytes is at most 4096";
	if (o->span_baseline_bp > 10000)
		return "--span-baseline is in basis points: at most 10000 (every trace)";
	return NULL;
}

/* The span settings (read-only data) and map sizes; spans off: none of it loads. */
static void configure_spans(struct capture_bpf *skel, const struct capture_opts *o)
{
	bool payloads = o->spans && o->span_payload_bytes;

	skel->rodata->spans_enabled = o->spans;
	bpf_program__set_autoload(skel->progs.kerno_span_fork, o->spans);
	skel->rodata->span_baseline = span_baseline_bound(o->span_baseline_bp);
	skel->rodata->span_slow_auto = o->span_slow_ns == 0;
	skel->rodata->span_slow_ns = o->span_slow_ns ? o->span_slow_ns : SPAN_SLOW_FALLBACK_NS;
	skel->rodata->span_rate_cap = o->span_rate_cap;
	skel->rodata->span_payload_bytes = o->spans ? o->span_payload_bytes : 0;
	bpf_map__set_max_entries(skel->maps.span_payloads,
				 payloads && o->span_payload_conns ? o->span_payload_conns : 1);
	if (o->spans) {
		/* Batched wakeups: the reader also polls with a timeout. */
		skel->rodata->span_wakeup_bytes = o->span_ringbuf_bytes / 8;
		bpf_map__set_max_entries(skel->maps.span_events, o->span_ringbuf_bytes);
	} else {
		bpf_map__set_max_entries(skel->maps.span_events, 4096);
		bpf_map__set_max_entries(skel->maps.span_threads, 1);
		bpf_map__set_max_entries(skel->maps.span_links, 1);
	}
}

/*
 * Fill the ignore list (rodata) from "name,name". With skel NULL, only
 * check it: -EINVAL if there are too many names or one is too long.
 */
static int set_ignore_list(struct capture_bpf *skel, const char *list)
{
	const char *p = list;
	size_t i = 0, len;

	while (p && *p) {
		len = strcspn(p, ",");
		if (len) {
			if (i == KERNO_IGNORE_MAX || len > 15)
				return -EINVAL;
			if (skel)
				memcpy((char *)skel->rodata->ignore_comm[i], p, len);
			i++;
		}
		p += len + (p[len] == ',');
	}
	return 0;
}

/*
 * Per program, room for the verifier's statistics (log level 4): kernels
 * before 5.16 do not report verified_insns in bpf_prog_info. The statistics
 * are a few lines, but since 6.4 the load fails with ENOSPC unless the
 * buffer could also have held the messages the verifier writes and then
 * takes back on the way (a megabyte is ample for the capture programs).
 */
#define STATS_LOG_SIZE (1 << 20)
#define STATS_LOG_PROGS 16

/*
 * The HTTP/2 ring's size, and how full it gets before the reader is woken
 * by force (kern/proto_http2.bpf.h, h2_send()): at most an eighth of it, so
 * a full ring, whose failed writes wake nobody, was announced before it
 * filled.
 */
static void configure_h2_ring(struct capture_bpf *skel, const struct capture_opts *o)
{
	__u32 bytes = o->h2_ringbuf_bytes ? o->h2_ringbuf_bytes :
					    bpf_map__max_entries(skel->maps.h2_events);

	bpf_map__set_max_entries(skel->maps.h2_events, bytes);
	if (skel->rodata->h2_wakeup_bytes > bytes / 8)
		skel->rodata->h2_wakeup_bytes = bytes / 8;
}

static struct capture_bpf *open_and_load(const struct capture_opts *o, enum capture_hook h,
					 int *err, char (*stats)[STATS_LOG_SIZE])
{
	struct bpf_program *prog;
	unsigned int i = 0;

	struct capture_bpf *skel = capture_bpf__open();

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	skel->rodata->self_tgid = getpid();
	skel->rodata->max_header_bytes = o->max_header_bytes;
	set_ignore_list(skel, o->ignore);
	bpf_map__set_max_entries(skel->maps.conns, o->max_conns);
	bpf_map__set_max_entries(skel->maps.series, o->max_series);
	bpf_map__set_max_entries(skel->maps.tcp_series, o->max_series);
	bpf_map__set_max_entries(skel->maps.h2_series, 2 * o->max_series);
	if (o->max_procs)
		bpf_map__set_max_entries(skel->maps.procs, o->max_procs);
	if (kernel_at_least(6, 1)) {
		/*
		 * Allocate entries as they come: a preallocated per-CPU series
		 * map costs max_series x CPUs x 1.7 KiB up front (460 MiB on a
		 * 64-CPU node at the defaults). Tracing programs may use such
		 * maps since Linux 6.1 (bpf_mem_alloc).
		 */
		bpf_map__set_map_flags(skel->maps.series, BPF_F_NO_PREALLOC);
		bpf_map__set_map_flags(skel->maps.conns, BPF_F_NO_PREALLOC);
		bpf_map__set_map_flags(skel->maps.tcp_series, BPF_F_NO_PREALLOC);
	}
	choose_flavour(skel, h);
	configure_spans(skel, o);
	configure_h2_ring(skel, o);
	bpf_object__for_each_program(prog, skel->obj)
	{
		if (!stats || i >= STATS_LOG_PROGS)
			break;
		/* The flavour's programs only: the object has more than STATS_LOG_PROGS. */
		if (!bpf_program__autoload(prog))
			continue;
		stats[i][0] = 0;
		bpf_program__set_log_buf(prog, stats[i++], STATS_LOG_SIZE);
		bpf_program__set_log_level(prog, 4);
	}
	*err = capture_bpf__load(skel);
	if (!*err)
		*err = install_parsers(skel);
	if (*err) {
		capture_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static int pin_map(struct capture *cap, struct bpf_map *map)
{
	char path[320];

	snprintf(path, sizeof(path), "%s/%s", cap->pin_dir, bpf_map__name(map));
	unlink(path); /* left over by an agent that did not stop cleanly */
	return bpf_map__pin(map, path);
}

static int pin_maps(struct capture *cap, const char *dir, char *err, size_t errlen)
{
	struct capture_bpf *s = cap->skel;
	int ret;

	snprintf(cap->pin_dir, sizeof(cap->pin_dir), "%s", dir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create %s: %s (is bpffs mounted on /sys/fs/bpf?)",
			 dir, strerror(errno));
		cap->pin_dir[0] = 0;
		return ret;
	}
	ret = pin_map(cap, s->maps.conns);
	if (!ret)
		ret = pin_map(cap, s->maps.series);
	if (!ret)
		ret = pin_map(cap, s->maps.tcp_series);
	if (!ret)
		ret = pin_map(cap, s->maps.h2_series);
	if (!ret)
		ret = pin_map(cap, s->maps.counters);
	if (!ret)
		ret = pin_map(cap, s->maps.procs);
	if (!ret)
		ret = pin_map(cap, s->maps.span_slow);
	if (ret)
		snprintf(err, errlen, "cannot pin maps under %s: %s", dir, strerror(-ret));
	return ret;
}

static void unpin_maps(struct capture *cap)
{
	struct capture_bpf *s = cap->skel;

	if (!cap->pin_dir[0])
		return;
	bpf_map__unpin(s->maps.conns, NULL);
	bpf_map__unpin(s->maps.series, NULL);
	bpf_map__unpin(s->maps.tcp_series, NULL);
	bpf_map__unpin(s->maps.h2_series, NULL);
	bpf_map__unpin(s->maps.counters, NULL);
	bpf_map__unpin(s->maps.procs, NULL);
	bpf_map__unpin(s->maps.span_slow, NULL);
	rmdir(cap->pin_dir);
	cap->pin_dir[0] = 0;
}

/*
 * The oldest kernel the capture is proven on (selftests/vmtest.sh): BTF,
 * tp_btf, bounded loops and global functions are all older than that.
 */
static int kernel_supported(char *err, size_t errlen)
{
	struct utsname un;

	if (kernel_at_least(5, 10))
		return 0;
	uname(&un);
	snprintf(err, errlen, "this kernel (%s) is too old: Kerno needs Linux 5.10 or later",
		 un.release);
	return -EINVAL;
}

int capture_start(struct capture *cap, const struct capture_opts *o, char *err, size_t errlen)
{
	int ret = 0, h;

	memset(cap, 0, sizeof(*cap));
	capture_set_libbpf_verbose(o->verbose);
	if (set_ignore_list(NULL, o->ignore)) {
		snprintf(err, errlen,
			 "--ignore-process takes at most %d command names of at most 15 "
			 "characters, comma-separated",
			 KERNO_IGNORE_MAX);
		return -EINVAL;
	}
	if (capture_disable_hooks(o->disable_hooks, err, errlen))
		return -EINVAL;
	if (capture_check_ring_opts(o)) {
		snprintf(err, errlen, "%s", capture_check_ring_opts(o));
		return -EINVAL;
	}
	ret = kernel_supported(err, errlen);
	if (ret)
		return ret;
	h = capture_pick_hook(o->hook, err, errlen);
	if (h < 0)
		return -EINVAL;
	/* "auto" goes down the list should a flavour not load. */
	for (; h < CAPTURE_HOOK__COUNT; h++) {
		cap->skel = open_and_load(o, h, &ret, NULL);
		cap->hook = capture_hook_names[h];
		if (cap->skel || (o->hook && strcmp(o->hook, "auto")))
			break;
		if (o->verbose)
			fprintf(stderr, "kerno: the %s flavour did not load: %s\n", cap->hook,
				strerror(-ret));
	}
	if (!cap->skel) {
		snprintf(err, errlen,
			 "cannot load the capture programs: %s (run with --verbose "
			 "for the verifier log)",
			 strerror(-ret));
		return ret;
	}
	ret = capture_bpf__attach(cap->skel);
	if (ret) {
		snprintf(err, errlen, "cannot attach the capture programs: %s", strerror(-ret));
		goto cleanup;
	}
	if (o->pin_dir && o->pin_dir[0]) {
		ret = pin_maps(cap, o->pin_dir, err, errlen);
		if (ret)
			goto cleanup;
	}
	cap->series_fd = bpf_map__fd(cap->skel->maps.series);
	cap->tcp_series_fd = bpf_map__fd(cap->skel->maps.tcp_series);
	cap->counters_fd = bpf_map__fd(cap->skel->maps.counters);
	cap->conns_fd = bpf_map__fd(cap->skel->maps.conns);
	cap->procs_fd = bpf_map__fd(cap->skel->maps.procs);
	cap->span_events_fd = o->spans ? bpf_map__fd(cap->skel->maps.span_events) : -1;
	cap->span_slow_fd = bpf_map__fd(cap->skel->maps.span_slow);
	cap->h2_events_fd = bpf_map__fd(cap->skel->maps.h2_events);
	cap->h2_streams_fd = bpf_map__fd(cap->skel->maps.h2_streams);
	cap->h2_series_fd = bpf_map__fd(cap->skel->maps.h2_series);
	return 0;

cleanup:
	capture_stop(cap);
	return ret;
}

void capture_stop(struct capture *cap)
{
	if (!cap->skel)
		return;
	unpin_maps(cap);
	capture_bpf__destroy(cap->skel);
	cap->skel = NULL;
}

void capture_detach(struct capture *cap)
{
	if (cap->skel)
		capture_bpf__detach(cap->skel);
}

static __u64 prog_misses(const struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_program__fd(prog);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.recursion_misses;
}

__u64 capture_prog_misses(const struct capture *cap)
{
	struct bpf_program *prog;
	__u64 sum = 0;

	if (!cap->skel)
		return 0;
	bpf_object__for_each_program(prog, cap->skel->obj) sum += prog_misses(prog);
	return sum;
}

/* Instructions the verifier processed for each loaded program of skel. */
static void report_flavour(FILE *out, struct capture_bpf *skel, const char *flavour,
			   char (*stats)[STATS_LOG_SIZE])
{
	struct bpf_program *prog;
	unsigned int i = 0;
	const char *p;

	bpf_object__for_each_program(prog, skel->obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);
		const char *log;

		if (!bpf_program__autoload(prog))
			continue; /* as open_and_load() numbers the logs */
		log = i < STATS_LOG_PROGS ? stats[i++] : "";
		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		/* Before 5.16: from the statistics line of the verifier's log. */
		p = strstr(log, "processed ");
		if (!info.verified_insns && p)
			sscanf(p, "processed %u insns", &info.verified_insns);
		fprintf(out, "%-8s %-22s %8u %8u %6.1f%%\n", flavour, bpf_program__name(prog),
			info.verified_insns, KERNO_VERIFIER_LIMIT,
			100.0 * info.verified_insns / KERNO_VERIFIER_LIMIT);
	}
}

int capture_verifier_report(FILE *out, const struct capture_opts *o)
{
	char(*stats)[STATS_LOG_SIZE] = NULL;
	struct capture_bpf *skel;
	int err = 0, failed = 0, h;
	char why[256];

	capture_set_libbpf_verbose(o->verbose);
	if (capture_disable_hooks(o->disable_hooks, NULL, 0))
		return -EINVAL;
	if (kernel_supported(why, sizeof(why))) {
		fprintf(out, "%s\n", why);
		return -EINVAL;
	}
	stats = calloc(STATS_LOG_PROGS, STATS_LOG_SIZE);
	if (!stats)
		return -ENOMEM;
	fprintf(out, "%-8s %-22s %8s %8s %7s\n", "FLAVOUR", "PROGRAM", "VERIFIED", "LIMIT", "USED");
	for (h = 0; h < CAPTURE_HOOK__COUNT; h++) {
		if (!capture_hook_available(h)) {
			fprintf(out, "%-8s (not on this kernel)\n", capture_hook_names[h]);
			continue;
		}
		skel = open_and_load(o, h, &err, stats);
		if (!skel) {
			fprintf(out, "%-8s (did not load: %s)\n", capture_hook_names[h],
				strerror(-err));
			failed = err;
			continue;
		}
		report_flavour(out, skel, capture_hook_names[h], stats);
		/* The TLS programs share the flavour's maps (user/tls_probe.c). */
		if (tls_probe_verifier_report(out, skel, capture_hook_names[h]))
			failed = -EINVAL;
		capture_bpf__destroy(skel);
	}
	free(stats);
	return failed;
}
