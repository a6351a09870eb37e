// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loading and draining the kernel's error detectors: see errors.h.
 *
 * Per hook the tp_btf program is loaded when the kernel's BTF describes the
 * tracepoint, else the raw_tp twin when tracefs lists it, else neither (one
 * line on stderr says what goes uncounted). The kernel counts cumulatively;
 * draining subtracts what the previous drain saw, like drain.c does for the
 * metric series.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "capture_load.h"
#include "errors.h"
#include "errors.skel.h"

/* Drains a group must sit idle before it leaves the kernel map. */
#define IDLE_ROUNDS 30

/* Programs attached at once, at most (one per hook, two more for resets). */
#define MAX_LINKS 12

enum hook_variant { V_NONE, V_BTF, V_RAW };

struct hook {
	const char *system, *name; /* the tracepoint */
	const char *lost; /* what goes uncounted without it */
	enum hook_variant variant;
};

struct entry {
	struct kerno_err_key key;
	__u64 count; /* cumulative, as last seen */
	__u64 last_change; /* round of the last change */
	bool used;
};

struct errors_unit {
	struct errors_bpf *skel;
	char pin_dir[256]; /* empty when not pinned */
	const char *flavour;
	int ncpus;
	struct kerno_err_val *values; /* one per CPU */
	__u64 *cvalues;
	__u64 counters[KERNO_ERR_COUNTER__COUNT]; /* cumulative, as last seen */
	struct entry *tab; /* open addressing, linear probing */
	size_t cap;
	__u64 round;
	__u64 mono_to_real; /* CLOCK_REALTIME - CLOCK_MONOTONIC at this drain */
	bool reply_fentry; /* socketless resets need fentry on this kernel */
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
};

static bool have_btf_typedef(const struct btf *vmlinux, const char *tp, int *nargs)
{
	char type[128];
	const struct btf_type *t;
	int id;

	if (!vmlinux)
		return false;
	snprintf(type, sizeof(type), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(vmlinux, type, BTF_KIND_TYPEDEF);
	if (id <= 0)
		return false;
	/* typedef -> pointer -> function prototype (void *, args...) */
	t = btf__type_by_id(vmlinux, btf__type_by_id(vmlinux, id)->type);
	if (t && btf_is_ptr(t))
		t = btf__type_by_id(vmlinux, t->type);
	if (t && btf_is_func_proto(t) && nargs)
		*nargs = btf_vlen(t) - 1;
	return true;
}

static bool have_function(const struct btf *vmlinux, const char *name)
{
	return vmlinux && btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) > 0;
}

static bool in_tracefs(const struct hook *h)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s/%s", h->system, h->name);
	if (!access(path, F_OK))
		return true;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s/%s", h->system, h->name);
	return !access(path, F_OK);
}

static void choose(struct hook *h, const struct btf *vmlinux, bool force_raw, int *nargs)
{
	*nargs = 0;
	if (have_btf_typedef(vmlinux, h->name, nargs) && !force_raw)
		h->variant = V_BTF;
	else if (in_tracefs(h) || *nargs)
		h->variant = V_RAW;
	else
		h->variant = V_NONE;
	if (h->variant == V_NONE)
		fprintf(stderr, "kerno: this kernel has no tracepoint %s:%s: %s are not counted\n",
			h->system, h->name, h->lost);
}

static void autoload(struct bpf_program *btf, struct bpf_program *raw, const struct hook *h)
{
	bpf_program__set_autoload(btf, h->variant == V_BTF);
	bpf_program__set_autoload(raw, h->variant == V_RAW);
}

/* Pick one program per hook; returns how many hooks have one. */
static int choose_programs(struct errors_unit *u, bool force_raw, bool verbose)
{
	struct hook hooks[] = {
		{ "sock", "inet_sock_set_state", "failed connects and connection timeouts" },
		{ "tcp", "tcp_receive_reset", "resets received" },
		{ "tcp", "tcp_send_reset", "resets sent" },
		{ "tcp", "tcp_retransmit_skb", "retransmissions" },
		{ "sched", "sched_process_exit", "OOM kills and fatal signals" },
		{ "tcp", "tcp_destroy_sock", "process names of resets sent after a close" },
	};
	struct btf *vmlinux = btf__load_vmlinux_btf();
	typeof(u->skel->progs) *p = &u->skel->progs;
	int nargs[6], i, n = 0, btf = 0;

	for (i = 0; i < 6; i++) {
		choose(&hooks[i], vmlinux, force_raw, &nargs[i]);
		n += hooks[i].variant != V_NONE;
		btf += hooks[i].variant == V_BTF;
	}
	autoload(p->err_sock_state, p->err_sock_state_raw, &hooks[0]);
	autoload(p->err_receive_reset, p->err_receive_reset_raw, &hooks[1]);
	autoload(p->err_send_reset, p->err_send_reset_raw, &hooks[2]);
	/* Since 6.15 tcp_retransmit_skb also reports failed attempts, with an err argument. */
	autoload(p->err_retransmit, p->err_retransmit_raw, &hooks[3]);
	if (nargs[3] >= 3) {
		autoload(p->err_retransmit_err, p->err_retransmit_err_raw, &hooks[3]);
		bpf_program__set_autoload(p->err_retransmit, false);
		bpf_program__set_autoload(p->err_retransmit_raw, false);
	} else {
		bpf_program__set_autoload(p->err_retransmit_err, false);
		bpf_program__set_autoload(p->err_retransmit_err_raw, false);
	}
	autoload(p->err_exit, p->err_exit_raw, &hooks[4]);
	autoload(p->err_destroy_sock, p->err_destroy_sock_raw, &hooks[5]);
	u->skel->rodata->owners_until_destroy = hooks[5].variant != V_NONE;
	/* Before 6.10 (no `reason` argument) tcp_send_reset skipped socketless replies. */
	u->reply_fentry = hooks[2].variant != V_NONE && nargs[2] < 3;
	bpf_program__set_autoload(p->err_v4_send_reset,
				  u->reply_fentry && have_function(vmlinux, "tcp_v4_send_reset"));
	bpf_program__set_autoload(p->err_v6_send_reset,
				  u->reply_fentry && have_function(vmlinux, "tcp_v6_send_reset"));
	for (i = 0; verbose && i < 6; i++)
		fprintf(stderr, "kerno: errors: %s:%s as %s\n", hooks[i].system, hooks[i].name,
			hooks[i].variant == V_BTF ? "tp_btf" :
			hooks[i].variant == V_RAW ? "raw_tp" :
						    "(missing)");
	if (verbose && u->reply_fentry)
		fprintf(stderr, "kerno: errors: resets without a full socket through fentry\n");
	btf__free(vmlinux);
	u->flavour = btf == n ? "tp_btf" : btf == 0 ? "raw_tp" : "mixed";
	return n;
}

/* net.ipv4.ip_local_port_range: which local ports mark a client socket. */
static void set_ephemeral_range(struct errors_bpf *skel)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	unsigned int lo, hi;

	if (!f)
		return;
	if (fscanf(f, "%u %u", &lo, &hi) == 2 && lo <= hi && hi <= 65535) {
		skel->rodata->eph_lo = lo;
		skel->rodata->eph_hi = hi;
	}
	fclose(f);
}

static int open_and_load(struct errors_unit *u, const struct errors_opts *o, bool force_raw,
			 char *err, size_t errlen)
{
	int ret;

	u->skel = errors_bpf__open();
	if (!u->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the error detectors: %s", strerror(-ret));
		return ret;
	}
	set_ephemeral_range(u->skel);
	/* The capture's tables name the processes of sockets seen only by it. */
	if (o->conns_fd >= 0 && o->procs_fd >= 0 &&
	    (bpf_map__reuse_fd(u->skel->maps.conns, o->conns_fd) ||
	     bpf_map__reuse_fd(u->skel->maps.procs, o->procs_fd)))
		fprintf(stderr, "kerno: errors on accepted sockets will carry no process name: "
				"the capture's tables cannot be shared\n");
	bpf_map__set_max_entries(u->skel->maps.err_groups, o->max_groups);
	bpf_map__set_max_entries(u->skel->maps.err_owners, o->max_conns);
	if (!choose_programs(u, force_raw, o->verbose)) {
		snprintf(err, errlen, "this kernel has none of the error detectors' tracepoints");
		return -ENOTSUP;
	}
	ret = errors_bpf__load(u->skel);
	if (ret)
		snprintf(err, errlen,
			 "cannot load the error detectors: %s (run with --verbose for the "
			 "verifier log)",
			 strerror(-ret));
	return ret;
}

/*
 * Each program on its own: one that does not attach (fentry on a kernel
 * without trampolines) costs its errors, said in one line, not the rest.
 */
static int attach(struct errors_unit *u, char *err, size_t errlen)
{
	struct bpf_program *prog;
	struct bpf_link *link;
	int failed = 0;

	bpf_object__for_each_program(prog, u->skel->obj)
	{
		if (!bpf_program__autoload(prog) || u->nlinks == MAX_LINKS)
			continue;
		link = bpf_program__attach(prog);
		if (link) {
			u->links[u->nlinks++] = link;
			continue;
		}
		failed = -errno;
		if (prog == u->skel->progs.err_v4_send_reset ||
		    prog == u->skel->progs.err_v6_send_reset)
			fprintf(stderr,
				"kerno: %s does not attach on this kernel (%s): resets sent "
				"without a socket (closed ports) are not counted\n",
				bpf_program__name(prog), strerror(-failed));
		else
			fprintf(stderr,
				"kerno: %s does not attach: %s; its errors are not counted\n",
				bpf_program__name(prog), strerror(-failed));
	}
	if (u->nlinks)
		return 0;
	snprintf(err, errlen, "no error detector attaches: %s", strerror(-failed));
	return failed ? failed : -ENOTSUP;
}

static int pin(struct errors_unit *u, const char *dir, char *err, size_t errlen)
{
	struct bpf_map *maps[] = { u->skel->maps.err_groups, u->skel->maps.err_counters };
	char path[320];
	size_t i;
	int ret;

	snprintf(u->pin_dir, sizeof(u->pin_dir), "%s", dir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		u->pin_dir[0] = 0;
		return ret;
	}
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(maps[i]));
		unlink(path); /* left over by an agent that did not stop cleanly */
		ret = bpf_map__pin(maps[i], path);
		if (ret) {
			snprintf(err, errlen, "cannot pin %s: %s", path, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int alloc_tables(struct errors_unit *u, unsigned int max_groups)
{
	u->ncpus = libbpf_num_possible_cpus();
	if (u->ncpus <= 0)
		return u->ncpus ? u->ncpus : -EINVAL;
	for (u->cap = 16; u->cap < 2 * (size_t)max_groups; u->cap <<= 1)
		;
	u->values = calloc(u->ncpus, sizeof(*u->values));
	u->cvalues = calloc(u->ncpus, sizeof(*u->cvalues));
	u->tab = calloc(u->cap, sizeof(*u->tab));
	return u->values && u->cvalues && u->tab ? 0 : -ENOMEM;
}

int errors_start(struct errors_unit **out, const struct errors_opts *o, char *err, size_t errlen)
{
	struct errors_unit *u = calloc(1, sizeof(*u));
	int ret;

	*out = NULL;
	if (!u)
		return -ENOMEM;
	capture_set_libbpf_verbose(o->verbose);
	ret = open_and_load(u, o, o->disable_hooks && strstr(o->disable_hooks, "tp_btf"), err,
			    errlen);
	if (ret && ret != -ENOTSUP) {
		/* A kernel whose tp_btf programs do not verify may take the raw ones. */
		errors_bpf__destroy(u->skel);
		u->skel = NULL;
		ret = open_and_load(u, o, true, err, errlen);
	}
	if (!ret)
		ret = attach(u, err, errlen);
	if (!ret && o->pin_dir && o->pin_dir[0])
		ret = pin(u, o->pin_dir, err, errlen);
	if (!ret) {
		ret = alloc_tables(u, o->max_groups);
		if (ret)
			snprintf(err, errlen, "cannot set up the error tables: %s", strerror(-ret));
	}
	if (ret) {
		errors_stop(u);
		return ret;
	}
	*out = u;
	return 0;
}

void errors_stop(struct errors_unit *u)
{
	if (!u)
		return;
	if (u->pin_dir[0] && u->skel) {
		bpf_map__unpin(u->skel->maps.err_groups, NULL);
		bpf_map__unpin(u->skel->maps.err_counters, NULL);
		rmdir(u->pin_dir); /* fails while the capture's maps are still there */
	}
	while (u->nlinks)
		bpf_link__destroy(u->links[--u->nlinks]);
	errors_bpf__destroy(u->skel);
	free(u->values);
	free(u->cvalues);
	free(u->tab);
	free(u);
}

const char *errors_flavour(const struct errors_unit *u)
{
	return u->flavour;
}

static size_t key_hash(const struct kerno_err_key *k)
{
	const unsigned char *b = (const unsigned char *)k;
	__u64 h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return (size_t)h;
}

static struct entry *find(struct errors_unit *u, const struct kerno_err_key *k)
{
	size_t i = key_hash(k) & (u->cap - 1);

	while (u->tab[i].used && memcmp(&u->tab[i].key, k, sizeof(*k)))
		i = (i + 1) & (u->cap - 1);
	return &u->tab[i];
}

/* Linear-probing delete that moves later entries back (no tombstones). */
static void remove_slot(struct errors_unit *u, struct entry *e)
{
	size_t i = e - u->tab, j = i, home;

	u->tab[i].used = false;
	for (;;) {
		j = (j + 1) & (u->cap - 1);
		if (!u->tab[j].used)
			break;
		home = key_hash(&u->tab[j].key) & (u->cap - 1);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if ((i < j) ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		u->tab[i] = u->tab[j];
		u->tab[j].used = false;
		i = j;
	}
}

/* The per-CPU values summed: count, earliest first, latest last and its process. */
static void sum_cpus(const struct errors_unit *u, struct kerno_err_val *t)
{
	int c;

	memset(t, 0, sizeof(*t));
	for (c = 0; c < u->ncpus; c++) {
		const struct kerno_err_val *v = &u->values[c];

		t->count += v->count;
		if (v->first_ns && (!t->first_ns || v->first_ns < t->first_ns))
			t->first_ns = v->first_ns;
		if (v->last_ns > t->last_ns) {
			t->last_ns = v->last_ns;
			t->last_tgid = v->last_tgid;
		}
	}
}

/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
static __u64 clock_offset(void)
{
	struct timespec rt, mt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	return ((__u64)rt.tv_sec * 1000000000ULL + rt.tv_nsec) -
	       ((__u64)mt.tv_sec * 1000000000ULL + mt.tv_nsec);
}

static void add_delta(const struct errors_unit *u, struct errgroups *g, struct entry *e,
		      const struct kerno_err_val *t)
{
	char comm[sizeof(e->key.comm) + 1];
	struct errgroup_in in = {
		.class = e->key.class,
		.code = e->key.code,
		.flags = e->key.flags,
		.comm = comm,
		.cgroup_id = e->key.cgroup_id,
		.pid = t->last_tgid,
		.family = e->key.family,
		.port = e->key.port,
		.count = t->count - e->count,
		.first_ns = t->first_ns ? t->first_ns + u->mono_to_real : 0,
		.last_ns = t->last_ns ? t->last_ns + u->mono_to_real : 0,
	};

	memcpy(comm, e->key.comm, sizeof(e->key.comm));
	comm[sizeof(e->key.comm)] = 0;
	memcpy(in.addr, e->key.addr, sizeof(in.addr));
	if (t->count > e->count) {
		errgroups_add(g, &in);
		e->count = t->count;
		e->last_change = ~0ULL; /* set by the caller */
	}
}

static void visit(struct errors_unit *u, int fd, const struct kerno_err_key *k, struct errgroups *g)
{
	struct entry *e = find(u, k);
	struct kerno_err_val tot;

	if (bpf_map_lookup_elem(fd, k, u->values))
		return; /* deleted meanwhile */
	if (!e->used) {
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->key = *k;
		e->last_change = u->round;
	}
	sum_cpus(u, &tot);
	if (tot.count == e->count && u->round - e->last_change >= IDLE_ROUNDS &&
	    !bpf_map_lookup_and_delete_elem(fd, k, u->values)) {
		/* What arrived since the lookup above is in the deleted value. */
		sum_cpus(u, &tot);
		add_delta(u, g, e, &tot);
		remove_slot(u, e);
		return;
	}
	add_delta(u, g, e, &tot);
	if (e->last_change == ~0ULL)
		e->last_change = u->round;
}

static void drain_counters(struct errors_unit *u, __u64 drops[KERNO_ERR_DROP__COUNT])
{
	int fd = bpf_map__fd(u->skel->maps.err_counters), c;
	__u32 i;

	for (i = 0; i < KERNO_ERR_COUNTER__COUNT; i++) {
		__u64 sum = 0;

		if (bpf_map_lookup_elem(fd, &i, u->cvalues))
			continue;
		for (c = 0; c < u->ncpus; c++)
			sum += u->cvalues[c];
		if (i < KERNO_ERR_DROP__COUNT)
			drops[i] = sum - u->counters[i];
		u->counters[i] = sum;
	}
}

int errors_drain(struct errors_unit *u, struct errgroups *g, __u64 drops[KERNO_ERR_DROP__COUNT])
{
	int fd = bpf_map__fd(u->skel->maps.err_groups), ret;
	struct kerno_err_key key, next;

	memset(drops, 0, KERNO_ERR_DROP__COUNT * sizeof(*drops));
	u->round++;
	u->mono_to_real = clock_offset();
	ret = bpf_map_get_next_key(fd, NULL, &next);
	while (!ret) {
		key = next;
		/* Fetch the successor first: visit() may delete key. */
		ret = bpf_map_get_next_key(fd, &key, &next);
		visit(u, fd, &key, g);
	}
	if (errno != ENOENT)
		return -errno;
	drain_counters(u, drops);
	return 0;
}
