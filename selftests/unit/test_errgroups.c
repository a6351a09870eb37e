// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Error groups: fingerprints, grouping, bounds, HTTP groups from series, the envelope data. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "errgroups.h"
#include "proto_names.h"

#define SEC 1000000000ULL

static struct errgroup_in refused(__u16 port, __u64 count, __u64 t)
{
	struct errgroup_in e = {
		.class = KERNO_ERR_CONNECT_REFUSED,
		.code = 111,
		.flags = KERNO_ERR_F_CLIENT,
		.comm = "curl",
		.cgroup_id = 42,
		.pid = 7,
		.family = AF_INET,
		.port = port,
		.count = count,
		.first_ns = t,
		.last_ns = t,
	};

	inet_pton(AF_INET, "10.0.0.9", e.addr);
	return e;
}

static json_t *take(struct errgroups *g)
{
	__u64 drops[KERNO_ERR_DROP__COUNT] = { 3, 1 };
	json_t *j = errgroups_take(g, 100 * SEC, 110 * SEC, drops, NULL, NULL);

	assert_non_null(j);
	return j;
}

static json_t *only_group(json_t *data)
{
	json_t *groups = json_object_get(data, "groups");

	assert_int_equal(json_array_size(groups), 1);
	return json_array_get(groups, 0);
}

/* Same identity, same fingerprint (any count or time); any field of the identity changes it. */
static void test_fingerprint(void **state)
{
	struct errgroup_in a = refused(80, 1, 1), b = refused(80, 9, 5), c;
	__u64 fp = errgroups_fingerprint(&a);

	assert_true(fp == errgroups_fingerprint(&b));
	c = a;
	c.port = 81;
	assert_true(fp != errgroups_fingerprint(&c));
	c = a;
	c.code = 110;
	assert_true(fp != errgroups_fingerprint(&c));
	c = a;
	c.class = KERNO_ERR_CONNECT_TIMEOUT;
	assert_true(fp != errgroups_fingerprint(&c));
	c = a;
	c.comm = "wget";
	assert_true(fp != errgroups_fingerprint(&c));
	c = a;
	c.cgroup_id = 43;
	assert_true(fp != errgroups_fingerprint(&c));
	c = a;
	c.addr[3] = 10;
	assert_true(fp != errgroups_fingerprint(&c));
	/* The pid is an example, not identity. */
	c = a;
	c.pid = 8;
	assert_true(fp == errgroups_fingerprint(&c));
	/* Strings are delimited: "ab"+"c" is not "a"+"bc". */
	c = a;
	c.method = "ab";
	c.route = "c";
	b = a;
	b.method = "a";
	b.route = "bc";
	assert_true(errgroups_fingerprint(&b) != errgroups_fingerprint(&c));
	/* A known value: fingerprints are the same on every node, build and run. */
	assert_true(fp == 0x10fe83c66ddf2ccaULL);
}

/* Observations of one group add up; times widen; the envelope says it all once. */
static void test_grouping(void **state)
{
	struct errgroups *g = errgroups_new(16);
	struct errgroup_in a = refused(80, 2, 103 * SEC), b = refused(80, 3, 101 * SEC);
	json_t *data, *grp, *attrs;
	char fp[20];

	assert_true(errgroups_add(g, &a));
	assert_true(errgroups_add(g, &b));
	assert_int_equal(errgroups_count(g), 1);
	data = take(g);
	grp = only_group(data);
	snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)errgroups_fingerprint(&a));
	assert_string_equal(json_string_value(json_object_get(grp, "fingerprint")), fp);
	assert_int_equal(json_integer_value(json_object_get(grp, "count")), 5);
	assert_string_equal(json_string_value(json_object_get(grp, "class")),
			    "tcp.connect_refused");
	assert_int_equal(json_integer_value(json_object_get(grp, "code")), 111);
	assert_string_equal(json_string_value(json_object_get(grp, "error.type")), "ECONNREFUSED");
	assert_string_equal(json_string_value(json_object_get(grp, "source")), "kernel");
	assert_string_equal(json_string_value(json_object_get(grp, "first_seen")),
			    "1970-01-01T00:01:41.000000000Z");
	assert_string_equal(json_string_value(json_object_get(grp, "last_seen")),
			    "1970-01-01T00:01:43.000000000Z");
	assert_string_equal(json_string_value(json_object_get(grp, "template")),
			    "connect to {server.address}:{server.port} refused");
	attrs = json_object_get(grp, "attributes");
	assert_string_equal(json_string_value(json_object_get(attrs, "server.address")),
			    "10.0.0.9");
	assert_int_equal(json_integer_value(json_object_get(attrs, "server.port")), 80);
	assert_string_equal(json_string_value(json_object_get(attrs, "process.executable.name")),
			    "curl");
	assert_int_equal(json_integer_value(json_object_get(attrs, "kerno.cgroup.id")), 42);
	assert_null(json_object_get(grp, "example_trace_id"));
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(data, "dropped"), "groups_full")),
			 3);
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(data, "dropped"), "owners_full")),
			 1);
	assert_string_equal(json_string_value(json_object_get(data, "start")),
			    "1970-01-01T00:01:40.000000000Z");
	json_decref(data);
	/* Taking empties the table: counts are per interval. */
	assert_int_equal(errgroups_count(g), 0);
	data = take(g);
	assert_int_equal(json_array_size(json_object_get(data, "groups")), 0);
	json_decref(data);
	errgroups_free(g);
}

/* Past max groups, observations are counted as untracked, never lost silently. */
static void test_bound(void **state)
{
	struct errgroups *g = errgroups_new(2);
	struct errgroup_in e;
	json_t *data;
	__u16 p;

	for (p = 1; p <= 4; p++) {
		e = refused(p, p, SEC);
		assert_true(errgroups_add(g, &e) == (p <= 2));
	}
	e = refused(1, 10, SEC); /* an existing group still counts */
	assert_true(errgroups_add(g, &e));
	data = take(g);
	assert_int_equal(json_array_size(json_object_get(data, "groups")), 2);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(data, "dropped"), "untracked")),
		3 + 4);
	json_decref(data);
	errgroups_free(g);
}

/* Unknown classes and empty observations are ignored, not stored unnamed. */
static void test_unknown_class(void **state)
{
	struct errgroups *g = errgroups_new(4);
	struct errgroup_in e = refused(1, 1, SEC);

	e.class = 40; /* no row */
	assert_true(errgroups_add(g, &e));
	e.class = 1000;
	assert_true(errgroups_add(g, &e));
	e = refused(1, 0, SEC);
	assert_true(errgroups_add(g, &e));
	assert_int_equal(errgroups_count(g), 0);
	errgroups_free(g);
}

static struct kerno_sample sample(__u8 role, __u16 status, __u64 count, const char *path)
{
	struct kerno_sample s = { .count = count };

	s.key.tgid = 77;
	s.key.cgroup_id = 5;
	s.key.server_port = 8080;
	s.key.status = status;
	s.key.role = role;
	s.key.method = KERNO_M_GET;
	s.key.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", s.key.peer_addr);
	memcpy(s.key.path, path, strlen(path)); /* NUL-padded, as the kernel keeps it */
	return s;
}

static int fake_lookup(void *ctx, __u32 pid, struct procinfo *out)
{
	if (pid != 77)
		return -2;
	snprintf(out->exe, sizeof(out->exe), "%s", "nginx");
	snprintf(out->container_id, sizeof(out->container_id), "%064d", 0);
	return 0;
}

static json_t *find_class(json_t *groups, const char *cls, int code)
{
	size_t i;
	json_t *g;

	json_array_foreach(groups, i, g)
	{
		if (!strcmp(json_string_value(json_object_get(g, "class")), cls) &&
		    json_integer_value(json_object_get(g, "code")) == code)
			return g;
	}
	return NULL;
}

/* HTTP groups come from the series, exactly: 5xx and 4xx per role, 2xx/3xx never. */
static void test_http(void **state)
{
	struct kerno_sample s[] = {
		sample(KERNO_ROLE_SERVER, 500, 5, "/a"), sample(KERNO_ROLE_SERVER, 500, 2, "/b"),
		sample(KERNO_ROLE_SERVER, 404, 4, "/a"), sample(KERNO_ROLE_SERVER, 200, 9, "/a"),
		sample(KERNO_ROLE_CLIENT, 503, 3, "/c"), sample(KERNO_ROLE_CLIENT, 302, 1, "/c"),
	};
	struct errgroups *g = errgroups_new(16);
	json_t *data, *groups, *grp, *attrs;

	errgroups_add_series(g, s, 6, fake_lookup, NULL, 100 * SEC, 110 * SEC);
	assert_int_equal(errgroups_count(g), 4);
	data = errgroups_take(g, 100 * SEC, 110 * SEC, NULL, fake_lookup, NULL);
	groups = json_object_get(data, "groups");
	grp = find_class(groups, "http.server.5xx", 500);
	assert_non_null(grp);
	assert_string_equal(json_string_value(json_object_get(grp, "source")), "protocol");
	assert_string_equal(json_string_value(json_object_get(grp, "error.type")), "500");
	attrs = json_object_get(grp, "attributes");
	assert_string_equal(json_string_value(json_object_get(attrs, "process.executable.name")),
			    "nginx");
	assert_non_null(json_object_get(attrs, "container.id"));
	assert_int_equal(json_integer_value(json_object_get(attrs, "local.port")), 8080);
	/* A server's group does not split per client address. */
	assert_null(json_object_get(attrs, "client.address"));
	grp = find_class(groups, "http.server.4xx", 404);
	assert_non_null(grp);
	assert_int_equal(json_integer_value(json_object_get(grp, "count")), 4);
	grp = find_class(groups, "http.client.5xx", 503);
	assert_non_null(grp);
	attrs = json_object_get(grp, "attributes");
	assert_string_equal(json_string_value(json_object_get(attrs, "url.template")), "/c");
	assert_string_equal(json_string_value(json_object_get(attrs, "server.address")),
			    "127.0.0.1");
	assert_int_equal(json_integer_value(json_object_get(attrs, "server.port")), 8080);
	assert_null(find_class(groups, "http.client.4xx", 302));
	json_decref(data);
	errgroups_free(g);
}

static struct kerno_sample proto_sample(__u8 proto, __u8 role, __u8 method, __u16 status,
					__u32 code, const char *path, __u64 count)
{
	struct kerno_sample s = sample(role, status, count, path);

	s.key.proto = proto;
	s.key.method = method;
	s.key.code = code;
	s.key.server_port = 5432;
	return s;
}

static const char *attr(json_t *grp, const char *name)
{
	return json_string_value(json_object_get(json_object_get(grp, "attributes"), name));
}

static __u32 packed_sqlstate(const char *state)
{
	__u32 code = 0;

	while (*state)
		code = code << 6 | (__u32)(*state++ - '0' + 1);
	return code;
}

/* gRPC, SQL, Redis and DNS groups from their series: one per error code and endpoint, none for success. */
static void test_protocol_series(void **state)
{
	struct kerno_sample s[] = {
		proto_sample(KERNO_P_PGSQL, KERNO_ROLE_CLIENT, KERNO_SQL_SELECT, 1,
			     packed_sqlstate("42P01"), "", 3),
		proto_sample(KERNO_P_PGSQL, KERNO_ROLE_CLIENT, KERNO_SQL_SELECT, 1, 0, "", 1),
		proto_sample(KERNO_P_PGSQL, KERNO_ROLE_CLIENT, KERNO_SQL_SELECT, 0, 0, "", 9),
		proto_sample(KERNO_P_MYSQL, KERNO_ROLE_SERVER, KERNO_SQL_INSERT, 1062, 0, "", 2),
		proto_sample(KERNO_P_REDIS, KERNO_ROLE_CLIENT, 0, KERNO_REDIS_WRONGTYPE, 0, "LPUSH",
			     4),
		proto_sample(KERNO_P_REDIS, KERNO_ROLE_CLIENT, 0, KERNO_REDIS_ERR, 0, "GET\x01", 5),
		proto_sample(KERNO_P_REDIS, KERNO_ROLE_CLIENT, 0, KERNO_REDIS_OK, 0, "GET", 9),
		proto_sample(KERNO_P_DNS, KERNO_ROLE_CLIENT, KERNO_DNS_UDP, 3, 28, "", 6),
		proto_sample(KERNO_P_DNS, KERNO_ROLE_SERVER, KERNO_DNS_TCP, 2, 1, "", 7),
		proto_sample(KERNO_P_DNS, KERNO_ROLE_CLIENT, KERNO_DNS_UDP, 5, 1, "", 8),
		proto_sample(KERNO_P_DNS, KERNO_ROLE_CLIENT, KERNO_DNS_UDP, 0, 1, "", 9),
		proto_sample(KERNO_P_TCP, KERNO_ROLE_CLIENT, 0, 500, 0, "", 9),
		proto_sample(KERNO_P_GRPC, KERNO_ROLE_SERVER, 0, 5, 0, "pkg.Svc/Get", 2),
		proto_sample(KERNO_P_GRPC, KERNO_ROLE_SERVER, 0, 0, 0, "pkg.Svc/Get", 9),
		proto_sample(KERNO_P_GRPC, KERNO_ROLE_SERVER, 0, KERNO_GRPC_NO_STATUS, 0,
			     "pkg.Svc/Get", 9),
	};
	struct errgroups *g = errgroups_new(16);
	json_t *data, *groups, *grp;

	errgroups_add_series(g, s, sizeof(s) / sizeof(s[0]), NULL, NULL, 100 * SEC, 110 * SEC);
	assert_int_equal(errgroups_count(g), 9);
	data = errgroups_take(g, 100 * SEC, 110 * SEC, NULL, NULL, NULL);
	groups = json_object_get(data, "groups");

	grp = find_class(groups, "db.sql.error", (int)packed_sqlstate("42P01"));
	assert_non_null(grp);
	assert_string_equal(json_string_value(json_object_get(grp, "error.type")), "42P01");
	assert_string_equal(attr(grp, "db.response.status_code"), "42P01");
	assert_string_equal(attr(grp, "db.system.name"), "postgresql");
	assert_string_equal(attr(grp, "db.operation.name"), "SELECT");
	assert_string_equal(attr(grp, "server.address"), "127.0.0.1");
	assert_int_equal(json_integer_value(json_object_get(grp, "count")), 3);
	grp = find_class(groups, "db.sql.error", 0);
	assert_string_equal(json_string_value(json_object_get(grp, "error.type")), "_OTHER");

	grp = find_class(groups, "db.sql.error", 1062);
	assert_string_equal(json_string_value(json_object_get(grp, "error.type")), "1062");
	assert_string_equal(attr(grp, "db.system.name"), "mysql");
	assert_string_equal(attr(grp, "db.operation.name"), "INSERT");
	assert_null(attr(grp, "client.address")); /* a server's group: its port only */
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(grp, "attributes"), "local.port")),
			 5432);

	grp = find_class(groups, "db.redis.error", KERNO_REDIS_WRONGTYPE);
	assert_string_equal(json_string_value(json_object_get(grp, "error.type")), "WRONGTYPE");
	assert_string_equal(attr(grp, "db.operation.name"), "LPUSH");
	grp = find_class(groups, "db.redis.error", KERNO_REDIS_ERR);
	assert_string_equal(attr(grp, "db.operation.name"), "_OTHER"); /* not a word */

	grp = find_class(groups, "dns.nxdomain", 3);
	assert_string_equal(json_string_value(json_object_get(grp, "error.type")), "NXDOMAIN");
	assert_string_equal(attr(grp, "dns.question.type"), "AAAA");
	assert_string_equal(attr(grp, "network.transport"), "udp");
	grp = find_class(groups, "dns.servfail", 2);
	assert_string_equal(attr(grp, "network.transport"), "tcp");
	assert_int_equal(json_integer_value(json_object_get(grp, "count")), 7);
	grp = find_class(groups, "rpc.grpc.error", 5);
	assert_string_equal(json_string_value(json_object_get(grp, "error.type")), "5");
	assert_string_equal(attr(grp, "http.route"), "pkg.Svc/Get");
	assert_null(attr(grp, "http.request.method"));
	grp = find_class(groups, "dns.error", 5);
	assert_string_equal(json_string_value(json_object_get(grp, "error.type")), "REFUSED");
	json_decref(data);
	errgroups_free(g);
}

static bool trace_for_port_80(void *ctx, __u64 fp, const struct errgroup_in *e, char out[33])
{
	int *calls = ctx;

	(*calls)++;
	if (e->port != 80 || fp != errgroups_fingerprint(e))
		return false;
	memcpy(out, "0af7651916cd43dd8448eb211c80319c", 33);
	return true;
}

/* The spans module's hook fills example_trace_id for the groups it knows. */
static void test_trace_hook(void **state)
{
	struct errgroups *g = errgroups_new(4);
	struct errgroup_in a = refused(80, 1, SEC), b = refused(81, 1, SEC);
	json_t *data, *groups, *grp;
	size_t i;
	int calls = 0, with = 0;

	errgroups_set_trace_hook(g, trace_for_port_80, &calls);
	errgroups_add(g, &a);
	errgroups_add(g, &b);
	data = take(g);
	groups = json_object_get(data, "groups");
	json_array_foreach(groups, i, grp)
	{
		json_t *t = json_object_get(grp, "example_trace_id");

		if (t) {
			with++;
			assert_string_equal(json_string_value(t),
					    "0af7651916cd43dd8448eb211c80319c");
		}
	}
	assert_int_equal(calls, 2);
	assert_int_equal(with, 1);
	json_decref(data);
	errgroups_free(g);
}

/* Names of codes: signals, core dumps, errnos without a name. */
static void test_code_names(void **state)
{
	struct errgroups *g = errgroups_new(4);
	struct errgroup_in e = { .class = KERNO_ERR_FATAL_SIGNAL,
				 .code = 11,
				 .flags = KERNO_ERR_F_CORE,
				 .comm = "app",
				 .count = 1 };
	json_t *data, *grp;

	errgroups_add(g, &e);
	data = take(g);
	grp = only_group(data);
	assert_string_equal(json_string_value(json_object_get(grp, "error.type")), "SIGSEGV");
	assert_true(json_is_true(
		json_object_get(json_object_get(grp, "attributes"), "process.core_dumped")));
	json_decref(data);
	e = refused(1, 1, SEC);
	e.class = KERNO_ERR_CONNECT_FAILED;
	e.code = 0;
	errgroups_add(g, &e);
	e.code = 9999;
	errgroups_add(g, &e);
	data = take(g);
	assert_non_null(find_class(json_object_get(data, "groups"), "tcp.connect_failed", 0));
	grp = find_class(json_object_get(data, "groups"), "tcp.connect_failed", 9999);
	assert_string_equal(json_string_value(json_object_get(grp, "error.type")), "errno 9999");
	grp = find_class(json_object_get(data, "groups"), "tcp.connect_failed", 0);
	assert_string_equal(json_string_value(json_object_get(grp, "error.type")), "aborted");
	json_decref(data);
	errgroups_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprint), cmocka_unit_test(test_grouping),
		cmocka_unit_test(test_bound),	    cmocka_unit_test(test_unknown_class),
		cmocka_unit_test(test_http),	    cmocka_unit_test(test_protocol_series),
		cmocka_unit_test(test_trace_hook),  cmocka_unit_test(test_code_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
