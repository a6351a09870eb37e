// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The local agent loop: load the capture, then every interval turn what the
 * kernel aggregated into one `metrics` envelope. The last partial interval
 * is flushed on exit, whatever ends the run.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "agent.h"
#include "clock.h"
#include "capture_load.h"
#include "drain.h"
#include "errgroups.h"
#include "errors.h"
#include "logs.h"
#include "objstore.h"
#include "objstore_s3.h"
#include "otlp.h"
#include "preflight.h"
#include "procdrops.h"
#include "procnames.h"
#include "spans.h"
#include "tls_probe.h"
#include "h2streams.h"
#include "uplink.h"

/* Drains a series must sit idle before it leaves the kernel map. */
#define IDLE_ROUNDS 30

static volatile sig_atomic_t stop_signal;
static struct timespec stop_signal_at; /* CLOCK_MONOTONIC */

static void on_signal(int sig)
{
	/* clock_gettime() is async-signal-safe. */
	if (!stop_signal)
		clock_gettime(CLOCK_MONOTONIC, &stop_signal_at);
	stop_signal = sig;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Sleep until the monotonic deadline or a signal, whichever comes first. */
static void sleep_until(__u64 deadline)
{
	struct timespec ts = { .tv_sec = deadline / 1000000000ULL,
			       .tv_nsec = deadline % 1000000000ULL };

	while (!stop_signal && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/*
 * Where the stop's time went, said in one line at exit: the pod's
 * terminationGracePeriodSeconds must cover it, and the kernel's part
 * (taking the hooks down) grows with the node's load.
 */
struct stop_clock {
	__u64 start, mark; /* monotonic ns; start is 0 until the stop begins */
	__u64 tls_ns; /* the TLS probes' own stop, beside the rest */
	int len;
	char parts[256];
};

static void stop_begin(struct stop_clock *c)
{
	c->start = c->mark = clock_ns(CLOCK_MONOTONIC);
}

static void stop_mark(struct stop_clock *c, const char *part)
{
	__u64 now = clock_ns(CLOCK_MONOTONIC);
	int n;

	if (!c->start)
		return;
	n = snprintf(c->parts + c->len, sizeof(c->parts) - c->len, "%s%s %.2f s",
		     c->len ? ", " : "", part, (now - c->mark) / 1e9);
	if (n > 0 && n < (int)sizeof(c->parts) - c->len)
		c->len += n;
	c->mark = now;
}

static void stop_report(const struct stop_clock *c)
{
	__u64 sig = stop_signal_at.tv_sec * 1000000000ULL + stop_signal_at.tv_nsec;
	char noticed[64] = "";

	if (!c->start)
		return;
	/* A signal that comes while an interval is written waits for it. */
	if (sig)
		snprintf(noticed, sizeof(noticed), "signal noticed after %.2f s, ",
			 (c->start - sig) / 1e9);
	fprintf(stderr, "kerno: stopped in %.2f s: %s%s; TLS probes %.2f s beside\n",
		(c->mark - (sig ? sig : c->start)) / 1e9, noticed, c->parts, c->tls_ns / 1e9);
}

struct agent {
	const struct kerno_config *cfg;
	const struct agent_ops *ops;
	struct kerno_sample *kept; /* the samples ops->keep let through */
	size_t kept_cap;
	struct capture cap;
	struct tls_probe *tls; /* NULL with --no-tls-capture */
	struct drain drain;
	struct uplink *up;
	struct proc_names names;
	struct procdrops drops;
	struct objstore *store; /* DATA_DIR/objects/ */
	struct logs *logs; /* NULL when no log source is configured */
	struct errors_unit *errs; /* NULL with --no-errors or when it could not load */
	struct errgroups *groups; /* this interval's error groups */
	struct spans *spans; /* NULL with --no-spans */
	struct h2streams *h2; /* HTTP/2 streams finished in userspace */
	struct kerno_sample *merged; /* the kernel's samples and HTTP/2's, one array */
	size_t merged_cap;
	__u64 interval_start; /* unix-epoch ns */
	__u64 prog_misses; /* as last reported */
	struct stop_clock stop;
};

static int emit(struct agent *a, const char *type, json_t *data)
{
	if (a->ops && a->ops->emit)
		return a->ops->emit(a->ops->ctx, type, data);
	return uplink_send(a->up, type, data);
}

/* The samples the role keeps (all of them without a filter). */
static long filter_samples(struct agent *a, const struct kerno_sample **samples, long n)
{
	long i, k = 0;

	if (!a->ops || !a->ops->keep)
		return n;
	if ((size_t)n > a->kept_cap) {
		struct kerno_sample *p = realloc(a->kept, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		a->kept = p;
		a->kept_cap = n;
	}
	for (i = 0; i < n; i++)
		if (a->ops->keep(a->ops->ctx, &(*samples)[i]))
			a->kept[k++] = (*samples)[i];
	*samples = a->kept;
	return k;
}

static int send_hello(struct agent *a)
{
	struct utsname un;
	json_t *data;
	int ret;

	uname(&un);
	data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "agent", "kerno", "version",
			 KERNO_VERSION, "host.name", a->cfg->host_name, "kernel", un.release,
			 "hook", a->cap.hook, "interval", (json_int_t)a->cfg->interval);
	if (!data)
		return -ENOMEM;
	ret = emit(a, "hello", data);
	json_decref(data);
	return ret;
}

/* Error groups from logs whose records are stored (counts final), as one `errors` envelope. */
static int send_log_errors(struct agent *a)
{
	json_t *groups = logs_take_error_groups(a->logs), *data;
	int ret;

	if (!groups)
		return 0;
	data = json_pack("{s:o}", "groups", groups);
	if (!data)
		return -ENOMEM;
	ret = emit(a, "errors", data);
	json_decref(data);
	return ret;
}

/*
 * The interval's error groups: HTTP errors from the series just drained
 * (exactly what the metrics count), the rest from the kernel's detectors.
 * One `errors` envelope when there is anything to say.
 */
static int send_errors(struct agent *a, const struct kerno_sample *samples, long n, __u64 start,
		       __u64 end)
{
	__u64 drops[KERNO_ERR_DROP__COUNT] = {};
	json_t *data;
	int ret, i;
	bool dropped = false;

	if (!a->groups)
		return 0;
	errgroups_add_series(a->groups, samples, n, proc_names_lookup, &a->names, start, end);
	if (a->errs) {
		ret = errors_drain(a->errs, a->groups, drops);
		if (ret)
			return ret;
	}
	for (i = 0; i < KERNO_ERR_DROP__COUNT; i++)
		dropped |= drops[i] != 0;
	if (!errgroups_count(a->groups) && !dropped)
		return 0;
	data = errgroups_take(a->groups, start, end, drops, proc_names_lookup, &a->names);
	if (!data)
		return -ENOMEM;
	ret = emit(a, "errors", data);
	json_decref(data);
	return ret;
}

/*
 * The kernel's series and the HTTP/2 streams counted in userspace, as one
 * array; h2_drops gets what the HTTP/2 side lost.
 */
static long take_samples(struct agent *a, const struct kerno_sample **samples, __u64 *h2_drops)
{
	const struct kerno_sample *h2;
	long n = drain_series(&a->drain, samples), n2;

	if (n < 0)
		return n;
	n2 = h2streams_take(a->h2, &h2, h2_drops);
	if (n2 <= 0)
		return n;
	if ((size_t)(n + n2) > a->merged_cap) {
		struct kerno_sample *p = realloc(a->merged, (n + n2) * sizeof(*p));

		if (!p)
			return -ENOMEM;
		a->merged = p;
		a->merged_cap = n + n2;
	}
	memcpy(a->merged, *samples, n * sizeof(**samples));
	memcpy(a->merged + n, h2, n2 * sizeof(*h2));
	*samples = a->merged;
	return n + n2;
}

/* One interval: drain the kernel maps and write one metrics envelope. */
static int flush_interval(struct agent *a)
{
	__u64 counters[KERNO_COUNTER__COUNT], misses, h2_drops[KERNO_DROP__COUNT] = { 0 };
	const struct kerno_proc_drops *proc_drops;
	const struct kerno_sample *samples;
	struct otlp_metrics_in in = {};
	json_t *req;
	long n, nd;
	int ret, i;

	n = take_samples(a, &samples, h2_drops);
	if (n < 0)
		return n;
	spans_observe(a->spans, samples, n);
	if (a->ops && a->ops->refresh)
		a->ops->refresh(a->ops->ctx);
	n = filter_samples(a, &samples, n);
	if (n < 0)
		return n;
	drain_counters(&a->drain, counters);
	for (i = 0; i < KERNO_DROP__COUNT; i++)
		counters[i] += h2_drops[i];
	nd = procdrops_collect(&a->drops, a->cap.procs_fd, &proc_drops);
	if (nd < 0)
		return nd;
	misses = capture_prog_misses(&a->cap) + tls_probe_prog_misses(a->tls);
	counters[KERNO_DROP_PROG_MISSES] = misses - a->prog_misses;
	a->prog_misses = misses;

	in.samples = samples;
	in.n_samples = n;
	in.start_ns = a->interval_start;
	in.end_ns = clock_ns(CLOCK_REALTIME);
	in.host = a->cfg->host_name;
	in.counters = counters;
	in.proc_drops = proc_drops;
	in.n_proc_drops = nd;
	in.max_series_per_process = a->cfg->max_series_per_process;
	in.lookup = proc_names_lookup;
	in.lookup_ctx = &a->names;
	req = otlp_metrics_request(&in);
	if (!req)
		return -ENOMEM;
	if (a->logs)
		json_array_append_new(json_object_get(req, "resourceMetrics"),
				      logs_metrics(a->logs, in.start_ns, in.end_ns, in.host));
	if (a->spans)
		json_array_append_new(json_object_get(req, "resourceMetrics"),
				      spans_metrics(a->spans, in.start_ns, in.end_ns, in.host));
	ret = emit(a, "metrics", req);
	json_decref(req);
	if (!ret)
		ret = send_errors(a, samples, n, in.start_ns, in.end_ns);
	if (!ret)
		ret = send_log_errors(a);
	proc_names_prune(&a->names);
	a->interval_start = in.end_ns;
	return ret;
}

static int open_cloud(struct agent *a, char *err, size_t errlen)
{
	const struct kerno_config *cfg = a->cfg;
	struct uplink_ws_opts o = {
		.url = cfg->cloud_url,
		.token_file = cfg->cloud_token_file,
		.ca_file = cfg->cloud_ca_file,
		.key_file = cfg->cloud_key_file,
		.queue_bytes = cfg->cloud_queue_bytes,
		.ping_secs = cfg->cloud_ping,
		.heartbeat_secs = cfg->cloud_heartbeat,
		.close_secs = cfg->cloud_close_timeout,
		.flush_secs = cfg->cloud_flush_timeout,
		.deflate = cfg->cloud_deflate,
		.verbose = cfg->verbose,
	};

	return uplink_open_cloud(cfg->data_dir, &o, &a->up, err, errlen);
}

static int start_logs(struct agent *a, char *err, size_t errlen)
{
	const struct kerno_config *cfg = a->cfg;
	bool s3 = cfg->s3_bucket && *cfg->s3_bucket;
	struct objstore_opts so = {
		.prefix = s3 && cfg->s3_prefix && *cfg->s3_prefix ? cfg->s3_prefix :
								    cfg->object_prefix,
		.node = cfg->host_name,
		.max_bytes = cfg->object_max_bytes,
		.max_age_ms = cfg->object_max_age * 1000ULL,
		.max_pending_bytes = cfg->object_max_pending_bytes,
		.level = 1,
	};
	/* With a bucket, objects go to S3 through the encrypted spool; else to DATA_DIR/objects/. */
	struct obj_backend *backend = s3 ? objstore_s3_new(cfg, err, errlen) :
					   objstore_local_new(cfg->data_dir, err, errlen);
	int ret;

	if (!backend)
		return s3 ? -EINVAL : -EIO; /* a bad --s3-* or --spool-* setting: exit code 2 */
	ret = objstore_open(&so, backend, &a->store);
	if (ret) {
		snprintf(err, errlen, "cannot open the object store: %s", strerror(-ret));
		return ret;
	}
	return logs_start(cfg, a->store, &a->logs, err, errlen);
}

/*
 * The error detectors. Their failing to load costs the errors, not the
 * metrics: one line says so and the run goes on.
 */
static int start_errors(struct agent *a, char *err, size_t errlen)
{
	const struct kerno_config *cfg = a->cfg;
	struct errors_opts o = {
		.pin_dir = cfg->pin_dir,
		.max_groups = cfg->max_error_groups,
		.max_conns = cfg->max_conns,
		.disable_hooks = cfg->hook && !strcmp(cfg->hook, "raw_tp") ? "tp_btf" : NULL,
		.conns_fd = a->cap.conns_fd,
		.procs_fd = a->cap.procs_fd,
		.verbose = cfg->verbose,
	};
	char why[512];
	int ret;

	if (!cfg->errors)
		return 0;
	a->groups = errgroups_new(cfg->max_error_groups + cfg->max_series);
	if (!a->groups) {
		snprintf(err, errlen, "cannot allocate the error groups");
		return -ENOMEM;
	}
	ret = errors_start(&a->errs, &o, why, sizeof(why));
	if (ret)
		fprintf(stderr, "kerno: errors from the kernel are not counted: %s\n", why);
	else if (cfg->verbose)
		fprintf(stderr, "kerno: error detectors attached (%s)\n", errors_flavour(a->errs));
	return 0;
}

/* The span settings of the capture, from the configuration. */
static void span_capture_opts(const struct kerno_config *cfg, struct capture_opts *o)
{
	o->spans = cfg->spans;
	o->span_baseline_bp = cfg->span_baseline;
	o->span_slow_ns = cfg->span_slow_ms * 1000000ULL;
	o->span_rate_cap = cfg->span_rate_cap;
	o->span_payload_bytes = cfg->span_payload_bytes;
	o->span_payload_conns = cfg->span_payload_conns;
	o->span_ringbuf_bytes = cfg->span_ringbuf_bytes;
	o->h2_ringbuf_bytes = cfg->h2_ringbuf_bytes;
}

/*
 * An error group's example trace: the latest sampled span of the process
 * that had the error. Sampling keeps every error span, so for HTTP and
 * connection errors of a traced process this is usually the error itself.
 */
static bool example_trace(void *ctx, __u64 fingerprint, const struct errgroup_in *g, char out[33])
{
	struct agent *a = ctx;

	return a->spans && g->pid && spans_example_trace_pid(a->spans, g->pid, out);
}

static int start_spans(struct agent *a, char *err, size_t errlen)
{
	struct spans_opts so = {
		.events_fd = a->cap.span_events_fd,
		.slow_fd = a->cfg->span_slow_ms ? -1 : a->cap.span_slow_fd,
		.store = a->store,
		.host = a->cfg->host_name,
		.proc_root = a->cfg->proc_root,
		.baseline_bp = a->cfg->span_baseline,
		.slow_ns = a->cfg->span_slow_ms * 1000000ULL,
		.rate_cap = a->cfg->span_rate_cap,
	};

	int ret;

	if (!a->cfg->spans)
		return 0;
	ret = spans_start(&so, &a->spans, err, errlen);
	if (!ret && a->groups)
		errgroups_set_trace_hook(a->groups, example_trace, a);
	return ret;
}

static void offer_span(void *ctx, struct kerno_span_event *ev)
{
	spans_offer(ctx, ev);
}

/* The reader of the HTTP/2 header blocks and stream ends. */
static int start_h2(struct agent *a, char *err, size_t errlen)
{
	struct h2streams_opts o = {
		.events_fd = a->cap.h2_events_fd,
		.streams_fd = a->cap.h2_streams_fd,
		.series_fd = a->cap.h2_series_fd,
		.max_conns = a->cfg->max_conns,
		.max_series = a->cfg->max_series,
		.offer_span = a->spans ? offer_span : NULL,
		.offer_ctx = a->spans,
	};

	return h2streams_start(&o, &a->h2, err, errlen);
}

static int start(struct agent *a, char *err, size_t errlen)
{
	const struct kerno_config *cfg = a->cfg;
	struct capture_opts o = {
		.pin_dir = cfg->pin_dir,
		.max_conns = cfg->max_conns,
		.max_series = cfg->max_series,
		.max_procs = cfg->max_processes,
		.max_header_bytes = cfg->max_header_bytes,
		.hook = cfg->hook,
		.disable_hooks = cfg->disable_hooks,
		.ignore = cfg->ignore_process,
		.verbose = cfg->verbose,
	};
	int ret;

	span_capture_opts(cfg, &o);

	if (mkdir(cfg->data_dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create data directory %s: %s", cfg->data_dir,
			 strerror(errno));
		return -errno;
	}
	if (cfg->cloud_url && *cfg->cloud_url) {
		ret = open_cloud(a, err, errlen);
	} else {
		ret = uplink_open(cfg->data_dir, cfg->host_name, &a->up);
		if (ret)
			snprintf(err, errlen, "cannot open the uplink file under %s: %s",
				 cfg->data_dir, strerror(-ret));
	}
	if (ret)
		return ret;
	/* Log collection needs no BPF: it runs while the capture programs load. */
	ret = start_logs(a, err, errlen);
	if (ret)
		return ret;
	a->names.cache = procinfo_cache_new(cfg->proc_root, 0, 60);
	if (!a->names.cache)
		return -ENOMEM;
	ret = capture_start(&a->cap, &o, err, errlen);
	if (ret)
		return ret;
	a->names.procs_fd = a->cap.procs_fd;
	ret = start_errors(a, err, errlen);
	if (ret)
		return ret;
	if (cfg->tls_capture) {
		struct tls_probe_opts to = { .proc_root = cfg->proc_root, .verbose = cfg->verbose };

		ret = tls_probe_start(&a->tls, &a->cap, &to, err, errlen);
		if (ret)
			return ret;
	}
	ret = drain_init(&a->drain, a->cap.series_fd, a->cap.counters_fd, cfg->max_series,
			 IDLE_ROUNDS);
	if (!ret)
		ret = drain_add_tcp(&a->drain, a->cap.tcp_series_fd);
	if (ret) {
		snprintf(err, errlen, "cannot set up draining: %s", strerror(-ret));
		return ret;
	}
	/*
	 * Loading parsed the kernel's BTF (megabytes of heap, freed since):
	 * give those pages back before the ring buffers are mapped.
	 */
	malloc_trim(0);
	/* The spans first: the HTTP/2 reader offers them its streams. */
	ret = start_spans(a, err, errlen);
	if (ret)
		return ret;
	return start_h2(a, err, errlen);
}

/*
 * Taking the TLS uprobes down costs the kernel a grace period per probe:
 * seconds for a node's TLS libraries. It runs beside the rest of the stop
 * (the uplink's flush above all) rather than before it.
 */
static void *stop_tls(void *arg)
{
	struct agent *a = arg;
	__u64 t0 = clock_ns(CLOCK_MONOTONIC);

	tls_probe_stop(a->tls);
	a->stop.tls_ns = clock_ns(CLOCK_MONOTONIC) - t0;
	return NULL;
}

/*
 * Everything is queued by now, so the uplink's flush starts first and its
 * bound (--cloud-flush-timeout) runs beside the teardown, not after it.
 */
static void finish(struct agent *a)
{
	pthread_t tls_stopper;
	bool tls_stopping;

	uplink_stop(a->up);
	tls_stopping = a->tls && !pthread_create(&tls_stopper, NULL, stop_tls, a);

	h2streams_free(a->h2);
	spans_free(a->spans);
	free(a->merged);
	logs_free(a->logs);
	objstore_close(a->store);
	drain_free(&a->drain);
	free(a->kept);
	procdrops_free(&a->drops);
	errors_stop(a->errs);
	errgroups_free(a->groups);
	if (!tls_stopping)
		tls_probe_stop(a->tls);
	capture_stop(&a->cap);
	proc_names_free(&a->names);
	stop_mark(&a->stop, "teardown");
	if (a->up)
		uplink_close(a->up);
	stop_mark(&a->stop, "waiting for the uplink");
	if (tls_stopping)
		pthread_join(tls_stopper, NULL);
	stop_mark(&a->stop, "waiting for the TLS probes");
	stop_report(&a->stop);
}

static int loop(struct agent *a)
{
	const struct kerno_config *cfg = a->cfg;
	__u64 t0 = clock_ns(CLOCK_MONOTONIC), next = t0, end = 0;
	bool last;
	int ret;

	if (cfg->duration)
		end = t0 + cfg->duration * 1000000000ULL;
	for (;;) {
		next += cfg->interval * 1000000000ULL;
		if (end && next > end)
			next = end;
		sleep_until(next);
		last = stop_signal || (end && clock_ns(CLOCK_MONOTONIC) >= end);
		/* Logs are stored and checkpointed first: the last envelopes then count them. */
		if (last) {
			stop_begin(&a->stop);
			logs_stop(a->logs);
			stop_mark(&a->stop, "logs");
			/* The last spans and counters read with nothing moving: they agree. */
			capture_detach(&a->cap);
			stop_mark(&a->stop, "hooks detached");
			/* Every HTTP/2 stream's span offered before the spans stop. */
			h2streams_sync(a->h2);
			spans_stop(a->spans);
			stop_mark(&a->stop, "spans");
		}
		ret = flush_interval(a);
		if (ret) {
			fprintf(stderr, "kerno: cannot write metrics: %s\n", strerror(-ret));
			return 1;
		}
		if (last) {
			stop_mark(&a->stop, "last interval");
			return 0;
		}
	}
}

int agent_hooks(const struct kerno_config *cfg)
{
	char err[512];
	int h, best;

	if (preflight_capture(PREFLIGHT_BPF, err, sizeof(err)) ||
	    capture_disable_hooks(cfg->disable_hooks, err, sizeof(err))) {
		fprintf(stderr, "kerno: %s\n", err);
		return 2;
	}
	capture_set_libbpf_verbose(cfg->verbose);
	best = capture_pick_hook(cfg->hook, err, sizeof(err));
	for (h = 0; h < CAPTURE_HOOK__COUNT; h++)
		printf("%-8s %s\n", capture_hook_names[h],
		       h == best		 ? "available, chosen" :
		       capture_hook_available(h) ? "available" :
						   "not available");
	return 0;
}

int agent_verifier_report(const struct kerno_config *cfg)
{
	struct capture_opts o = {
		.max_conns = cfg->max_conns,
		.max_series = cfg->max_series,
		.max_procs = cfg->max_processes,
		.max_header_bytes = cfg->max_header_bytes,
		.verbose = cfg->verbose,
		.ignore = cfg->ignore_process,
		.disable_hooks = cfg->disable_hooks,
	};
	char err[512];
	int ret;

	span_capture_opts(cfg, &o);
	if (preflight_capture(PREFLIGHT_BPF, err, sizeof(err))) {
		fprintf(stderr, "kerno: %s\n", err);
		return 2;
	}
	ret = capture_verifier_report(stdout, &o);
	if (ret)
		fprintf(stderr,
			"kerno: a flavour did not load: %s (run with --verbose for the "
			"verifier log)\n",
			strerror(-ret));
	return ret ? 1 : 0;
}

int agent_run(const struct kerno_config *cfg)
{
	return agent_run_ops(cfg, NULL);
}

int agent_run_ops(const struct kerno_config *cfg, const struct agent_ops *ops)
{
	struct agent a = { .cfg = cfg, .ops = ops, .names.procs_fd = -1 };
	char err[512] = "";
	int ret, code;

	if (preflight_capture(PREFLIGHT_BPF | PREFLIGHT_PROCS, err, sizeof(err))) {
		fprintf(stderr, "kerno: %s\n", err);
		return 2;
	}
	install_signals();
	a.interval_start = clock_ns(CLOCK_REALTIME);
	ret = start(&a, err, sizeof(err));
	if (!ret)
		ret = send_hello(&a);
	if (ret) {
		fprintf(stderr, "kerno: %s\n", err[0] ? err : strerror(-ret));
		finish(&a);
		return ret == -EPERM || ret == -EACCES || ret == -EINVAL ? 2 : 1;
	}
	fprintf(stderr, "kerno: capturing with the %s hooks, maps pinned in %s, writing %s\n",
		a.cap.hook, cfg->pin_dir, uplink_path(a.up));
	code = loop(&a);
	finish(&a);
	return code;
}
