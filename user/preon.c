// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kerno preon: the agent loop (agent.c) with a cluster sink. Every envelope
 * the loop would write is first sealed into the spool, then the spool is
 * sent to Nanobe oldest first; a batch leaves the spool only when Nanobe
 * answered 2xx (or refused it for good with 400 or 413, which is counted).
 * Each batch carries its id, so a batch sent again after a lost answer is
 * recognised and not counted twice by Nanobe.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cgfilter.h"
#include "cluster.h"
#include "h2client.h"
#include "kube.h"
#include "preon.h"
#include "batch_spool.h"
#include "tls.h"
#include "uplink.h"

#define SEND_TIMEOUT_MS 5000

struct preon {
	const struct kerno_config *cfg;
	char token[CLUSTER_TOKEN_MAX + 1];
	char auth[CLUSTER_TOKEN_MAX + 16];
	struct tls_client *tls;
	struct h2client *h2;
	struct batch_spool *spool;
	struct uplink *local; /* hello only: the run's local record */
	struct cgfilter cg;
	bool filtering;
	struct kubeconf kc;
	struct kube *kube; /* NULL without the Kubernetes API */
	bool nanobe_down; /* to log a change of state once, not every interval */
	unsigned long long rejected;
	unsigned long long reported_rejected, reported_dropped; /* as in the last batch */
};

static bool keep_sample(void *ctx, const struct kerno_sample *s)
{
	struct preon *p = ctx;

	return !p->filtering || cgfilter_has(&p->cg, s->key.cgroup_id);
}

static void refresh(void *ctx)
{
	struct preon *p = ctx;

	if (p->filtering)
		cgfilter_refresh(&p->cg); /* on failure the previous set stays */
}

/* One batch to Nanobe: 1 delivered or refused for good, 0 not now. */
static int send_batch(struct preon *p, const struct spooled_batch *b)
{
	struct h2_header hdrs[] = {
		{ "authorization", p->auth },
		{ "content-type", "application/json" },
		{ CLUSTER_BATCH_HEADER, b->id },
	};
	char err[256];
	int status, ret;

	ret = h2client_post(p->h2, b->path, hdrs, 3, b->body, b->len, &status, NULL, err,
			    sizeof(err));
	if (ret) {
		if (!p->nanobe_down)
			fprintf(stderr, "kerno: Nanobe unreachable, spooling: %s\n", err);
		p->nanobe_down = true;
		return 0;
	}
	if (p->nanobe_down)
		fprintf(stderr, "kerno: Nanobe reachable again, sending the spool (%zu batches)\n",
			batch_spool_count(p->spool));
	p->nanobe_down = false;
	if (status >= 200 && status < 300)
		return 1;
	if (status == 400 || status == 413) {
		p->rejected++;
		fprintf(stderr, "kerno: Nanobe refused batch %s with %d: dropped\n", b->id, status);
		return 1;
	}
	if (status == 401 || status == 403)
		fprintf(stderr, "kerno: Nanobe refused the token (%d): check --token-file\n",
			status);
	return 0;
}

/* Send the spool oldest first until it is empty or Nanobe does not take more. */
static void deliver(struct preon *p)
{
	struct spooled_batch b;
	int ret;

	while (!(ret = batch_spool_peek(p->spool, &b))) {
		ret = send_batch(p, &b);
		if (ret)
			batch_spool_remove(p->spool, b.seq);
		batch_spool_batch_free(&b);
		if (!ret)
			return;
	}
	if (ret != -ENOENT)
		fprintf(stderr, "kerno: cannot read the spool: %s\n", strerror(-ret));
}

static void add_attr(json_t *attrs, const char *key, const char *value)
{
	if (value && *value)
		json_array_append_new(attrs, json_pack("{s:s, s:{s:s}}", "key", key, "value",
						       "stringValue", value));
}

static const char *attr_of(json_t *attrs, const char *key)
{
	json_t *kv;
	size_t i;

	json_array_foreach(attrs, i, kv)
	{
		if (!strcmp(json_string_value(json_object_get(kv, "key")) ?: "", key))
			return json_string_value(
				json_object_get(json_object_get(kv, "value"), "stringValue"));
	}
	return NULL;
}

/* k8s.* resource attributes for every process whose container is a known pod's. */
static void add_k8s_identity(struct preon *p, json_t *req)
{
	struct kubecache *cache;
	struct kube_identity id;
	json_t *rm, *attrs;
	size_t i;
	int k;

	if (!p->kube)
		return;
	cache = kube_lock(p->kube);
	json_array_foreach(json_object_get(req, "resourceMetrics"), i, rm)
	{
		const char *cid;

		attrs = json_object_get(json_object_get(rm, "resource"), "attributes");
		cid = attr_of(attrs, "container.id");
		if (!cid || kubecache_by_container(cache, cid, &id))
			continue;
		add_attr(attrs, "k8s.namespace.name", id.ns);
		add_attr(attrs, "k8s.pod.name", id.pod);
		add_attr(attrs, "k8s.pod.uid", id.pod_uid);
		add_attr(attrs, "k8s.container.name", id.container);
		add_attr(attrs, "k8s.node.name", id.node);
		for (k = 0; k < 4 && id.kinds[k] >= 0; k++)
			add_attr(attrs, kube_kinds[id.kinds[k]].attr, id.names[k]);
	}
	kube_unlock(p->kube);
}

/*
 * Preon's own losses since the previous batch, as one more resource of the
 * request: batches the spool dropped (full, or unreadable) and batches Nanobe
 * refused for good. The interval's bounds are those of the agent's resource.
 */
static void add_self(struct preon *p, json_t *req)
{
	static const char *const reasons[] = { "spool_dropped", "refused" };
	json_t *rms = json_object_get(req, "resourceMetrics"), *last, *dp, *metric;
	unsigned long long v[2], start = 0, end = 0;

	last = json_array_get(rms, json_array_size(rms) - 1);
	dp = json_array_get(
		json_object_get(
			json_object_get(
				json_array_get(
					json_object_get(
						json_array_get(
							json_object_get(last, "scopeMetrics"), 0),
						"metrics"),
					0),
				"sum"),
			"dataPoints"),
		0);
	sscanf(json_string_value(json_object_get(dp, "startTimeUnixNano")) ?: "0", "%llu", &start);
	sscanf(json_string_value(json_object_get(dp, "timeUnixNano")) ?: "0", "%llu", &end);
	v[0] = batch_spool_dropped(p->spool) - p->reported_dropped;
	v[1] = p->rejected - p->reported_rejected;
	p->reported_dropped += v[0];
	p->reported_rejected += v[1];
	metric = cluster_delta_sum("kerno.preon.batch_drops", "{batch}", "reason", reasons, v, 2,
				   start, end);
	json_array_append_new(rms, json_pack("{s:{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}]}, "
					     "s:[{s:{s:s, s:s}, s:[o]}]}",
					     "resource", "attributes", "key", "service.name",
					     "value", "stringValue", "kerno-preon", "key",
					     "host.name", "value", "stringValue", p->cfg->host_name,
					     "scopeMetrics", "scope", "name", "kerno.preon",
					     "version", KERNO_VERSION, "metrics", metric));
}

static int emit(void *ctx, const char *type, json_t *data)
{
	struct preon *p = ctx;
	char *body;
	int ret;

	/* Nanobe takes metrics only, so far: the rest stays in the local uplink. */
	if (strcmp(type, "metrics"))
		return uplink_send(p->local, type, data);
	add_k8s_identity(p, data);
	add_self(p, data);
	body = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	if (!body)
		return -ENOMEM;
	ret = batch_spool_put(p->spool, "/v1/metrics", body, strlen(body));
	free(body);
	if (ret)
		fprintf(stderr, "kerno: cannot spool a batch: %s\n", strerror(-ret));
	deliver(p);
	return 0; /* a full disk costs this interval, not the run */
}

/* This node's pods and the owners their chains go through. */
static int start_kube(struct preon *p, char *err, size_t errlen)
{
	struct kube_opts ko = {
		.conf = &p->kc,
		.kinds = 1u << KK_POD | 1u << KK_REPLICASET | 1u << KK_JOB,
		.node_name = p->cfg->host_name,
		.verbose = p->cfg->verbose,
	};
	int ret = kubeconf_load(p->cfg->kube_api, p->cfg->kubeconfig, &p->kc, err, errlen);

	if (ret <= 0)
		return ret < 0 ? -EINVAL : 0;
	p->kube = kube_start(&ko, err, errlen);
	if (!p->kube)
		return -EINVAL;
	/* The first interval already names pods when the API answers quickly. */
	if (!kube_wait_synced(p->kube, 5000))
		fprintf(stderr, "kerno: the Kubernetes API has not answered yet; going on\n");
	return 0;
}

static int setup(struct preon *p, char *err, size_t errlen)
{
	const struct kerno_config *cfg = p->cfg;
	const char *const alpn[] = { "h2", NULL };
	struct tls_client_opts to = { .ca_file = cfg->ca_file, .alpn = alpn };
	char host[256], port[16], path[PATH_MAX], keypath[PATH_MAX];
	struct seal_key key;
	int ret;

	if (cluster_split_addr(cfg->nanobe, host, sizeof(host), port, sizeof(port))) {
		snprintf(err, errlen, "--nanobe must be HOST:PORT (got %s)",
			 cfg->nanobe ? cfg->nanobe : "nothing");
		return -EINVAL;
	}
	if (cluster_read_token(cfg->token_file, p->token, sizeof(p->token), err, errlen))
		return -EINVAL;
	snprintf(p->auth, sizeof(p->auth), "Bearer %s", p->token);
	if (cfg->cgroup && *cfg->cgroup) {
		if (cgfilter_init(&p->cg, cfg->cgroup, err, errlen))
			return -EINVAL;
		p->filtering = true;
	}
	p->tls = tls_client_new(&to, err, errlen);
	if (!p->tls)
		return -EINVAL;
	p->h2 = h2client_new(p->tls, host, port, SEND_TIMEOUT_MS);
	if (!p->h2)
		return -ENOMEM;
	ret = start_kube(p, err, errlen);
	if (ret)
		return ret;
	ret = uplink_open(cfg->data_dir, cfg->host_name, &p->local);
	if (ret) {
		snprintf(err, errlen, "cannot write under %s: %s", cfg->data_dir, strerror(-ret));
		return -EINVAL;
	}
	if (cfg->preon_spool_key && *cfg->preon_spool_key)
		snprintf(keypath, sizeof(keypath), "%s", cfg->preon_spool_key);
	else
		snprintf(keypath, sizeof(keypath), "%s/preon-spool.key", cfg->data_dir);
	if (seal_key_load(keypath, &key, err, errlen))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/preon-spool", cfg->data_dir);
	if (batch_spool_open(path, &key, cfg->preon_spool_max_bytes, &p->spool, err, errlen))
		return -EINVAL;
	return 0;
}

static void teardown(struct preon *p)
{
	if (p->spool && batch_spool_dropped(p->spool))
		fprintf(stderr, "kerno: %llu spooled batches dropped (spool full or corrupt)\n",
			batch_spool_dropped(p->spool));
	batch_spool_close(p->spool);
	uplink_close(p->local);
	kube_stop(p->kube);
	kubeconf_free(&p->kc);
	h2client_free(p->h2);
	tls_client_free(p->tls);
	if (p->filtering)
		cgfilter_free(&p->cg);
}

int preon_run(const struct kerno_config *cfg)
{
	struct preon p = { .cfg = cfg };
	struct agent_ops ops = { .keep = keep_sample, .refresh = refresh, .emit = emit, .ctx = &p };
	char err[512] = "";
	int code;

	/* A write to a Nanobe that went away must fail, not kill the agent. */
	signal(SIGPIPE, SIG_IGN);
	if (setup(&p, err, sizeof(err))) {
		fprintf(stderr, "kerno: %s\n", err);
		teardown(&p);
		return 2;
	}
	code = agent_run_ops(cfg, &ops);
	teardown(&p);
	return code;
}
