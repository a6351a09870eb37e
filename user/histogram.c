// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Percentiles from the kernel's latency histograms: see hist.h. */
#include <math.h>

#include "histogram.h"

__u64 kerno_hist_total(const __u32 *buckets)
{
	__u64 total = 0;
	unsigned int b;

	for (b = 0; b < KERNO_HIST_BUCKETS; b++)
		total += buckets[b];
	return total;
}

bool kerno_hist_range(const __u32 *buckets, unsigned int *first, unsigned int *last)
{
	unsigned int f = 0, l = KERNO_HIST_BUCKETS - 1;

	while (f < KERNO_HIST_BUCKETS && !buckets[f])
		f++;
	if (f == KERNO_HIST_BUCKETS)
		return false;
	while (!buckets[l])
		l--;
	*first = f;
	*last = l;
	return true;
}

double kerno_hist_quantile(const __u32 *buckets, __u64 count, double q)
{
	__u64 total = kerno_hist_total(buckets), below = 0;
	unsigned int b, first, last;
	double rank, lo, hi;

	(void)count; /* the buckets are authoritative: see hist.h */
	if (!kerno_hist_range(buckets, &first, &last))
		return NAN;
	if (!(q > 0)) /* also catches NaN */
		return (double)kerno_hist_lower(first);
	if (q >= 1)
		return (double)kerno_hist_upper(last);

	/* The sample of rank q * total lies in the first bucket whose cumulative count reaches it. */
	rank = q * (double)total;
	for (b = first; b < last; b++) {
		if ((double)(below + buckets[b]) >= rank)
			break;
		below += buckets[b];
	}
	lo = (double)kerno_hist_lower(b);
	hi = (double)kerno_hist_upper(b);
	return lo + (hi - lo) * (rank - (double)below) / (double)buckets[b];
}
