// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The ids of HTTP/2 and gRPC spans (user/h2spans.c): the server end of a
 * stream on this node joins its client end's trace, also when it ends before
 * the client's request is decoded (held); a traceparent wins; a link of an
 * earlier connection with the same ports, or a server over another address
 * that found none, goes without.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "h2spans.h"

#define MS 1000000ULL

struct offered {
	struct kerno_span_event ev[8];
	int n;
};

static void collect(void *ctx, struct kerno_span_event *ev)
{
	struct offered *o = ctx;

	assert_true(o->n < 8);
	memcpy(&o->ev[o->n++], ev, KERNO_SPAN_EVENT_HDR);
}

static const struct kerno_h2_conn_ref client_conn = { .conn_id = 100 * MS,
						      .local_port = 40000,
						      .peer_port = 50051 };
static const struct kerno_h2_conn_ref server_conn = { .conn_id = 100 * MS,
						      .local_port = 50051,
						      .peer_port = 40000 };

/* The end of stream 3 on the server side, from 127.0.0.1 (or 10.0.0.9 if !loopback). */
static struct kerno_h2_event server_end(bool loopback)
{
	struct kerno_h2_event e;

	memset(&e, 0, KERNO_H2_EVENT_HDR);
	e.conn = server_conn;
	e.kind = KERNO_H2_EV_END;
	e.role = KERNO_ROLE_SERVER;
	e.family = 2;
	e.stream_id = 3;
	e.end_ns = 300 * MS;
	e.dur_ns = 2 * MS;
	e.peer_addr[0] = loopback ? 127 : 10;
	e.peer_addr[3] = loopback ? 1 : 9;
	return e;
}

static const struct kerno_series_key server_key = { .role = KERNO_ROLE_SERVER,
						    .proto = KERNO_P_GRPC };

static void test_client_first(void **state)
{
	struct offered o = { 0 };
	struct h2spans *hs = h2spans_new(collect, &o);
	struct h2_fields f = { 0 };
	struct h2_span_ids ids = { 0 };
	struct kerno_h2_event e = server_end(true);

	assert_non_null(hs);
	h2spans_request(hs, &client_conn, 3, &f, &ids, 200 * MS);
	assert_true(ids.set);
	assert_int_equal(o.n, 0);
	h2spans_end(hs, &e, &f, NULL, &server_key, 301 * MS);
	assert_int_equal(o.n, 1);
	assert_memory_equal(o.ev[0].trace_id, ids.trace_id, 16);
	assert_int_equal(o.ev[0].parent_id, ids.span_id);
	assert_int_equal(o.ev[0].flags, KERNO_SPAN_F_LINKED);
	assert_int_not_equal(o.ev[0].span_id, ids.span_id);
	assert_int_equal(o.ev[0].start_ns, 298 * MS);
	h2spans_free(hs);
}

static void test_server_first_held(void **state)
{
	struct offered o = { 0 };
	struct h2spans *hs = h2spans_new(collect, &o);
	struct h2_fields f = { 0 };
	struct h2_span_ids ids = { 0 };
	struct kerno_h2_event e = server_end(true);

	h2spans_end(hs, &e, &f, NULL, &server_key, 301 * MS);
	assert_int_equal(o.n, 0); /* held: over loopback, its client may come */
	h2spans_expire(hs, 400 * MS, false);
	assert_int_equal(o.n, 0); /* 99 ms: still waiting */
	h2spans_request(hs, &client_conn, 3, &f, &ids, 402 * MS);
	assert_int_equal(o.n, 1);
	assert_memory_equal(o.ev[0].trace_id, ids.trace_id, 16);
	assert_int_equal(o.ev[0].parent_id, ids.span_id);
	h2spans_expire(hs, 0, true);
	assert_int_equal(o.n, 1);
	h2spans_free(hs);
}

static void test_held_expires(void **state)
{
	struct offered o = { 0 };
	struct h2spans *hs = h2spans_new(collect, &o);
	struct h2_fields f = { 0 };
	struct kerno_h2_event e = server_end(true);

	h2spans_end(hs, &e, &f, NULL, &server_key, 301 * MS);
	h2spans_expire(hs, 501 * MS, false);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.ev[0].parent_id, 0);
	assert_int_equal(o.ev[0].flags, 0);
	h2spans_free(hs);
}

static void test_not_loopback_not_held(void **state)
{
	struct offered o = { 0 };
	struct h2spans *hs = h2spans_new(collect, &o);
	struct h2_fields f = { 0 };
	struct kerno_h2_event e = server_end(false);

	h2spans_end(hs, &e, &f, NULL, &server_key, 301 * MS);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.ev[0].parent_id, 0);
	h2spans_free(hs);
}

static void test_stale_link(void **state)
{
	struct offered o = { 0 };
	struct h2spans *hs = h2spans_new(collect, &o);
	struct h2_fields f = { 0 };
	struct h2_span_ids ids = { 0 };
	struct kerno_h2_event e = server_end(false);

	/* Stored before the server accepted this connection: a connection of the same ports before. */
	h2spans_request(hs, &client_conn, 3, &f, &ids, 50 * MS);
	h2spans_end(hs, &e, &f, NULL, &server_key, 301 * MS);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.ev[0].parent_id, 0);
	assert_memory_not_equal(o.ev[0].trace_id, ids.trace_id, 16);
	h2spans_free(hs);
}

static void test_traceparent(void **state)
{
	struct offered o = { 0 };
	struct h2spans *hs = h2spans_new(collect, &o);
	struct h2_fields f = { .has_traceparent = true, .trace_id = { 1, 2, 3 }, .parent_id = 77 };
	struct kerno_series_key client_key = { .role = KERNO_ROLE_CLIENT, .proto = KERNO_P_GRPC };
	struct kerno_h2_event e = server_end(true), ce = server_end(true);
	struct h2_span_ids ids = { 0 };

	h2spans_request(hs, &client_conn, 3, &f, &ids, 200 * MS);
	assert_int_equal(ids.span_id, 77);
	h2spans_end(hs, &e, &f, NULL, &server_key, 301 * MS);
	ce.conn = client_conn;
	ce.role = KERNO_ROLE_CLIENT;
	h2spans_end(hs, &ce, &f, &ids, &client_key, 302 * MS);
	assert_int_equal(o.n, 2);
	/* The server: the header's parent; the client: the header's span. */
	assert_memory_equal(o.ev[0].trace_id, f.trace_id, 16);
	assert_int_equal(o.ev[0].parent_id, 77);
	assert_int_equal(o.ev[0].flags, KERNO_SPAN_F_TRACEPARENT);
	assert_memory_equal(o.ev[1].trace_id, f.trace_id, 16);
	assert_int_equal(o.ev[1].span_id, 77);
	assert_int_equal(o.ev[1].parent_id, 0);
	assert_int_equal(o.ev[1].flags, KERNO_SPAN_F_TRACEPARENT);
	h2spans_free(hs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_first), cmocka_unit_test(test_server_first_held),
		cmocka_unit_test(test_held_expires), cmocka_unit_test(test_not_loopback_not_held),
		cmocka_unit_test(test_stale_link),   cmocka_unit_test(test_traceparent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
