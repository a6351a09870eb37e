// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Late links (user/span_late.c): a server span whose client span the kernel
 * had not seen yet waits for it; its children follow it to the client's
 * trace; what waits too long or has no room goes out as it was, counted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "span_late.h"

#define MS 1000000ULL

struct out {
	struct kerno_span_event ev[16];
	int n;
};

static void collect(void *ctx, const struct kerno_span_event *ev, size_t len)
{
	struct out *o = ctx;

	assert_int_equal(len, KERNO_SPAN_EVENT_HDR);
	assert_true(o->n < 16);
	memcpy(&o->ev[o->n++], ev, KERNO_SPAN_EVENT_HDR);
}

/* A span on 127.0.0.1, client port cport to server port 80, trace byte t. */
static struct kerno_span_event span(__u8 role, __u16 cport, __u32 seq, __u8 t, __u64 id, __u8 flags)
{
	struct kerno_span_event e;
	int server = role == KERNO_ROLE_SERVER;

	memset(&e, 0, sizeof(e));
	e.role = role;
	e.family = 2;
	e.local_addr[0] = e.peer_addr[0] = 127;
	e.local_addr[3] = e.peer_addr[3] = 1;
	e.local_port = server ? 80 : cport;
	e.peer_port = server ? cport : 80;
	e.req_seq = seq;
	memset(e.trace_id, t, 16);
	e.span_id = id;
	e.flags = flags;
	return e;
}

static void take(struct span_late *l, struct kerno_span_event e, __u64 now)
{
	span_late_take(l, &e, KERNO_SPAN_EVENT_HDR, now);
}

static void check_stats(struct span_late *l, unsigned long long held, unsigned long long linked,
			unsigned long long unlinked)
{
	struct span_late_stats st;

	span_late_get_stats(l, &st);
	assert_int_equal(st.held, held);
	assert_int_equal(st.linked, linked);
	assert_int_equal(st.unlinked, unlinked);
	assert_int_equal(st.no_memory, 0);
}

/* Front server (late, trace 0xaa) with a child (trace 0xaa), then its client (0x11). */
static void test_root_then_client(void **state)
{
	struct out o = { 0 };
	struct span_late *l = span_late_new(8, 1000 * MS, collect, &o);

	take(l,
	     span(KERNO_ROLE_CLIENT, 2000, 0, 0xaa, 7,
		  KERNO_SPAN_F_THREAD | KERNO_SPAN_F_TRACE_LATE),
	     0);
	take(l, span(KERNO_ROLE_SERVER, 1000, 3, 0xaa, 5, KERNO_SPAN_F_LINK_LATE), 0);
	assert_int_equal(o.n, 0);
	/* Another request on the connection: not this server span's client. */
	take(l, span(KERNO_ROLE_CLIENT, 1000, 2, 0x22, 8, 0), 0);
	assert_int_equal(o.n, 1);
	take(l, span(KERNO_ROLE_CLIENT, 1000, 3, 0x11, 9, 0), MS);
	assert_int_equal(o.n, 4);
	/* The child and the server, moved to the client's trace; the server names it. */
	assert_int_equal(o.ev[0].span_id, 8);
	assert_int_equal(o.ev[1].span_id, 7);
	assert_int_equal(o.ev[1].trace_id[15], 0x11);
	assert_int_equal(o.ev[2].span_id, 5);
	assert_int_equal(o.ev[2].trace_id[0], 0x11);
	assert_int_equal(o.ev[2].parent_id, 9);
	assert_true(o.ev[2].flags & KERNO_SPAN_F_LINKED);
	assert_int_equal(o.ev[3].span_id, 9);
	check_stats(l, 2, 1, 0);
	/* A late child of the moved trace follows at once. */
	take(l, span(KERNO_ROLE_CLIENT, 2001, 0, 0xaa, 10, KERNO_SPAN_F_TRACE_LATE), 2 * MS);
	assert_int_equal(o.n, 5);
	assert_int_equal(o.ev[4].trace_id[7], 0x11);
	span_late_free(l);
}

/* The client span came first: the server span is linked when it arrives. */
static void test_client_then_root(void **state)
{
	struct out o = { 0 };
	struct span_late *l = span_late_new(8, 1000 * MS, collect, &o);

	take(l, span(KERNO_ROLE_CLIENT, 1000, 0, 0x11, 9, 0), 0);
	take(l, span(KERNO_ROLE_SERVER, 1000, 0, 0xaa, 5, KERNO_SPAN_F_LINK_LATE), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.ev[1].trace_id[3], 0x11);
	assert_int_equal(o.ev[1].parent_id, 9);
	check_stats(l, 1, 1, 0);
	span_late_free(l);
}

/*
 * The client span remembered for these two ends and position ended before
 * the server span started: an earlier connection's (a reused client port),
 * not its sender. The server span waits for its own, which links it.
 */
static void test_earlier_connection(void **state)
{
	struct out o = { 0 };
	struct span_late *l = span_late_new(8, 1000 * MS, collect, &o);
	struct kerno_span_event old = span(KERNO_ROLE_CLIENT, 1000, 0, 0x11, 9, 0);
	struct kerno_span_event server =
		span(KERNO_ROLE_SERVER, 1000, 0, 0xaa, 5, KERNO_SPAN_F_LINK_LATE);
	struct kerno_span_event client = span(KERNO_ROLE_CLIENT, 1000, 0, 0x22, 12, 0);

	old.start_ns = 1 * MS;
	old.end_ns = 2 * MS;
	server.start_ns = 10 * MS;
	server.end_ns = 11 * MS;
	client.start_ns = 10 * MS + 1;
	client.end_ns = 12 * MS;
	take(l, old, 2 * MS);
	take(l, server, 11 * MS);
	assert_int_equal(o.n, 1);
	take(l, client, 12 * MS);
	assert_int_equal(o.n, 3);
	/* The server span goes out as its client span arrives, before it. */
	assert_int_equal(o.ev[1].span_id, 5);
	assert_int_equal(o.ev[1].trace_id[3], 0x22);
	assert_int_equal(o.ev[1].parent_id, 12);
	check_stats(l, 1, 1, 0);
	span_late_free(l);
}

/* A grandchild: the back server's client span had a provisional trace, settled since. */
static void test_grandchild(void **state)
{
	struct out o = { 0 };
	struct span_late *l = span_late_new(8, 1000 * MS, collect, &o);

	take(l, span(KERNO_ROLE_SERVER, 1000, 0, 0xaa, 5, KERNO_SPAN_F_LINK_LATE), 0);
	take(l,
	     span(KERNO_ROLE_CLIENT, 2000, 0, 0xaa, 7,
		  KERNO_SPAN_F_THREAD | KERNO_SPAN_F_TRACE_LATE),
	     0);
	take(l, span(KERNO_ROLE_CLIENT, 1000, 0, 0x11, 9, 0), 0);
	assert_int_equal(o.n, 3);
	take(l, span(KERNO_ROLE_SERVER, 2000, 0, 0xbb, 20, KERNO_SPAN_F_LINK_LATE), 0);
	assert_int_equal(o.n, 4);
	assert_int_equal(o.ev[3].span_id, 20);
	assert_int_equal(o.ev[3].parent_id, 7);
	assert_int_equal(o.ev[3].trace_id[9], 0x11);
	check_stats(l, 3, 2, 0);
	span_late_free(l);
}

/* No client span in time: the group goes out as it was, the server counted. */
static void test_expiry(void **state)
{
	struct out o = { 0 };
	struct span_late *l = span_late_new(8, 1000 * MS, collect, &o);

	take(l, span(KERNO_ROLE_SERVER, 1000, 0, 0xaa, 5, KERNO_SPAN_F_LINK_LATE), 0);
	take(l,
	     span(KERNO_ROLE_SERVER, 3000, 0, 0xaa, 6,
		  KERNO_SPAN_F_LINKED | KERNO_SPAN_F_TRACE_LATE),
	     10 * MS);
	span_late_expire(l, 999 * MS, false);
	assert_int_equal(o.n, 0);
	span_late_expire(l, 1000 * MS, false);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.ev[0].trace_id[0], 0xaa);
	assert_int_equal(o.ev[0].parent_id, 0);
	check_stats(l, 2, 0, 1);
	/* A follower whose server span went out already waits for nothing. */
	take(l, span(KERNO_ROLE_CLIENT, 2000, 0, 0xaa, 7, KERNO_SPAN_F_TRACE_LATE), 1001 * MS);
	assert_int_equal(o.n, 3);
	span_late_free(l);
}

/* Full: the oldest waiting group makes room, counted. */
static void test_room(void **state)
{
	struct out o = { 0 };
	struct span_late *l = span_late_new(2, 1000 * MS, collect, &o);

	take(l, span(KERNO_ROLE_SERVER, 1000, 0, 0xa1, 1, KERNO_SPAN_F_LINK_LATE), 0);
	take(l, span(KERNO_ROLE_SERVER, 1001, 0, 0xa2, 2, KERNO_SPAN_F_LINK_LATE), 0);
	take(l, span(KERNO_ROLE_SERVER, 1002, 0, 0xa3, 3, KERNO_SPAN_F_LINK_LATE), 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.ev[0].span_id, 1);
	take(l, span(KERNO_ROLE_CLIENT, 1002, 0, 0x33, 4, 0), 0);
	assert_int_equal(o.n, 3);
	assert_int_equal(o.ev[1].span_id, 3);
	assert_int_equal(o.ev[1].parent_id, 4);
	span_late_expire(l, 0, true);
	assert_int_equal(o.n, 4);
	check_stats(l, 3, 1, 2);
	span_late_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_then_client),
		cmocka_unit_test(test_client_then_root),
		cmocka_unit_test(test_earlier_connection),
		cmocka_unit_test(test_grandchild),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
