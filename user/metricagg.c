// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Merging OTLP/JSON metrics across nodes, per series and window: see metricagg.h. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metricagg.h"

enum merge_kind {
	MERGE_SUM = 'S', /* delta sum: added */
	MERGE_HIST = 'H', /* delta histogram: added */
	MERGE_LAST = 'L', /* gauge or cumulative: the last value per full identity */
};

struct series {
	char *key; /* the full identity, also the output order */
	size_t res_len, metric_len; /* prefixes of key: the resource, then through the metric */
	uint64_t hash;
	json_t *res_attrs, *dp_attrs;
	char *scope, *name, *unit;
	char kind;
	char what; /* 's' sum, 'h' histogram, 'g' gauge */
	bool monotonic;
	int temporality;
	uint64_t window_end;
	bool is_double;
	uint64_t ival;
	double dval;
	struct metricagg_hist h;
	json_t *raw; /* MERGE_LAST: the data point as received */
};

struct metricagg {
	uint64_t window_ns;
	bool keep_pod;
	size_t max_series;
	struct series **all;
	size_t n, cap;
	struct series **tab; /* open addressing over all[], power-of-two size */
	size_t tab_size;
};

/* Attributes naming one node, process or pod: left out when merging. */
static const char *const instance_attrs[] = {
	"host.name",	       "host.id",      "host.ip",	 "process.pid",
	"process.parent_pid",  "container.id", "container.name", "k8s.pod.name",
	"k8s.pod.uid",	       "k8s.pod.ip",   "k8s.node.name",	 "k8s.node.uid",
	"service.instance.id",
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

int metricagg_json_u64(json_t *v, uint64_t *out)
{
	const char *s;
	char *end;

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	s = json_string_value(v);
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

static int json_double(json_t *v, double *out)
{
	if (!json_is_number(v))
		return -EINVAL;
	*out = json_number_value(v);
	return isfinite(*out) ? 0 : -EINVAL;
}

static int cmp_attr(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "key"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "key"));

	return strcmp(x, y);
}

static bool is_instance_attr(const char *key, bool keep_pod)
{
	size_t i;

	if (keep_pod && (!strcmp(key, "k8s.pod.name") || !strcmp(key, "k8s.pod.uid") ||
			 !strcmp(key, "k8s.node.name")))
		return false;
	for (i = 0; i < sizeof(instance_attrs) / sizeof(instance_attrs[0]); i++)
		if (!strcmp(key, instance_attrs[i]))
			return true;
	return false;
}

/* attrs (may be NULL) sorted by key, optionally without instance attributes. NULL: bad shape. */
static json_t *norm_attrs(json_t *attrs, bool drop_instance, bool keep_pod)
{
	json_t *out = json_array(), *kv, *items[256];
	size_t i, n = 0;

	if (!out)
		return NULL;
	if (attrs && !json_is_array(attrs))
		goto bad;
	json_array_foreach(attrs, i, kv)
	{
		const char *key = json_string_value(json_object_get(kv, "key"));

		if (!key || !json_is_object(json_object_get(kv, "value")) || n == 256)
			goto bad;
		if (drop_instance && is_instance_attr(key, keep_pod))
			continue;
		items[n++] = kv;
	}
	qsort(items, n, sizeof(items[0]), cmp_attr);
	for (i = 0; i < n; i++)
		json_array_append(out, items[i]);
	return out;
bad:
	json_decref(out);
	return NULL;
}

static char *dump(json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

void metricagg_hist_free(struct metricagg_hist *h)
{
	free(h->bounds);
	free(h->counts);
	memset(h, 0, sizeof(*h));
}

int metricagg_hist_parse(json_t *dp, struct metricagg_hist *h)
{
	json_t *bc = json_object_get(dp, "bucketCounts"),
	       *eb = json_object_get(dp, "explicitBounds");
	size_t i, nb = json_array_size(eb);

	memset(h, 0, sizeof(*h));
	if (metricagg_json_u64(json_object_get(dp, "count"), &h->count))
		return -EINVAL;
	if (json_object_get(dp, "sum") && json_double(json_object_get(dp, "sum"), &h->sum))
		return -EINVAL;
	h->has_min = !json_double(json_object_get(dp, "min"), &h->min);
	h->has_max = !json_double(json_object_get(dp, "max"), &h->max);
	if (!bc && !eb)
		return 0; /* count and sum only: a valid OTLP histogram point */
	if (json_array_size(bc) != nb + 1 || nb > 4096)
		return -EINVAL;
	h->nb = nb;
	h->bounds = calloc(nb ? nb : 1, sizeof(double));
	h->counts = calloc(nb + 1, sizeof(uint64_t));
	if (!h->bounds || !h->counts)
		goto bad;
	for (i = 0; i < nb; i++)
		if (json_double(json_array_get(eb, i), &h->bounds[i]) ||
		    (i && h->bounds[i] <= h->bounds[i - 1]))
			goto bad;
	for (i = 0; i <= nb; i++)
		if (metricagg_json_u64(json_array_get(bc, i), &h->counts[i]))
			goto bad;
	return 0;
bad:
	metricagg_hist_free(h);
	return -EINVAL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The merged bucket whose upper edge is `hi` (the last one past every bound). */
static size_t bucket_of(const double *bounds, size_t nb, double hi)
{
	size_t lo = 0, up = nb;

	while (lo < up) {
		size_t mid = (lo + up) / 2;

		if (bounds[mid] < hi)
			lo = mid + 1;
		else
			up = mid;
	}
	return lo;
}

/* Every bucket of `from` into the merged layout (bounds, nb, counts). */
static void spread(const struct metricagg_hist *from, const double *bounds, size_t nb,
		   uint64_t *counts)
{
	size_t i;

	if (!from->counts) {
		return;
	}
	for (i = 0; i <= from->nb; i++) {
		double hi = i < from->nb ? from->bounds[i] : (from->has_max ? from->max : INFINITY);

		counts[bucket_of(bounds, nb, hi)] += from->counts[i];
	}
}

/* The edges of both layouts, with each side's inner min and max, within the merged range. */
static size_t merged_bounds(const struct metricagg_hist *a, const struct metricagg_hist *b,
			    double lo, double hi, bool has_lo, bool has_hi, double *out)
{
	const struct metricagg_hist *hs[2] = { a, b };
	size_t n = 0, i, k, w;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < hs[k]->nb; i++)
			out[n++] = hs[k]->bounds[i];
		if (hs[k]->counts && hs[k]->has_min)
			out[n++] = hs[k]->min;
		if (hs[k]->counts && hs[k]->has_max)
			out[n++] = hs[k]->max;
	}
	qsort(out, n, sizeof(*out), cmp_double);
	for (i = 0, w = 0; i < n; i++) {
		if ((has_lo && out[i] <= lo) || (has_hi && out[i] >= hi))
			continue;
		if (w && out[w - 1] == out[i])
			continue;
		out[w++] = out[i];
	}
	return w;
}

int metricagg_hist_merge(struct metricagg_hist *into, const struct metricagg_hist *from)
{
	bool has_lo = into->has_min && from->has_min, has_hi = into->has_max && from->has_max;
	double lo = fmin(into->min, from->min), hi = fmax(into->max, from->max);
	size_t nb, cap = into->nb + from->nb + 4;
	double *bounds;
	uint64_t *counts;

	if (!into->counts && !from->counts) {
		nb = 0;
		bounds = NULL;
		counts = NULL;
	} else {
		bounds = calloc(cap, sizeof(*bounds));
		counts = calloc(cap + 1, sizeof(*counts));
		if (!bounds || !counts) {
			free(bounds);
			free(counts);
			return -ENOMEM;
		}
		nb = merged_bounds(into, from, lo, hi, has_lo, has_hi, bounds);
		spread(into, bounds, nb, counts);
		spread(from, bounds, nb, counts);
	}
	into->count += from->count;
	into->sum += from->sum;
	into->has_min = has_lo;
	into->has_max = has_hi;
	into->min = lo;
	into->max = hi;
	free(into->bounds);
	free(into->counts);
	into->bounds = bounds;
	into->counts = counts;
	into->nb = nb;
	return 0;
}

static json_t *u64_string(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return json_string(buf);
}

int metricagg_hist_dump(const struct metricagg_hist *h, json_t *dp)
{
	json_t *bc, *eb;
	size_t i;

	json_object_set_new(dp, "count", u64_string(h->count));
	json_object_set_new(dp, "sum", json_real(h->sum));
	if (h->counts) {
		bc = json_array();
		eb = json_array();
		for (i = 0; i <= h->nb; i++)
			json_array_append_new(bc, u64_string(h->counts[i]));
		for (i = 0; i < h->nb; i++)
			json_array_append_new(eb, json_real(h->bounds[i]));
		json_object_set_new(dp, "bucketCounts", bc);
		json_object_set_new(dp, "explicitBounds", eb);
	}
	if (h->has_min)
		json_object_set_new(dp, "min", json_real(h->min));
	if (h->has_max)
		json_object_set_new(dp, "max", json_real(h->max));
	return 0;
}

static void series_free(struct series *s)
{
	if (!s)
		return;
	free(s->key);
	json_decref(s->res_attrs);
	json_decref(s->dp_attrs);
	json_decref(s->raw);
	free(s->scope);
	free(s->name);
	free(s->unit);
	metricagg_hist_free(&s->h);
	free(s);
}

struct metricagg *metricagg_new(uint64_t window_ns, size_t max_series, bool keep_pod)
{
	struct metricagg *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->keep_pod = keep_pod;
	a->window_ns = window_ns ? window_ns : 1;
	a->max_series = max_series;
	a->tab_size = 64;
	while (a->tab_size < 2 * max_series)
		a->tab_size *= 2;
	a->tab = calloc(a->tab_size, sizeof(*a->tab));
	a->all = calloc(max_series ? max_series : 1, sizeof(*a->all));
	if (!a->tab || !a->all) {
		metricagg_free(a);
		return NULL;
	}
	a->cap = max_series;
	return a;
}

void metricagg_free(struct metricagg *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->n; i++)
		series_free(a->all[i]);
	free(a->all);
	free(a->tab);
	free(a);
}

size_t metricagg_series(const struct metricagg *a)
{
	return a->n;
}

static struct series **slot(struct metricagg *a, const char *key, uint64_t hash)
{
	size_t i = hash & (a->tab_size - 1);

	while (a->tab[i] && (a->tab[i]->hash != hash || strcmp(a->tab[i]->key, key)))
		i = (i + 1) & (a->tab_size - 1);
	return &a->tab[i];
}

static void rebuild_table(struct metricagg *a)
{
	size_t i;

	memset(a->tab, 0, a->tab_size * sizeof(*a->tab));
	for (i = 0; i < a->n; i++)
		*slot(a, a->all[i]->key, a->all[i]->hash) = a->all[i];
}

struct parse_ctx {
	struct metricagg *a;
	struct series **items;
	size_t n, cap;
	char *err;
	size_t errlen;
};

static int fail(struct parse_ctx *p, const char *what)
{
	snprintf(p->err, p->errlen, "%s", what);
	return -EINVAL;
}

static int push(struct parse_ctx *p, struct series *s)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		struct series **it = realloc(p->items, cap * sizeof(*it));

		if (!it)
			return -ENOMEM;
		p->items = it;
		p->cap = cap;
	}
	p->items[p->n++] = s;
	return 0;
}

/* The identity of s as its key: resource | scope | metric | window | point attributes. */
static int make_key(struct series *s, const char *res_text)
{
	char *dp = dump(s->dp_attrs), *key = NULL;
	int len, res_len = (int)strlen(res_text), metric_len;

	if (!dp)
		return -ENOMEM;
	/* Fields are separated by \x01, which the JSON texts cannot contain raw. */
	len = asprintf(&key, "%s\x01%s\x01%s\x01%s\x01%c%c\x01%n%020" PRIu64 "\x01%s", res_text,
		       s->scope, s->name, s->unit, s->kind, s->what, &metric_len, s->window_end,
		       dp);
	free(dp);
	if (len < 0)
		return -ENOMEM;
	s->key = key;
	s->res_len = res_len;
	s->metric_len = metric_len;
	s->hash = fnv1a(key);
	return 0;
}

static int parse_values(struct parse_ctx *p, struct series *s, json_t *dp)
{
	json_t *v;

	if (s->kind == MERGE_LAST) {
		s->raw = json_deep_copy(dp);
		return s->raw ? 0 : -ENOMEM;
	}
	if (s->kind == MERGE_HIST)
		return metricagg_hist_parse(dp, &s->h) ? fail(p, "a histogram point is malformed") :
							 0;
	if ((v = json_object_get(dp, "asDouble"))) {
		s->is_double = true;
		return json_double(v, &s->dval) ? fail(p, "asDouble is not a number") : 0;
	}
	/* asInt may be negative in a non-monotonic sum: kept as two's complement. */
	v = json_object_get(dp, "asInt");
	if (json_is_integer(v)) {
		s->ival = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *t = json_string_value(v);
		char *end;

		errno = 0;
		s->ival = *t == '-' ? (uint64_t)strtoll(t, &end, 10) : strtoull(t, &end, 10);
		if (!errno && *t && !*end)
			return 0;
	}
	return fail(p, "a sum point has no valid asInt or asDouble");
}

struct metric_ctx {
	json_t *res_kept, *res_all;
	const char *res_kept_text, *res_all_text, *scope, *name, *unit;
	char kind, what;
	bool monotonic;
	int temporality;
};

static int parse_point(struct parse_ctx *p, const struct metric_ctx *m, json_t *dp)
{
	struct series *s = calloc(1, sizeof(*s));
	uint64_t t, w = p->a->window_ns;
	int ret = -ENOMEM;

	if (!s)
		return ret;
	s->kind = m->kind;
	s->what = m->what;
	s->monotonic = m->monotonic;
	s->temporality = m->temporality;
	s->scope = strdup(m->scope);
	s->name = strdup(m->name);
	s->unit = strdup(m->unit);
	s->res_attrs = json_incref(m->kind == MERGE_LAST ? m->res_all : m->res_kept);
	s->dp_attrs = norm_attrs(json_object_get(dp, "attributes"), false, false);
	if (!s->scope || !s->name || !s->unit)
		goto out;
	ret = -EINVAL;
	if (!json_is_object(dp) || !s->dp_attrs) {
		fail(p, "a data point or its attributes are malformed");
		goto out;
	}
	if (metricagg_json_u64(json_object_get(dp, "timeUnixNano"), &t) || !t ||
	    t > UINT64_MAX - w) {
		fail(p, "a data point has no timeUnixNano");
		goto out;
	}
	s->window_end = (t + w - 1) / w * w;
	ret = parse_values(p, s, dp);
	if (!ret)
		ret = make_key(s, m->kind == MERGE_LAST ? m->res_all_text : m->res_kept_text);
	if (!ret)
		ret = push(p, s);
out:
	if (ret)
		series_free(s);
	return ret;
}

/* kind and shape of one metric; 1 when it is of a type not aggregated (skipped). */
static int classify(struct parse_ctx *p, json_t *metric, struct metric_ctx *m, json_t **dps)
{
	json_t *body;
	json_int_t temp;

	if ((body = json_object_get(metric, "sum"))) {
		m->what = 's';
	} else if ((body = json_object_get(metric, "histogram"))) {
		m->what = 'h';
	} else if ((body = json_object_get(metric, "gauge"))) {
		m->what = 'g';
	} else {
		return 1; /* exponential histograms and summaries are not merged */
	}
	*dps = json_object_get(body, "dataPoints");
	if (!json_is_array(*dps))
		return fail(p, "a metric has no dataPoints array");
	temp = json_integer_value(json_object_get(body, "aggregationTemporality"));
	m->temporality = (int)temp;
	m->monotonic = json_is_true(json_object_get(body, "isMonotonic"));
	if (m->what == 'g' || temp != 1)
		m->kind = MERGE_LAST;
	else
		m->kind = m->what == 'h' ? MERGE_HIST : MERGE_SUM;
	return 0;
}

static int parse_scope(struct parse_ctx *p, struct metric_ctx *m, json_t *sm)
{
	json_t *metrics = json_object_get(sm, "metrics"), *metric, *dps, *dp;
	const char *scope =
		json_string_value(json_object_get(json_object_get(sm, "scope"), "name"));
	size_t i, j;
	int ret;

	m->scope = scope ? scope : "";
	if (metrics && !json_is_array(metrics))
		return fail(p, "metrics is not an array");
	json_array_foreach(metrics, i, metric)
	{
		m->name = json_string_value(json_object_get(metric, "name"));
		m->unit = json_string_value(json_object_get(metric, "unit"));
		if (!m->name || !*m->name)
			return fail(p, "a metric has no name");
		if (!m->unit)
			m->unit = "";
		ret = classify(p, metric, m, &dps);
		if (ret > 0)
			continue;
		if (ret)
			return ret;
		json_array_foreach(dps, j, dp)
		{
			ret = parse_point(p, m, dp);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int parse_resource(struct parse_ctx *p, json_t *rm)
{
	json_t *attrs = json_object_get(json_object_get(rm, "resource"), "attributes");
	json_t *sms = json_object_get(rm, "scopeMetrics"), *sm;
	struct metric_ctx m = {};
	char *kept_text = NULL, *all_text = NULL;
	int ret = -EINVAL;
	size_t i;

	m.res_kept = norm_attrs(attrs, true, p->a->keep_pod);
	m.res_all = norm_attrs(attrs, false, false);
	if (!m.res_kept || !m.res_all || (sms && !json_is_array(sms))) {
		fail(p, "a resource or its scopeMetrics are malformed");
		goto out;
	}
	kept_text = dump(m.res_kept);
	all_text = dump(m.res_all);
	ret = -ENOMEM;
	if (!kept_text || !all_text)
		goto out;
	m.res_kept_text = kept_text;
	m.res_all_text = all_text;
	ret = 0;
	json_array_foreach(sms, i, sm)
	{
		ret = parse_scope(p, &m, sm);
		if (ret)
			break;
	}
out:
	free(kept_text);
	free(all_text);
	json_decref(m.res_kept);
	json_decref(m.res_all);
	return ret;
}

static int merge_into(struct series *into, struct series *from)
{
	switch (into->kind) {
	case MERGE_SUM:
		if (from->is_double || into->is_double) {
			into->dval = (into->is_double ? into->dval : (double)(int64_t)into->ival) +
				     (from->is_double ? from->dval : (double)(int64_t)from->ival);
			into->is_double = true;
		} else {
			into->ival += from->ival;
		}
		return 0;
	case MERGE_HIST:
		return metricagg_hist_merge(&into->h, &from->h);
	default:
		json_decref(into->raw);
		into->raw = json_incref(from->raw);
		return 0;
	}
}

/* How many of the parsed points would open a series (an upper bound: repeats count twice). */
static size_t new_series(struct metricagg *a, struct parse_ctx *p)
{
	size_t i, n = 0;

	for (i = 0; i < p->n; i++)
		if (!*slot(a, p->items[i]->key, p->items[i]->hash))
			n++;
	return n;
}

static int commit(struct metricagg *a, struct parse_ctx *p)
{
	struct series **sl;
	size_t i;
	int ret;

	for (i = 0; i < p->n; i++) {
		sl = slot(a, p->items[i]->key, p->items[i]->hash);
		if (*sl) {
			ret = merge_into(*sl, p->items[i]);
			if (ret)
				return ret;
			series_free(p->items[i]);
		} else {
			*sl = p->items[i];
			a->all[a->n++] = p->items[i];
		}
		p->items[i] = NULL;
	}
	return 0;
}

int metricagg_add(struct metricagg *a, json_t *req, size_t *points, char *err, size_t errlen)
{
	struct parse_ctx p = { .a = a, .err = err, .errlen = errlen };
	json_t *rms = json_object_get(req, "resourceMetrics"), *rm;
	size_t i;
	int ret = 0;

	if (!json_is_object(req) || (rms && !json_is_array(rms))) {
		snprintf(err, errlen, "not an ExportMetricsServiceRequest");
		return -EINVAL;
	}
	json_array_foreach(rms, i, rm)
	{
		ret = parse_resource(&p, rm);
		if (ret)
			break;
	}
	if (!ret && a->n + new_series(a, &p) > a->max_series) {
		snprintf(err, errlen, "too many series held (%zu): retry later", a->n);
		ret = -ENOSPC;
	}
	if (!ret) {
		if (points)
			*points = p.n;
		ret = commit(a, &p);
	}
	for (i = 0; i < p.n; i++)
		series_free(p.items[i]);
	free(p.items);
	return ret;
}

static int cmp_series(const void *a, const void *b)
{
	return strcmp((*(struct series *const *)a)->key, (*(struct series *const *)b)->key);
}

static json_t *point_json(const struct metricagg *a, const struct series *s)
{
	char start[24], end[24];
	json_t *dp;

	if (s->kind == MERGE_LAST)
		return json_incref(s->raw);
	snprintf(start, sizeof(start), "%" PRIu64, s->window_end - a->window_ns);
	snprintf(end, sizeof(end), "%" PRIu64, s->window_end);
	dp = json_pack("{s:O, s:s, s:s}", "attributes", s->dp_attrs, "startTimeUnixNano", start,
		       "timeUnixNano", end);
	if (!dp)
		return NULL;
	if (s->kind == MERGE_HIST) {
		metricagg_hist_dump(&s->h, dp);
	} else if (s->is_double) {
		json_object_set_new(dp, "asDouble", json_real(s->dval));
	} else {
		char v[24];

		snprintf(v, sizeof(v), "%" PRId64, (int64_t)s->ival);
		json_object_set_new(dp, "asInt", json_string(v));
	}
	return dp;
}

/* The metric object of s, with an empty dataPoints array to fill. */
static json_t *metric_json(const struct series *s, json_t **dps)
{
	const char *field = s->what == 's' ? "sum" : s->what == 'h' ? "histogram" : "gauge";
	json_t *body, *m;

	*dps = json_array();
	body = json_pack("{s:o}", "dataPoints", *dps);
	if (!body)
		return NULL;
	if (s->what != 'g')
		json_object_set_new(body, "aggregationTemporality", json_integer(s->temporality));
	if (s->what == 's')
		json_object_set_new(body, "isMonotonic", json_boolean(s->monotonic));
	m = json_pack("{s:s, s:s, s:o}", "name", s->name, "unit", s->unit, field, body);
	return m;
}

/* Series sorted by key: resources, scopes and metrics come in runs. */
static json_t *build_request(const struct metricagg *a, struct series **v, size_t n)
{
	json_t *req = json_pack("{s:[]}", "resourceMetrics"), *rms, *metrics = NULL, *dps = NULL;
	size_t i;

	if (!req)
		return NULL;
	rms = json_object_get(req, "resourceMetrics");
	for (i = 0; i < n; i++) {
		const struct series *s = v[i], *prev = i ? v[i - 1] : NULL;
		bool new_res = !prev || prev->res_len != s->res_len ||
			       memcmp(prev->key, s->key, s->res_len);
		bool new_scope = new_res || strcmp(prev->scope, s->scope);
		bool new_metric = new_scope || prev->metric_len != s->metric_len ||
				  memcmp(prev->key, s->key, s->metric_len);

		if (new_res)
			json_array_append_new(rms,
					      json_pack("{s:{s:O}, s:[]}", "resource", "attributes",
							s->res_attrs, "scopeMetrics"));
		if (new_scope) {
			json_t *sms = json_object_get(json_array_get(rms, json_array_size(rms) - 1),
						      "scopeMetrics");

			metrics = json_array();
			json_array_append_new(sms, json_pack("{s:{s:s}, s:o}", "scope", "name",
							     s->scope, "metrics", metrics));
		}
		if (new_metric)
			json_array_append_new(metrics, metric_json(s, &dps));
		json_array_append_new(dps, point_json(a, s));
	}
	return req;
}

json_t *metricagg_take(struct metricagg *a, uint64_t until_ns, int *empty)
{
	struct series **taken;
	size_t i, n = 0, kept = 0;
	json_t *req;

	*empty = 1;
	taken = calloc(a->n ? a->n : 1, sizeof(*taken));
	if (!taken)
		return NULL;
	for (i = 0; i < a->n; i++) {
		if (a->all[i]->window_end <= until_ns)
			taken[n++] = a->all[i];
		else
			a->all[kept++] = a->all[i];
	}
	if (!n) {
		free(taken);
		return NULL;
	}
	*empty = 0;
	qsort(taken, n, sizeof(*taken), cmp_series);
	req = build_request(a, taken, n);
	if (!req) {
		/* Out of memory: everything stays for the next attempt. */
		for (i = 0; i < n; i++)
			a->all[kept++] = taken[i];
	} else {
		for (i = 0; i < n; i++)
			series_free(taken[i]);
	}
	a->n = kept;
	rebuild_table(a);
	free(taken);
	return req;
}

json_t *metricagg_snapshot(const struct metricagg *a)
{
	struct series **v;
	json_t *req;

	if (!a->n)
		return NULL;
	v = malloc(a->n * sizeof(*v));
	if (!v)
		return NULL;
	memcpy(v, a->all, a->n * sizeof(*v));
	qsort(v, a->n, sizeof(*v), cmp_series);
	req = build_request(a, v, a->n);
	free(v);
	return req;
}
