// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The OTLP/JSON metrics request of known samples, field by field. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "histogram.h"
#include "names.h"
#include "otlp.h"

#define CID "4f1e5b2c9d8a7e6f5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
#define T0 1764158400000000000ULL /* 2025-11-26T12:00:00Z */
#define T1 (T0 + 10000000000ULL)

static int fake_lookup(void *ctx, __u32 pid, struct procinfo *out)
{
	(*(int *)ctx)++;
	if (pid != 4242)
		return -ESRCH;
	memset(out, 0, sizeof(*out));
	strcpy(out->exe, "nginx");
	strcpy(out->container_id, CID);
	return 0;
}

static void set_key(struct kerno_sample *s, __u32 tgid, __u8 role, __u8 method, __u16 status,
		    __u16 port, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->key.tgid = tgid;
	s->key.role = role;
	s->key.method = method;
	s->key.status = status;
	s->key.server_port = port;
	s->key.family = AF_INET;
	inet_pton(AF_INET, "10.0.0.7", s->key.peer_addr);
	strncpy(s->key.path, path, sizeof(s->key.path));
}

/* The value object of attribute `key`, NULL when absent. */
static json_t *attr(json_t *attrs, const char *key)
{
	json_t *a;
	size_t i;

	json_array_foreach(attrs, i, a) if (!strcmp(json_string_value(json_object_get(a, "key")),
						    key)) return json_object_get(a, "value");
	return NULL;
}

static const char *attr_s(json_t *attrs, const char *key)
{
	return json_string_value(json_object_get(attr(attrs, key), "stringValue"));
}

static const char *attr_i(json_t *attrs, const char *key)
{
	return json_string_value(json_object_get(attr(attrs, key), "intValue"));
}

static const char *str_at(json_t *arr, size_t i)
{
	return json_string_value(json_array_get(arr, i));
}

static json_t *build(const struct kerno_sample *s, size_t n, unsigned int cap, const __u64 *ctr,
		     int *lookups)
{
	struct otlp_metrics_in in = {
		.samples = s,
		.n_samples = n,
		.start_ns = T0,
		.end_ns = T1,
		.host = "node-1",
		.counters = ctr,
		.max_series_per_process = cap,
		.lookup = fake_lookup,
		.lookup_ctx = lookups,
	};
	json_t *req = otlp_metrics_request(&in);

	assert_non_null(req);
	return req;
}

/* The metrics array of resourceMetrics[i]. */
static json_t *metrics_of(json_t *req, size_t i)
{
	json_t *rm = json_array_get(json_object_get(req, "resourceMetrics"), i);
	json_t *sm = json_array_get(json_object_get(rm, "scopeMetrics"), 0);

	assert_non_null(sm);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(sm, "scope"), "name")),
		"kerno.preon");
	return json_object_get(sm, "metrics");
}

static json_t *resource_attrs(json_t *req, size_t i)
{
	json_t *rm = json_array_get(json_object_get(req, "resourceMetrics"), i);

	return json_object_get(json_object_get(rm, "resource"), "attributes");
}

static void test_server_point(void **state)
{
	struct kerno_sample s[3];
	json_t *req, *m, *h, *dp, *a, *bounds, *counts;
	int lookups = 0;

	set_key(&s[0], 4242, KERNO_ROLE_SERVER, KERNO_M_GET, 200, 8080, "/users/{id}");
	s[0].count = 3;
	s[0].sum_ns = 60000000;
	s[0].buckets[228] = 2; /* [19922944, 20971520) ns */
	s[0].buckets[230] = 1; /* [22020096, 23068672) ns */
	set_key(&s[1], 4242, KERNO_ROLE_CLIENT, KERNO_M_POST, 503, 443, "/v1/pay");
	s[1].count = 1;
	s[1].sum_ns = 1500;
	s[1].buckets[1] = 1;
	s[1].key.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::5", s[1].key.peer_addr);
	set_key(&s[2], 77, KERNO_ROLE_CLIENT, KERNO_M_OTHER, 200, 80, "/");
	s[2].count = 1;
	s[2].buckets[0] = 1;

	req = build(s, 3, 0, NULL, &lookups);
	assert_int_equal(json_array_size(json_object_get(req, "resourceMetrics")), 3);
	assert_int_equal(lookups, 2);

	/* Processes in pid order; one the lookup does not know has pid and host only. */
	a = resource_attrs(req, 0);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(attr_s(a, "host.name"), "node-1");
	assert_string_equal(attr_i(a, "process.pid"), "77");
	a = resource_attrs(req, 1);
	assert_int_equal(json_array_size(a), 4);
	assert_string_equal(attr_s(a, "host.name"), "node-1");
	assert_string_equal(attr_i(a, "process.pid"), "4242");
	assert_string_equal(attr_s(a, "process.executable.name"), "nginx");
	assert_string_equal(attr_s(a, "container.id"), CID);

	m = metrics_of(req, 1);
	assert_int_equal(json_array_size(m), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "name")),
			    "http.server.request.duration");
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "unit")), "s");
	h = json_object_get(json_array_get(m, 0), "histogram");
	assert_int_equal(json_integer_value(json_object_get(h, "aggregationTemporality")), 1);
	assert_int_equal(json_array_size(json_object_get(h, "dataPoints")), 1);
	dp = json_array_get(json_object_get(h, "dataPoints"), 0);

	a = json_object_get(dp, "attributes");
	assert_int_equal(json_array_size(a), 5);
	assert_string_equal(attr_s(a, "http.request.method"), "GET");
	assert_string_equal(attr_i(a, "http.response.status_code"), "200");
	assert_string_equal(attr_s(a, "http.route"), "/users/{id}");
	assert_string_equal(attr_i(a, "server.port"), "8080");
	assert_string_equal(attr_s(a, "client.address"), "10.0.0.7");
	assert_null(attr(a, "error.type"));

	assert_string_equal(json_string_value(json_object_get(dp, "startTimeUnixNano")),
			    "1764158400000000000");
	assert_string_equal(json_string_value(json_object_get(dp, "timeUnixNano")),
			    "1764158410000000000");
	assert_string_equal(json_string_value(json_object_get(dp, "count")), "3");
	assert_float_equal(json_real_value(json_object_get(dp, "sum")), 0.06, 1e-12);
	counts = json_object_get(dp, "bucketCounts");
	bounds = json_object_get(dp, "explicitBounds");
	assert_int_equal(json_array_size(counts), 3);
	assert_int_equal(json_array_size(bounds), 2);
	assert_string_equal(str_at(counts, 0), "2");
	assert_string_equal(str_at(counts, 1), "0");
	assert_string_equal(str_at(counts, 2), "1");
	assert_float_equal(json_real_value(json_array_get(bounds, 0)), 0.02097152, 1e-15);
	assert_float_equal(json_real_value(json_array_get(bounds, 1)), 0.022020096, 1e-15);
	assert_float_equal(json_real_value(json_object_get(dp, "min")), 0.019922944, 1e-15);
	assert_float_equal(json_real_value(json_object_get(dp, "max")), 0.023068672, 1e-15);
	json_decref(req);
}

static void test_client_point(void **state)
{
	struct kerno_sample s[2];
	json_t *req, *m, *dp, *a;
	int lookups = 0;

	set_key(&s[0], 4242, KERNO_ROLE_CLIENT, KERNO_M_POST, 503, 443, "/v1/pay\x01\xff");
	s[0].count = 2;
	s[0].sum_ns = 1500;
	s[0].buckets[1] = 2;
	s[0].key.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::5", s[0].key.peer_addr);
	/* Neither an unknown role nor an empty histogram makes a point. */
	set_key(&s[1], 4242, KERNO_ROLE_UNKNOWN, KERNO_M_GET, 200, 80, "/x");
	s[1].count = 1;
	s[1].buckets[3] = 1;

	req = build(s, 2, 0, NULL, &lookups);
	m = metrics_of(req, 0);
	assert_int_equal(json_array_size(m), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "name")),
			    "http.client.request.duration");
	dp = json_array_get(json_object_get(json_object_get(json_array_get(m, 0), "histogram"),
					    "dataPoints"),
			    0);
	a = json_object_get(dp, "attributes");
	assert_int_equal(json_array_size(a), 6);
	assert_string_equal(attr_s(a, "http.request.method"), "POST");
	assert_string_equal(attr_i(a, "http.response.status_code"), "503");
	assert_string_equal(attr_s(a, "url.template"), "/v1/pay%01%FF");
	assert_string_equal(attr_s(a, "server.address"), "2001:db8::5");
	assert_string_equal(attr_i(a, "server.port"), "443");
	assert_string_equal(attr_s(a, "error.type"), "503");
	assert_null(attr(a, "client.address"));
	/* One populated bucket: no bounds, one count, min/max its edges. */
	assert_int_equal(json_array_size(json_object_get(dp, "explicitBounds")), 0);
	assert_int_equal(json_array_size(json_object_get(dp, "bucketCounts")), 1);
	assert_string_equal(str_at(json_object_get(dp, "bucketCounts"), 0), "2");
	assert_float_equal(json_real_value(json_object_get(dp, "min")), 1.024e-6, 1e-18);
	assert_float_equal(json_real_value(json_object_get(dp, "max")), 1.088e-6, 1e-18);
	assert_float_equal(json_real_value(json_object_get(dp, "sum")), 1.5e-6, 1e-18);
	json_decref(req);
}

static void test_addresses(void **state)
{
	struct kerno_sample s;
	json_t *req, *a;
	int lookups = 0;

	set_key(&s, 4242, KERNO_ROLE_SERVER, KERNO_M_DELETE, 404, 80, "/a");
	s.count = 1;
	s.buckets[5] = 1;
	s.key.family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.1", s.key.peer_addr);
	req = build(&s, 1, 0, NULL, &lookups);
	a = json_object_get(
		json_array_get(json_object_get(json_object_get(json_array_get(metrics_of(req, 0), 0),
							       "histogram"),
					       "dataPoints"),
			       0),
		"attributes");
	assert_string_equal(attr_s(a, "client.address"), "192.0.2.1");
	assert_string_equal(attr_s(a, "http.request.method"), "DELETE");
	assert_null(attr(a, "error.type")); /* 404 is not a server error */
	json_decref(req);
}

static void add(struct kerno_sample *s, __u8 role, __u16 status, __u32 count, unsigned int bucket,
		const char *path)
{
	set_key(s, 4242, role, KERNO_M_GET, status, 8080, path);
	s->count = count;
	s->sum_ns = count * 1000ULL;
	s->buckets[bucket] = count;
}

static void test_series_cap(void **state)
{
	struct kerno_sample s[7];
	json_t *req, *m, *pts, *dp, *a;
	int lookups = 0;

	/* Given out of order: the cap keeps the busiest, whatever the map order. */
	add(&s[0], KERNO_ROLE_SERVER, 200, 20, 10, "/d");
	add(&s[1], KERNO_ROLE_SERVER, 200, 50, 10, "/a");
	add(&s[2], KERNO_ROLE_SERVER, 500, 10, 10, "/e");
	add(&s[3], KERNO_ROLE_CLIENT, 200, 5, 10, "/g");
	add(&s[4], KERNO_ROLE_SERVER, 200, 40, 10, "/b");
	add(&s[5], KERNO_ROLE_SERVER, 500, 8, 12, "/f");
	add(&s[6], KERNO_ROLE_SERVER, 200, 30, 10, "/c");

	req = build(s, 7, 3, NULL, &lookups);
	m = metrics_of(req, 0);
	assert_int_equal(json_array_size(m), 2);
	pts = json_object_get(json_object_get(json_array_get(m, 0), "histogram"), "dataPoints");
	assert_int_equal(json_array_size(pts), 5);
	assert_string_equal(
		attr_s(json_object_get(json_array_get(pts, 0), "attributes"), "http.route"), "/a");
	assert_string_equal(
		attr_s(json_object_get(json_array_get(pts, 1), "attributes"), "http.route"), "/b");
	assert_string_equal(
		attr_s(json_object_get(json_array_get(pts, 2), "attributes"), "http.route"), "/c");

	/* /d folds alone into (server, 200). */
	dp = json_array_get(pts, 3);
	a = json_object_get(dp, "attributes");
	assert_int_equal(json_array_size(a), 3);
	assert_string_equal(attr_s(a, "http.route"), "other");
	assert_string_equal(attr_s(a, "http.request.method"), "_OTHER");
	assert_string_equal(attr_i(a, "http.response.status_code"), "200");
	assert_string_equal(json_string_value(json_object_get(dp, "count")), "20");

	/* /e and /f fold into (server, 500), histograms added. */
	dp = json_array_get(pts, 4);
	a = json_object_get(dp, "attributes");
	assert_int_equal(json_array_size(a), 4);
	assert_string_equal(attr_s(a, "http.route"), "other");
	assert_string_equal(attr_i(a, "http.response.status_code"), "500");
	assert_string_equal(attr_s(a, "error.type"), "500");
	assert_string_equal(json_string_value(json_object_get(dp, "count")), "18");
	assert_float_equal(json_real_value(json_object_get(dp, "sum")), 18e-6, 1e-15);
	assert_int_equal(json_array_size(json_object_get(dp, "bucketCounts")), 3);
	assert_string_equal(str_at(json_object_get(dp, "bucketCounts"), 0), "10");
	assert_string_equal(str_at(json_object_get(dp, "bucketCounts"), 1), "0");
	assert_string_equal(str_at(json_object_get(dp, "bucketCounts"), 2), "8");

	/* The client series was past the cap too. */
	pts = json_object_get(json_object_get(json_array_get(m, 1), "histogram"), "dataPoints");
	assert_int_equal(json_array_size(pts), 1);
	a = json_object_get(json_array_get(pts, 0), "attributes");
	assert_string_equal(attr_s(a, "url.template"), "other");
	json_decref(req);

	/* No cap (0) and a cap that is not reached leave all seven alone. */
	req = build(s, 7, 0, NULL, &lookups);
	m = metrics_of(req, 0);
	assert_int_equal(json_array_size(json_object_get(
				 json_object_get(json_array_get(m, 0), "histogram"), "dataPoints")),
			 6);
	json_decref(req);
	req = build(s, 7, 7, NULL, &lookups);
	m = metrics_of(req, 0);
	assert_int_equal(json_array_size(json_object_get(
				 json_object_get(json_array_get(m, 0), "histogram"), "dataPoints")),
			 6);
	json_decref(req);
}

static void check_counter_metric(json_t *metric, const char *name, const char *attr_key,
				 unsigned int from, unsigned int to, const __u64 *ctr)
{
	json_t *sum = json_object_get(metric, "sum"), *pts, *dp;
	unsigned int i;

	assert_string_equal(json_string_value(json_object_get(metric, "name")), name);
	assert_int_equal(json_integer_value(json_object_get(sum, "aggregationTemporality")), 1);
	assert_true(json_is_true(json_object_get(sum, "isMonotonic")));
	pts = json_object_get(sum, "dataPoints");
	assert_int_equal(json_array_size(pts), to - from);
	for (i = from; i < to; i++) {
		char want[24];

		dp = json_array_get(pts, i - from);
		snprintf(want, sizeof(want), "%llu", ctr ? (unsigned long long)ctr[i] : 0ULL);
		assert_string_equal(attr_s(json_object_get(dp, "attributes"), attr_key),
				    kerno_counter_name(i));
		assert_string_equal(json_string_value(json_object_get(dp, "asInt")), want);
		assert_string_equal(json_string_value(json_object_get(dp, "timeUnixNano")),
				    "1764158410000000000");
	}
}

static void test_counters(void **state)
{
	__u64 ctr[KERNO_COUNTER__COUNT];
	json_t *req, *a, *m;
	int lookups = 0;
	unsigned int i;

	for (i = 0; i < KERNO_COUNTER__COUNT; i++)
		ctr[i] = 1000000000000ULL + i;
	req = build(NULL, 0, 0, ctr, &lookups);
	assert_int_equal(json_array_size(json_object_get(req, "resourceMetrics")), 1);
	a = resource_attrs(req, 0);
	assert_string_equal(attr_s(a, "service.name"), "kerno");
	assert_string_equal(attr_s(a, "host.name"), "node-1");
	m = metrics_of(req, 0);
	assert_int_equal(json_array_size(m), 2);
	check_counter_metric(json_array_get(m, 0), "kerno.capture.drops", "reason", 0,
			     KERNO_DROP__COUNT, ctr);
	check_counter_metric(json_array_get(m, 1), "kerno.capture.connections", "event",
			     KERNO_DROP__COUNT, KERNO_COUNTER__COUNT, ctr);
	json_decref(req);

	/* No counters: every point still there, at zero. */
	req = build(NULL, 0, 0, NULL, &lookups);
	m = metrics_of(req, 0);
	check_counter_metric(json_array_get(m, 0), "kerno.capture.drops", "reason", 0,
			     KERNO_DROP__COUNT, NULL);
	json_decref(req);
	assert_int_equal(lookups, 0);
}

static void test_names(void **state)
{
	unsigned int i, j;

	for (i = 0; i < KERNO_COUNTER__COUNT; i++) {
		assert_non_null(kerno_counter_name(i));
		assert_int_equal(kerno_counter_is_drop(i), i < KERNO_DROP__COUNT);
		for (j = 0; j < i; j++)
			assert_string_not_equal(kerno_counter_name(i), kerno_counter_name(j));
	}
	assert_null(kerno_counter_name(KERNO_COUNTER__COUNT));
	assert_string_equal(kerno_counter_name(KERNO_DROP_CONN_TABLE_FULL), "conn_table_full");
	assert_string_equal(kerno_counter_name(KERNO_EV_ACCEPTED), "accepted");
	assert_string_equal(kerno_method_name(KERNO_M_OTHER), "_OTHER");
	assert_string_equal(kerno_method_name(KERNO_M_PATCH), "PATCH");
	assert_string_equal(kerno_method_name(200), "_OTHER");
	assert_string_equal(kerno_role_name(KERNO_ROLE_SERVER), "server");
}

static void test_escape_path(void **state)
{
	char out[3 * 8 + 1];

	otlp_escape_path("/a b\"\\", 8, out);
	assert_string_equal(out, "/a%20b\"\\");
	/* Not NUL-terminated within len: stops at len. */
	otlp_escape_path("/abcdefghij", 4, out);
	assert_string_equal(out, "/abc");
	otlp_escape_path("/\xc3\xa9", 8, out);
	assert_string_equal(out, "/%C3%A9");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_point), cmocka_unit_test(test_client_point),
		cmocka_unit_test(test_addresses),    cmocka_unit_test(test_series_cap),
		cmocka_unit_test(test_counters),     cmocka_unit_test(test_names),
		cmocka_unit_test(test_escape_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
