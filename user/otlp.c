// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OTLP/JSON metrics: see otlp.h and docs/metrics.md. Built with json_pack,
 * whose "o" stealing and NULL propagation make an allocation failure
 * anywhere surface as a NULL request without a check at every step.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "histogram.h"
#include "names.h"
#include "otlp.h"
#include "proto_names.h"

#ifndef KERNO_VERSION
#define KERNO_VERSION "dev"
#endif

#define SCOPE_NAME "kerno.preon"
#define TEMPORALITY_DELTA 1
#define OTHER_ROUTE "other"

/* The interval and the lookups every data point needs. */
struct ctx {
	const struct otlp_metrics_in *in;
	json_t *start; /* startTimeUnixNano, shared by every data point */
	json_t *end; /* timeUnixNano */
};

static json_t *u64_str(__u64 v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

/* Append a new reference; -1 (and the reference dropped) on failure. */
static int append(json_t *arr, json_t *v)
{
	return v && !json_array_append_new(arr, v) ? 0 : -1;
}

static int attr_str(json_t *attrs, const char *key, const char *val)
{
	return append(attrs, json_pack("{s:s, s:{s:s}}", "key", key, "value", "stringValue", val));
}

/* OTLP/JSON AnyValue.intValue is an int64, hence a string. */
static int attr_int(json_t *attrs, const char *key, long long val)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", val);
	return append(attrs, json_pack("{s:s, s:{s:s}}", "key", key, "value", "intValue", buf));
}

static double ns_to_s(__u64 ns)
{
	return (double)ns / 1e9;
}

void otlp_escape_path(const char *path, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char ch;
	size_t i;

	for (i = 0; i < len && path[i]; i++) {
		ch = (unsigned char)path[i];
		if (ch > 0x20 && ch < 0x7f) {
			*out++ = ch;
			continue;
		}
		*out++ = '%';
		*out++ = hex[ch >> 4];
		*out++ = hex[ch & 15];
	}
	*out = '\0';
}

/*
 * Format the peer address. IPv4-mapped IPv6 addresses, which a dual-stack
 * listener sees for IPv4 clients, are printed as the IPv4 they are.
 */
static bool format_addr(const struct kerno_series_key *k, char *buf, size_t size)
{
	static const __u8 v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (k->family == AF_INET6 && !memcmp(k->peer_addr, v4mapped, sizeof(v4mapped)))
		return inet_ntop(AF_INET, k->peer_addr + 12, buf, size) != NULL;
	if (k->family == AF_INET || k->family == AF_INET6)
		return inet_ntop(k->family, k->peer_addr, buf, size) != NULL;
	return false;
}

/*
 * error.type as the semantic conventions define it for HTTP: the status
 * code, when it is a server error (servers) or any 4xx/5xx (clients).
 */
static int attr_error_type(json_t *attrs, const struct kerno_series_key *k)
{
	char buf[8];

	if (k->status < (k->role == KERNO_ROLE_SERVER ? 500 : 400))
		return 0;
	snprintf(buf, sizeof(buf), "%u", k->status);
	return attr_str(attrs, "error.type", buf);
}

/* A folded series (see fold_tail) has only method "_OTHER", status and route "other". */
static json_t *point_attrs(const struct kerno_series_key *k, bool folded)
{
	bool h2 = k->proto == KERNO_P_HTTP2;
	char route[3 * KERNO_PATH_LEN + 1], addr[INET6_ADDRSTRLEN];
	bool server = k->role == KERNO_ROLE_SERVER;
	json_t *attrs = json_array();
	int err = 0;

	if (!attrs)
		return NULL;
	if (folded)
		strcpy(route, OTHER_ROUTE);
	else
		otlp_escape_path(k->path, sizeof(k->path), route);
	err |= attr_str(attrs, "http.request.method",
			folded ? "_OTHER" : kerno_method_name(k->method));
	if (k->status)
		err |= attr_int(attrs, "http.response.status_code", k->status);
	err |= attr_str(attrs, server ? "http.route" : "url.template", route);
	if (!folded && !server && format_addr(k, addr, sizeof(addr)))
		err |= attr_str(attrs, "server.address", addr);
	if (!folded)
		err |= attr_int(attrs, "server.port", k->server_port);
	if (!folded && server && format_addr(k, addr, sizeof(addr)))
		err |= attr_str(attrs, "client.address", addr);
	err |= attr_error_type(attrs, k);
	if (h2)
		err |= attr_str(attrs, "network.protocol.version", "2");
	/* An HTTP/2 stream reset (code 1) before an error status said otherwise. */
	if (h2 && k->code && k->status < (server ? 500 : 400))
		err |= attr_str(attrs, "error.type", "stream_reset");
	if (err) {
		json_decref(attrs);
		return NULL;
	}
	return attrs;
}

/* The peer: server.address for clients, client.address for servers (when known). */
static int attr_peer(json_t *attrs, const struct kerno_series_key *k)
{
	static const __u8 zero[16];
	char addr[INET6_ADDRSTRLEN];
	bool server = k->role == KERNO_ROLE_SERVER;
	int err = 0;

	if (!server && format_addr(k, addr, sizeof(addr)))
		err |= attr_str(attrs, "server.address", addr);
	if (k->server_port)
		err |= attr_int(attrs, "server.port", k->server_port);
	if (server && memcmp(k->peer_addr, zero, sizeof(zero)) &&
	    format_addr(k, addr, sizeof(addr)))
		err |= attr_str(attrs, "client.address", addr);
	return err;
}

/* db.* attributes of a Redis, PostgreSQL or MySQL series. */
static int db_attrs(json_t *attrs, const struct kerno_series_key *k, bool folded)
{
	char name[KERNO_PATH_LEN + 1], num[12];
	const char *op = NULL;
	const char *status = kerno_db_error(k->proto, k->status, k->code, num, sizeof(num));
	int err = attr_str(attrs, "db.system.name", kerno_db_system(k->proto));

	if (k->proto == KERNO_P_REDIS) {
		memcpy(name, k->path, KERNO_PATH_LEN);
		name[KERNO_PATH_LEN] = '\0';
		op = name[0] ? name : NULL;
	} else {
		op = kerno_sql_op_name(k->method);
	}
	if (op && !folded)
		err |= attr_str(attrs, "db.operation.name", op);
	if (status) {
		err |= attr_str(attrs, "db.response.status_code", status);
		err |= attr_str(attrs, "error.type", status);
	}
	if (!folded)
		err |= attr_peer(attrs, k);
	return err;
}

/* dns.* attributes: the query type, and the rcode as error.type unless NOERROR. */
static int dns_attrs(json_t *attrs, const struct kerno_series_key *k, bool folded)
{
	char buf[12];
	int err = attr_str(attrs, "network.transport", k->method == KERNO_DNS_TCP ? "tcp" : "udp");

	if (k->code && !folded)
		err |= attr_str(attrs, "dns.question.type",
				kerno_dns_type_name(k->code, buf, sizeof(buf)));
	if (k->status)
		err |= attr_str(attrs, "error.type",
				kerno_dns_rcode_name(k->status, buf, sizeof(buf)));
	if (!folded)
		err |= attr_peer(attrs, k);
	return err;
}

/*
 * rpc.* attributes of a gRPC series: path "service/method", the status from
 * the trailers (none when the stream was reset or ended without them).
 */
static int grpc_attrs(json_t *attrs, const struct kerno_series_key *k, bool folded)
{
	char path[KERNO_PATH_LEN + 1], buf[12], *slash;
	const char *error = kerno_grpc_error_type(k->status, k->method, buf, sizeof(buf));
	int err = attr_str(attrs, "rpc.system", "grpc");

	memcpy(path, k->path, KERNO_PATH_LEN);
	path[KERNO_PATH_LEN] = '\0';
	slash = strrchr(path, '/');
	if (!folded && slash) {
		*slash = '\0';
		err |= attr_str(attrs, "rpc.service", path);
		err |= attr_str(attrs, "rpc.method", slash + 1);
	}
	if (k->status != KERNO_GRPC_NO_STATUS)
		err |= attr_int(attrs, "rpc.grpc.status_code", k->status);
	if (error)
		err |= attr_str(attrs, "error.type", error);
	if (!folded)
		err |= attr_peer(attrs, k);
	return err;
}

/* Attributes of a series that is not HTTP/1.x. */
static json_t *proto_point_attrs(const struct kerno_series_key *k, bool folded)
{
	json_t *attrs = json_array();
	int err = 0;

	if (!attrs)
		return NULL;
	if (k->proto == KERNO_P_DNS)
		err = dns_attrs(attrs, k, folded);
	else if (k->proto == KERNO_P_GRPC)
		err = grpc_attrs(attrs, k, folded);
	else if (k->proto == KERNO_P_TCP)
		err = attr_str(attrs, "network.transport", "tcp") |
		      (folded ? 0 : attr_peer(attrs, k));
	else
		err = db_attrs(attrs, k, folded);
	if (err) {
		json_decref(attrs);
		return NULL;
	}
	return attrs;
}

static bool is_http(const struct kerno_series_key *k)
{
	return k->proto == KERNO_P_UNDECIDED || k->proto == KERNO_P_HTTP1 ||
	       k->proto == KERNO_P_HTTP2;
}

/*
 * The populated range [f, l] of the kernel histogram as OTLP explicit
 * buckets: bounds upper(f) .. upper(l-1) and counts c_f .. c_l. OTLP's
 * first bucket (-inf, upper(f)] then holds exactly c_f and its last one
 * (upper(l-1), +inf) exactly c_l; min = lower(f) and max = upper(l) close
 * the two open ends.
 */
static int put_buckets(json_t *dp, const __u32 *buckets, unsigned int f, unsigned int l)
{
	json_t *bounds = json_array(), *counts = json_array();
	unsigned int b;
	int err = !bounds || !counts;

	for (b = f; b <= l && !err; b++) {
		err |= append(counts, u64_str(buckets[b]));
		if (b < l)
			err |= append(bounds, json_real(ns_to_s(kerno_hist_upper(b))));
	}
	err |= json_object_set_new(dp, "bucketCounts", counts);
	err |= json_object_set_new(dp, "explicitBounds", bounds);
	err |= json_object_set_new(dp, "min", json_real(ns_to_s(kerno_hist_lower(f))));
	err |= json_object_set_new(dp, "max", json_real(ns_to_s(kerno_hist_upper(l))));
	return err ? -1 : 0;
}

/*
 * One histogram data point. Its count is the sum of the buckets rather
 * than the sample's count, which a torn per-CPU read may put off by one:
 * OTLP wants the two equal.
 */
static json_t *data_point(const struct ctx *c, const struct kerno_sample *s, bool folded)
{
	unsigned int f, l;
	json_t *dp;

	if (!kerno_hist_range(s->buckets, &f, &l))
		return NULL;
	dp = json_pack("{s:o, s:O, s:O, s:o, s:f}", "attributes",
		       is_http(&s->key) ? point_attrs(&s->key, folded) :
					  proto_point_attrs(&s->key, folded),
		       "startTimeUnixNano", c->start, "timeUnixNano", c->end, "count",
		       u64_str(kerno_hist_total(s->buckets)), "sum", ns_to_s(s->sum_ns));
	if (dp && put_buckets(dp, s->buckets, f, l)) {
		json_decref(dp);
		dp = NULL;
	}
	return dp;
}

static json_t *histogram_metric(const char *name, const char *desc, json_t *points)
{
	return json_pack("{s:s, s:s, s:s, s:{s:i, s:o}}", "name", name, "description", desc, "unit",
			 "s", "histogram", "aggregationTemporality", TEMPORALITY_DELTA,
			 "dataPoints", points);
}

/* Busiest series first within a process, so the series cap keeps the ones that matter. */
static int cmp_sample(const void *a, const void *b)
{
	const struct kerno_sample *x = *(const struct kerno_sample *const *)a;
	const struct kerno_sample *y = *(const struct kerno_sample *const *)b;

	if (x->key.tgid != y->key.tgid)
		return x->key.tgid < y->key.tgid ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	/* Ties broken by the whole key so the output does not depend on map order. */
	return memcmp(&x->key, &y->key, sizeof(x->key));
}

static void merge_into(struct kerno_sample *dst, const struct kerno_sample *src)
{
	unsigned int b;

	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	for (b = 0; b < KERNO_HIST_BUCKETS; b++)
		dst->buckets[b] = src->buckets[b] > UINT32_MAX - dst->buckets[b] ?
					  UINT32_MAX :
					  dst->buckets[b] + src->buckets[b];
}

/*
 * Fold the series past the cap into one per (role, status). Returns how
 * many folded series `out` (room for n) now holds.
 */
static size_t fold_tail(const struct kerno_sample *const *tail, size_t n, struct kerno_sample *out)
{
	size_t i, j, used = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < used; j++)
			if (out[j].key.role == tail[i]->key.role &&
			    out[j].key.proto == tail[i]->key.proto &&
			    out[j].key.status == tail[i]->key.status)
				break;
		if (j == used) {
			memset(&out[j], 0, sizeof(out[j]));
			out[j].key.tgid = tail[i]->key.tgid;
			out[j].key.role = tail[i]->key.role;
			out[j].key.proto = tail[i]->key.proto;
			out[j].key.status = tail[i]->key.status;
			used++;
		}
		merge_into(&out[j], tail[i]);
	}
	return used;
}

/* The histogram metrics, one per protocol family and role. */
enum metric_kind {
	MK_HTTP_SERVER,
	MK_HTTP_CLIENT,
	MK_DB_CLIENT,
	MK_DB_SERVER,
	MK_DNS_CLIENT,
	MK_DNS_SERVER,
	MK_RPC_SERVER,
	MK_RPC_CLIENT,
	MK_TCP_CLIENT,
	MK_TCP_SERVER,
	MK__COUNT,
};

static const struct {
	const char *name, *desc, *io_name;
} metric_kinds[MK__COUNT] = {
	[MK_HTTP_SERVER] = { "http.server.request.duration", "Duration of HTTP server requests." },
	[MK_HTTP_CLIENT] = { "http.client.request.duration", "Duration of HTTP client requests." },
	[MK_DB_CLIENT] = { "db.client.operation.duration",
			   "Duration of database client operations." },
	[MK_DB_SERVER] = { "kerno.db.server.operation.duration",
			   "Duration of database operations, as the server saw them." },
	[MK_DNS_CLIENT] = { "dns.lookup.duration", "Duration of DNS queries." },
	[MK_DNS_SERVER] = { "kerno.dns.server.duration", "Duration of DNS queries answered." },
	[MK_RPC_SERVER] = { "rpc.server.duration", "Duration of RPCs served (gRPC)." },
	[MK_RPC_CLIENT] = { "rpc.client.duration", "Duration of RPCs made (gRPC)." },
	[MK_TCP_CLIENT] = { "kerno.tcp.client.connection.duration",
			    "Lifetime of client TCP connections of no known protocol.",
			    "kerno.tcp.client.connection.io" },
	[MK_TCP_SERVER] = { "kerno.tcp.server.connection.duration",
			    "Lifetime of server TCP connections of no known protocol.",
			    "kerno.tcp.server.connection.io" },
};

static enum metric_kind metric_kind(const struct kerno_series_key *k)
{
	bool server = k->role == KERNO_ROLE_SERVER;

	switch (k->proto) {
	case KERNO_P_REDIS:
	case KERNO_P_PGSQL:
	case KERNO_P_MYSQL:
		return server ? MK_DB_SERVER : MK_DB_CLIENT;
	case KERNO_P_DNS:
		return server ? MK_DNS_SERVER : MK_DNS_CLIENT;
	case KERNO_P_TCP:
		return server ? MK_TCP_SERVER : MK_TCP_CLIENT;
	case KERNO_P_GRPC:
		return server ? MK_RPC_SERVER : MK_RPC_CLIENT;
	default:
		return server ? MK_HTTP_SERVER : MK_HTTP_CLIENT;
	}
}

/* Append the data points of one kind's series to points: kept ones, then folded ones. */
static int kind_points(const struct ctx *c, json_t *points, enum metric_kind kind,
		       const struct kerno_sample *const *kept, size_t n_kept,
		       const struct kerno_sample *folded, size_t n_folded)
{
	size_t i;

	for (i = 0; i < n_kept; i++)
		if (metric_kind(&kept[i]->key) == kind &&
		    append(points, data_point(c, kept[i], false)))
			return -1;
	for (i = 0; i < n_folded; i++)
		if (metric_kind(&folded[i].key) == kind &&
		    append(points, data_point(c, &folded[i], true)))
			return -1;
	return 0;
}

/* One point of the bytes of a plain TCP series, in one direction. */
static json_t *io_point(const struct ctx *c, const struct kerno_sample *s, bool rx)
{
	json_t *attrs = proto_point_attrs(&s->key, false);

	if (!attrs || attr_str(attrs, "network.io.direction", rx ? "receive" : "transmit")) {
		json_decref(attrs);
		return NULL;
	}
	return json_pack("{s:o, s:O, s:O, s:o}", "attributes", attrs, "startTimeUnixNano", c->start,
			 "timeUnixNano", c->end, "asInt", u64_str(rx ? s->rx_bytes : s->tx_bytes));
}

/* Bytes of the plain TCP connections of one kind (kept series only). */
static json_t *io_metric(const struct ctx *c, enum metric_kind kind,
			 const struct kerno_sample *const *kept, size_t n_kept)
{
	json_t *points = json_array();
	size_t i;

	for (i = 0; points && i < n_kept; i++) {
		if (metric_kind(&kept[i]->key) != kind)
			continue;
		if (append(points, io_point(c, kept[i], true)) ||
		    append(points, io_point(c, kept[i], false))) {
			json_decref(points);
			return NULL;
		}
	}
	return json_pack("{s:s, s:s, s:s, s:{s:i, s:b, s:o}}", "name", metric_kinds[kind].io_name,
			 "description", "Bytes of TCP connections of no known protocol.", "unit",
			 "By", "sum", "aggregationTemporality", TEMPORALITY_DELTA, "isMonotonic", 1,
			 "dataPoints", points);
}

static json_t *process_metrics(const struct ctx *c, const struct kerno_sample *const *kept,
			       size_t n_kept, const struct kerno_sample *folded, size_t n_folded)
{
	json_t *metrics = json_array(), *points;
	unsigned int i;

	for (i = 0; metrics && i < MK__COUNT; i++) {
		points = json_array();
		if (!points || kind_points(c, points, i, kept, n_kept, folded, n_folded)) {
			json_decref(points);
			goto fail;
		}
		if (!json_array_size(points)) {
			json_decref(points);
			continue;
		}
		if (append(metrics,
			   histogram_metric(metric_kinds[i].name, metric_kinds[i].desc, points)))
			goto fail;
		if (metric_kinds[i].io_name && append(metrics, io_metric(c, i, kept, n_kept)))
			goto fail;
	}
	return metrics;
fail:
	json_decref(metrics);
	return NULL;
}

static json_t *process_resource(const struct ctx *c, __u32 pid)
{
	json_t *attrs = json_array();
	struct procinfo info;
	int err;

	if (!attrs)
		return NULL;
	err = attr_str(attrs, "host.name", c->in->host);
	err |= attr_int(attrs, "process.pid", pid);
	if (c->in->lookup && !c->in->lookup(c->in->lookup_ctx, pid, &info)) {
		err |= attr_str(attrs, "process.executable.name", info.exe);
		if (info.container_id[0])
			err |= attr_str(attrs, "container.id", info.container_id);
	}
	if (err) {
		json_decref(attrs);
		return NULL;
	}
	return json_pack("{s:o}", "attributes", attrs);
}

static json_t *resource_metrics(json_t *resource, json_t *metrics)
{
	return json_pack("{s:o, s:[{s:{s:s, s:s}, s:o}]}", "resource", resource, "scopeMetrics",
			 "scope", "name", SCOPE_NAME, "version", KERNO_VERSION, "metrics", metrics);
}

static json_t *drops_metric(const struct ctx *c, const __u64 *drops, bool zeros);

/*
 * The resourceMetrics of process pid: its n samples (sorted busiest first)
 * start at group, and drops (or NULL) are its own. NULL with *err = 0 when
 * there is nothing to say.
 */
static json_t *process_entry(const struct ctx *c, __u32 pid,
			     const struct kerno_sample *const *group, size_t n,
			     const struct kerno_proc_drops *drops, int *err)
{
	size_t cap = c->in->max_series_per_process, n_kept = n, n_folded = 0;
	struct kerno_sample *folded = NULL;
	json_t *metrics, *out = NULL;

	*err = 0;
	if (cap && n > cap) {
		folded = malloc((n - cap) * sizeof(*folded));
		if (!folded)
			goto fail;
		n_kept = cap;
		n_folded = fold_tail(group + cap, n - cap, folded);
	}
	metrics = process_metrics(c, group, n_kept, folded, n_folded);
	if (!metrics)
		goto fail;
	free(folded);
	if (drops && append(metrics, drops_metric(c, drops->drops, false))) {
		json_decref(metrics);
		*err = 1;
		return NULL;
	}
	if (!json_array_size(metrics)) {
		json_decref(metrics);
		return NULL;
	}
	out = resource_metrics(process_resource(c, pid), metrics);
	*err = !out;
	return out;
fail:
	free(folded);
	*err = 1;
	return NULL;
}

/*
 * A monotonic delta sum, one point per counter of the kind (drops or
 * events) out of values (indexed by enum kerno_counter), zeros included
 * or not.
 */
static json_t *counter_metric(const struct ctx *c, bool drops, const __u64 *values, bool zeros)
{
	const char *attr = drops ? "reason" : "event";
	json_t *points = json_array(), *dp;
	unsigned int i;
	__u64 v;

	for (i = 0; points && i < KERNO_COUNTER__COUNT; i++) {
		if (kerno_counter_is_drop(i) != drops)
			continue;
		v = values ? values[i] : 0;
		if (!v && !zeros)
			continue;
		dp = json_pack("{s:[{s:s, s:{s:s}}], s:O, s:O, s:o}", "attributes", "key", attr,
			       "value", "stringValue", kerno_counter_name(i), "startTimeUnixNano",
			       c->start, "timeUnixNano", c->end, "asInt", u64_str(v));
		if (append(points, dp)) {
			json_decref(points);
			return NULL;
		}
	}
	return json_pack("{s:s, s:s, s:s, s:{s:i, s:b, s:o}}", "name",
			 drops ? "kerno.capture.drops" : "kerno.capture.connections", "description",
			 drops ? "Things seen and not measured, by reason." :
				 "Connection and request events, by event.",
			 "unit", "{event}", "sum", "aggregationTemporality", TEMPORALITY_DELTA,
			 "isMonotonic", 1, "dataPoints", points);
}

/* drops: KERNO_DROP__COUNT values, a prefix of the counters. */
static json_t *drops_metric(const struct ctx *c, const __u64 *drops, bool zeros)
{
	return counter_metric(c, true, drops, zeros);
}

static json_t *agent_entry(const struct ctx *c)
{
	json_t *resource;

	resource = json_pack("{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s}}]}", "attributes",
			     "key", "service.name", "value", "stringValue", "kerno", "key",
			     "service.version", "value", "stringValue", KERNO_VERSION, "key",
			     "host.name", "value", "stringValue", c->in->host);
	return resource_metrics(resource,
				json_pack("[o, o]", drops_metric(c, c->in->counters, true),
					  counter_metric(c, false, c->in->counters, true)));
}

/* Pointers to the samples worth a data point, sorted by process then busiest first. */
static const struct kerno_sample **sorted_samples(const struct otlp_metrics_in *in, size_t *n)
{
	const struct kerno_sample **v = malloc((in->n_samples + 1) * sizeof(*v));
	const struct kerno_sample *s;
	size_t i;

	if (!v)
		return NULL;
	*n = 0;
	for (i = 0; i < in->n_samples; i++) {
		s = &in->samples[i];
		if ((s->key.role == KERNO_ROLE_SERVER || s->key.role == KERNO_ROLE_CLIENT) &&
		    kerno_hist_total(s->buckets))
			v[(*n)++] = s;
	}
	qsort(v, *n, sizeof(*v), cmp_sample);
	return v;
}

/* One resourceMetrics per process with samples or drops, by ascending pid. */
static int add_processes(const struct ctx *c, json_t *rms)
{
	const struct kerno_proc_drops *d = c->in->proc_drops, *drops;
	size_t n, i = 0, j, k = 0, nd = c->in->n_proc_drops;
	const struct kerno_sample **v;
	__u64 pid_s, pid_d;
	json_t *rm;
	int err = 0;

	v = sorted_samples(c->in, &n);
	if (!v)
		return -1;
	while ((i < n || k < nd) && !err) {
		pid_s = i < n ? v[i]->key.tgid : ~0ULL;
		pid_d = k < nd ? d[k].tgid : ~0ULL;
		j = i;
		if (pid_s <= pid_d)
			for (j = i + 1; j < n && v[j]->key.tgid == v[i]->key.tgid; j++)
				;
		drops = pid_d <= pid_s ? &d[k++] : NULL;
		rm = process_entry(c, pid_s < pid_d ? pid_s : pid_d, v + i, j - i, drops, &err);
		if (rm && append(rms, rm))
			err = 1;
		i = j;
	}
	free(v);
	return err ? -1 : 0;
}

json_t *otlp_metrics_request(const struct otlp_metrics_in *in)
{
	struct ctx c = { .in = in, .start = u64_str(in->start_ns), .end = u64_str(in->end_ns) };
	json_t *rms = json_array(), *req = NULL;

	if (c.start && c.end && rms && !add_processes(&c, rms) && !append(rms, agent_entry(&c)))
		req = json_pack("{s:O}", "resourceMetrics", rms);
	json_decref(rms);
	json_decref(c.start);
	json_decref(c.end);
	return req;
}
