// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Attaching the TLS uprobes (kern/tls.bpf.c) to every TLS library on the
 * node, once per file.
 *
 * Discovery: every executable mapping in /proc/PID/maps names a file by
 * device and inode; a file not seen before is opened through
 * /proc/PID/root (the process's own filesystem, a container's included)
 * and looked at once (tls_elf.c). Uprobes are attached to the file, not to
 * a process (pid -1): every process that maps it, now or later, is traced
 * from its first instruction on, with no work here.
 *
 * New files: the kernel sends the pid of each exec() through a ring buffer
 * (sched_process_exec). Its mappings are read at once (the executable: a
 * statically linked TLS library or a Go program) and again a few times
 * over the next second (the shared libraries its loader maps, dlopen()).
 * Nothing is held: a process that uses a file never seen before may make
 * its first TLS calls before the probes are in; those are counted as
 * tls_no_conn or not seen (see README, "TLS").
 *
 * The return probes of a file are attached before its entry probes: an
 * entry seen always has its return seen, so no call waits forever in
 * tls_calls.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "kerno_types.h"
#include "../kern/capture.h"
#include "../kern/tls_capture.h"
#include "capture_load.h"
#include "capture.skel.h"
#include "tls.skel.h"
#include "preflight.h"
#include "ringbuf.h"
#include "tls_elf.h"
#include "tls_probe.h"
#include "uprobe_multi.h"

/* Distinct executable files remembered (probed or not), at most. */
#define SEEN_MAX 65536
/* Processes waiting for another look at their mappings, at most. */
#define PENDING_MAX 4096
/* After an exec(): look again this long after it (ms), for the loader's libraries. */
static const unsigned int rescan_ms[] = { 0, 3, 20, 100, 400, 1500 };
#define RESCANS (sizeof(rescan_ms) / sizeof(rescan_ms[0]))

struct file_id {
	__u64 dev;
	__u64 ino;
};

struct pending {
	__u32 tgid;
	__u32 step; /* index in rescan_ms of the next look */
	__u64 due_ns; /* CLOCK_MONOTONIC */
};

/* A probe's attachment: a libbpf link, or the fd of a uprobe_multi link. */
struct probe_link {
	struct bpf_link *link;
	int fd;
};

struct tls_probe {
	struct tls_bpf *skel;
	struct ringbuf *rb;
	char proc[256];
	bool verbose;
	pid_t self;

	struct file_id *seen; /* open addressing, SEEN_MAX slots; ino 0 is free */
	unsigned int n_seen;

	bool multi; /* uprobe_multi links (uprobe_multi.h), else one perf-event link per point */
	struct probe_link *links;
	size_t n_links, cap_links;
	_Atomic unsigned int files;

	struct pending pending[PENDING_MAX];
	unsigned int n_pending;
	__u64 exec_seen;

	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
};

/* Slot of a file in the set: its own, or the free one where it would go; -1 when full. */
static long seen_slot(const struct tls_probe *tp, __u64 dev, __u64 ino)
{
	__u64 h = (ino * 0x9e3779b97f4a7c15ULL) ^ dev;
	unsigned int i, slot;

	for (i = 0; i < SEEN_MAX; i++) {
		slot = (unsigned int)((h + i) % SEEN_MAX);
		if ((tp->seen[slot].ino == ino && tp->seen[slot].dev == dev) || !tp->seen[slot].ino)
			return slot;
	}
	return -1;
}

static bool seen_has(const struct tls_probe *tp, __u64 dev, __u64 ino)
{
	long slot = seen_slot(tp, dev, ino);

	/* Full at three quarters: files past that are not looked at. */
	return slot < 0 || tp->seen[slot].ino || tp->n_seen >= SEEN_MAX / 4 * 3;
}

static void seen_add(struct tls_probe *tp, __u64 dev, __u64 ino)
{
	long slot = seen_slot(tp, dev, ino);

	if (slot < 0 || tp->seen[slot].ino)
		return;
	tp->seen[slot].dev = dev;
	tp->seen[slot].ino = ino;
	tp->n_seen++;
}

static struct bpf_program *program_for(struct tls_probe *tp, enum tls_hook h)
{
	typeof(tp->skel->progs) *p = &tp->skel->progs;

	switch (h) {
	case TLS_HOOK_SSL_READ:
		return p->kerno_ssl_read;
	case TLS_HOOK_SSL_WRITE:
		return p->kerno_ssl_write;
	case TLS_HOOK_SSL_READ_EX:
		return p->kerno_ssl_read_ex;
	case TLS_HOOK_SSL_WRITE_EX:
		return p->kerno_ssl_write_ex;
	case TLS_HOOK_SSL_HANDSHAKE:
		return p->kerno_ssl_handshake;
	case TLS_HOOK_SSL_RET:
		return p->kerno_ssl_ret;
	case TLS_HOOK_GO_READ:
		return p->kerno_go_tls_read;
	case TLS_HOOK_GO_WRITE:
		return p->kerno_go_tls_write;
	case TLS_HOOK_GO_HANDSHAKE:
		return p->kerno_go_tls_handshake;
	case TLS_HOOK_GO_RET:
		return p->kerno_go_tls_ret;
	default:
		return NULL;
	}
}

static void drop_link(struct probe_link *l)
{
	if (l->link)
		bpf_link__destroy(l->link);
	else
		close(l->fd);
}

/* Keep link (or, when NULL, the uprobe_multi link fd); dropped if there is no room. */
static int keep_link(struct tls_probe *tp, struct bpf_link *link, int fd)
{
	struct probe_link l = { .link = link, .fd = fd }, *grown;

	if (tp->n_links == tp->cap_links) {
		grown = realloc(tp->links, (tp->cap_links * 2 + 16) * sizeof(*grown));
		if (!grown) {
			drop_link(&l);
			return -ENOMEM;
		}
		tp->links = grown;
		tp->cap_links = tp->cap_links * 2 + 16;
	}
	tp->links[tp->n_links++] = l;
	return 0;
}

/* One perf-event uprobe per point. */
static int attach_points(struct tls_probe *tp, const char *path, const struct tls_elf_info *info)
{
	const struct tls_probe_point *pt;
	struct bpf_link *link;
	size_t i;
	int err;

	for (i = 0; i < info->n_points; i++) {
		pt = &info->points[i];
		link = bpf_program__attach_uprobe(program_for(tp, pt->hook),
						  pt->hook == TLS_HOOK_SSL_RET, -1, path,
						  pt->offset);
		if (!link)
			return -errno;
		err = keep_link(tp, link, -1);
		if (err)
			return err;
	}
	return 0;
}

/* One uprobe_multi link per program, with every point of the file it runs at. */
static int attach_points_multi(struct tls_probe *tp, const char *path,
			       const struct tls_elf_info *info)
{
	__u64 offsets[TLS_ELF_MAX_POINTS];
	bool done[TLS_ELF_MAX_POINTS] = { false };
	struct bpf_program *prog;
	size_t i, j;
	__u32 n;
	int fd, err;

	for (i = 0; i < info->n_points; i++) {
		if (done[i])
			continue;
		prog = program_for(tp, info->points[i].hook);
		for (j = i, n = 0; j < info->n_points; j++) {
			if (program_for(tp, info->points[j].hook) != prog)
				continue;
			offsets[n++] = info->points[j].offset;
			done[j] = true;
		}
		fd = uprobe_multi_attach(bpf_program__fd(prog), path, offsets, n,
					 info->points[i].hook == TLS_HOOK_SSL_RET);
		if (fd < 0)
			return fd;
		err = keep_link(tp, NULL, fd);
		if (err)
			return err;
	}
	return 0;
}

/* Attach every probe point of one file; all or nothing. */
/* path: what to attach to; name: what to call it in messages. */
static int attach_file(struct tls_probe *tp, const char *path, const char *name,
		       const struct tls_elf_info *info, __u64 t0)
{
	size_t first = tp->n_links;
	int err = tp->multi ? attach_points_multi(tp, path, info) : attach_points(tp, path, info);

	if (err) {
		while (tp->n_links > first)
			drop_link(&tp->links[--tp->n_links]);
		fprintf(stderr, "kerno: cannot probe %s (%s): %s\n", name, tls_lib_name(info->lib),
			strerror(-err));
		return err;
	}
	atomic_fetch_add(&tp->files, 1);
	/* One line per file (bounded by SEEN_MAX): tests wait for it, operators grep it. */
	fprintf(stderr, "kerno: TLS probes on %s (%s, %zu points, %zu links, %.1f ms)\n", name,
		tls_lib_name(info->lib), info->n_points, tp->n_links - first,
		(clock_ns(CLOCK_MONOTONIC) - t0) / 1e6);
	return 0;
}

/*
 * A file first seen mapped by tgid at path (inside the process's root):
 * remembered once it could be read, probed if it holds a TLS library.
 */
static void look_at_file(struct tls_probe *tp, const char *full, __u64 dev, __u64 ino)
{
	__u64 t0 = clock_ns(CLOCK_MONOTONIC), sdev;
	struct tls_elf_info *info;
	char byfd[64];
	struct stat st;
	int fd;

	/* Held open: a short-lived process may be gone before the probes are in. */
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* the process is gone: the next one to map the file will do */
	seen_add(tp, dev, ino);
	/*
	 * The file as a path lookup finds it, which is what the uprobes attach
	 * to: an overlay filesystem may show another identity in the mappings.
	 */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		goto cleanup;
	sdev = (__u64)major(st.st_dev) << 20 | minor(st.st_dev);
	if ((sdev != dev || st.st_ino != ino) && seen_has(tp, sdev, st.st_ino))
		goto cleanup;
	seen_add(tp, sdev, st.st_ino);
	info = malloc(sizeof(*info));
	snprintf(byfd, sizeof(byfd), "/proc/self/fd/%d", fd);
	if (info && !tls_elf_inspect(byfd, info) && info->lib != TLS_LIB_NONE)
		attach_file(tp, byfd, full, info, t0);
	free(info);
cleanup:
	close(fd);
}

/* A file at full (a path from the agent's root), known by its mappings' identity. */
static void map_file(struct tls_probe *tp, const char *full, __u64 dev, __u64 ino)
{
	if (!seen_has(tp, dev, ino))
		look_at_file(tp, full, dev, ino);
}

/* One line of /proc/PID/maps: an executable mapping of a file new to us? */
static void map_line(struct tls_probe *tp, __u32 tgid, const char *line)
{
	unsigned int major, minor;
	unsigned long long ino;
	char perms[8];
	int path_at = 0;
	const char *path;
	char full[4352];

	if (sscanf(line, "%*x-%*x %7s %*x %x:%x %llu %n", perms, &major, &minor, &ino, &path_at) <
		    4 ||
	    !path_at || perms[2] != 'x' || !ino)
		return;
	path = line + path_at;
	if (*path != '/' || strstr(path, " (deleted)"))
		return;
	snprintf(full, sizeof(full), "%s/%u/root%s", tp->proc, tgid, path);
	map_file(tp, full, (__u64)major << 20 | minor, ino);
}

static void scan_process(struct tls_probe *tp, __u32 tgid)
{
	char path[320], line[4352];
	FILE *f;
	size_t len;

	if ((pid_t)tgid == tp->self)
		return;
	snprintf(path, sizeof(path), "%s/%u/maps", tp->proc, tgid);
	f = fopen(path, "re");
	if (!f)
		return; /* gone already, or a kernel thread */
	while (fgets(line, sizeof(line), f)) {
		len = strlen(line);
		if (len && line[len - 1] == '\n')
			line[len - 1] = 0;
		map_line(tp, tgid, line);
	}
	fclose(f);
}

/* The libssl.so* files of directory dir: probed (each file once, by inode). */
static void scan_lib_dir(struct tls_probe *tp, const char *dir)
{
	char file[1024];
	struct dirent *e;
	struct stat st;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "libssl.so", 9))
			continue;
		snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
		if (stat(file, &st) || !S_ISREG(st.st_mode))
			continue;
		map_file(tp, file, (__u64)major(st.st_dev) << 20 | minor(st.st_dev), st.st_ino);
	}
	closedir(d);
}

/*
 * The shared TLS libraries of the usual library directories, mapped by a
 * process or not yet: a process started later that loads one is traced from
 * its first call (those found only in mappings, a moment after exec()). Both
 * the host's (init's root) and the agent's own root are looked at: they
 * differ where init is not the system's (an initramfs that chroots, as in
 * the VM tests), and the same files are probed once.
 */
static void scan_lib_dirs(struct tls_probe *tp)
{
	static const char *const dirs[] = {
		"/usr/lib/x86_64-linux-gnu",
		"/lib/x86_64-linux-gnu",
		"/usr/lib64",
		"/lib64",
		"/usr/lib",
		"/usr/local/lib",
		"/usr/lib/x86_64-linux-gnu/android",
	};
	char dir[512];
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/1/root%s", tp->proc, dirs[i]);
		scan_lib_dir(tp, dir);
		scan_lib_dir(tp, dirs[i]);
	}
}

static void scan_all(struct tls_probe *tp)
{
	DIR *d = opendir(tp->proc);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (isdigit((unsigned char)e->d_name[0]))
			scan_process(tp, (__u32)strtoul(e->d_name, NULL, 10));
	closedir(d);
}

static void schedule(struct tls_probe *tp, __u32 tgid, __u32 step, __u64 exec_ns)
{
	struct pending *p;

	if (step >= RESCANS)
		return;
	if (tp->n_pending == PENDING_MAX) {
		/* Oldest first out: it had the most looks already. */
		memmove(tp->pending, tp->pending + 1, (PENDING_MAX - 1) * sizeof(*p));
		tp->n_pending--;
	}
	p = &tp->pending[tp->n_pending++];
	p->tgid = tgid;
	p->step = step;
	p->due_ns = exec_ns + rescan_ms[step] * 1000000ULL;
}

static int on_exec(void *ctx, void *data, size_t size)
{
	struct tls_probe *tp = ctx;
	const struct kerno_exec_event *e = data;
	__u64 now = clock_ns(CLOCK_MONOTONIC);

	if (size < sizeof(*e))
		return 0;
	tp->exec_seen++;
	scan_process(tp, e->tgid);
	schedule(tp, e->tgid, 1, now);
	return 0;
}

/* Look again at the processes whose time has come. */
static void run_pending(struct tls_probe *tp)
{
	__u64 now = clock_ns(CLOCK_MONOTONIC);
	unsigned int i = 0;
	struct pending p;

	while (i < tp->n_pending) {
		if (tp->pending[i].due_ns > now) {
			i++;
			continue;
		}
		p = tp->pending[i];
		tp->pending[i] = tp->pending[--tp->n_pending];
		scan_process(tp, p.tgid);
		schedule(tp, p.tgid, p.step + 1, p.due_ns - rescan_ms[p.step] * 1000000ULL);
	}
}

static int next_timeout_ms(const struct tls_probe *tp)
{
	__u64 now = clock_ns(CLOCK_MONOTONIC), soonest = now + 100000000ULL;
	unsigned int i;

	for (i = 0; i < tp->n_pending; i++)
		if (tp->pending[i].due_ns < soonest)
			soonest = tp->pending[i].due_ns;
	return soonest <= now ? 0 : (int)((soonest - now + 999999) / 1000000);
}

static void *follow_thread(void *arg)
{
	struct tls_probe *tp = arg;
	int n;

	while (!atomic_load(&tp->stop)) {
		n = ringbuf_poll(tp->rb, next_timeout_ms(tp));
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "kerno: exec notices: %s; new processes not followed\n",
				strerror(-n));
			break;
		}
		run_pending(tp);
	}
	return NULL;
}

/*
 * HTTPS requests are spans like plain ones: the capture's span settings,
 * and its span maps, so a TLS server span is its thread's span for a plain
 * client call, and the reverse, and both reach userspace by one ring buffer.
 */
static int share_span_maps(struct tls_bpf *t, const struct capture_bpf *c)
{
	int err = 0;

	err = err ?: bpf_map__reuse_fd(t->maps.span_events, bpf_map__fd(c->maps.span_events));
	err = err ?: bpf_map__reuse_fd(t->maps.span_threads, bpf_map__fd(c->maps.span_threads));
	err = err ?: bpf_map__reuse_fd(t->maps.span_links, bpf_map__fd(c->maps.span_links));
	err = err ?: bpf_map__reuse_fd(t->maps.span_slow, bpf_map__fd(c->maps.span_slow));
	err = err ?: bpf_map__reuse_fd(t->maps.span_caps, bpf_map__fd(c->maps.span_caps));
	err = err ?: bpf_map__reuse_fd(t->maps.span_payloads, bpf_map__fd(c->maps.span_payloads));
	return err;
}

static void copy_span_settings(struct tls_bpf *t, const struct capture_bpf *c)
{
	t->rodata->spans_enabled = c->rodata->spans_enabled;
	t->rodata->span_baseline = c->rodata->span_baseline;
	t->rodata->span_slow_ns = c->rodata->span_slow_ns;
	t->rodata->span_slow_auto = c->rodata->span_slow_auto;
	t->rodata->span_rate_cap = c->rodata->span_rate_cap;
	t->rodata->span_payload_bytes = c->rodata->span_payload_bytes;
	t->rodata->span_wakeup_bytes = c->rodata->span_wakeup_bytes;
}

/* The capture's maps, shared: one connection table for both objects. */
static int share_maps(struct tls_bpf *t, const struct capture_bpf *c)
{
	int err = 0;

	err = err ?: bpf_map__reuse_fd(t->maps.conns, bpf_map__fd(c->maps.conns));
	err = err ?: bpf_map__reuse_fd(t->maps.series, bpf_map__fd(c->maps.series));
	err = err ?: bpf_map__reuse_fd(t->maps.procs, bpf_map__fd(c->maps.procs));
	err = err ?: bpf_map__reuse_fd(t->maps.counters, bpf_map__fd(c->maps.counters));
	err = err ?: bpf_map__reuse_fd(t->maps.mmsg_pos, bpf_map__fd(c->maps.mmsg_pos));
	err = err ?: bpf_map__reuse_fd(t->maps.tls_calls, bpf_map__fd(c->maps.tls_calls));
	err = err ?: bpf_map__reuse_fd(t->maps.h2_events, bpf_map__fd(c->maps.h2_events));
	err = err ?: bpf_map__reuse_fd(t->maps.h2_streams, bpf_map__fd(c->maps.h2_streams));
	return err ?: share_span_maps(t, c);
}

static void choose_programs(struct tls_bpf *t, bool raw_tp, bool multi)
{
	typeof(t->progs) *p = &t->progs;
	bool legacy = !kernel_at_least(5, 12);
	struct bpf_program *prog;

	/* The parser the probes tail-call (kern/tls.bpf.c): loaded, never attached. */
	bpf_program__set_autoload(p->kerno_tls_parse, !legacy);
	bpf_program__set_autoload(p->kerno_tls_parse_legacy, legacy);
	bpf_program__set_autoattach(p->kerno_tls_parse, false);
	bpf_program__set_autoattach(p->kerno_tls_parse_legacy, false);
	/* The parser's header brings the capture's span program: the capture runs it. */
	bpf_program__set_autoload(p->kerno_span_fork, false);
	bpf_program__set_autoload(p->kerno_exec, !raw_tp);
	bpf_program__set_autoload(p->kerno_exec_raw, raw_tp);
	/*
	 * For uprobe_multi links the probes' programs say so when they load;
	 * so does the parser they tail-call, a program array taking programs
	 * of one kind.
	 */
	bpf_object__for_each_program(prog, t->obj)
	{
		if (multi && bpf_program__type(prog) == BPF_PROG_TYPE_KPROBE)
			bpf_program__set_expected_attach_type(prog, UPROBE_MULTI_ATTACH_TYPE);
	}
}

/* Put the loaded parser program where the probes tail-call it. */
static int install_parser(struct tls_bpf *t)
{
	struct bpf_program *parser = bpf_program__fd(t->progs.kerno_tls_parse) >= 0 ?
					     t->progs.kerno_tls_parse :
					     t->progs.kerno_tls_parse_legacy;
	int fd = bpf_program__fd(parser);
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(t->maps.tls_parse_jmp), &zero, &fd, BPF_ANY))
		return -errno;
	return 0;
}

/* Per program, room for the verifier's statistics (before 5.16: not in bpf_prog_info). */
#define STATS_LOG_SIZE (1 << 20)
#define STATS_LOG_PROGS 16

/*
 * The TLS programs, opened and loaded on the maps of a loaded capture c;
 * with stats, each program's verifier statistics are kept there.
 */
static struct tls_bpf *open_and_load(const struct capture_bpf *c, bool raw_tp, bool multi, int *err,
				     char (*stats)[STATS_LOG_SIZE])
{
	struct tls_bpf *t = tls_bpf__open();
	struct bpf_program *prog;
	unsigned int i = 0;

	if (!t) {
		*err = -errno;
		return NULL;
	}
	t->rodata->self_tgid = c->rodata->self_tgid;
	t->rodata->max_header_bytes = c->rodata->max_header_bytes;
	memcpy((void *)t->rodata->ignore_comm, (const void *)c->rodata->ignore_comm,
	       sizeof(t->rodata->ignore_comm));
	copy_span_settings(t, c);
	choose_programs(t, raw_tp, multi);
	bpf_object__for_each_program(prog, t->obj)
	{
		if (!stats || i >= STATS_LOG_PROGS)
			break;
		stats[i][0] = 0;
		bpf_program__set_log_buf(prog, stats[i++], STATS_LOG_SIZE);
		bpf_program__set_log_level(prog, 4);
	}
	*err = share_maps(t, c);
	if (!*err)
		*err = tls_bpf__load(t);
	if (!*err)
		*err = install_parser(t);
	if (*err) {
		tls_bpf__destroy(t);
		return NULL;
	}
	return t;
}

static int load(struct tls_probe *tp, const struct capture *cap, char *err, size_t errlen)
{
	int ret;

	tp->multi = uprobe_multi_supported();
	tp->skel = open_and_load(cap->skel, !strcmp(cap->hook, "raw_tp"), tp->multi, &ret, NULL);
	if (!tp->skel) {
		snprintf(err, errlen,
			 "cannot load the TLS programs: %s (run with --verbose for the verifier "
			 "log, or --no-tls-capture)",
			 strerror(-ret));
		return ret;
	}
	ret = tls_bpf__attach(tp->skel);
	if (ret) {
		snprintf(err, errlen, "cannot attach the exec() tracepoint: %s", strerror(-ret));
		return ret;
	}
	tp->rb = ringbuf_new(bpf_map__fd(tp->skel->maps.exec_events), on_exec, tp);
	if (!tp->rb) {
		ret = -errno;
		snprintf(err, errlen, "cannot read the exec() notices: %s", strerror(-ret));
	}
	return ret;
}

int tls_probe_verifier_report(FILE *out, struct capture_bpf *cap, const char *flavour)
{
	char(*stats)[STATS_LOG_SIZE] = calloc(STATS_LOG_PROGS, STATS_LOG_SIZE);
	struct bpf_program *prog;
	unsigned int i = 0;
	struct tls_bpf *t;
	const char *p;
	int err;

	if (!stats)
		return -ENOMEM;
	t = open_and_load(cap, !strcmp(flavour, "raw_tp"), uprobe_multi_supported(), &err, stats);
	if (!t) {
		fprintf(out, "%-8s (TLS programs did not load: %s)\n", flavour, strerror(-err));
		free(stats);
		return err;
	}
	bpf_object__for_each_program(prog, t->obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);
		const char *log = i < STATS_LOG_PROGS ? stats[i++] : "";

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		/* Before 5.16: from the statistics line of the verifier's log. */
		p = strstr(log, "processed ");
		if (!info.verified_insns && p)
			sscanf(p, "processed %u insns", &info.verified_insns);
		fprintf(out, "%-8s %-22s %8u %8u %6.1f%%\n", flavour, bpf_program__name(prog),
			info.verified_insns, 1000000U, 100.0 * info.verified_insns / 1000000U);
	}
	tls_bpf__destroy(t);
	free(stats);
	return 0;
}

int tls_probe_start(struct tls_probe **out, const struct capture *cap,
		    const struct tls_probe_opts *o, char *err, size_t errlen)
{
	struct tls_probe *tp = calloc(1, sizeof(*tp));
	int ret;

	*out = NULL;
	if (!tp)
		return -ENOMEM;
	tp->seen = calloc(SEEN_MAX, sizeof(*tp->seen));
	if (!tp->seen) {
		ret = -ENOMEM;
		goto cleanup;
	}
	snprintf(tp->proc, sizeof(tp->proc), "%s", o->proc_root ? o->proc_root : "/proc");
	tp->verbose = o->verbose;
	tp->self = getpid();
	ret = load(tp, cap, err, errlen);
	if (ret)
		goto cleanup;
	/* exec() notices queue from here on: nothing started meanwhile is missed. */
	scan_lib_dirs(tp);
	scan_all(tp);
	ret = pthread_create(&tp->thread, NULL, follow_thread, tp);
	if (ret) {
		snprintf(err, errlen, "cannot start the TLS discovery thread: %s", strerror(ret));
		ret = -ret;
		goto cleanup;
	}
	tp->thread_started = true;
	*out = tp;
	return 0;

cleanup:
	tls_probe_stop(tp);
	return ret;
}

/*
 * Each link waits for its grace periods as it goes: one after another,
 * seconds for a node's TLS libraries. uprobe_multi links wait side by side
 * when dropped from threads of their own (perf-event uprobes do not: the
 * kernel serializes those).
 */
#define DROP_THREADS 16

struct drop_share {
	struct probe_link *links;
	size_t n, first, step;
};

static void *drop_share(void *arg)
{
	const struct drop_share *s = arg;
	size_t i;

	for (i = s->first; i < s->n; i += s->step)
		drop_link(&s->links[i]);
	return NULL;
}

static void drop_links(struct probe_link *links, size_t n, bool parallel)
{
	size_t nth = !parallel ? 1 : n < DROP_THREADS ? n : DROP_THREADS, t;
	struct drop_share share[DROP_THREADS];
	bool started[DROP_THREADS] = { false };
	pthread_t thread[DROP_THREADS];

	for (t = 0; t < nth; t++) {
		share[t] = (struct drop_share){ links, n, t, nth };
		started[t] = nth > 1 && !pthread_create(&thread[t], NULL, drop_share, &share[t]);
		if (!started[t])
			drop_share(&share[t]);
	}
	for (t = 0; t < nth; t++)
		if (started[t])
			pthread_join(thread[t], NULL);
}

void tls_probe_stop(struct tls_probe *tp)
{
	if (!tp)
		return;
	atomic_store(&tp->stop, true);
	if (tp->thread_started)
		pthread_join(tp->thread, NULL);
	drop_links(tp->links, tp->n_links, tp->multi);
	free(tp->links);
	ringbuf_free(tp->rb);
	tls_bpf__destroy(tp->skel);
	free(tp->seen);
	free(tp);
}

unsigned int tls_probe_files(struct tls_probe *tp)
{
	return tp ? atomic_load(&tp->files) : 0;
}

__u64 tls_probe_prog_misses(struct tls_probe *tp)
{
	struct bpf_program *prog;
	__u64 sum = 0;

	if (!tp || !tp->skel)
		return 0;
	bpf_object__for_each_program(prog, tp->skel->obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			sum += info.recursion_misses;
	}
	return sum;
}
