// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Error groups per fingerprint: see errgroups.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errgroups.h"
#include "names.h"
#include "procinfo.h"
#include "proto_names.h"

enum code_kind {
	CODE_NONE, /* the class is the whole story (code 0) */
	CODE_ERRNO, /* error.type is the errno's name */
	CODE_SIGNAL, /* error.type is the signal's name */
	CODE_NUMBER, /* error.type is the code in decimal (HTTP status, gRPC) */
	CODE_SQL, /* a packed SQLSTATE ("42P01"), else a MySQL error number ("1146") */
	CODE_REDIS, /* enum kerno_redis_err: the reply's first word ("WRONGTYPE") */
	CODE_RCODE, /* a DNS RCODE by name ("NXDOMAIN") */
};

/* Which attributes name an endpoint's operation (errgroup_in.method) and target (.route). */
enum endpoint_kind {
	EP_HTTP, /* http.request.method; http.route (server) or url.template (client) */
	EP_DB, /* db.operation.name; db.system.name */
	EP_DNS, /* dns.question.type; network.transport */
};

/*
 * One row per class. The template is the whole message: fixed text with
 * placeholders naming attributes, never anything observed.
 */
struct class_row {
	const char *name;
	const char *template;
	enum code_kind kind;
	enum endpoint_kind endpoint;
	const char *(*name_of)(unsigned int code); /* a class named per code; NULL: name */
};

/* DNS answers: NXDOMAIN and SERVFAIL are told apart by name, other RCODEs share one. */
static const char *dns_class_name(unsigned int rcode)
{
	return rcode == 3 ? "dns.nxdomain" : rcode == 2 ? "dns.servfail" : "dns.error";
}

static const struct class_row classes[KERNO_ERR_CLASS__COUNT] = {
	[KERNO_ERR_CONNECT_REFUSED] = { "tcp.connect_refused",
					"connect to {server.address}:{server.port} refused",
					CODE_ERRNO },
	[KERNO_ERR_CONNECT_TIMEOUT] = { "tcp.connect_timeout",
					"connect to {server.address}:{server.port} timed out",
					CODE_ERRNO },
	[KERNO_ERR_CONNECT_FAILED] = { "tcp.connect_failed",
				       "connect to {server.address}:{server.port} failed: {error.type}",
				       CODE_ERRNO },
	[KERNO_ERR_RESET_RECEIVED] = { "tcp.reset_received", "connection reset by peer",
				       CODE_ERRNO },
	[KERNO_ERR_RESET_SENT] = { "tcp.reset_sent", "connection reset sent to peer", CODE_NONE },
	[KERNO_ERR_RETRANSMIT] = { "tcp.retransmit", "TCP segments retransmitted", CODE_NONE },
	[KERNO_ERR_TIMEOUT] = { "tcp.timeout", "established connection timed out", CODE_ERRNO },
	[KERNO_ERR_OOM_KILL] = { "process.oom_kill", "process killed by the OOM killer",
				 CODE_SIGNAL },
	[KERNO_ERR_FATAL_SIGNAL] = { "process.fatal_signal", "process killed by {error.type}",
				     CODE_SIGNAL },
	[KERNO_ERR_HTTP_SERVER] = { "http.server.5xx",
				    "HTTP {http.response.status_code} answered to "
				    "{http.request.method} {http.route}",
				    CODE_NUMBER },
	[KERNO_ERR_HTTP_CLIENT] = { "http.client.5xx",
				    "HTTP {http.response.status_code} received for "
				    "{http.request.method} {url.template}",
				    CODE_NUMBER },
	[KERNO_ERR_HTTP_SERVER_4XX] = { "http.server.4xx",
					"HTTP {http.response.status_code} answered to "
					"{http.request.method} {http.route}",
					CODE_NUMBER },
	[KERNO_ERR_HTTP_CLIENT_4XX] = { "http.client.4xx",
					"HTTP {http.response.status_code} received for "
					"{http.request.method} {url.template}",
					CODE_NUMBER },
	[KERNO_ERR_GRPC] = { "rpc.grpc.error", "gRPC call ended with status {error.type}",
			     CODE_NUMBER },
	[KERNO_ERR_SQL] = { "db.sql.error",
			    "{db.system.name} error {error.type} answered to {db.operation.name}",
			    CODE_SQL, EP_DB },
	[KERNO_ERR_REDIS] = { "db.redis.error",
			      "redis error reply {error.type} to {db.operation.name}", CODE_REDIS,
			      EP_DB },
	[KERNO_ERR_DNS] = { "dns.error", "DNS {error.type} answered to a {dns.question.type} query",
			    CODE_RCODE, EP_DNS, dns_class_name },
};

/* Bytes of an operation name kept, with its NUL: a Redis command name is up to 16. */
#define OP_LEN 24

struct group {
	bool used;
	__u64 fp;
	unsigned int class, code, flags;
	char comm[16];
	__u64 cgroup_id;
	__u32 pid;
	__u8 family;
	__u8 addr[16];
	__u16 port;
	char method[OP_LEN];
	char route[3 * KERNO_PATH_LEN + 1];
	__u64 count, first_ns, last_ns;
};

struct errgroups {
	struct group *g;
	unsigned int cap; /* a power of two, at least twice max */
	unsigned int max, used;
	unsigned long long untracked;
	errgroups_trace_fn trace_fn;
	void *trace_ctx;
};

struct errgroups *errgroups_new(unsigned int max)
{
	struct errgroups *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->max = max ? max : 1;
	for (g->cap = 16; g->cap < 2 * g->max; g->cap <<= 1)
		;
	g->g = calloc(g->cap, sizeof(*g->g));
	if (!g->g) {
		free(g);
		return NULL;
	}
	return g;
}

void errgroups_free(struct errgroups *g)
{
	if (!g)
		return;
	free(g->g);
	free(g);
}

void errgroups_set_trace_hook(struct errgroups *g, errgroups_trace_fn fn, void *ctx)
{
	g->trace_fn = fn;
	g->trace_ctx = ctx;
}

const char *errgroups_class_name(unsigned int class)
{
	return class < KERNO_ERR_CLASS__COUNT ? classes[class].name : NULL;
}

/* The name a group of this class and code goes by. */
static const char *class_name(unsigned int class, unsigned int code)
{
	const struct class_row *r = &classes[class];

	return r->name_of ? r->name_of(code) : r->name;
}

static __u64 fnv(__u64 h, const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

/* A number as its 8 bytes, least significant first: the same on every host. */
static __u64 fnv_num(__u64 h, __u64 v)
{
	int i;

	for (i = 0; i < 8; i++, v >>= 8)
		h = (h ^ (v & 0xff)) * 0x100000001b3ULL;
	return h;
}

/* A string and its end, so "ab"+"c" and "a"+"bc" differ. */
static __u64 fnv_str(__u64 h, const char *s, size_t max)
{
	size_t len = s ? strnlen(s, max) : 0;

	return fnv(fnv(h, s ? s : "", len), "", 1);
}

__u64 errgroups_fingerprint(const struct errgroup_in *e)
{
	const char *tpl = e->class < KERNO_ERR_CLASS__COUNT ? classes[e->class].template : NULL;
	__u64 h = 0xcbf29ce484222325ULL;

	h = fnv_num(h, e->class);
	h = fnv_num(h, e->code);
	h = fnv_num(h, e->flags);
	h = fnv_str(h, e->comm, 16);
	h = fnv_num(h, e->cgroup_id);
	h = fnv_num(h, e->family);
	h = fnv(h, e->addr, sizeof(e->addr));
	h = fnv_num(h, e->port);
	h = fnv_str(h, e->method, OP_LEN);
	h = fnv_str(h, e->route, 3 * KERNO_PATH_LEN);
	return fnv_str(h, tpl, 256);
}

static bool same(const struct group *s, const struct errgroup_in *e)
{
	return s->class == e->class && s->code == e->code && s->flags == e->flags &&
	       s->cgroup_id == e->cgroup_id && s->family == e->family && s->port == e->port &&
	       !memcmp(s->addr, e->addr, sizeof(s->addr)) &&
	       !strncmp(s->comm, e->comm ? e->comm : "", sizeof(s->comm)) &&
	       !strcmp(s->method, e->method ? e->method : "") &&
	       !strcmp(s->route, e->route ? e->route : "");
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t len = src ? strnlen(src, size - 1) : 0;

	if (len)
		memcpy(dst, src, len);
	dst[len] = 0;
}

static void fill(struct group *s, const struct errgroup_in *e, __u64 fp)
{
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->fp = fp;
	s->class = e->class;
	s->code = e->code;
	s->flags = e->flags;
	copy_str(s->comm, sizeof(s->comm), e->comm);
	s->cgroup_id = e->cgroup_id;
	s->family = e->family;
	memcpy(s->addr, e->addr, sizeof(s->addr));
	s->port = e->port;
	copy_str(s->method, sizeof(s->method), e->method);
	copy_str(s->route, sizeof(s->route), e->route);
	s->first_ns = e->first_ns;
}

bool errgroups_add(struct errgroups *g, const struct errgroup_in *e)
{
	__u64 fp;
	unsigned int i;
	struct group *s;

	if (!e->count || e->class >= KERNO_ERR_CLASS__COUNT || !classes[e->class].name)
		return true; /* nothing to count, or nothing this build can name */
	fp = errgroups_fingerprint(e);
	for (i = fp & (g->cap - 1);; i = (i + 1) & (g->cap - 1)) {
		s = &g->g[i];
		if (!s->used || (s->fp == fp && same(s, e)))
			break;
	}
	if (!s->used) {
		if (g->used >= g->max) {
			g->untracked += e->count;
			return false;
		}
		fill(s, e, fp);
		g->used++;
	}
	s->count += e->count;
	if (e->first_ns && (!s->first_ns || e->first_ns < s->first_ns))
		s->first_ns = e->first_ns;
	if (e->last_ns >= s->last_ns) {
		s->last_ns = e->last_ns;
		if (e->pid)
			s->pid = e->pid;
	}
	return true;
}

size_t errgroups_count(const struct errgroups *g)
{
	return g->used;
}

/*
 * Error groups from the metric series. Per protocol, one function says
 * whether a series counts errors, and which: class, code, operation
 * (`method`) and target (`route`); the workload and the endpoint's address
 * are filled the same way for all. A new protocol is an entry in
 * series_errors[] and a function like these. `buf` (SERIES_BUF_LEN bytes)
 * holds a name the function builds.
 */
#define SERIES_BUF_LEN (3 * KERNO_PATH_LEN + 1)

typedef bool (*series_error_fn)(const struct kerno_series_key *k, struct errgroup_in *e, char *buf);

static bool http_error(const struct kerno_series_key *k, struct errgroup_in *e, char *buf)
{
	bool server = k->role == KERNO_ROLE_SERVER;

	if (k->status >= 500 && k->status <= 599)
		e->class = server ? KERNO_ERR_HTTP_SERVER : KERNO_ERR_HTTP_CLIENT;
	else if (k->status >= 400 && k->status <= 499)
		e->class = server ? KERNO_ERR_HTTP_SERVER_4XX : KERNO_ERR_HTTP_CLIENT_4XX;
	else
		return false;
	e->code = k->status;
	e->method = kerno_method_name(k->method);
	otlp_escape_path(k->path, sizeof(k->path), buf);
	e->route = buf;
	return true;
}

/* A gRPC series (service/method in path) whose calls ended with a status other than OK. */
static bool grpc_error(const struct kerno_series_key *k, struct errgroup_in *e, char *buf)
{
	if (!k->status || k->status == KERNO_GRPC_NO_STATUS)
		return false;
	e->class = KERNO_ERR_GRPC;
	e->code = k->status;
	otlp_escape_path(k->path, sizeof(k->path), buf);
	e->route = buf;
	return true;
}

/* PostgreSQL: `status` 1 and the packed SQLSTATE in `code`; MySQL: the error number in `status`. */
static bool sql_error(const struct kerno_series_key *k, struct errgroup_in *e, char *buf)
{
	(void)buf;
	if (!k->status)
		return false;
	e->class = KERNO_ERR_SQL;
	e->code = k->proto == KERNO_P_PGSQL ? k->code : k->status;
	e->method = kerno_sql_op_name(k->method);
	e->route = kerno_db_system(k->proto);
	return true;
}

static bool redis_error(const struct kerno_series_key *k, struct errgroup_in *e, char *buf)
{
	if (!k->status)
		return false;
	e->class = KERNO_ERR_REDIS;
	e->code = k->status;
	e->method = kerno_redis_command(k->path, sizeof(k->path), buf, OP_LEN);
	e->route = kerno_db_system(k->proto);
	return true;
}

/* A DNS answer's RCODE is in `status`, the question's type in `code`, the transport in `method`. */
static bool dns_error(const struct kerno_series_key *k, struct errgroup_in *e, char *buf)
{
	if (!k->status)
		return false;
	e->class = KERNO_ERR_DNS;
	e->code = k->status;
	e->method = k->code ? kerno_dns_type_name(k->code, buf, SERIES_BUF_LEN) : NULL;
	e->route = k->method == KERNO_DNS_TCP ? "tcp" : "udp";
	return true;
}

static const series_error_fn series_errors[KERNO_P__COUNT] = {
	[KERNO_P_UNDECIDED] = http_error, /* HTTP/1 series, as otlp.c reads them too */
	[KERNO_P_HTTP1] = http_error,	  [KERNO_P_REDIS] = redis_error,
	[KERNO_P_PGSQL] = sql_error,	  [KERNO_P_MYSQL] = sql_error,
	[KERNO_P_DNS] = dns_error,	  [KERNO_P_HTTP2] = http_error,
	[KERNO_P_GRPC] = grpc_error,
};

void errgroups_add_series(struct errgroups *g, const struct kerno_sample *samples, size_t n,
			  otlp_proc_lookup_fn lookup, void *lookup_ctx, __u64 start_ns,
			  __u64 end_ns)
{
	char buf[SERIES_BUF_LEN];
	struct procinfo pi;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct kerno_series_key *k = &samples[i].key;
		series_error_fn fn = k->proto < KERNO_P__COUNT ? series_errors[k->proto] : NULL;
		struct errgroup_in e = {
			.cgroup_id = k->cgroup_id,
			.pid = k->tgid,
			.port = k->server_port,
			.count = samples[i].count,
			.first_ns = start_ns,
			.last_ns = end_ns,
		};

		if (!fn || !fn(k, &e, buf))
			continue;
		/* A server's endpoint is its local port; a client's, the server it called. */
		if (k->role != KERNO_ROLE_SERVER) {
			e.flags = KERNO_ERR_F_CLIENT;
			e.family = k->family;
			memcpy(e.addr, k->peer_addr, sizeof(e.addr));
		}
		if (lookup && !lookup(lookup_ctx, k->tgid, &pi))
			e.comm = pi.exe;
		errgroups_add(g, &e);
	}
}

static void rfc3339(__u64 ns, char *out, size_t size)
{
	time_t t = (time_t)(ns / 1000000000ULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned long long)(ns % 1000000000ULL));
}

/* IPv4-mapped IPv6 addresses print as the IPv4 they are. */
static bool format_addr(__u8 family, const __u8 addr[16], char *buf, size_t size)
{
	static const __u8 v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (family == AF_INET6 && !memcmp(addr, v4mapped, sizeof(v4mapped)))
		return inet_ntop(AF_INET, addr + 12, buf, size) != NULL;
	if (family == AF_INET || family == AF_INET6)
		return inet_ntop(family, addr, buf, size) != NULL;
	return false;
}

static const char *errno_name(unsigned int code)
{
	switch (code) {
	case 0:
		return "aborted"; /* closed by the application before it completed */
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case ECONNRESET:
		return "ECONNRESET";
	case EHOSTUNREACH:
		return "EHOSTUNREACH";
	case ENETUNREACH:
		return "ENETUNREACH";
	case ECONNABORTED:
		return "ECONNABORTED";
	case EPIPE:
		return "EPIPE";
	case EPROTO:
		return "EPROTO";
	default:
		return NULL;
	}
}

/*
 * A SQL error's code: a packed SQLSTATE (kern/proto.h: six bits per
 * character, the first one highest, so at least 2^24) or a MySQL error
 * number (16 bits); "_OTHER" for a failure whose SQLSTATE was not seen.
 */
static void sql_code_name(unsigned int code, char *buf, size_t size)
{
	char state[KERNO_SQLSTATE_LEN + 1];

	if (code > 0xffff && kerno_sqlstate(code, state))
		snprintf(buf, size, "%s", state);
	else if (code && code <= 0xffff)
		snprintf(buf, size, "%u", code);
	else
		snprintf(buf, size, "_OTHER");
}

static void error_type(const struct group *s, char *buf, size_t size)
{
	const char *name = NULL;

	switch (classes[s->class].kind) {
	case CODE_ERRNO:
		name = errno_name(s->code);
		if (!name) {
			snprintf(buf, size, "errno %u", s->code);
			return;
		}
		break;
	case CODE_SIGNAL:
		name = s->code < 65 ? sigabbrev_np((int)s->code) : NULL;
		if (name) {
			snprintf(buf, size, "SIG%s", name);
			return;
		}
		snprintf(buf, size, "signal %u", s->code);
		return;
	case CODE_NUMBER:
		snprintf(buf, size, "%u", s->code);
		return;
	case CODE_SQL:
		sql_code_name(s->code, buf, size);
		return;
	case CODE_REDIS:
		name = kerno_redis_error_name(s->code);
		break;
	case CODE_RCODE:
		name = kerno_dns_rcode_name(s->code, buf, size);
		break;
	case CODE_NONE:
	default:
		name = classes[s->class].name;
		break;
	}
	snprintf(buf, size, "%s", name);
}

/* The endpoint's operation and target under the names its protocol gives them. */
static void endpoint_attrs(json_t *a, const struct group *s, const char *etype)
{
	bool client = s->flags & KERNO_ERR_F_CLIENT;
	const char *op = "http.request.method", *target = client ? "url.template" : "http.route";

	switch (classes[s->class].endpoint) {
	case EP_DB:
		op = "db.operation.name";
		target = "db.system.name";
		json_object_set_new(a, "db.response.status_code", json_string(etype));
		break;
	case EP_DNS:
		op = "dns.question.type";
		target = "network.transport";
		break;
	case EP_HTTP:
	default:
		break;
	}
	if (s->method[0])
		json_object_set_new(a, op, json_string(s->method));
	if (s->route[0])
		json_object_set_new(a, target, json_string(s->route));
}

static json_t *group_attrs(const struct group *s, const char *etype, otlp_proc_lookup_fn lookup,
			   void *lookup_ctx)
{
	bool client = s->flags & KERNO_ERR_F_CLIENT;
	char addr[INET6_ADDRSTRLEN];
	json_t *a = json_object();
	struct procinfo pi;

	if (!a)
		return NULL;
	if (s->comm[0])
		json_object_set_new(a, "process.executable.name", json_string(s->comm));
	if (s->cgroup_id)
		json_object_set_new(a, "kerno.cgroup.id", json_integer((json_int_t)s->cgroup_id));
	if (s->pid && lookup && !lookup(lookup_ctx, s->pid, &pi) && pi.container_id[0])
		json_object_set_new(a, "container.id", json_string(pi.container_id));
	if (format_addr(s->family, s->addr, addr, sizeof(addr)))
		json_object_set_new(a, client ? "server.address" : "client.address",
				    json_string(addr));
	if (s->port)
		json_object_set_new(a, client ? "server.port" : "local.port",
				    json_integer(s->port));
	endpoint_attrs(a, s, etype);
	if (s->flags & KERNO_ERR_F_CORE)
		json_object_set_new(a, "process.core_dumped", json_true());
	return a;
}

/* The identity of a stored group, as the trace hook sees observations. */
static void as_input(const struct group *s, struct errgroup_in *e)
{
	memset(e, 0, sizeof(*e));
	e->class = s->class;
	e->code = s->code;
	e->flags = s->flags;
	e->comm = s->comm;
	e->cgroup_id = s->cgroup_id;
	e->pid = s->pid;
	e->family = s->family;
	memcpy(e->addr, s->addr, sizeof(e->addr));
	e->port = s->port;
	e->method = s->method;
	e->route = s->route;
	e->count = s->count;
	e->first_ns = s->first_ns;
	e->last_ns = s->last_ns;
}

static json_t *group_json(const struct errgroups *g, const struct group *s,
			  otlp_proc_lookup_fn lookup, void *lookup_ctx)
{
	char fp[20], first[64], last[64], etype[32], trace[33];
	struct errgroup_in in;
	json_t *j, *attrs;

	error_type(s, etype, sizeof(etype));
	attrs = group_attrs(s, etype, lookup, lookup_ctx);
	if (!attrs)
		return NULL;
	snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)s->fp);
	rfc3339(s->first_ns, first, sizeof(first));
	rfc3339(s->last_ns, last, sizeof(last));
	j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:s, s:o}", "source",
		      s->class >= KERNO_ERR_HTTP_SERVER ? "protocol" : "kernel", "fingerprint", fp,
		      "class", class_name(s->class, s->code), "code", (json_int_t)s->code,
		      "error.type", etype, "template", classes[s->class].template, "count",
		      (json_int_t)s->count, "first_seen", first, "last_seen", last, "attributes",
		      attrs);
	if (!j)
		return NULL;
	as_input(s, &in);
	if (g->trace_fn && g->trace_fn(g->trace_ctx, s->fp, &in, trace) &&
	    strnlen(trace, sizeof(trace)) == 32)
		json_object_set_new(j, "example_trace_id", json_string(trace));
	return j;
}

json_t *errgroups_take(struct errgroups *g, __u64 start_ns, __u64 end_ns,
		       const __u64 drops[KERNO_ERR_DROP__COUNT], otlp_proc_lookup_fn lookup,
		       void *lookup_ctx)
{
	char start[64], end[64];
	json_t *arr = json_array(), *j;
	unsigned int i;

	if (!arr)
		return NULL;
	for (i = 0; i < g->cap; i++) {
		if (!g->g[i].used)
			continue;
		j = group_json(g, &g->g[i], lookup, lookup_ctx);
		if (!j || json_array_append_new(arr, j)) {
			json_decref(arr);
			return NULL;
		}
	}
	rfc3339(start_ns, start, sizeof(start));
	rfc3339(end_ns, end, sizeof(end));
	j = json_pack("{s:s, s:s, s:o, s:{s:I, s:I, s:I}}", "start", start, "end", end, "groups",
		      arr, "dropped", "groups_full",
		      (json_int_t)(drops ? drops[KERNO_ERR_DROP_GROUPS_FULL] : 0), "owners_full",
		      (json_int_t)(drops ? drops[KERNO_ERR_DROP_OWNERS_FULL] : 0), "untracked",
		      (json_int_t)g->untracked);
	if (!j)
		return NULL;
	memset(g->g, 0, g->cap * sizeof(*g->g));
	g->used = 0;
	g->untracked = 0;
	return j;
}
