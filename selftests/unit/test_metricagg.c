// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Nanobe's merging: windows, instance attributes, exact histogram merges, bounds. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metricagg.h"

#define SEC 1000000000ULL

/* A Kerno-shaped request: one process on `host`, one client series. */
static json_t *request(const char *host, int pid, const char *time, const char *count,
		       const char *buckets, const char *bounds, double min, double max)
{
	char text[2048];
	json_t *j;

	snprintf(
		text, sizeof(text),
		"{\"resourceMetrics\":[{\"resource\":{\"attributes\":["
		"{\"key\":\"host.name\",\"value\":{\"stringValue\":\"%s\"}},"
		"{\"key\":\"process.pid\",\"value\":{\"intValue\":\"%d\"}},"
		"{\"key\":\"process.executable.name\",\"value\":{\"stringValue\":\"curl\"}}]},"
		"\"scopeMetrics\":[{\"scope\":{\"name\":\"kerno.preon\"},\"metrics\":[{\"name\":"
		"\"http.client.request.duration\",\"unit\":\"s\",\"histogram\":{"
		"\"aggregationTemporality\":1,\"dataPoints\":[{\"attributes\":["
		"{\"key\":\"server.port\",\"value\":{\"intValue\":\"80\"}},"
		"{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"GET\"}}],"
		"\"startTimeUnixNano\":\"1\",\"timeUnixNano\":\"%s\",\"count\":\"%s\","
		"\"sum\":0.5,\"bucketCounts\":%s,\"explicitBounds\":%s,\"min\":%g,\"max\":%g}]}},"
		"{\"name\":\"drops\",\"unit\":\"1\",\"sum\":{\"aggregationTemporality\":1,"
		"\"isMonotonic\":true,\"dataPoints\":[{\"timeUnixNano\":\"%s\",\"asInt\":\"%s\"}]}}"
		"]}]}]}",
		host, pid, time, count, buckets, bounds, min, max, time, count);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	return j;
}

static json_t *first_point(json_t *req, int metric)
{
	json_t *m = json_array_get(
		json_object_get(
			json_array_get(
				json_object_get(
					json_array_get(json_object_get(req, "resourceMetrics"), 0),
					"scopeMetrics"),
				0),
			"metrics"),
		metric);
	json_t *body =
		json_object_get(m, metric == 1 ? "histogram" : "sum"); /* sorted: drops, http.* */

	return json_array_get(json_object_get(body, "dataPoints"), 0);
}

static char *text_of(json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
}

/* Log-linear buckets of two nodes, different populated ranges: the sum is exact. */
static void test_merge_two_nodes(void **state)
{
	struct metricagg *a = metricagg_new(10 * SEC, 100, false);
	json_t *r1 = request("node-a", 10, "1764158405000000000", "3", "[\"2\",\"0\",\"1\"]",
			     "[0.02,0.021]", 0.019, 0.022);
	json_t *r2 = request("node-b", 77, "1764158409000000000", "4", "[\"1\",\"3\"]", "[0.021]",
			     0.02, 0.022);
	char err[128], *hist, *drops, *res;
	json_t *out, *dp;
	size_t points;
	int empty;

	assert_int_equal(metricagg_add(a, r1, &points, err, sizeof(err)), 0);
	assert_int_equal(points, 2);
	assert_int_equal(metricagg_add(a, r2, &points, err, sizeof(err)), 0);
	assert_int_equal(metricagg_series(a), 2);
	out = metricagg_take(a, UINT64_MAX, &empty);
	assert_non_null(out);
	assert_int_equal(metricagg_series(a), 0);
	assert_int_equal(json_array_size(json_object_get(out, "resourceMetrics")), 1);
	res = text_of(json_object_get(json_array_get(json_object_get(out, "resourceMetrics"), 0),
				      "resource"));
	assert_string_equal(res, "{\"attributes\":[{\"key\":\"process.executable.name\","
				 "\"value\":{\"stringValue\":\"curl\"}}]}");
	dp = first_point(out, 1);
	json_object_del(dp, "attributes");
	hist = text_of(dp);
	/* node-a: [0.019,0.02]:2 (0.021,0.022]:1; node-b: [0.02,0.021]:1 (0.021,0.022]:3 */
	assert_string_equal(hist, "{\"bucketCounts\":[\"2\",\"1\",\"4\"],\"count\":\"7\","
				  "\"explicitBounds\":[0.02,0.021],\"max\":0.022,\"min\":0.019,"
				  "\"startTimeUnixNano\":\"1764158400000000000\",\"sum\":1.0,"
				  "\"timeUnixNano\":\"1764158410000000000\"}");
	drops = text_of(first_point(out, 0));
	assert_string_equal(drops, "{\"asInt\":\"7\",\"attributes\":[],"
				   "\"startTimeUnixNano\":\"1764158400000000000\","
				   "\"timeUnixNano\":\"1764158410000000000\"}");
	free(res);
	free(hist);
	free(drops);
	json_decref(out);
	json_decref(r1);
	json_decref(r2);
	metricagg_free(a);
}

/* Points of different windows stay apart; take() leaves the open ones. */
static void test_windows(void **state)
{
	struct metricagg *a = metricagg_new(10 * SEC, 100, false);
	json_t *r1 = request("a", 1, "1764158405000000000", "1", "[\"1\"]", "[]", 0.1, 0.2);
	json_t *r2 = request("a", 1, "1764158415000000000", "2", "[\"2\"]", "[]", 0.1, 0.2);
	json_t *out, *snap;
	char err[128];
	int empty;

	assert_int_equal(metricagg_add(a, r1, NULL, err, sizeof(err)), 0);
	assert_int_equal(metricagg_add(a, r2, NULL, err, sizeof(err)), 0);
	assert_int_equal(metricagg_series(a), 4);
	out = metricagg_take(a, 1764158410000000000ULL, &empty);
	assert_non_null(out);
	assert_int_equal(metricagg_series(a), 2);
	snap = metricagg_snapshot(a);
	assert_non_null(snap);
	json_decref(out);
	out = metricagg_take(a, 1764158410000000000ULL, &empty);
	assert_null(out);
	assert_int_equal(empty, 1);
	/* The snapshot merges back to the same thing. */
	metricagg_free(a);
	a = metricagg_new(10 * SEC, 100, false);
	assert_int_equal(metricagg_add(a, snap, NULL, err, sizeof(err)), 0);
	assert_int_equal(metricagg_series(a), 2);
	out = metricagg_take(a, UINT64_MAX, &empty);
	assert_string_equal(json_string_value(json_object_get(first_point(out, 1), "count")), "2");
	json_decref(out);
	json_decref(snap);
	json_decref(r1);
	json_decref(r2);
	metricagg_free(a);
}

/* Bad shapes are refused whole; a full aggregator refuses whole too. */
static void test_refusals(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"resourceMetrics\":{}}",
		"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{}}]}]}]}",
		"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"sum\":"
		"{\"aggregationTemporality\":1,\"dataPoints\":[{\"asInt\":\"1\"}]}}]}]}]}",
		"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"x\",\"sum\":"
		"{\"aggregationTemporality\":1,\"dataPoints\":[{\"timeUnixNano\":\"5\","
		"\"asInt\":\"x\"}]}}]}]}]}",
		"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"h\",\"histogram\":"
		"{\"aggregationTemporality\":1,\"dataPoints\":[{\"timeUnixNano\":\"5\",\"count\":\"1\","
		"\"bucketCounts\":[\"1\"],\"explicitBounds\":[1.0]}]}}]}]}]}",
	};
	struct metricagg *a = metricagg_new(SEC, 2, false);
	json_t *ok = request("a", 1, "5", "1", "[\"1\"]", "[]", 0.1, 0.2);
	json_t *other = request("a", 1, "5000000000", "1", "[\"1\"]", "[]", 0.1, 0.2);
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = json_loads(bad[i], 0, NULL);

		assert_non_null(j);
		assert_int_equal(metricagg_add(a, j, NULL, err, sizeof(err)), -EINVAL);
		json_decref(j);
	}
	assert_int_equal(metricagg_series(a), 0);
	assert_int_equal(metricagg_add(a, ok, NULL, err, sizeof(err)), 0);
	assert_int_equal(metricagg_add(a, ok, NULL, err, sizeof(err)), 0);
	assert_int_equal(metricagg_add(a, other, NULL, err, sizeof(err)), -ENOSPC);
	assert_int_equal(metricagg_series(a), 2);
	json_decref(ok);
	json_decref(other);
	metricagg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_two_nodes),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
