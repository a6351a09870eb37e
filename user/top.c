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

/* The maps of the agent being watched. */
struct top_maps {
	int series, counters, procs, h2;
	__u32 series_id; /* which agent's: the kernel's id of its series map */
};

static int open_pinned(const struct kerno_config *cfg, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", cfg->pin_dir, name);
	return bpf_obj_get(path);
}

static __u32 map_id(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.id : 0;
}

static void close_maps(struct top_maps *m)
{
	int *fds[] = { &m->series, &m->counters, &m->procs, &m->h2 };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	m->series_id = 0;
}

/* The running agent's maps; -errno (errno set) when its series or counters are not there. */
static int open_maps(const struct kerno_config *cfg, struct top_maps *m)
{
	m->series = open_pinned(cfg, "series");
	m->counters = open_pinned(cfg, "counters");
	if (m->series < 0 || m->counters < 0) {
		int err = errno;

		close_maps(m);
		errno = err;
		return -err;
	}
	m->procs = open_pinned(cfg, "procs");
	/* An agent of an older build pinned no h2_series: its HTTP/2 is not shown. */
	m->h2 = open_pinned(cfg, "h2_series");
	m->series_id = map_id(m->series);
	return 0;
}

/* A drain of m, its baseline taken: the next drain shows one period. */
static int start_drain(struct drain *d, const struct top_maps *m, const struct kerno_config *cfg)
{
	const struct kerno_sample *s;

	if (drain_init(d, m->series, m->counters, cfg->max_series, 0) ||
	    (m->h2 >= 0 && drain_add_h2(d, m->h2)))
		return -ENOMEM;
	return drain_series(d, &s) < 0 ? -EIO : 0;
}

/*
 * Is the agent watched still the one pinned? A restarted agent pins maps of
 * its own: top follows it, counting from here. -errno if it cannot.
 */
static int follow_agent(const struct kerno_config *cfg, struct top_maps *m, struct drain *d,
			struct proc_names *names)
{
	int fd = open_pinned(cfg, "series");
	__u32 id = map_id(fd);

	if (fd >= 0)
		close(fd);
	if (!id || id == m->series_id)
		return 0;
	drain_free(d);
	close_maps(m);
	names->procs_fd = -1;
	if (open_maps(cfg, m) || start_drain(d, m, cfg)) {
		fprintf(stderr, "kerno top: a new agent started, but its maps cannot be read: %s\n",
			strerror(errno));
		return -EIO;
	}
	names->procs_fd = m->procs;
	printf("(a new agent started: counting from here)\n");
	return 0;
}

int top_run(const struct kerno_config *cfg)
{
	static struct top_row rows[1024];
	struct top_maps m = { .series = -1, .counters = -1, .procs = -1, .h2 = -1 };
	struct proc_names names = { .procs_fd = -1 };
	const struct kerno_sample *s;
	struct drain d = {};
	int ret = 1;
	long long shown = 0;
	long n;

	if (open_maps(cfg, &m)) {
		fprintf(stderr,
			"kerno: no running agent: cannot open %s/series (%s); start `kerno run` "
			"first, as root\n",
			cfg->pin_dir, strerror(errno));
		return errno == EACCES || errno == EPERM ? 2 : 1;
	}
	names.procs_fd = m.procs;
	names.cache = procinfo_cache_new(cfg->proc_root, 0, 60);
	if (!names.cache || start_drain(&d, &m, cfg))
		goto cleanup;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "kerno top: watching %s, a screen every %lld s\n", cfg->pin_dir,
		cfg->refresh);
	ret = 0;
	while (!top_stop) {
		sleep(cfg->refresh);
		n = drain_series(&d, &s);
		if (n < 0)
			break;
		if (isatty(STDOUT_FILENO))
			printf("\033[H\033[2J");
		show(rows, merge(s, n, rows, 1024), cfg->refresh, &names);
		procinfo_cache_prune(names.cache);
		if (follow_agent(cfg, &m, &d, &names)) {
			ret = 1;
			break;
		}
		fflush(stdout);
		if (cfg->iterations && ++shown >= cfg->iterations)
			break;
	}
cleanup:
	drain_free(&d);
	proc_names_free(&names);
	close_maps(&m);
	return ret;
}
