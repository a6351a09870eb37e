/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Log-linear latency histogram shared by the kernel and userspace.
 *
 * Each power of two from 2^10 ns (1 us) to 2^36 ns (69 s) is split into 16
 * equal sub-buckets, so a bucket is at most 1/16 of its lower bound wide and
 * a percentile interpolated inside it is within 6.25 % of the true value.
 * Bucket 0 holds everything under 1 us; the last bucket also holds anything
 * over 2^37 ns. Only shifts and compares: cheap in a BPF program.
 */
#ifndef KERNO_HIST_H
#define KERNO_HIST_H

#define KERNO_HIST_SUB_BITS 4
#define KERNO_HIST_SUB (1 << KERNO_HIST_SUB_BITS)
#define KERNO_HIST_MIN_MSB 10
#define KERNO_HIST_MAX_MSB 36
#define KERNO_HIST_BUCKETS (1 + (KERNO_HIST_MAX_MSB - KERNO_HIST_MIN_MSB + 1) * KERNO_HIST_SUB)

/* Index of the most significant set bit; v must be non-zero. */
static __always_inline unsigned int kerno_msb64(__u64 v)
{
	unsigned int r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

static __always_inline unsigned int kerno_hist_bucket(__u64 ns)
{
	unsigned int msb;

	if (ns < (1ULL << KERNO_HIST_MIN_MSB))
		return 0;
	msb = kerno_msb64(ns);
	if (msb > KERNO_HIST_MAX_MSB)
		return KERNO_HIST_BUCKETS - 1;
	return 1 + (msb - KERNO_HIST_MIN_MSB) * KERNO_HIST_SUB +
	       ((ns >> (msb - KERNO_HIST_SUB_BITS)) & (KERNO_HIST_SUB - 1));
}

/* Lower bound, in ns, of bucket b (0 for bucket 0). */
static __always_inline __u64 kerno_hist_lower(unsigned int b)
{
	unsigned int msb, sub;

	if (b == 0)
		return 0;
	msb = KERNO_HIST_MIN_MSB + (b - 1) / KERNO_HIST_SUB;
	sub = (b - 1) % KERNO_HIST_SUB;
	return (__u64)(KERNO_HIST_SUB + sub) << (msb - KERNO_HIST_SUB_BITS);
}

/* Upper bound, in ns, of bucket b: the lower bound of the next one. */
static __always_inline __u64 kerno_hist_upper(unsigned int b)
{
	return kerno_hist_lower(b + 1);
}

#endif /* KERNO_HIST_H */
