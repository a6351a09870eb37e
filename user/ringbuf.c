// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A BPF ring buffer mapped once: see ringbuf.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "ringbuf.h"

struct ringbuf {
	struct ringbuf_mem mem;
	struct ringbuf_bounce bounce;
	ringbuf_fn fn;
	void *ctx;
	void *cons_map, *prod_map; /* the consumer page; the producer page and the data */
	size_t page, prod_len;
	int epoll_fd;
};

/* A record's length field: its payload size, and two flags (still being written, discarded). */
#define LEN_FLAGS (BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)

/* Bytes a record of payload len takes in the ring: header, payload, padding to 8. */
static size_t record_span(uint32_t len)
{
	return ((size_t)(len & ~LEN_FLAGS) + BPF_RINGBUF_HDR_SZ + 7) & ~(size_t)7;
}

/* The payload at data offset off, in one piece: in place, or put together in b. */
static void *payload_at(const struct ringbuf_mem *m, struct ringbuf_bounce *b, size_t off,
			size_t len)
{
	size_t first = m->size - off;
	uint8_t *buf;

	if (len <= first)
		return (void *)(m->data + off);
	if (b->cap < len) {
		buf = realloc(b->buf, len);
		if (!buf)
			return NULL;
		b->buf = buf;
		b->cap = len;
	}
	memcpy(b->buf, m->data + off, first);
	memcpy(b->buf + first, m->data, len - first);
	return b->buf;
}

int ringbuf_mem_consume(const struct ringbuf_mem *m, struct ringbuf_bounce *b, ringbuf_fn fn,
			void *ctx)
{
	unsigned long cons = __atomic_load_n(m->consumer_pos, __ATOMIC_ACQUIRE), prod;
	size_t mask = m->size - 1;
	const uint32_t *hdr;
	uint32_t len;
	void *payload;
	int n = 0, err;

	/* A producer may commit more while we read: look again until nothing is new. */
	while (cons < (prod = __atomic_load_n(m->producer_pos, __ATOMIC_ACQUIRE))) {
		for (; cons < prod; __atomic_store_n(m->consumer_pos, cons, __ATOMIC_RELEASE)) {
			/* Headers are 8-byte aligned in a ring of whole pages: never split. */
			hdr = (const uint32_t *)(m->data + (cons & mask));
			len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
			if (len & BPF_RINGBUF_BUSY_BIT)
				return n; /* the records after it wait for its commit */
			if (len & BPF_RINGBUF_DISCARD_BIT) {
				cons += record_span(len);
				continue;
			}
			payload = payload_at(m, b, (cons + BPF_RINGBUF_HDR_SZ) & mask, len);
			if (!payload)
				return -ENOMEM;
			cons += record_span(len);
			n++;
			err = fn(ctx, payload, len);
			if (err < 0) {
				__atomic_store_n(m->consumer_pos, cons, __ATOMIC_RELEASE);
				return err;
			}
		}
	}
	return n;
}

/* The consumer page read-write, then the producer page and the data, once, read-only. */
static int map_ring(struct ringbuf *rb, int map_fd)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info);
	int err;

	err = bpf_obj_get_info_by_fd(map_fd, &info, &info_len);
	if (err)
		return err;
	if (info.type != BPF_MAP_TYPE_RINGBUF)
		return -EINVAL;
	rb->page = (size_t)sysconf(_SC_PAGESIZE);
	rb->cons_map = mmap(NULL, rb->page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (rb->cons_map == MAP_FAILED) {
		rb->cons_map = NULL;
		return -errno;
	}
	rb->prod_len = rb->page + info.max_entries;
	rb->prod_map = mmap(NULL, rb->prod_len, PROT_READ, MAP_SHARED, map_fd, (off_t)rb->page);
	if (rb->prod_map == MAP_FAILED) {
		rb->prod_map = NULL;
		return -errno;
	}
	rb->mem.consumer_pos = rb->cons_map;
	rb->mem.producer_pos = rb->prod_map;
	rb->mem.data = (const uint8_t *)rb->prod_map + rb->page;
	rb->mem.size = info.max_entries;
	return 0;
}

struct ringbuf *ringbuf_new(int map_fd, ringbuf_fn fn, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ringbuf *rb = calloc(1, sizeof(*rb));
	int err;

	if (!rb)
		return NULL;
	rb->fn = fn;
	rb->ctx = ctx;
	rb->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (rb->epoll_fd < 0) {
		err = -errno;
		goto fail;
	}
	err = map_ring(rb, map_fd);
	if (err)
		goto fail;
	if (epoll_ctl(rb->epoll_fd, EPOLL_CTL_ADD, map_fd, &ev)) {
		err = -errno;
		goto fail;
	}
	return rb;
fail:
	ringbuf_free(rb);
	errno = -err;
	return NULL;
}

int ringbuf_wake_on(struct ringbuf *rb, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(rb->epoll_fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int ringbuf_consume(struct ringbuf *rb)
{
	return ringbuf_mem_consume(&rb->mem, &rb->bounce, rb->fn, rb->ctx);
}

int ringbuf_poll(struct ringbuf *rb, int timeout_ms)
{
	struct epoll_event ev;

	if (epoll_wait(rb->epoll_fd, &ev, 1, timeout_ms) < 0)
		return -errno;
	return ringbuf_consume(rb);
}

void ringbuf_free(struct ringbuf *rb)
{
	if (!rb)
		return;
	if (rb->cons_map)
		munmap(rb->cons_map, rb->page);
	if (rb->prod_map)
		munmap(rb->prod_map, rb->prod_len);
	if (rb->epoll_fd >= 0)
		close(rb->epoll_fd);
	free(rb->bounce.buf);
	free(rb);
}
