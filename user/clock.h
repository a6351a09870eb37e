/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A clock in nanoseconds: CLOCK_MONOTONIC is also bpf_ktime_get_ns()'s clock. */
#ifndef KERNO_CLOCK_H
#define KERNO_CLOCK_H

#include <time.h>
#include <linux/types.h>

static inline __u64 clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* CLOCK_MONOTONIC in milliseconds, for deadlines and timeouts. */
static inline long long mono_ms(void)
{
	return (long long)(clock_ns(CLOCK_MONOTONIC) / 1000000);
}

/* Milliseconds until a mono_ms() deadline, 0 once it has passed: a timeout for poll(). */
static inline int ms_until(long long deadline)
{
	long long left = deadline - mono_ms();

	return left < 0 ? 0 : (int)left;
}

#endif /* KERNO_CLOCK_H */
