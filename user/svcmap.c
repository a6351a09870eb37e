// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Client -> server workload edges with RED: see svcmap.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metricagg.h"
#include "svcmap.h"

#define NAME_LEN 256

struct edge {
	char cns[NAME_LEN], cwl[NAME_LEN], sns[NAME_LEN], swl[NAME_LEN];
	uint64_t start, end;
	struct metricagg_hist h;
	uint64_t errors;
};

struct edges {
	struct edge *v;
	size_t n, cap;
};

static const char *attr_str(json_t *attrs, const char *key, char *buf, size_t size)
{
	json_t *kv, *val;
	size_t i;

	json_array_foreach(attrs, i, kv)
	{
		const char *k = json_string_value(json_object_get(kv, "key"));

		if (!k || strcmp(k, key))
			continue;
		val = json_object_get(kv, "value");
		if (json_is_string(json_object_get(val, "stringValue")))
			return json_string_value(json_object_get(val, "stringValue"));
		if (json_object_get(val, "intValue")) {
			json_t *iv = json_object_get(val, "intValue");

			if (json_is_string(iv))
				return json_string_value(iv);
			snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(iv));
			return buf;
		}
	}
	return NULL;
}

void svcmap_workload(json_t *attrs, char *ns, size_t ns_size, char *wl, size_t wl_size)
{
	static const char *const kinds[][2] = {
		{ "k8s.deployment.name", "deployment" },
		{ "k8s.statefulset.name", "statefulset" },
		{ "k8s.daemonset.name", "daemonset" },
		{ "k8s.cronjob.name", "cronjob" },
		{ "k8s.job.name", "job" },
		{ "k8s.replicaset.name", "replicaset" },
	};
	const char *v;
	char buf[32];
	size_t i;

	v = attr_str(attrs, "k8s.namespace.name", buf, sizeof(buf));
	snprintf(ns, ns_size, "%s", v ? v : "");
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		v = attr_str(attrs, kinds[i][0], buf, sizeof(buf));
		if (v) {
			snprintf(wl, wl_size, "%s/%s", kinds[i][1], v);
			return;
		}
	}
	v = attr_str(attrs, "k8s.pod.name", buf, sizeof(buf));
	if (v) {
		snprintf(wl, wl_size, "pod/%s", v);
		return;
	}
	v = attr_str(attrs, "service.name", buf, sizeof(buf));
	if (!v)
		v = attr_str(attrs, "process.executable.name", buf, sizeof(buf));
	snprintf(wl, wl_size, "%s", v ? v : "unknown");
}

static struct edge *find_edge(struct edges *e, const struct edge *k)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		struct edge *x = &e->v[i];

		if (x->start == k->start && x->end == k->end && !strcmp(x->cwl, k->cwl) &&
		    !strcmp(x->cns, k->cns) && !strcmp(x->swl, k->swl) && !strcmp(x->sns, k->sns))
			return x;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 16;
		struct edge *v = realloc(e->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n] = *k;
	memset(&e->v[e->n].h, 0, sizeof(e->v[e->n].h));
	e->v[e->n].errors = 0;
	return &e->v[e->n++];
}

static void add_point(struct edges *e, struct edge *k, json_t *dp, svcmap_resolve_fn resolve,
		      void *ctx)
{
	json_t *attrs = json_object_get(dp, "attributes");
	char b1[32], b2[32];
	const char *addr = attr_str(attrs, "server.address", b1, sizeof(b1));
	const char *port = attr_str(attrs, "server.port", b2, sizeof(b2));
	struct metricagg_hist h;
	struct edge *x;

	if (!addr || metricagg_hist_parse(dp, &h))
		return;
	k->sns[0] = '\0';
	if (!resolve || resolve(ctx, addr, k->sns, sizeof(k->sns), k->swl, sizeof(k->swl)))
		snprintf(k->swl, sizeof(k->swl), "%s:%s", addr, port ? port : "");
	metricagg_json_u64(json_object_get(dp, "startTimeUnixNano"), &k->start);
	metricagg_json_u64(json_object_get(dp, "timeUnixNano"), &k->end);
	x = find_edge(e, k);
	if (x && !metricagg_hist_merge(&x->h, &h) && attr_str(attrs, "error.type", b1, sizeof(b1)))
		x->errors += h.count;
	metricagg_hist_free(&h);
}

static void scan(struct edges *e, json_t *req, svcmap_resolve_fn resolve, void *ctx)
{
	json_t *rm, *sm, *m, *dp;
	size_t i, j, l, p;
	struct edge k;

	json_array_foreach(json_object_get(req, "resourceMetrics"), i, rm)
	{
		memset(&k, 0, sizeof(k));
		svcmap_workload(json_object_get(json_object_get(rm, "resource"), "attributes"),
				k.cns, sizeof(k.cns), k.cwl, sizeof(k.cwl));
		json_array_foreach(json_object_get(rm, "scopeMetrics"), j, sm)
		{
			json_array_foreach(json_object_get(sm, "metrics"), l, m)
			{
				const char *name = json_string_value(json_object_get(m, "name"));
				json_t *dps = json_object_get(json_object_get(m, "histogram"),
							      "dataPoints");

				if (!name || strcmp(name, "http.client.request.duration"))
					continue;
				json_array_foreach(dps, p, dp)
				{
					add_point(e, &k, dp, resolve, ctx);
				}
			}
		}
	}
}

static json_t *edge_attrs(const struct edge *x)
{
	json_t *a = json_array();

#define ADD(k, v) \
	if (*(v)) \
	json_array_append_new(a, json_pack("{s:s, s:{s:s}}", "key", k, "value", "stringValue", v))
	ADD("client.workload", x->cwl);
	ADD("client.namespace", x->cns);
	ADD("server.workload", x->swl);
	ADD("server.namespace", x->sns);
#undef ADD
	return a;
}

static json_t *edge_point(const struct edge *x, bool errors)
{
	char start[24], end[24], v[24];
	json_t *dp;

	snprintf(start, sizeof(start), "%" PRIu64, x->start);
	snprintf(end, sizeof(end), "%" PRIu64, x->end);
	dp = json_pack("{s:o, s:s, s:s}", "attributes", edge_attrs(x), "startTimeUnixNano", start,
		       "timeUnixNano", end);
	if (!dp)
		return NULL;
	if (errors) {
		snprintf(v, sizeof(v), "%" PRIu64, x->errors);
		json_object_set_new(dp, "asInt", json_string(v));
	} else {
		metricagg_hist_dump(&x->h, dp);
	}
	return dp;
}

json_t *svcmap_build(json_t *req, svcmap_resolve_fn resolve, void *ctx)
{
	struct edges e = {};
	json_t *dur, *err, *out = NULL;
	size_t i;

	scan(&e, req, resolve, ctx);
	if (!e.n)
		goto done;
	dur = json_array();
	err = json_array();
	for (i = 0; i < e.n; i++) {
		json_array_append_new(dur, edge_point(&e.v[i], false));
		json_array_append_new(err, edge_point(&e.v[i], true));
	}
	out = json_pack("[{s:s, s:s, s:{s:i, s:o}}, {s:s, s:s, s:{s:i, s:b, s:o}}]", "name",
			"kerno.service_map.request.duration", "unit", "s", "histogram",
			"aggregationTemporality", 1, "dataPoints", dur, "name",
			"kerno.service_map.errors", "unit", "{request}", "sum",
			"aggregationTemporality", 1, "isMonotonic", 1, "dataPoints", err);
done:
	for (i = 0; i < e.n; i++)
		metricagg_hist_free(&e.v[i].h);
	free(e.v);
	return out;
}
