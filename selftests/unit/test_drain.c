// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * user/drain.c against real per-CPU hash maps, made here with bpf(2) (the
 * suite runs as root): deltas summed over CPUs, the owner's deletion of idle
 * series, and a reader that deletes nothing (`kerno top`) following a map
 * whose series its owner deletes and makes again.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "drain.h"

#define MAX_SERIES 8

/* The kernel lays per-CPU values out 8-byte aligned, one per possible CPU. */
#define STRIDE ((sizeof(struct kerno_series_val) + 7) & ~(size_t)7)

struct maps {
	int series;
	int counters;
	int ncpus;
	char *values; /* one per-CPU value, as bpf(2) takes it */
};

static int setup(void **state)
{
	struct maps *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->ncpus = libbpf_num_possible_cpus();
	assert_true(m->ncpus > 0);
	m->series = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "t_series",
				   sizeof(struct kerno_series_key), sizeof(struct kerno_series_val),
				   MAX_SERIES, NULL);
	m->counters = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "t_counters", sizeof(__u32),
				     sizeof(__u64), KERNO_COUNTER__COUNT, NULL);
	/* Not skipped: the suite runs as root, and a test that cannot run failed. */
	assert_true(m->series >= 0);
	assert_true(m->counters >= 0);
	m->values = calloc(m->ncpus, STRIDE);
	assert_non_null(m->values);
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	struct maps *m = *state;

	close(m->series);
	close(m->counters);
	free(m->values);
	free(m);
	return 0;
}

static struct kerno_series_key key_of(__u32 tgid)
{
	struct kerno_series_key k;

	memset(&k, 0, sizeof(k));
	k.tgid = tgid;
	k.status = 200;
	k.proto = KERNO_P_HTTP1;
	strcpy(k.path, "/users/{id}");
	return k;
}

/* Series tgid holds count[cpu] requests on CPU cpu (the first two CPUs), each in bucket 3. */
static void put(struct maps *m, __u32 tgid, __u64 on_cpu0, __u64 on_cpu1)
{
	struct kerno_series_key k = key_of(tgid);
	int cpu;

	memset(m->values, 0, m->ncpus * STRIDE);
	for (cpu = 0; cpu < m->ncpus && cpu < 2; cpu++) {
		struct kerno_series_val *v = (void *)(m->values + cpu * STRIDE);

		v->count = cpu ? on_cpu1 : on_cpu0;
		v->sum_ns = v->count * 1000;
		v->buckets[3] = (__u32)v->count;
	}
	assert_int_equal(bpf_map_update_elem(m->series, &k, m->values, BPF_ANY), 0);
}

static void del(struct maps *m, __u32 tgid)
{
	struct kerno_series_key k = key_of(tgid);

	assert_int_equal(bpf_map_delete_elem(m->series, &k), 0);
}

/* The count drained for tgid (0 if it did not move), and how many series moved. */
static __u64 drained(struct drain *d, __u32 tgid, long *moved)
{
	const struct kerno_sample *s;
	__u64 count = 0;
	long n = drain_series(d, &s), i;

	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		if (s[i].key.tgid != tgid)
			continue;
		count = s[i].count;
		assert_int_equal(s[i].sum_ns, count * 1000);
		assert_int_equal(s[i].buckets[3], count);
	}
	*moved = n;
	return count;
}

static void test_deltas_over_cpus(void **state)
{
	struct maps *m = *state;
	struct drain d;
	long moved;

	assert_int_equal(drain_init(&d, m->series, m->counters, MAX_SERIES, 0), 0);
	put(m, 1, 5, 0);
	assert_int_equal(drained(&d, 1, &moved), 5);
	assert_int_equal(moved, 1);
	put(m, 1, 5, m->ncpus > 1 ? 7 : 0);
	assert_int_equal(drained(&d, 1, &moved), m->ncpus > 1 ? 7 : 0);
	assert_int_equal(drained(&d, 1, &moved), 0);
	assert_int_equal(moved, 0);
	drain_free(&d);
}

/* The owner deletes a series idle for idle_rounds drains, and nothing counted is lost. */
static void test_owner_deletes_idle(void **state)
{
	struct maps *m = *state;
	struct kerno_series_key k = key_of(2);
	struct drain d;
	long moved;

	assert_int_equal(drain_init(&d, m->series, m->counters, MAX_SERIES, 2), 0);
	put(m, 2, 4, 0);
	assert_int_equal(drained(&d, 2, &moved), 4);
	assert_int_equal(drained(&d, 2, &moved), 0);
	assert_int_equal(bpf_map_lookup_elem(m->series, &k, m->values), 0);
	assert_int_equal(drained(&d, 2, &moved), 0);
	assert_int_equal(bpf_map_lookup_elem(m->series, &k, m->values), -ENOENT);
	/* Made again by the kernel: counted from zero, as the owner forgot it too. */
	put(m, 2, 3, 0);
	assert_int_equal(drained(&d, 2, &moved), 3);
	drain_free(&d);
}

/*
 * `kerno top` beside the agent: the agent deletes a series and the kernel
 * makes it again with fewer requests than before. The reader counts the new
 * ones, not 2^64 minus the difference; and its table, the size of the map,
 * does not fill up with series that are gone.
 */
static void test_reader_follows_deletions(void **state)
{
	struct maps *m = *state;
	struct drain d;
	long moved;
	__u32 tgid;

	assert_int_equal(drain_init(&d, m->series, m->counters, MAX_SERIES, 0), 0);
	put(m, 3, 100, 0);
	assert_int_equal(drained(&d, 3, &moved), 100);
	del(m, 3);
	put(m, 3, 6, 0);
	assert_int_equal(drained(&d, 3, &moved), 6);
	assert_int_equal(moved, 1);
	del(m, 3);
	/* Four times the map's size in series, a few at a time, each deleted after. */
	for (tgid = 100; tgid < 100 + 4 * MAX_SERIES; tgid++) {
		put(m, tgid, tgid, 0);
		assert_int_equal(drained(&d, tgid, &moved), tgid);
		assert_int_equal(moved, 1);
		del(m, tgid);
	}
	assert_int_equal(drained(&d, 0, &moved), 0);
	assert_int_equal(moved, 0);
	drain_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deltas_over_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_deletes_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_follows_deletions, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
