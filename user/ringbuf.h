/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A reader of one BPF ring buffer (BPF_MAP_TYPE_RINGBUF) that maps the
 * ring's data once.
 *
 * libbpf's ring_buffer maps the data area twice, back to back, so that a
 * record wrapping past the end reads as one piece. The kernel fills in every
 * page of both views at mmap() time, so each ring costs twice its size in
 * the agent's RSS (a 4 MiB ring: 8 MiB). Here the rare record that wraps (at
 * most one per lap of the ring) is copied into a bounce buffer instead.
 *
 * Same contract as libbpf's: records in order, each passed once to the
 * callback; a negative return from it stops the walk after that record.
 */
#ifndef KERNO_RINGBUF_H
#define KERNO_RINGBUF_H

#include <stddef.h>
#include <stdint.h>

typedef int (*ringbuf_fn)(void *ctx, void *data, size_t size);

/* A ring's memory as the kernel lays it out (apart from the map, so tests can build one). */
struct ringbuf_mem {
	unsigned long *consumer_pos; /* written by the reader only */
	const unsigned long *producer_pos;
	const uint8_t *data;
	size_t size; /* bytes of data, a power of two */
};

/* Where wrapped records are put together; grown as needed, freed by ringbuf_free(). */
struct ringbuf_bounce {
	uint8_t *buf;
	size_t cap;
};

/*
 * Pass every committed record of m to fn, in order, and release it to the
 * kernel. Returns the records passed, or a negative errno: fn's, or -ENOMEM
 * when a wrapped record found no bounce memory (then left in the ring, to be
 * read on the next call; the kernel counts what it cannot keep meanwhile).
 */
int ringbuf_mem_consume(const struct ringbuf_mem *m, struct ringbuf_bounce *b, ringbuf_fn fn,
			void *ctx);

struct ringbuf;

/* Map the ring of map_fd; NULL with errno set on failure. */
struct ringbuf *ringbuf_new(int map_fd, ringbuf_fn fn, void *ctx);
/* Wait up to timeout_ms for the kernel's wakeup, then consume: records passed, or -errno. */
int ringbuf_poll(struct ringbuf *rb, int timeout_ms);
/*
 * Also end ringbuf_poll()'s wait once fd is readable: an eventfd its owner
 * writes when it has work of its own for the reading thread (and reads
 * itself). 0 or -errno.
 */
int ringbuf_wake_on(struct ringbuf *rb, int fd);
/* Consume what is there without waiting. */
int ringbuf_consume(struct ringbuf *rb);
void ringbuf_free(struct ringbuf *rb);

#endif /* KERNO_RINGBUF_H */
