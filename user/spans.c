// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Sampled spans from the kernel's ring buffer to the object store: see spans.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "names.h"
#include "proto_names.h"
#include "ringbuf.h"
#include "span_late.h"
#include "span_redact.h"
#include "span_sample.h"
#include "clock.h"
#include "spans.h"

/* How long the reader sleeps in poll when the kernel does not wake it. */
#define POLL_MS 200
/* Server spans waiting for their client span on this node (span_late.h): how many, how long. */
#define LATE_MAX_HELD 256
#define LATE_MAX_WAIT_NS 1000000000ULL
/* Requests an endpoint must have seen before its own threshold replaces the default. */
#define THRESHOLD_MIN_COUNT 100
#define EXAMPLES 1024 /* direct-mapped slots of example trace ids */
#define NAMES 256 /* direct-mapped slots of process names */
/* HTTP/2 and gRPC spans kept and waiting for the reader thread (spans_offer()). */
#define H2_QUEUE 1024
/* The reader is woken once this many wait (before that, its poll timeout takes them). */
#define H2_QUEUE_WAKE (H2_QUEUE / 8)

struct example {
	struct kerno_series_key key; /* cgroup_id, family and peer_addr not compared */
	char trace_id[33];
	bool used;
};

struct endpoint_hist {
	__u64 total;
	__u64 buckets[KERNO_HIST_BUCKETS];
};

/* A span made in userspace, without payload: the head of a struct kerno_span_event. */
struct queued_span {
	unsigned char head[KERNO_SPAN_EVENT_HDR];
};

struct proc_name {
	__u32 tgid;
	char name[16];
	time_t at;
};

struct spans {
	struct spans_opts o;
	struct ringbuf *rb;
	struct span_late *late; /* reader thread only */
	pthread_t thread;
	bool running;
	volatile int stop;
	__u64 realtime_offset; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	pthread_mutex_t lock; /* stats, reported, examples */
	struct spans_stats stats, reported;
	struct example by_series[EXAMPLES];
	struct example by_pid[EXAMPLES];
	struct proc_name names[NAMES]; /* reader thread only */
	struct endpoint_hist *hists[KERNO_SPAN_ENDPOINTS]; /* agent thread only */
	/* Each endpoint's threshold as last written to the kernel; spans_offer() reads it (atomic). */
	__u64 thresholds[KERNO_SPAN_ENDPOINTS];
	__u64 baseline; /* span_baseline_bound() of o.baseline_bp */
	/* Under lock: */
	struct span_caps *caps;
	struct queued_span *queue; /* H2_QUEUE, a ring */
	size_t q_head, q_len;
	int wake_fd; /* an eventfd that ends the reader's poll: the queue fills */
	bool closed; /* stopped: nothing is taken any more */
	struct kerno_span_event dequeued; /* reader thread only (drain_queue()) */
};

static json_t *u64_str(__u64 v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

static int add_attr(json_t *attrs, const char *key, json_t *value, const char *type)
{
	json_t *a;

	if (!value)
		return -1;
	a = json_pack("{s:s, s:{s:o}}", "key", key, "value", type, value);
	return a ? json_array_append_new(attrs, a) : -1;
}

static int add_str(json_t *attrs, const char *key, const char *v)
{
	return add_attr(attrs, key, json_string(v), "stringValue");
}

static int add_strn(json_t *attrs, const char *key, const char *v, size_t n)
{
	return add_attr(attrs, key, json_stringn(v, n), "stringValue");
}

static int add_int(json_t *attrs, const char *key, __u64 v)
{
	return add_attr(attrs, key, u64_str(v), "intValue");
}

static void addr_str(const __u8 *addr, __u8 family, char *out, size_t len)
{
	if (!inet_ntop(family == 10 ? AF_INET6 : AF_INET, addr, out, len))
		snprintf(out, len, "?");
}

static void reason_str(__u8 r, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s%s", r & KERNO_SPAN_R_ERROR ? "error," : "",
		 r & KERNO_SPAN_R_CLIENT_ERROR ? "client_error," : "",
		 r & KERNO_SPAN_R_SLOW ? "slow," : "",
		 r & KERNO_SPAN_R_BASELINE ? "baseline," : "");
	if (*out)
		out[strlen(out) - 1] = 0;
}

static const char *parent_source(__u8 flags)
{
	if (flags & KERNO_SPAN_F_TRACEPARENT)
		return "traceparent";
	if (flags & KERNO_SPAN_F_LINKED)
		return "connection";
	if (flags & KERNO_SPAN_F_THREAD)
		return "thread";
	return "none";
}

/*
 * url.path and url.query from the redacted request line (the payload's
 * first line): "METHOD SP target SP". Nothing when it is not there.
 */
static int add_url(json_t *attrs, const char *red, size_t len)
{
	const char *sp = memchr(red, ' ', len), *end, *q;

	if (!sp)
		return 0;
	sp++;
	end = memchr(sp, ' ', red + len - sp);
	if (!end)
		return 0; /* the target was cut: its end is unknown */
	q = memchr(sp, '?', end - sp);
	if (add_strn(attrs, "url.path", sp, (q ? q : end) - sp))
		return -1;
	return q ? add_strn(attrs, "url.query", q + 1, end - q - 1) : 0;
}

static int add_payloads(json_t *attrs, const struct kerno_span_event *ev, struct strbuf *red)
{
	int ret = 0;

	if (ev->req_len) {
		sb_reset(red);
		span_redact_http(ev->payload, ev->req_len, red);
		if (red->oom)
			return -1;
		ret = add_strn(attrs, "kerno.payload.request", sb_str(red), red->len);
		if (!ret)
			ret = add_url(attrs, sb_str(red), red->len);
	}
	if (!ret && ev->resp_len) {
		sb_reset(red);
		span_redact_http(ev->payload + ev->req_len, ev->resp_len, red);
		if (red->oom)
			return -1;
		ret = add_strn(attrs, "kerno.payload.response", sb_str(red), red->len);
	}
	return ret;
}

static json_t *span_attributes(const struct kerno_span_event *ev, struct strbuf *red)
{
	char tmpl[3 * KERNO_PATH_LEN + 1], peer[64], reason[48];
	bool server = ev->role == KERNO_ROLE_SERVER;
	json_t *attrs = json_array();
	const char *method = kerno_method_name(ev->method);
	int ret;

	if (!attrs)
		return NULL;
	otlp_escape_path(ev->path, strnlen(ev->path, KERNO_PATH_LEN), tmpl);
	addr_str(ev->peer_addr, ev->family, peer, sizeof(peer));
	reason_str(ev->reason, reason, sizeof(reason));
	ret = add_str(attrs, "http.request.method", method ? method : "_OTHER");
	ret |= add_str(attrs, server ? "http.route" : "url.template", tmpl);
	ret |= add_int(attrs, "http.response.status_code", ev->status);
	ret |= add_int(attrs, "server.port", server ? ev->local_port : ev->peer_port);
	ret |= add_str(attrs, "network.peer.address", peer);
	ret |= add_int(attrs, "network.peer.port", ev->peer_port);
	ret |= add_int(attrs, "thread.id", ev->tid);
	ret |= add_str(attrs, "kerno.sample.reason", reason);
	ret |= add_str(attrs, "kerno.parent.source", parent_source(ev->flags));
	if (!ret)
		ret = add_payloads(attrs, ev, red);
	if (ret) {
		json_decref(attrs);
		return NULL;
	}
	return attrs;
}

static bool is_db_span(const struct kerno_span_event *ev)
{
	return ev->proto == KERNO_P_REDIS || ev->proto == KERNO_P_PGSQL ||
	       ev->proto == KERNO_P_MYSQL;
}

/* A database span's operation: the Redis command, or the SQL statement's first keyword. */
static const char *db_operation(const struct kerno_span_event *ev, char *buf, size_t size)
{
	if (ev->proto == KERNO_P_REDIS)
		return kerno_redis_command(ev->path, KERNO_PATH_LEN, buf, size);
	return kerno_sql_op_name(ev->method);
}

/*
 * A database client's span: db.* attributes, the server, and the statement
 * redacted (literals and comments replaced) from the request's first bytes;
 * never the raw bytes, nor anything of the response (rows).
 */
static json_t *db_span_attributes(const struct kerno_span_event *ev, struct strbuf *red)
{
	char peer[64], reason[48], op_buf[32], err_buf[12];
	const char *op = db_operation(ev, op_buf, sizeof(op_buf));
	const char *err = kerno_db_error(ev->proto, ev->status, ev->code, err_buf, sizeof(err_buf));
	json_t *attrs = json_array();
	int ret;

	if (!attrs)
		return NULL;
	addr_str(ev->peer_addr, ev->family, peer, sizeof(peer));
	reason_str(ev->reason, reason, sizeof(reason));
	ret = add_str(attrs, "db.system.name", kerno_db_system(ev->proto));
	if (op)
		ret |= add_str(attrs, "db.operation.name", op);
	if (err) {
		ret |= add_str(attrs, "error.type", err);
		ret |= add_str(attrs, "db.response.status_code", err);
	}
	ret |= add_str(attrs, "server.address", peer);
	ret |= add_int(attrs, "server.port", ev->peer_port);
	ret |= add_str(attrs, "network.peer.address", peer);
	ret |= add_int(attrs, "network.peer.port", ev->peer_port);
	ret |= add_int(attrs, "thread.id", ev->tid);
	ret |= add_str(attrs, "kerno.sample.reason", reason);
	ret |= add_str(attrs, "kerno.parent.source", parent_source(ev->flags));
	if (!ret && ev->req_len) {
		sb_reset(red);
		span_redact_db_request(ev->proto, ev->payload, ev->req_len, red);
		if (red->oom)
			ret = -1;
		else if (red->len)
			ret = add_strn(attrs, "db.query.text", sb_str(red), red->len);
	}
	if (ret) {
		json_decref(attrs);
		return NULL;
	}
	return attrs;
}

/*
 * An HTTP/2 or gRPC span (made in userspace: spans_offer()). Its status and
 * code are its series': gRPC's status is the grpc-status, its method says a
 * reset; HTTP/2's code says a reset. No payload, no thread: a connection
 * multiplexes streams, and its header blocks are decoded, not kept.
 */
static json_t *h2_span_attributes(const struct kerno_span_event *ev)
{
	char path[KERNO_PATH_LEN + 1], tmpl[3 * KERNO_PATH_LEN + 1], peer[64], reason[48], buf[12];
	bool server = ev->role == KERNO_ROLE_SERVER, grpc = ev->proto == KERNO_P_GRPC;
	const char *method = kerno_method_name(ev->method), *slash, *error;
	json_t *attrs = json_array();
	int ret = 0;

	if (!attrs)
		return NULL;
	memcpy(path, ev->path, KERNO_PATH_LEN);
	path[KERNO_PATH_LEN] = '\0';
	slash = strrchr(path, '/');
	addr_str(ev->peer_addr, ev->family, peer, sizeof(peer));
	reason_str(ev->reason, reason, sizeof(reason));
	if (grpc) {
		ret |= add_str(attrs, "rpc.system", "grpc");
		if (slash) {
			ret |= add_strn(attrs, "rpc.service", path, slash - path);
			ret |= add_str(attrs, "rpc.method", slash + 1);
		}
		if (ev->status != KERNO_GRPC_NO_STATUS)
			ret |= add_int(attrs, "rpc.grpc.status_code", ev->status);
		error = kerno_grpc_error_type(ev->status, ev->method, buf, sizeof(buf));
		if (error)
			ret |= add_str(attrs, "error.type", error);
	} else {
		otlp_escape_path(path, strlen(path), tmpl);
		ret |= add_str(attrs, "http.request.method", method ? method : "_OTHER");
		ret |= add_str(attrs, server ? "http.route" : "url.template", tmpl);
		if (ev->status)
			ret |= add_int(attrs, "http.response.status_code", ev->status);
		if (ev->code)
			ret |= add_str(attrs, "error.type", "stream_reset");
	}
	ret |= add_str(attrs, "network.protocol.name", "http");
	ret |= add_str(attrs, "network.protocol.version", "2");
	ret |= add_int(attrs, "server.port", server ? ev->local_port : ev->peer_port);
	ret |= add_str(attrs, "network.peer.address", peer);
	ret |= add_int(attrs, "network.peer.port", ev->peer_port);
	ret |= add_str(attrs, "kerno.sample.reason", reason);
	ret |= add_str(attrs, "kerno.parent.source", parent_source(ev->flags));
	if (ret) {
		json_decref(attrs);
		return NULL;
	}
	return attrs;
}

/*
 * The span's status: an error for the side that failed. A server fails at
 * 5xx (a gRPC server: span_sample.c's list of codes), a client at any
 * 4xx or 5xx or gRPC code but OK; a database call at any error; a reset
 * stream always.
 */
static bool span_failed(const struct kerno_span_event *ev)
{
	bool server = ev->role == KERNO_ROLE_SERVER;

	if (ev->proto == KERNO_P_GRPC)
		return server ? ev->reason & KERNO_SPAN_R_ERROR : ev->method || ev->status;
	if (ev->proto == KERNO_P_HTTP2 && ev->code)
		return true;
	if (is_db_span(ev))
		return ev->status != 0;
	return server ? ev->status >= 500 : ev->status >= 400;
}

static void hex_id(const __u8 *b, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * n] = 0;
}

static void span_id_str(__u64 id, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)id);
}

json_t *spans_event_json(const struct kerno_span_event *ev, size_t len, const char *host,
			 const char *process_name, __u64 realtime_offset_ns)
{
	char trace[33], span[17], parent[17], name[3 * KERNO_PATH_LEN + 16];
	char tmpl[3 * KERNO_PATH_LEN + 1];
	const char *method = kerno_method_name(ev->method);
	bool server = ev->role == KERNO_ROLE_SERVER, db = is_db_span(ev);
	struct strbuf red = { 0 };
	json_t *attrs, *spanj, *res;

	if (len < KERNO_SPAN_EVENT_HDR || ev->req_len > KERNO_SPAN_PAYLOAD_MAX ||
	    ev->resp_len > KERNO_SPAN_PAYLOAD_MAX ||
	    len < KERNO_SPAN_EVENT_HDR + (size_t)ev->req_len + ev->resp_len)
		return NULL;
	hex_id(ev->trace_id, 16, trace);
	span_id_str(ev->span_id, span);
	span_id_str(ev->parent_id, parent);
	if (db) {
		method = db_operation(ev, tmpl, sizeof(tmpl));
		snprintf(name, sizeof(name), "%s", method ? method : kerno_db_system(ev->proto));
		attrs = db_span_attributes(ev, &red);
	} else if (ev->proto == KERNO_P_GRPC) {
		snprintf(name, sizeof(name), "%.*s", KERNO_PATH_LEN, ev->path);
		attrs = h2_span_attributes(ev);
	} else {
		otlp_escape_path(ev->path, strnlen(ev->path, KERNO_PATH_LEN), tmpl);
		snprintf(name, sizeof(name), "%s %s", method ? method : "HTTP", tmpl);
		attrs = ev->proto == KERNO_P_HTTP2 ? h2_span_attributes(ev) :
						     span_attributes(ev, &red);
	}
	sb_free(&red);
	if (!attrs)
		return NULL;
	spanj = json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:{s:i}}", "traceId", trace,
			  "spanId", span, "parentSpanId", ev->parent_id ? parent : "", "name", name,
			  "kind", server ? 2 : 3, "startTimeUnixNano",
			  u64_str(ev->start_ns + realtime_offset_ns), "endTimeUnixNano",
			  u64_str(ev->end_ns + realtime_offset_ns), "attributes", attrs, "status",
			  "code", span_failed(ev) ? 2 : 0);
	if (!spanj)
		return NULL;
	res = json_pack("[{s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:o}}]", "key", "service.name",
			"value", "stringValue", process_name, "key", "host.name", "value",
			"stringValue", host, "key", "process.pid", "value", "intValue",
			u64_str(ev->tgid));
	if (!res) {
		json_decref(spanj);
		return NULL;
	}
	return json_pack("{s:[{s:{s:o}, s:[{s:{s:s, s:s}, s:[o]}]}]}", "resourceSpans", "resource",
			 "attributes", res, "scopeSpans", "scope", "name", "kerno", "version",
			 KERNO_VERSION, "spans", spanj);
}

/* The process's command name, read once a minute at most. */
static const char *process_name(struct spans *s, __u32 tgid)
{
	struct proc_name *n = &s->names[tgid % NAMES];
	time_t now = time(NULL);
	char path[128];
	ssize_t r;
	int fd;

	if (n->tgid == tgid && n->name[0] && now - n->at < 60)
		return n->name;
	n->tgid = tgid;
	n->at = now;
	snprintf(n->name, sizeof(n->name), "pid-%u", tgid);
	snprintf(path, sizeof(path), "%s/%u/comm", s->o.proc_root ? s->o.proc_root : "/proc", tgid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return n->name;
	r = read(fd, n->name, sizeof(n->name) - 1);
	close(fd);
	if (r <= 0) {
		snprintf(n->name, sizeof(n->name), "pid-%u", tgid);
		return n->name;
	}
	n->name[r] = 0;
	n->name[strcspn(n->name, "\n")] = 0;
	return n->name;
}

/* The kernel's endpoint slot of a series (its path is not 8-byte aligned in the key). */
static __u32 sample_slot(const struct kerno_series_key *k)
{
	__u64 words[KERNO_PATH_LEN / 8];

	memcpy(words, k->path, KERNO_PATH_LEN);
	return kerno_endpoint_slot(k->tgid, k->server_port, k->role, k->method, words);
}

static size_t series_hash(const struct kerno_series_key *k)
{
	return sample_slot(k) ^ k->status;
}

static bool same_series(const struct kerno_series_key *a, const struct kerno_series_key *b)
{
	return a->tgid == b->tgid && a->server_port == b->server_port && a->status == b->status &&
	       a->role == b->role && a->method == b->method &&
	       !memcmp(a->path, b->path, KERNO_PATH_LEN);
}

static void remember_example(struct spans *s, const struct kerno_span_event *ev)
{
	struct kerno_series_key k = { 0 };
	struct example *e;
	char trace[33];

	k.tgid = ev->tgid;
	k.server_port = ev->role == KERNO_ROLE_SERVER ? ev->local_port : ev->peer_port;
	k.status = ev->status;
	k.role = ev->role;
	k.method = ev->method;
	memcpy(k.path, ev->path, KERNO_PATH_LEN);
	hex_id(ev->trace_id, 16, trace);
	pthread_mutex_lock(&s->lock);
	e = &s->by_series[series_hash(&k) % EXAMPLES];
	e->key = k;
	memcpy(e->trace_id, trace, sizeof(trace));
	e->used = true;
	e = &s->by_pid[ev->tgid % EXAMPLES];
	e->key.tgid = ev->tgid;
	memcpy(e->trace_id, trace, sizeof(trace));
	e->used = true;
	pthread_mutex_unlock(&s->lock);
}

bool spans_example_trace(struct spans *s, const struct kerno_series_key *key, char out[33])
{
	struct example *e;
	bool found;

	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	e = &s->by_series[series_hash(key) % EXAMPLES];
	found = e->used && same_series(&e->key, key);
	if (found)
		memcpy(out, e->trace_id, 33);
	pthread_mutex_unlock(&s->lock);
	return found || spans_example_trace_pid(s, key->tgid, out);
}

bool spans_example_trace_pid(struct spans *s, __u32 tgid, char out[33])
{
	struct example *e;
	bool found;

	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	e = &s->by_pid[tgid % EXAMPLES];
	found = e->used && e->key.tgid == tgid;
	if (found)
		memcpy(out, e->trace_id, 33);
	pthread_mutex_unlock(&s->lock);
	return found;
}

static void count(struct spans *s, unsigned long long *field)
{
	pthread_mutex_lock(&s->lock);
	(*field)++;
	pthread_mutex_unlock(&s->lock);
}

/* A span ready to go: to OTLP/JSON, into the traces batch. */
static void store_span(void *ctx, const struct kerno_span_event *ev, size_t len)
{
	struct spans *s = ctx;
	json_t *req;
	char *text;
	int ret;

	req = spans_event_json(ev, len, s->o.host, process_name(s, ev->tgid), s->realtime_offset);
	if (!req) {
		count(s, &s->stats.store_dropped);
		return;
	}
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	ret = text ? objstore_append(s->o.store, OBJSTORE_TRACES, text, strlen(text)) : -ENOMEM;
	free(text);
	if (ret) {
		count(s, &s->stats.store_dropped);
		return;
	}
	count(s, &s->stats.appended);
	remember_example(s, ev);
}

static void sync_late_stats(struct spans *s)
{
	struct span_late_stats late;

	span_late_get_stats(s->late, &late);
	pthread_mutex_lock(&s->lock);
	s->stats.late_held = late.held;
	s->stats.late_linked = late.linked;
	s->stats.late_unlinked = late.unlinked + late.no_memory;
	pthread_mutex_unlock(&s->lock);
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct spans *s = ctx;

	count(s, &s->stats.received);
	if (len < KERNO_SPAN_EVENT_HDR) {
		count(s, &s->stats.malformed);
		return 0;
	}
	span_late_take(s->late, data, len, clock_ns(CLOCK_MONOTONIC));
	return 0;
}

/* The HTTP/2 and gRPC spans queued by spans_offer(), stored. */
static void drain_queue(struct spans *s)
{
	struct kerno_span_event *ev = &s->dequeued;
	eventfd_t wakes;
	size_t n;

	eventfd_read(s->wake_fd, &wakes); /* non-blocking: only resets a wakeup */
	for (;;) {
		pthread_mutex_lock(&s->lock);
		n = s->q_len;
		if (n) {
			memcpy(ev, s->queue[s->q_head].head, KERNO_SPAN_EVENT_HDR);
			s->q_head = (s->q_head + 1) % H2_QUEUE;
			s->q_len--;
		}
		pthread_mutex_unlock(&s->lock);
		if (!n)
			return;
		store_span(s, ev, KERNO_SPAN_EVENT_HDR);
	}
}

/* Everything in the ring buffer now, then what waited long enough for a link. */
static void drain(struct spans *s, bool all)
{
	drain_queue(s);
	ringbuf_consume(s->rb);
	span_late_expire(s->late, clock_ns(CLOCK_MONOTONIC), all);
	sync_late_stats(s);
}

void spans_offer(struct spans *s, struct kerno_span_event *ev)
{
	__u32 slot = span_sample_slot(ev);
	__u64 slow = s->o.slow_ns;

	if (!slow)
		slow = __atomic_load_n(&s->thresholds[slot], __ATOMIC_RELAXED);
	if (!slow)
		slow = SPAN_SLOW_FALLBACK_NS;
	ev->req_len = 0;
	ev->resp_len = 0;
	ev->reason = span_sample_reason(ev, slow, s->baseline);
	if (!ev->reason)
		return;
	pthread_mutex_lock(&s->lock);
	if (!span_caps_take(s->caps, slot, ev->end_ns, s->o.rate_cap)) {
		s->stats.h2_capped++;
	} else if (s->closed || s->q_len == H2_QUEUE) {
		s->stats.h2_lost++;
	} else {
		memcpy(s->queue[(s->q_head + s->q_len) % H2_QUEUE].head, ev, KERNO_SPAN_EVENT_HDR);
		if (++s->q_len == H2_QUEUE_WAKE)
			eventfd_write(s->wake_fd, 1);
		s->stats.h2_sampled++;
	}
	pthread_mutex_unlock(&s->lock);
}

static void seal_if_due(struct spans *s, bool force)
{
	if (force || objstore_due(s->o.store, OBJSTORE_TRACES, objstore_now_ms()))
		objstore_seal(s->o.store, OBJSTORE_TRACES, NULL, NULL);
}

static void *thread_main(void *arg)
{
	struct spans *s = arg;
	struct timespec pause = { 0, 100 * 1000000L };

	while (!s->stop) {
		/* A store that pushes back: stop reading; the kernel counts what it cannot keep. */
		if (objstore_congested(s->o.store)) {
			seal_if_due(s, true);
			nanosleep(&pause, NULL);
			continue;
		}
		ringbuf_poll(s->rb, POLL_MS);
		/* Below the wakeup threshold the kernel wakes nobody: take what waits
		 * anyway, so a quiet service's spans (and error groups' example
		 * traces) are at most POLL_MS late. */
		drain(s, false);
		seal_if_due(s, false);
	}
	return NULL;
}

int spans_start(const struct spans_opts *o, struct spans **out, char *err, size_t errlen)
{
	struct spans *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->o = *o;
	s->wake_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->realtime_offset = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	s->baseline = span_baseline_bound(o->baseline_bp);
	s->late = span_late_new(LATE_MAX_HELD, LATE_MAX_WAIT_NS, store_span, s);
	s->caps = span_caps_new();
	s->queue = calloc(H2_QUEUE, sizeof(*s->queue));
	if (!s->late || !s->caps || !s->queue) {
		ret = -ENOMEM;
		snprintf(err, errlen, "cannot start the span reader: out of memory");
		goto cleanup;
	}
	s->rb = ringbuf_new(o->events_fd, on_event, s);
	if (!s->rb) {
		ret = -errno;
		snprintf(err, errlen, "cannot read the span ring buffer: %s", strerror(-ret));
		goto cleanup;
	}
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ret = s->wake_fd < 0 ? -errno : ringbuf_wake_on(s->rb, s->wake_fd);
	if (ret) {
		snprintf(err, errlen, "cannot set up the span reader's wakeup: %s", strerror(-ret));
		goto cleanup;
	}
	ret = -pthread_create(&s->thread, NULL, thread_main, s);
	if (ret) {
		snprintf(err, errlen, "cannot start the span thread: %s", strerror(-ret));
		goto cleanup;
	}
	s->running = true;
	*out = s;
	return 0;

cleanup:
	spans_free(s);
	return ret;
}

void spans_stop(struct spans *s)
{
	if (!s || !s->running)
		return;
	s->stop = 1;
	pthread_join(s->thread, NULL);
	s->running = false;
	drain(s, true);
	pthread_mutex_lock(&s->lock);
	s->closed = true;
	pthread_mutex_unlock(&s->lock);
	/* What was offered between the drain and the close. */
	drain_queue(s);
	seal_if_due(s, true);
}

void spans_free(struct spans *s)
{
	size_t i;

	if (!s)
		return;
	spans_stop(s);
	ringbuf_free(s->rb);
	span_late_free(s->late);
	span_caps_free(s->caps);
	free(s->queue);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	for (i = 0; i < KERNO_SPAN_ENDPOINTS; i++)
		free(s->hists[i]);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void spans_get_stats(struct spans *s, struct spans_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

/* Upper bound of the bucket holding the 99th percentile. */
static __u64 p99_bound(const struct endpoint_hist *h)
{
	__u64 want = h->total - h->total / 100, seen = 0;
	unsigned int b;

	for (b = 0; b < KERNO_HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= want)
			return kerno_hist_upper(b);
	}
	return kerno_hist_upper(KERNO_HIST_BUCKETS - 1);
}

void spans_observe(struct spans *s, const struct kerno_sample *samples, long n)
{
	struct endpoint_hist *h;
	__u64 thr;
	__u32 slot;
	long i;
	int b;

	if (!s || s->o.slow_fd < 0)
		return;
	for (i = 0; i < n; i++) {
		slot = sample_slot(&samples[i].key);
		h = s->hists[slot];
		if (!h) {
			h = calloc(1, sizeof(*h));
			if (!h)
				continue;
			s->hists[slot] = h;
		}
		h->total += samples[i].count;
		for (b = 0; b < KERNO_HIST_BUCKETS; b++)
			h->buckets[b] += samples[i].buckets[b];
	}
	for (i = 0; i < n; i++) {
		slot = sample_slot(&samples[i].key);
		h = s->hists[slot];
		if (!h || h->total < THRESHOLD_MIN_COUNT)
			continue;
		thr = p99_bound(h);
		if (thr != s->thresholds[slot] &&
		    !bpf_map_update_elem(s->o.slow_fd, &slot, &thr, BPF_ANY))
			__atomic_store_n(&s->thresholds[slot], thr, __ATOMIC_RELAXED);
	}
}

static json_t *stat_point(const char *attr, const char *name, __u64 v, __u64 start, __u64 end)
{
	return json_pack("{s:[{s:s, s:{s:s}}], s:o, s:o, s:o}", "attributes", "key", attr, "value",
			 "stringValue", name, "startTimeUnixNano", u64_str(start), "timeUnixNano",
			 u64_str(end), "asInt", u64_str(v));
}

json_t *spans_metrics(struct spans *s, __u64 start_ns, __u64 end_ns, const char *host)
{
	struct spans_stats now, d;

	if (!s)
		return NULL;
	spans_get_stats(s, &now);
	d.received = now.received - s->reported.received;
	d.appended = now.appended - s->reported.appended;
	d.store_dropped = now.store_dropped - s->reported.store_dropped;
	d.malformed = now.malformed - s->reported.malformed;
	d.late_held = now.late_held - s->reported.late_held;
	d.late_linked = now.late_linked - s->reported.late_linked;
	d.late_unlinked = now.late_unlinked - s->reported.late_unlinked;
	d.h2_sampled = now.h2_sampled - s->reported.h2_sampled;
	d.h2_capped = now.h2_capped - s->reported.h2_capped;
	d.h2_lost = now.h2_lost - s->reported.h2_lost;
	s->reported = now;
	return json_pack(
		"{s:{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}]}, s:[{s:{s:s}, s:[{s:s, s:s, s:s, "
		"s:{s:i, s:b, s:[o, o, o, o, o, o, o, o, o, o]}}]}]}",
		"resource", "attributes", "key", "service.name", "value", "stringValue", "kerno",
		"key", "host.name", "value", "stringValue", host, "scopeMetrics", "scope", "name",
		"kerno.spans", "metrics", "name", "kerno.spans.events", "description",
		"Sampled spans read from the kernel or kept here (HTTP/2, gRPC) and stored, "
		"or lost here, by event.",
		"unit", "{span}", "sum", "aggregationTemporality", 1, "isMonotonic", 1,
		"dataPoints", stat_point("event", "received", d.received, start_ns, end_ns),
		stat_point("event", "appended", d.appended, start_ns, end_ns),
		stat_point("event", "store_dropped", d.store_dropped, start_ns, end_ns),
		stat_point("event", "malformed", d.malformed, start_ns, end_ns),
		stat_point("event", "late_held", d.late_held, start_ns, end_ns),
		stat_point("event", "late_linked", d.late_linked, start_ns, end_ns),
		stat_point("event", "late_unlinked", d.late_unlinked, start_ns, end_ns),
		stat_point("event", "h2_sampled", d.h2_sampled, start_ns, end_ns),
		stat_point("event", "h2_capped", d.h2_capped, start_ns, end_ns),
		stat_point("event", "h2_lost", d.h2_lost, start_ns, end_ns));
}
