/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading the kernel's cumulative per-CPU maps as deltas. The kernel never
 * resets a series; every drain sums the CPUs, subtracts what the previous
 * drain saw and hands out the difference. Series idle for `idle_rounds`
 * drains are deleted from the kernel map (lookup-and-delete, so nothing
 * counted before the delete is lost), which keeps the map from filling up
 * with series of processes that are gone. A reader that deletes nothing
 * (`kerno top`, idle_rounds 0) forgets, at each drain, the series it did not
 * find in the map any more.
 */
#ifndef KERNO_DRAIN_H
#define KERNO_DRAIN_H

#include <stddef.h>
#include "kerno_types.h"
#include "../kern/capture.h"
#include "otlp.h"

struct drain_entry;

struct drain {
	int series_fd;
	int counters_fd;
	int ncpus;
	unsigned int idle_rounds; /* 0: never delete (a read-only reader) */
	size_t cap; /* slots in the table, a power of two */
	size_t used;
	struct drain_entry *tab; /* open addressing, linear probing */
	__u64 round;
	void *values; /* one per-CPU value of the series map */
	__u64 *cvalues; /* one per-CPU value of the counters map */
	__u64 counters[KERNO_COUNTER__COUNT]; /* cumulative, as last seen */
	struct kerno_sample *samples; /* output of drain_series() */
	size_t samples_cap;
	size_t max_series; /* the size of the map */
	bool shared; /* values are one for all CPUs, not one per CPU */
	bool with_bytes; /* those values are struct kerno_tcp_val, else begin with a kerno_series_val */
	struct drain *tcp; /* the plain TCP series' map, drained along, or NULL */
	struct drain *h2; /* the HTTP/2 and gRPC series' totals (h2_series), or NULL */
};

/* max_series is the kernel map's size. Returns 0 or a negative errno. */
int drain_init(struct drain *d, int series_fd, int counters_fd, size_t max_series,
	       unsigned int idle_rounds);
void drain_free(struct drain *d);

/*
 * Drain the plain TCP series' map (struct kerno_tcp_val values, shared by
 * the CPUs, same keys) along with the series: drain_series() then hands out
 * both. Returns 0 or a negative errno.
 */
int drain_add_tcp(struct drain *d, int tcp_fd);

/*
 * Drain the totals the agent keeps of the series it counts itself (HTTP/2,
 * gRPC: h2_series, struct kerno_h2_total values) along with the series: for
 * `kerno top`. Returns 0 or a negative errno.
 */
int drain_add_h2(struct drain *d, int h2_fd);

/*
 * The series that moved since the previous call. *out points into d and
 * stays valid until the next call. Returns the number of samples, or a
 * negative errno.
 */
long drain_series(struct drain *d, const struct kerno_sample **out);

/* Counter deltas since the previous call, summed over CPUs. */
int drain_counters(struct drain *d, __u64 delta[KERNO_COUNTER__COUNT]);

#endif /* KERNO_DRAIN_H */
