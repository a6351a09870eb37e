// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The record walk of user/ringbuf.c over a ring laid out as the kernel
 * writes it (kernel/bpf/ringbuf.c): 8-byte headers, payloads padded to 8,
 * positions that only grow; here a 64-byte ring, so records wrap often.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "ringbuf.h"

#define RING 64

struct ring {
	unsigned long cons, prod;
	uint8_t data[RING];
	struct ringbuf_mem mem;
	struct ringbuf_bounce bounce;
};

/* What the callback saw, record by record. */
struct seen {
	int n;
	size_t len[16];
	uint8_t bytes[16][RING];
	int fail_at; /* the record whose callback returns -EIO; -1: none */
};

static void ring_init(struct ring *r)
{
	memset(r, 0, sizeof(*r));
	r->mem.consumer_pos = &r->cons;
	r->mem.producer_pos = &r->prod;
	r->mem.data = r->data;
	r->mem.size = RING;
}

/* Commit len bytes, byte i = seed + i, with the header's flags; returns the header's offset. */
static size_t produce(struct ring *r, uint32_t len, uint8_t seed, uint32_t flags)
{
	size_t at = r->prod & (RING - 1), i;
	uint32_t hdr[2] = { len | flags, 0 };

	memcpy(r->data + at, hdr, sizeof(hdr));
	for (i = 0; i < len; i++)
		r->data[(at + BPF_RINGBUF_HDR_SZ + i) & (RING - 1)] = (uint8_t)(seed + i);
	r->prod += (BPF_RINGBUF_HDR_SZ + len + 7) & ~7UL;
	return at;
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct seen *s = ctx;
	int i = s->n++;

	assert_true(i < 16 && len <= RING);
	s->len[i] = len;
	memcpy(s->bytes[i], data, len);
	return i == s->fail_at ? -EIO : 0;
}

static void assert_record(const struct seen *s, int i, size_t len, uint8_t seed)
{
	size_t b;

	assert_int_equal(s->len[i], len);
	for (b = 0; b < len; b++)
		assert_int_equal(s->bytes[i][b], (uint8_t)(seed + b));
}

static void test_in_order(void **state)
{
	struct seen s = { .fail_at = -1 };
	struct ring r;

	ring_init(&r);
	produce(&r, 5, 10, 0);
	produce(&r, 16, 50, 0);
	assert_int_equal(ringbuf_mem_consume(&r.mem, &r.bounce, on_record, &s), 2);
	assert_int_equal(s.n, 2);
	assert_record(&s, 0, 5, 10);
	assert_record(&s, 1, 16, 50);
	assert_int_equal(r.cons, 16 + 24);
	assert_null(r.bounce.buf); /* nothing wrapped */
	assert_int_equal(ringbuf_mem_consume(&r.mem, &r.bounce, on_record, &s), 0);
	free(r.bounce.buf);
}

static void test_wrapped_payload(void **state)
{
	struct seen s = { .fail_at = -1 };
	struct ring r;

	ring_init(&r);
	/* A lap almost done: the next payload starts at 48, 16 bytes before the end. */
	r.cons = r.prod = 40;
	produce(&r, 30, 100, 0);
	produce(&r, 3, 7, 0); /* after the wrap, in place again */
	assert_int_equal(ringbuf_mem_consume(&r.mem, &r.bounce, on_record, &s), 2);
	assert_record(&s, 0, 30, 100);
	assert_record(&s, 1, 3, 7);
	assert_int_equal(r.bounce.cap, 30);
	assert_int_equal(r.cons, 40 + 40 + 16);
	assert_int_equal(r.cons, r.prod);
	free(r.bounce.buf);
}

static void test_busy_stops(void **state)
{
	struct seen s = { .fail_at = -1 };
	uint32_t len;
	size_t busy;
	struct ring r;

	ring_init(&r);
	produce(&r, 4, 1, 0);
	busy = produce(&r, 4, 2, BPF_RINGBUF_BUSY_BIT);
	produce(&r, 4, 3, 0); /* committed, but behind a record still being written */
	assert_int_equal(ringbuf_mem_consume(&r.mem, &r.bounce, on_record, &s), 1);
	assert_int_equal(r.cons, 16);
	/* The producer commits it: both come out, in order. */
	memcpy(&len, r.data + busy, sizeof(len));
	len &= ~BPF_RINGBUF_BUSY_BIT;
	memcpy(r.data + busy, &len, sizeof(len));
	assert_int_equal(ringbuf_mem_consume(&r.mem, &r.bounce, on_record, &s), 2);
	assert_record(&s, 1, 4, 2);
	assert_record(&s, 2, 4, 3);
	assert_int_equal(r.cons, 48);
}

static void test_discarded_skipped(void **state)
{
	struct seen s = { .fail_at = -1 };
	struct ring r;

	ring_init(&r);
	produce(&r, 12, 1, BPF_RINGBUF_DISCARD_BIT);
	produce(&r, 9, 20, 0);
	assert_int_equal(ringbuf_mem_consume(&r.mem, &r.bounce, on_record, &s), 1);
	assert_record(&s, 0, 9, 20);
	assert_int_equal(r.cons, 24 + 24);
}

static void test_callback_error(void **state)
{
	struct seen s = { .fail_at = 0 };
	struct ring r;

	ring_init(&r);
	produce(&r, 1, 1, 0);
	produce(&r, 1, 2, 0);
	/* The failing record is consumed; the one after it waits for the next call. */
	assert_int_equal(ringbuf_mem_consume(&r.mem, &r.bounce, on_record, &s), -EIO);
	assert_int_equal(s.n, 1);
	assert_int_equal(r.cons, 16);
	assert_int_equal(ringbuf_mem_consume(&r.mem, &r.bounce, on_record, &s), 1);
	assert_record(&s, 1, 1, 2);
}

static int count_records(void *ctx, void *data, size_t size)
{
	++*(int *)ctx;
	return 0;
}

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * A real ring buffer map (the suite runs as root): an empty ring's poll waits
 * out its timeout, unless the fd given to ringbuf_wake_on() is written.
 */
static void test_wake_on(void **state)
{
	int map = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "kerno_test_rb", 0, 0, 4096, NULL);
	int n = 0, efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct ringbuf *rb;
	struct timespec t0;

	assert_true(map >= 0); /* needs CAP_BPF: the suite runs as root */
	assert_true(efd >= 0);
	rb = ringbuf_new(map, count_records, &n);
	assert_non_null(rb);
	assert_int_equal(ringbuf_wake_on(rb, efd), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ringbuf_poll(rb, 300), 0);
	assert_true(since(&t0) >= 0.29); /* nothing to end the wait */
	eventfd_write(efd, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ringbuf_poll(rb, 5000), 0);
	assert_true(since(&t0) < 2.5); /* woken, not timed out */
	assert_int_equal(n, 0);
	ringbuf_free(rb);
	close(efd);
	close(map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),       cmocka_unit_test(test_wrapped_payload),
		cmocka_unit_test(test_busy_stops),     cmocka_unit_test(test_discarded_skipped),
		cmocka_unit_test(test_callback_error), cmocka_unit_test(test_wake_on),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
