// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* kerno nanobe: accept, journal, merge, flush through the uplink. See nanobe.h. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "h2server.h"
#include "k8sevents.h"
#include "kube.h"
#include "metricagg.h"
#include "nanobe.h"
#include "nbstore.h"
#include "svcmap.h"
#include "tls_server.h"
#include "uplink.h"

#define POLL_MS 100

enum nb_result {
	NB_ACCEPTED,
	NB_DUPLICATE,
	NB_REJECTED,
	NB_UNAUTHORIZED,
	NB_OVERLOADED,
	NB_NOT_FOUND,
	NB__COUNT,
};

static const char *const result_names[NB__COUNT] = {
	"accepted", "duplicate", "rejected", "unauthorized", "overloaded", "not_found",
};

struct nanobe {
	const struct kerno_config *cfg;
	char token[CLUSTER_TOKEN_MAX + 1];
	struct tls_server *tls;
	struct h2server *h2;
	int listen_fd;
	struct uplink *up;
	struct metricagg *agg;
	struct nbstore *store;
	unsigned long long results[NB__COUNT]; /* since the last flush */
	unsigned long long points; /* accepted since the last flush */
	struct kubeconf kc;
	struct kube *kube; /* NULL without the Kubernetes API */
	struct k8sevents *events;
	struct kube_stats kube_last, kube_last_next; /* as last reported, as being reported */
	struct {
		unsigned long long journal_write, journal_skipped, events_ungrouped;
	} drops; /* since the last flush */
	char events_state[PATH_MAX];
	unsigned long long events_batch;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void reply(struct h2_response *resp, int status, const char *msg)
{
	json_t *j = msg ? json_pack("{s:s}", "message", msg) : json_object();

	resp->status = status;
	resp->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	json_decref(j);
}

static enum nb_result take_metrics(struct nanobe *nb, const struct h2_request *req,
				   struct h2_response *resp)
{
	char err[256];
	size_t points = 0;
	json_t *body;
	int ret;

	if (nbstore_seen(nb->store, req->batch_id)) {
		reply(resp, 200, NULL); /* taken before; the answer was lost */
		return NB_DUPLICATE;
	}
	body = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
	if (!body) {
		reply(resp, 400, "the body is not JSON");
		return NB_REJECTED;
	}
	ret = metricagg_add(nb->agg, body, &points, err, sizeof(err));
	if (ret == -ENOSPC) {
		reply(resp, 503, err);
		json_decref(body);
		return NB_OVERLOADED;
	}
	if (ret) {
		reply(resp, ret == -EINVAL ? 400 : 500, ret == -EINVAL ? err : "out of memory");
		json_decref(body);
		return ret == -EINVAL ? NB_REJECTED : NB_OVERLOADED;
	}
	/* Made durable by sync_journal() before the answer leaves. */
	ret = nbstore_append_nosync(nb->store, req->batch_id, body);
	json_decref(body);
	if (ret) {
		nb->drops.journal_write++;
		fprintf(stderr, "kerno: cannot journal a batch (held in memory only): %s\n",
			strerror(-ret));
	}
	nb->points += points;
	reply(resp, 200, NULL);
	return NB_ACCEPTED;
}

/* Before the answers of a poll round go out: the batches they acknowledge are on disk. */
static void sync_journal(void *ctx)
{
	struct nanobe *nb = ctx;
	int ret = nbstore_sync(nb->store);

	if (ret) {
		nb->drops.journal_write++;
		fprintf(stderr,
			"kerno: cannot sync the journal (batches held in memory only): %s\n",
			strerror(-ret));
	}
}

static void handle(void *ctx, const struct h2_request *req, struct h2_response *resp)
{
	struct nanobe *nb = ctx;
	enum nb_result r;

	if (!cluster_auth_ok(req->authorization, nb->token)) {
		reply(resp, 401, "a valid bearer token is required");
		r = NB_UNAUTHORIZED;
	} else if (strcmp(req->path, "/v1/metrics")) {
		reply(resp, 404, "this Nanobe accepts /v1/metrics");
		r = NB_NOT_FOUND;
	} else if (strcmp(req->method, "POST")) {
		reply(resp, 405, "POST only");
		r = NB_REJECTED;
	} else if (req->too_big) {
		reply(resp, 413, "the body is larger than --max-body");
		r = NB_REJECTED;
	} else if (strncmp(req->content_type, "application/json", 16)) {
		reply(resp, 415, "OTLP/HTTP JSON only (application/json)");
		r = NB_REJECTED;
	} else {
		r = take_metrics(nb, req, resp);
	}
	nb->results[r]++;
}

/* The Nanobe's own resource: its counters, and the mark of this flush (nbstore.h). */
/* Kubernetes API work and Nanobe's own drops since the last flush, appended to metrics. */
static void self_counters(struct nanobe *nb, json_t *metrics, unsigned long long start,
			  unsigned long long end)
{
	static const char *const ops[] = { "list", "watch",	    "event", "bookmark",
					   "gone", "dropped_watch", "error" };
	static const char *const drops[] = { "journal_write", "journal_replay_skipped",
					     "k8s_events_ungrouped", "kube_objects" };
	unsigned long long opv[7] = {}, dropv[4];
	struct kube_stats ks = {};

	if (nb->kube) {
		kube_get_stats(nb->kube, &ks);
		opv[0] = ks.lists - nb->kube_last.lists;
		opv[1] = ks.watches - nb->kube_last.watches;
		opv[2] = ks.events - nb->kube_last.events;
		opv[3] = ks.bookmarks - nb->kube_last.bookmarks;
		opv[4] = ks.gone - nb->kube_last.gone;
		opv[5] = ks.dropped_watches - nb->kube_last.dropped_watches;
		opv[6] = ks.errors - nb->kube_last.errors;
		nb->kube_last_next = ks;
		json_array_append_new(metrics,
				      cluster_delta_sum("kerno.kube.operations", "{operation}",
							"operation", ops, opv, 7, start, end));
	}
	dropv[0] = nb->drops.journal_write;
	dropv[1] = nb->drops.journal_skipped;
	dropv[2] = nb->drops.events_ungrouped;
	dropv[3] = ks.dropped_objects - nb->kube_last.dropped_objects;
	json_array_append_new(metrics, cluster_delta_sum("kerno.nanobe.drops", "{event}", "reason",
							 drops, dropv, 4, start, end));
}

/* The Nanobe's own resource: its counters, and the mark of this flush (nbstore.h). */
static json_t *self_resource(struct nanobe *nb, unsigned long long flush, uint64_t end,
			     json_t *edges)
{
	unsigned long long start = end - nb->cfg->interval * 1000000000ULL;
	json_t *rm, *metrics = json_array();
	char mark[24];

	snprintf(mark, sizeof(mark), "%llu", flush);
	json_array_append_new(metrics,
			      cluster_delta_sum("kerno.nanobe.requests", "{request}", "result",
						result_names, nb->results, NB__COUNT, start, end));
	self_counters(nb, metrics, start, end);
	rm = json_pack("{s:{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s}}]}, "
		       "s:[{s:{s:s, s:s}, s:o}]}",
		       "resource", "attributes", "key", "service.name", "value", "stringValue",
		       "kerno-nanobe", "key", "host.name", "value", "stringValue",
		       nb->cfg->host_name, "key", NBSTORE_MARK_KEY, "value", "intValue", mark,
		       "scopeMetrics", "scope", "name", "kerno.nanobe", "version", KERNO_VERSION,
		       "metrics", metrics);
	if (rm && edges)
		json_array_append_new(json_object_get(rm, "scopeMetrics"),
				      json_pack("{s:{s:s}, s:o}", "scope", "name",
						"kerno.service_map", "metrics", edges));
	else
		json_decref(edges);
	return rm;
}

static int resolve_ip(void *ctx, const char *ip, char *ns, size_t ns_size, char *wl, size_t wl_size)
{
	struct nanobe *nb = ctx;
	int ret;

	if (!nb->kube)
		return -ENOENT;
	ret = kubecache_by_ip(kube_lock(nb->kube), ip, ns, ns_size, wl, wl_size);
	kube_unlock(nb->kube);
	return ret;
}

static void on_kube_change(void *ctx, struct kubecache *cache, enum kube_kind kind,
			   const char *type, json_t *obj)
{
	struct nanobe *nb = ctx;

	/* Called with the cache locked: the workload is resolved right away. */
	k8sevents_observe(nb->events, type, obj);
}

/* The event groups since the last flush as one k8s_events envelope. */
static int flush_events(struct nanobe *nb)
{
	unsigned long long dropped;
	json_t *data, *batch;
	int ret;

	if (!nb->kube)
		return 0;
	data = k8sevents_take(nb->events, kube_lock(nb->kube), &dropped);
	kube_unlock(nb->kube);
	nb->drops.events_ungrouped += dropped;
	if (dropped)
		fprintf(stderr,
			"kerno: %llu Kubernetes event occurrences not grouped (too many groups)\n",
			dropped);
	if (!data)
		return 0;
	/* The batch number first, so a restart can find this envelope (k8sevents.h). */
	batch = json_pack("{s:I}", "batch", (json_int_t)(nb->events_batch + 1));
	if (batch)
		json_object_update(batch, data);
	kube_lock(nb->kube);
	ret = batch ? k8sevents_save(nb->events, nb->events_state, batch, nb->events_batch + 1) :
		      -ENOMEM;
	kube_unlock(nb->kube);
	if (!ret)
		ret = uplink_send(nb->up, "k8s_events", batch);
	kube_lock(nb->kube);
	if (ret) {
		k8sevents_restore(nb->events, data);
	} else {
		nb->events_batch++;
		k8sevents_save(nb->events, nb->events_state, NULL, nb->events_batch);
	}
	kube_unlock(nb->kube);
	json_decref(batch);
	json_decref(data);
	return ret;
}

/*
 * Send on the windows closed before `until`: journal.next first, then the
 * envelope, then the journal switch (nbstore.h). Every flush writes an
 * envelope, with Nanobe's own counters at least.
 */
static int flush(struct nanobe *nb, uint64_t until)
{
	unsigned long long mark;
	json_t *req, *open;
	int empty, ret;

	req = metricagg_take(nb->agg, until, &empty);
	/* No window closed: the envelope still carries Nanobe's own counters. */
	if (!req && empty)
		req = json_pack("{s:[]}", "resourceMetrics");
	if (!req)
		return -ENOMEM;
	open = metricagg_snapshot(nb->agg);
	ret = nbstore_rotate(nb->store, open, &mark);
	json_decref(open);
	if (!ret) {
		json_t *edges = svcmap_build(req, resolve_ip, nb);

		json_array_append_new(json_object_get(req, "resourceMetrics"),
				      self_resource(nb, mark, clock_ns(CLOCK_REALTIME), edges));
		ret = uplink_send(nb->up, "metrics", req);
		if (ret) {
			json_t *rms = json_object_get(req, "resourceMetrics");

			json_array_remove(rms, json_array_size(rms) - 1); /* our own, not merged */
			nbstore_abort(nb->store);
		} else {
			ret = nbstore_commit(nb->store);
			memset(nb->results, 0, sizeof(nb->results));
			memset(&nb->drops, 0, sizeof(nb->drops));
			nb->kube_last = nb->kube_last_next;
		}
	}
	if (ret) /* what was taken is merged back to be sent next time */
		metricagg_add(nb->agg, req, NULL, (char[64]){ 0 }, 64);
	json_decref(req);
	return ret;
}

static int replay(void *ctx, json_t *req)
{
	struct nanobe *nb = ctx;
	char err[128];

	/* A journaled request was valid once; a smaller --max-merged-series may refuse it. */
	if (metricagg_add(nb->agg, req, NULL, err, sizeof(err)))
		fprintf(stderr, "kerno: a journaled batch could not be merged again: %s\n", err);
	return 0;
}

/* The whole cluster: every kind, events classified as they come. */
static int start_kube(struct nanobe *nb, char *err, size_t errlen)
{
	struct kube_opts ko = {
		.conf = &nb->kc,
		.kinds = (1u << KK__COUNT) - 1,
		.on_change = on_kube_change,
		.change_kinds = 1u << KK_EVENT,
		.ctx = nb,
		.verbose = nb->cfg->verbose,
	};
	char updir[PATH_MAX];
	int ret = kubeconf_load(nb->cfg->kube_api, nb->cfg->kubeconfig, &nb->kc, err, errlen);

	if (ret <= 0)
		return ret < 0 ? -EINVAL : 0;
	nb->events = k8sevents_new(0, 0);
	if (!nb->events)
		return -ENOMEM;
	snprintf(nb->events_state, sizeof(nb->events_state), "%s/nanobe/k8s-events.json",
		 nb->cfg->data_dir);
	snprintf(updir, sizeof(updir), "%s/uplink", nb->cfg->data_dir);
	ret = k8sevents_load(nb->events, nb->events_state, updir, &nb->events_batch);
	if (ret && ret != -ENOENT) {
		snprintf(err, errlen, "cannot read %.200s: %s", nb->events_state, strerror(-ret));
		return -EINVAL;
	}
	nb->kube = kube_start(&ko, err, errlen);
	if (!nb->kube)
		return -EINVAL;
	if (!kube_wait_synced(nb->kube, 5000))
		fprintf(stderr, "kerno: the Kubernetes API has not answered yet; going on\n");
	return 0;
}

static int setup(struct nanobe *nb, char *err, size_t errlen)
{
	const struct kerno_config *cfg = nb->cfg;
	char host[256], port[16], updir[PATH_MAX];
	struct h2server_opts o = { .handler = handle, .before_reply = sync_journal, .ctx = nb };
	int bound, ret;

	if (cluster_read_token(cfg->token_file, nb->token, sizeof(nb->token), err, errlen))
		return -EINVAL;
	if (!cfg->tls_cert || !cfg->tls_key) {
		snprintf(err, errlen, "--tls-cert and --tls-key are required (PEM files)");
		return -EINVAL;
	}
	if (cluster_split_addr(cfg->listen, host, sizeof(host), port, sizeof(port))) {
		snprintf(err, errlen, "--listen must be HOST:PORT (got %s)", cfg->listen);
		return -EINVAL;
	}
	nb->tls = tls_server_new(cfg->tls_cert, cfg->tls_key, err, errlen);
	if (!nb->tls)
		return -EINVAL;
	ret = uplink_open(cfg->data_dir, cfg->host_name, &nb->up);
	if (ret) {
		snprintf(err, errlen, "cannot write under %s: %s", cfg->data_dir, strerror(-ret));
		return -EINVAL;
	}
	if (strcmp(cfg->merge_by, "workload") && strcmp(cfg->merge_by, "pod")) {
		snprintf(err, errlen, "--merge-by must be workload or pod");
		return -EINVAL;
	}
	nb->agg = metricagg_new(cfg->interval * 1000000000ULL, cfg->max_merged_series,
				!strcmp(cfg->merge_by, "pod"));
	if (!nb->agg)
		return -ENOMEM;
	snprintf(updir, sizeof(updir), "%s/uplink", cfg->data_dir);
	ret = nbstore_open(cfg->data_dir, updir, replay, nb, &nb->store, err, errlen);
	if (ret)
		return ret;
	nb->drops.journal_skipped = nbstore_skipped(nb->store);
	ret = start_kube(nb, err, errlen);
	if (ret)
		return ret;
	nb->listen_fd = h2server_listen(host, port, &bound, err, errlen);
	if (nb->listen_fd < 0)
		return nb->listen_fd;
	o.listen_fd = nb->listen_fd;
	o.tls = nb->tls;
	o.max_body = cfg->max_body;
	nb->h2 = h2server_new(&o);
	if (!nb->h2)
		return -ENOMEM;
	fprintf(stderr, "kerno: nanobe listening on %s:%d, writing %s\n", host, bound,
		uplink_path(nb->up));
	return 0;
}

static void teardown(struct nanobe *nb)
{
	kube_stop(nb->kube);
	kubeconf_free(&nb->kc);
	k8sevents_free(nb->events);
	h2server_free(nb->h2);
	if (nb->listen_fd > 0)
		close(nb->listen_fd);
	nbstore_close(nb->store);
	metricagg_free(nb->agg);
	uplink_close(nb->up);
	tls_server_free(nb->tls);
}

static int loop(struct nanobe *nb)
{
	uint64_t w = nb->cfg->interval * 1000000000ULL, next = clock_ns(CLOCK_REALTIME) + w, t;
	uint64_t end = nb->cfg->duration ?
			       clock_ns(CLOCK_REALTIME) + nb->cfg->duration * 1000000000ULL :
			       0;
	int ret;

	while (!stop_signal && (!end || clock_ns(CLOCK_REALTIME) < end)) {
		ret = h2server_poll(nb->h2, POLL_MS);
		if (ret) {
			fprintf(stderr, "kerno: cannot poll: %s\n", strerror(-ret));
			return 1;
		}
		t = clock_ns(CLOCK_REALTIME);
		if (t < next)
			continue;
		next = t + w;
		/* Windows one interval past their end: Preons have sent them by then. */
		ret = flush(nb, t - w);
		if (!ret)
			ret = flush_events(nb);
		if (ret)
			fprintf(stderr, "kerno: cannot flush (kept for the next try): %s\n",
				strerror(-ret));
	}
	ret = flush(nb, UINT64_MAX);
	if (!ret)
		ret = flush_events(nb);
	if (ret)
		fprintf(stderr, "kerno: the last flush failed; the journal keeps it: %s\n",
			strerror(-ret));
	return ret ? 1 : 0;
}

int nanobe_run(const struct kerno_config *cfg)
{
	struct nanobe nb = { .cfg = cfg, .listen_fd = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512] = "";
	int ret, code;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ret = setup(&nb, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "kerno: %s\n", err[0] ? err : strerror(-ret));
		teardown(&nb);
		return ret == -EINVAL || ret == -EACCES || ret == -EADDRINUSE ? 2 : 1;
	}
	code = loop(&nb);
	teardown(&nb);
	return code;
}
