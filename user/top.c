// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `kerno top` opens the series maps a running agent pinned and reads them
 * without changing them (no idle deletion: the agent owns the maps), so any
 * number of viewers can run beside the agent. Each screen shows the
 * endpoints that moved during the last refresh period: the series the
 * kernel aggregates (HTTP/1.x, PostgreSQL, MySQL, Redis, DNS), and those the
 * agent counts itself (HTTP/2, gRPC), whose totals it keeps in h2_series.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "drain.h"
#include "histogram.h"
#include "names.h"
#include "procnames.h"
#include "proto_names.h"
#include "top.h"

#define TOP_ROWS 40

/* One line of the table: every status of one endpoint of one process. */
struct top_row {
	struct kerno_series_key key; /* status (and a database's error code) zeroed */
	__u64 count;
	__u64 errors;
	__u32 buckets[KERNO_HIST_BUCKETS];
};

static volatile sig_atomic_t top_stop;

static void on_signal(int sig)
{
	top_stop = 1;
}

/*
 * A failed request, as the metrics' error.type says (otlp.c): an HTTP 5xx
 * (and a 4xx on the client's side), a database's error reply, a DNS rcode
 * other than NOERROR.
 */
static int is_error(const struct kerno_series_key *k)
{
	bool http_error = k->status >= 500 || (k->role == KERNO_ROLE_CLIENT && k->status >= 400);

	if (k->proto == KERNO_P_HTTP1)
		return http_error;
	/* HTTP/2: code 1 is a stream reset. */
	if (k->proto == KERNO_P_HTTP2)
		return http_error || k->code;
	/* gRPC: a grpc-status other than OK, or none (KERNO_GRPC_NO_STATUS). */
	return k->status != 0;
}

static const char *proto_name(const struct kerno_series_key *k)
{
	const char *db = kerno_db_system(k->proto);

	if (db)
		return db;
	switch (k->proto) {
	case KERNO_P_DNS:
		return "dns";
	case KERNO_P_HTTP2:
		return "http2";
	case KERNO_P_GRPC:
		return "grpc";
	default:
		return "http";
	}
}

/* A gRPC row's path is service/method: the endpoint is the service. */
static const char *grpc_method(const struct kerno_series_key *k)
{
	const char *slash = memrchr(k->path, '/', strnlen(k->path, KERNO_PATH_LEN));

	return slash ? slash + 1 : NULL;
}

/* What the requests of a row do: HTTP method, SQL operation, Redis command, DNS query type. */
static const char *operation(const struct kerno_series_key *k, char *buf, size_t size)
{
	const char *op;

	switch (k->proto) {
	case KERNO_P_HTTP1:
	case KERNO_P_HTTP2:
		return kerno_method_name(k->method);
	case KERNO_P_GRPC:
		op = grpc_method(k);
		if (op) {
			snprintf(buf, size, "%.*s", (int)(k->path + KERNO_PATH_LEN - op), op);
			op = buf;
		}
		break;
	case KERNO_P_REDIS:
		op = kerno_redis_command(k->path, KERNO_PATH_LEN, buf, size);
		break;
	case KERNO_P_PGSQL:
	case KERNO_P_MYSQL:
		op = kerno_sql_op_name(k->method);
		break;
	case KERNO_P_DNS:
		op = k->code ? kerno_dns_type_name(k->code, buf, size) : NULL;
		break;
	default:
		op = NULL;
	}
	return op ? op : "_OTHER";
}

static size_t merge(const struct kerno_sample *s, long n, struct top_row *rows, size_t max)
{
	size_t nrows = 0, i;
	long j;
	unsigned int b;

	for (j = 0; j < n; j++) {
		struct kerno_series_key k = s[j].key;

		k.status = 0;
		if (k.proto != KERNO_P_DNS)
			k.code = 0; /* the SQLSTATE of an error: one row per operation */
		if (k.proto == KERNO_P_GRPC)
			k.method = 0; /* whether the stream was reset */
		for (i = 0; i < nrows; i++)
			if (!memcmp(&rows[i].key, &k, sizeof(k)))
				break;
		if (i == nrows) {
			if (nrows == max)
				continue;
			memset(&rows[nrows], 0, sizeof(rows[0]));
			rows[nrows++].key = k;
		}
		rows[i].count += s[j].count;
		if (is_error(&s[j].key))
			rows[i].errors += s[j].count;
		for (b = 0; b < KERNO_HIST_BUCKETS; b++)
			rows[i].buckets[b] += s[j].buckets[b];
	}
	return nrows;
}

static int by_rate(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static void print_ms(double ns)
{
	if (isnan(ns))
		printf(" %9s", "-");
	else
		printf(" %9.3f", ns / 1e6);
}

static void show(struct top_row *rows, size_t n, double secs, struct proc_names *names)
{
	struct procinfo pi;
	size_t i;

	qsort(rows, n, sizeof(rows[0]), by_rate);
	printf("%-7s %-15s %-6s %-10s %-9s %-32s %6s %9s %7s %9s %9s\n", "PID", "PROCESS", "ROLE",
	       "PROTO", "OPERATION", "ENDPOINT", "PORT", "REQ/S", "ERR%", "P50(ms)", "P99(ms)");
	for (i = 0; i < n && i < TOP_ROWS; i++) {
		const struct top_row *r = &rows[i];
		char path[3 * KERNO_PATH_LEN + 1], op[KERNO_PATH_LEN + 1];

		if (proc_names_lookup(names, r->key.tgid, &pi))
			snprintf(pi.exe, sizeof(pi.exe), "?");
		/* Only HTTP and gRPC have endpoints; a Redis row's path is its command. */
		if (r->key.proto == KERNO_P_HTTP1 || r->key.proto == KERNO_P_HTTP2)
			otlp_escape_path(r->key.path, strnlen(r->key.path, KERNO_PATH_LEN), path);
		else if (r->key.proto == KERNO_P_GRPC && grpc_method(&r->key))
			snprintf(path, sizeof(path), "%.*s",
				 (int)(grpc_method(&r->key) - 1 - r->key.path), r->key.path);
		else
			snprintf(path, sizeof(path), "-");
		printf("%-7u %-15.15s %-6s %-10s %-9.16s %-32.32s %6u %9.1f %6.1f%%", r->key.tgid,
		       pi.exe, kerno_role_name(r->key.role), proto_name(&r->key),
		       operation(&r->key, op, sizeof(op)), path, r->key.server_port,
		       r->count / secs, 100.0 * r->errors / r->count);
		print_ms(kerno_hist_quantile(r->buckets, r->count, 0.50));
		print_ms(kerno_hist_quantile(r->buckets, r->count, 0.99));
		printf("\n");
	}
	if (!n)
		printf("(no requests in the last %.0f s)\n", secs);
	fflush(stdout);
}

int top_run(const struct kerno_config *cfg)
{
	static struct top_row rows[1024];
	struct proc_names names = { .procs_fd = -1 };
	const struct kerno_sample *s;
	struct drain d = {};
	char path[512];
	int fd, cfd, h2fd = -1, ret = 1;
	long long shown = 0;
	long n;

	snprintf(path, sizeof(path), "%s/series", cfg->pin_dir);
	fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/counters", cfg->pin_dir);
	cfd = bpf_obj_get(path);
	if (fd < 0 || cfd < 0) {
		fprintf(stderr,
			"kerno: no running agent: cannot open %s (%s); start `kerno run` "
			"first, as root\n",
			path, strerror(errno));
		ret = errno == EACCES || errno == EPERM ? 2 : 1;
		goto cleanup;
	}
	snprintf(path, sizeof(path), "%s/procs", cfg->pin_dir);
	names.procs_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/h2_series", cfg->pin_dir);
	h2fd = bpf_obj_get(path);
	names.cache = procinfo_cache_new(cfg->proc_root, 0, 60);
	if (!names.cache || drain_init(&d, fd, cfd, cfg->max_series, 0))
		goto cleanup;
	/* An agent of an older build pinned no h2_series: its HTTP/2 is not shown. */
	if (h2fd >= 0 && drain_add_h2(&d, h2fd))
		goto cleanup;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	drain_series(&d, &s); /* baseline: the first screen shows one period */
	fprintf(stderr, "kerno top: watching %s, a screen every %lld s\n", cfg->pin_dir,
		cfg->refresh);
	while (!top_stop) {
		sleep(cfg->refresh);
		n = drain_series(&d, &s);
		if (n < 0)
			break;
		if (isatty(STDOUT_FILENO))
			printf("\033[H\033[2J");
		show(rows, merge(s, n, rows, 1024), cfg->refresh, &names);
		procinfo_cache_prune(names.cache);
		if (cfg->iterations && ++shown >= cfg->iterations)
			break;
	}
	ret = 0;
cleanup:
	drain_free(&d);
	proc_names_free(&names);
	if (names.procs_fd >= 0)
		close(names.procs_fd);
	if (fd >= 0)
		close(fd);
	if (cfd >= 0)
		close(cfd);
	if (h2fd >= 0)
		close(h2fd);
	return ret;
}
