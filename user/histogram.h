/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading the kernel's log-linear latency histograms (kern/hist.h) in
 * userspace: populated range, totals and percentiles.
 */
#ifndef KERNO_HISTOGRAM_H
#define KERNO_HISTOGRAM_H

#include <stdbool.h>
#include "kerno_types.h"
#include "../kern/hist.h"

/* Sum of the KERNO_HIST_BUCKETS counts. */
__u64 kerno_hist_total(const __u32 *buckets);

/*
 * First and last non-empty bucket. Returns false (and leaves *first and
 * *last alone) when every bucket is empty.
 */
bool kerno_hist_range(const __u32 *buckets, unsigned int *first, unsigned int *last);

/*
 * The q-quantile (0 <= q <= 1; clamped) in ns, interpolated linearly inside
 * the bucket that holds it, so it is within one bucket width (1/16 of the
 * value) of the truth. `count` is the number of samples in `buckets`; pass 0
 * to have it summed. When it disagrees with the buckets (a per-CPU read torn
 * by a concurrent update), the buckets win. q = 0 gives the lower bound of
 * the first populated bucket, q = 1 the upper bound of the last.
 * Returns NAN for an empty histogram.
 */
double kerno_hist_quantile(const __u32 *buckets, __u64 count, double q);

#endif /* KERNO_HISTOGRAM_H */
