// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* List and watch, one thread per kind, into the cache: see kube.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube.h"
#include "kubehttp.h"
#include "kubewatch.h"
#include "tls.h"

#define LIST_LIMIT 500
#define MAX_LIST_BYTES (256 << 20)
#define MAX_EVENT_BYTES (16 << 20)
#define BACKOFF_MS 1000

struct kube;

struct follower {
	struct kube *k;
	enum kube_kind kind;
	pthread_t thread;
	bool started;
	char rv[32]; /* "" : list first */
	bool relist; /* set by a 410 inside a watch */
};

struct kube {
	struct kube_opts o;
	struct tls_client *tls;
	pthread_mutex_t lock;
	pthread_cond_t synced_cond;
	struct kubecache cache;
	struct kube_stats stats;
	volatile int stop;
	struct follower f[KK__COUNT];
};

static void sleep_ms(struct kube *k, int ms)
{
	while (ms > 0 && !k->stop) {
		usleep(100 * 1000);
		ms -= 100;
	}
}

/* The path of a list or watch of kind, with its query. */
static void make_path(struct follower *f, bool watch, const char *cont, char *out, size_t size)
{
	const struct kube_opts *o = &f->k->o;
	int n;

	n = snprintf(out, size, "%s?", kube_kinds[f->kind].path);
	if (f->kind == KK_POD && o->node_name)
		n += snprintf(out + n, size - n, "fieldSelector=spec.nodeName%%3D%s&",
			      o->node_name);
	if (watch)
		snprintf(out + n, size - n,
			 "watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d",
			 f->rv, o->watch_timeout_s);
	else
		snprintf(out + n, size - n, "limit=%d%s%s", LIST_LIMIT,
			 cont && *cont ? "&continue=" : "", cont && *cont ? cont : "");
}

static void notify(struct kube *k, enum kube_kind kind, const char *type, json_t *obj)
{
	if (k->o.on_change && (k->o.change_kinds & (1u << kind)))
		k->o.on_change(k->o.ctx, &k->cache, kind, type, obj);
}

/* One object from a watch or a list into the cache; events for what changed. Lock held. */
static void apply(struct kube *k, enum kube_kind kind, const char *type, json_t *obj)
{
	struct kobj *o = kobj_parse(kind, obj);
	bool was_new, changed;

	if (!o)
		return;
	if (!strcmp(type, "DELETED")) {
		if (!kubecache_del(&k->cache, kind, o->ns, o->name))
			notify(k, kind, "DELETED", obj);
		kobj_free(o);
		return;
	}
	if (kubecache_put(&k->cache, kind, o, &was_new, &changed))
		return;
	if (was_new || changed)
		notify(k, kind, was_new ? "ADDED" : "MODIFIED", obj);
}

struct list_buf {
	char *data;
	size_t len, cap;
};

static int collect(void *ctx, const char *data, size_t len)
{
	struct list_buf *b = ctx;

	if (b->len + len > MAX_LIST_BYTES)
		return -E2BIG;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *d;

		while (cap < b->len + len)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

/* One page of a list: objects appended to *items, the continue token and rv out. */
static int list_page(struct follower *f, const char *cont, json_t *items, char *next,
		     size_t next_size, char *rv, char *err, size_t errlen)
{
	struct list_buf b = {};
	char path[1024];
	json_t *page, *meta;
	int status, ret;

	make_path(f, false, cont, path, sizeof(path));
	ret = kubehttp_get(f->k->tls, f->k->o.conf, path, 30000, &status, collect, &b, &f->k->stop,
			   err, errlen);
	if (!ret && status != 200) {
		snprintf(err, errlen, "GET %.200s: HTTP %d", path, status);
		ret = status == 410 ? -ESTALE : -EIO;
	}
	page = ret ? NULL : json_loadb(b.data, b.len, 0, NULL);
	free(b.data);
	if (ret)
		return ret;
	if (!json_is_array(json_object_get(page, "items"))) {
		snprintf(err, errlen, "GET %.200s: not a list", path);
		json_decref(page);
		return -EBADMSG;
	}
	json_array_extend(items, json_object_get(page, "items"));
	meta = json_object_get(page, "metadata");
	snprintf(next, next_size, "%s", json_string_value(json_object_get(meta, "continue")) ?: "");
	snprintf(rv, 32, "%s", json_string_value(json_object_get(meta, "resourceVersion")) ?: "");
	json_decref(page);
	return 0;
}

/* The whole list, then the cache made equal to it (the difference as events). */
static int list_all(struct follower *f, char *err, size_t errlen)
{
	struct kube *k = f->k;
	char cont[4096] = "", rv[32] = "";
	json_t *items = json_array(), *obj;
	struct kubecache_kind *kk = &k->cache.k[f->kind];
	size_t i, j;
	int ret;

	do {
		ret = list_page(f, cont, items, cont, sizeof(cont), rv, err, errlen);
	} while (!ret && cont[0] && !k->stop);
	if (ret) {
		json_decref(items);
		return ret;
	}
	pthread_mutex_lock(&k->lock);
	/* Gone from the list: deleted while we were not watching. */
	for (i = kk->n; i-- > 0;) {
		bool found = false;

		json_array_foreach(items, j, obj)
		{
			json_t *meta = json_object_get(obj, "metadata");
			const char *ns = json_string_value(json_object_get(meta, "namespace")) ?:
												 "";
			const char *name = json_string_value(json_object_get(meta, "name")) ?: "";

			if (!strcmp(ns, kk->v[i]->ns) && !strcmp(name, kk->v[i]->name)) {
				found = true;
				break;
			}
		}
		if (!found) {
			json_t *gone = json_pack("{s:{s:s, s:s, s:s}}", "metadata", "namespace",
						 kk->v[i]->ns, "name", kk->v[i]->name, "uid",
						 kk->v[i]->uid);

			notify(k, f->kind, "DELETED", gone);
			json_decref(gone);
			kobj_free(kk->v[i]);
			kk->v[i] = kk->v[--kk->n];
		}
	}
	json_array_foreach(items, j, obj)
	{
		apply(k, f->kind, "ADDED", obj);
	}
	snprintf(kk->rv, sizeof(kk->rv), "%s", rv);
	kk->synced = true;
	k->stats.lists++;
	pthread_cond_broadcast(&k->synced_cond);
	pthread_mutex_unlock(&k->lock);
	snprintf(f->rv, sizeof(f->rv), "%s", rv);
	json_decref(items);
	return 0;
}

static void set_rv(struct follower *f, json_t *obj)
{
	const char *rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

	if (rv && *rv) {
		snprintf(f->rv, sizeof(f->rv), "%s", rv);
		snprintf(f->k->cache.k[f->kind].rv, sizeof(f->rv), "%s", rv);
	}
}

static int on_watch_event(void *ctx, const char *type, json_t *obj)
{
	struct follower *f = ctx;
	struct kube *k = f->k;

	pthread_mutex_lock(&k->lock);
	if (!strcmp(type, "ERROR")) {
		if (kubewatch_status_code(obj) == 410) {
			k->stats.gone++;
			f->relist = true;
		} else {
			k->stats.errors++;
		}
		pthread_mutex_unlock(&k->lock);
		return -EAGAIN; /* the server ends the watch after an ERROR */
	}
	if (!strcmp(type, "BOOKMARK")) {
		k->stats.bookmarks++;
	} else {
		k->stats.events++;
		apply(k, f->kind, type, obj);
	}
	set_rv(f, obj);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

struct watch_ctx {
	struct follower *f;
	struct kubewatch w;
	int status_seen;
};

static int watch_body(void *ctx, const char *data, size_t len)
{
	struct watch_ctx *wc = ctx;

	return kubewatch_feed(&wc->w, data, len, on_watch_event, wc->f);
}

/* One watch from f->rv until the server ends it. */
static int watch_once(struct follower *f, char *err, size_t errlen)
{
	struct watch_ctx wc = { .f = f };
	char path[1024];
	int status, ret;

	kubewatch_init(&wc.w, MAX_EVENT_BYTES);
	make_path(f, true, NULL, path, sizeof(path));
	pthread_mutex_lock(&f->k->lock);
	f->k->stats.watches++;
	pthread_mutex_unlock(&f->k->lock);
	ret = kubehttp_get(f->k->tls, f->k->o.conf, path, (f->k->o.watch_timeout_s + 30) * 1000,
			   &status, watch_body, &wc, &f->k->stop, err, errlen);
	kubewatch_free(&wc.w);
	if (status == 410) {
		f->k->stats.gone++;
		f->relist = true;
		return 0;
	}
	if (ret == -EAGAIN)
		return 0;
	if (!ret && status != 200) {
		snprintf(err, errlen, "GET %.200s: HTTP %d", path, status);
		return -EIO;
	}
	return ret;
}

static void *follow(void *arg)
{
	struct follower *f = arg;
	struct kube *k = f->k;
	char err[512];
	int ret;

	while (!k->stop) {
		err[0] = '\0';
		if (!f->rv[0] || f->relist) {
			f->relist = false;
			f->rv[0] = '\0';
			ret = list_all(f, err, sizeof(err));
		} else {
			ret = watch_once(f, err, sizeof(err));
			if (ret == -ECONNRESET) { /* a dropped watch: resume from the last rv */
				pthread_mutex_lock(&k->lock);
				k->stats.dropped_watches++;
				pthread_mutex_unlock(&k->lock);
				ret = 0;
			}
		}
		if (ret && !k->stop) {
			if (k->o.verbose)
				fprintf(stderr, "kerno: kubernetes %s: %s\n",
					kube_kinds[f->kind].kind, err);
			pthread_mutex_lock(&k->lock);
			k->stats.errors++;
			pthread_mutex_unlock(&k->lock);
			sleep_ms(k, BACKOFF_MS);
		}
	}
	return NULL;
}

struct kube *kube_start(const struct kube_opts *o, char *err, size_t errlen)
{
	const char *const alpn[] = { "http/1.1", NULL };
	struct tls_client_opts to = { .ca_file = o->conf->ca_file, .alpn = alpn };
	struct kube *k = calloc(1, sizeof(*k));
	int i;

	if (!k)
		return NULL;
	k->o = *o;
	if (k->o.watch_timeout_s <= 0)
		k->o.watch_timeout_s = 300;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->synced_cond, NULL);
	kubecache_init(&k->cache, o->max_objects);
	k->tls = tls_client_new(&to, err, errlen);
	if (!k->tls) {
		kube_stop(k);
		return NULL;
	}
	for (i = 0; i < KK__COUNT; i++) {
		if (!(o->kinds & (1u << i)))
			continue;
		k->f[i].k = k;
		k->f[i].kind = i;
		if (pthread_create(&k->f[i].thread, NULL, follow, &k->f[i])) {
			snprintf(err, errlen, "cannot start a thread for the Kubernetes API");
			kube_stop(k);
			return NULL;
		}
		k->f[i].started = true;
	}
	return k;
}

void kube_stop(struct kube *k)
{
	int i;

	if (!k)
		return;
	k->stop = 1;
	for (i = 0; i < KK__COUNT; i++)
		if (k->f[i].started)
			pthread_join(k->f[i].thread, NULL);
	kubecache_free(&k->cache);
	tls_client_free(k->tls);
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->synced_cond);
	free(k);
}

static bool all_synced(struct kube *k)
{
	int i;

	for (i = 0; i < KK__COUNT; i++)
		if ((k->o.kinds & (1u << i)) && !k->cache.k[i].synced)
			return false;
	return true;
}

bool kube_wait_synced(struct kube *k, int timeout_ms)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&k->lock);
	while (!all_synced(k))
		if (pthread_cond_timedwait(&k->synced_cond, &k->lock, &ts))
			break;
	ok = all_synced(k);
	pthread_mutex_unlock(&k->lock);
	return ok;
}

struct kubecache *kube_lock(struct kube *k)
{
	pthread_mutex_lock(&k->lock);
	return &k->cache;
}

void kube_unlock(struct kube *k)
{
	pthread_mutex_unlock(&k->lock);
}

void kube_get_stats(struct kube *k, struct kube_stats *out)
{
	pthread_mutex_lock(&k->lock);
	*out = k->stats;
	out->dropped_objects = k->cache.dropped;
	pthread_mutex_unlock(&k->lock);
}
