// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "drain.h"

/* What the previous drain saw of one series, summed over CPUs. */
struct drain_entry {
	struct kerno_series_key key;
	bool used;
	__u64 last_change; /* round of the last change */
	__u64 seen; /* round it was last found in the map */
	__u64 count;
	__u64 sum_ns;
	__u64 rx_bytes;
	__u64 tx_bytes;
	__u32 buckets[KERNO_HIST_BUCKETS]; /* mod 2^32, like the kernel's */
};

/* The kernel lays per-CPU values out 8-byte aligned, one per possible CPU. */
#define PERCPU_STRIDE ((sizeof(struct kerno_series_val) + 7) & ~(size_t)7)

/* Shared values are read into a buffer sized for the largest, kerno_tcp_val. */
_Static_assert(sizeof(struct kerno_h2_total) <= sizeof(struct kerno_tcp_val),
	       "h2_series values fit the drain's buffer");

static size_t key_hash(const struct kerno_series_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	__u64 h = 1469598103934665603ULL; /* FNV-1a */
	size_t i;

	for (i = 0; i < sizeof(*k); i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

int drain_init(struct drain *d, int series_fd, int counters_fd, size_t max_series,
	       unsigned int idle_rounds)
{
	memset(d, 0, sizeof(*d));
	d->series_fd = series_fd;
	d->counters_fd = counters_fd;
	d->idle_rounds = idle_rounds;
	d->ncpus = libbpf_num_possible_cpus();
	if (d->ncpus <= 0)
		return d->ncpus ? d->ncpus : -EINVAL;
	d->cap = 16;
	while (d->cap < 2 * max_series)
		d->cap <<= 1;
	d->tab = calloc(d->cap, sizeof(*d->tab));
	d->values = calloc(d->ncpus, PERCPU_STRIDE > sizeof(struct kerno_tcp_val) ?
					     PERCPU_STRIDE :
					     sizeof(struct kerno_tcp_val));
	d->cvalues = calloc(d->ncpus, sizeof(__u64));
	d->max_series = max_series;
	d->samples_cap = max_series;
	d->samples = calloc(max_series ? max_series : 1, sizeof(*d->samples));
	if (!d->tab || !d->values || !d->cvalues || !d->samples) {
		drain_free(d);
		return -ENOMEM;
	}
	return 0;
}

/* A map of `entries` values shared by the CPUs, drained along with d's into *slot. */
static int add_shared(struct drain *d, int fd, bool with_bytes, size_t entries, struct drain **slot)
{
	struct kerno_sample *s;
	struct drain *t;
	int ret;

	t = calloc(1, sizeof(*t));
	s = realloc(d->samples, (d->samples_cap + entries + 1) * sizeof(*s));
	if (!t || !s) {
		free(t);
		if (s)
			d->samples = s;
		return -ENOMEM;
	}
	d->samples = s;
	ret = drain_init(t, fd, -1, entries, d->idle_rounds);
	if (ret) {
		free(t);
		return ret;
	}
	t->shared = true;
	t->with_bytes = with_bytes;
	*slot = t;
	d->samples_cap += entries;
	return 0;
}

/* tcp_series is sized like series. */
int drain_add_tcp(struct drain *d, int tcp_fd)
{
	return add_shared(d, tcp_fd, true, d->max_series, &d->tcp);
}

/* h2_series is twice --max-series (kern/proto_http2.bpf.h). */
int drain_add_h2(struct drain *d, int h2_fd)
{
	return add_shared(d, h2_fd, false, 2 * d->max_series, &d->h2);
}

void drain_free(struct drain *d)
{
	if (d->tcp) {
		drain_free(d->tcp);
		free(d->tcp);
	}
	if (d->h2) {
		drain_free(d->h2);
		free(d->h2);
	}
	free(d->tab);
	free(d->values);
	free(d->cvalues);
	free(d->samples);
	memset(d, 0, sizeof(*d));
}

static struct drain_entry *find_slot(struct drain *d, const struct kerno_series_key *k)
{
	size_t i = key_hash(k) & (d->cap - 1);

	while (d->tab[i].used && memcmp(&d->tab[i].key, k, sizeof(*k)))
		i = (i + 1) & (d->cap - 1);
	return &d->tab[i];
}

/* Linear-probing delete that moves later entries back (no tombstones). */
static void remove_slot(struct drain *d, struct drain_entry *e)
{
	size_t i = e - d->tab, j = i, home;

	d->tab[i].used = false;
	for (;;) {
		j = (j + 1) & (d->cap - 1);
		if (!d->tab[j].used)
			break;
		home = key_hash(&d->tab[j].key) & (d->cap - 1);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if ((i < j) ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		d->tab[i] = d->tab[j];
		d->tab[j].used = false;
		i = j;
	}
	d->used--;
}

/* Sum the per-CPU values in d->values into totals (buckets mod 2^32). */
static void sum_cpus(const struct drain *d, struct kerno_sample *tot)
{
	int cpu;
	unsigned int b;

	memset(tot, 0, sizeof(*tot));
	if (d->shared) {
		const struct kerno_tcp_val *t = d->values;

		tot->count = t->h.count;
		tot->sum_ns = t->h.sum_ns;
		if (d->with_bytes) {
			tot->rx_bytes = t->rx_bytes;
			tot->tx_bytes = t->tx_bytes;
		}
		memcpy(tot->buckets, t->h.buckets, sizeof(tot->buckets));
		return;
	}
	for (cpu = 0; cpu < d->ncpus; cpu++) {
		const struct kerno_series_val *v =
			(const void *)((const char *)d->values + cpu * PERCPU_STRIDE);

		tot->count += v->count;
		tot->sum_ns += v->sum_ns;
		for (b = 0; b < KERNO_HIST_BUCKETS; b++)
			tot->buckets[b] += v->buckets[b];
	}
}

/* Record totals for e; append the difference to the samples if any. */
static void take_delta(struct drain *d, struct drain_entry *e, const struct kerno_sample *tot,
		       size_t *n)
{
	struct kerno_sample *s;
	unsigned int b;

	/*
	 * Fewer than before: the map's owner deleted the series and it came
	 * back between two drains of a reader (`kerno top`). All of it is new.
	 */
	if (tot->count < e->count) {
		e->count = e->sum_ns = e->rx_bytes = e->tx_bytes = 0;
		memset(e->buckets, 0, sizeof(e->buckets));
	}
	if (tot->count != e->count && *n < d->samples_cap) {
		s = &d->samples[(*n)++];
		s->key = e->key;
		s->count = tot->count - e->count;
		s->sum_ns = tot->sum_ns - e->sum_ns;
		s->rx_bytes = tot->rx_bytes - e->rx_bytes;
		s->tx_bytes = tot->tx_bytes - e->tx_bytes;
		for (b = 0; b < KERNO_HIST_BUCKETS; b++)
			s->buckets[b] = tot->buckets[b] - e->buckets[b];
		e->last_change = d->round;
	}
	e->count = tot->count;
	e->sum_ns = tot->sum_ns;
	e->rx_bytes = tot->rx_bytes;
	e->tx_bytes = tot->tx_bytes;
	memcpy(e->buckets, tot->buckets, sizeof(e->buckets));
}

static void visit(struct drain *d, const struct kerno_series_key *key, size_t *n)
{
	struct kerno_sample tot;
	struct drain_entry *e = find_slot(d, key);
	bool idle;

	if (bpf_map_lookup_elem(d->series_fd, key, d->values))
		return; /* deleted meanwhile */
	if (!e->used) {
		if (d->used + 1 > d->cap / 2)
			return; /* cannot happen while the kernel map is the smaller */
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->key = *key;
		e->last_change = d->round;
		d->used++;
	}
	e->seen = d->round;
	sum_cpus(d, &tot);
	idle = d->idle_rounds && tot.count == e->count &&
	       d->round - e->last_change >= d->idle_rounds;
	if (idle && !bpf_map_lookup_and_delete_elem(d->series_fd, key, d->values)) {
		/* What arrived since the lookup above is in the deleted value. */
		sum_cpus(d, &tot);
		take_delta(d, e, &tot, n);
		remove_slot(d, e);
		return;
	}
	take_delta(d, e, &tot, n);
}

/*
 * A reader forgets the series the map's owner deleted (idle ones, see
 * drain.h): else its table would fill up with them, and a series deleted
 * and made again would be taken for the old one.
 */
static void forget_deleted(struct drain *d)
{
	size_t i = 0;

	while (i < d->cap) {
		if (d->tab[i].used && d->tab[i].seen != d->round)
			remove_slot(d, &d->tab[i]); /* slot i may hold another now */
		else
			i++;
	}
}

/* Visit every series of d's map, appending the ones that moved to out[*n]. */
static long drain_map(struct drain *d, size_t *n)
{
	struct kerno_series_key key, next;
	int err;

	d->round++;
	err = bpf_map_get_next_key(d->series_fd, NULL, &next);
	while (!err) {
		key = next;
		/* Fetch the successor first: visit() may delete key. */
		err = bpf_map_get_next_key(d->series_fd, &key, &next);
		visit(d, &key, n);
	}
	if (err != -ENOENT && errno != ENOENT)
		return -errno;
	if (!d->idle_rounds)
		forget_deleted(d);
	return 0;
}

/* Drain the shared map t along with d's, its samples after the *n of d's. */
static long drain_along(struct drain *d, struct drain *t, size_t *n)
{
	size_t m = 0;
	long ret;

	if (!t)
		return 0;
	ret = drain_map(t, &m);
	if (m > d->samples_cap - *n)
		m = d->samples_cap - *n;
	memcpy(d->samples + *n, t->samples, m * sizeof(*d->samples));
	*n += m;
	return ret;
}

long drain_series(struct drain *d, const struct kerno_sample **out)
{
	size_t n = 0;
	long ret = drain_map(d, &n);

	if (!ret)
		ret = drain_along(d, d->tcp, &n);
	if (!ret)
		ret = drain_along(d, d->h2, &n);
	if (ret)
		return ret;
	*out = d->samples;
	return n;
}

int drain_counters(struct drain *d, __u64 delta[KERNO_COUNTER__COUNT])
{
	__u32 i;
	int cpu;

	for (i = 0; i < KERNO_COUNTER__COUNT; i++) {
		__u64 tot = 0;

		delta[i] = 0;
		if (bpf_map_lookup_elem(d->counters_fd, &i, d->cvalues))
			continue;
		for (cpu = 0; cpu < d->ncpus; cpu++)
			tot += d->cvalues[cpu];
		delta[i] = tot - d->counters[i];
		d->counters[i] = tot;
	}
	return 0;
}
