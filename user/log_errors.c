// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Error groups from logs: see log_errors.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log_errors.h"

struct group {
	uint64_t fp;
	uint64_t src_hash;
	enum log_severity sev;
	unsigned long long pending, ready;
	uint64_t first_ns, last_ns;
	char *ns, *pod, *container, *container_id, *path;
	bool used;
};

struct log_errors {
	pthread_mutex_t lock;
	struct group *g;
	unsigned int cap; /* a power of two, twice max */
	unsigned int max, used;
	unsigned long long untracked;
};

static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL;
}

struct log_errors *log_errors_new(unsigned int max)
{
	struct log_errors *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->max = max ? max : 1;
	for (e->cap = 16; e->cap < 2 * e->max; e->cap <<= 1)
		;
	e->g = calloc(e->cap, sizeof(*e->g));
	if (!e->g) {
		free(e);
		return NULL;
	}
	pthread_mutex_init(&e->lock, NULL);
	return e;
}

static void clear(struct group *g)
{
	free(g->ns);
	free(g->pod);
	free(g->container);
	free(g->container_id);
	free(g->path);
	memset(g, 0, sizeof(*g));
}

void log_errors_free(struct log_errors *e)
{
	unsigned int i;

	if (!e)
		return;
	for (i = 0; i < e->cap; i++)
		clear(&e->g[i]);
	free(e->g);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct group *find(struct log_errors *e, uint64_t fp, uint64_t src_hash, bool *found)
{
	unsigned int i = (unsigned int)((fp ^ src_hash) & (e->cap - 1));

	for (;; i = (i + 1) & (e->cap - 1)) {
		struct group *g = &e->g[i];

		if (!g->used) {
			*found = false;
			return g;
		}
		if (g->fp == fp && g->src_hash == src_hash) {
			*found = true;
			return g;
		}
	}
}

void log_errors_add(struct log_errors *e, uint64_t fp, enum log_severity sev,
		    const struct log_error_source *src, uint64_t time_ns)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	struct group *g;
	bool found;

	h = hash_str(h, src->k8s_namespace);
	h = hash_str(h, src->k8s_pod);
	h = hash_str(h, src->k8s_container);
	h = hash_str(h, src->container_id);
	h = hash_str(h, src->path);
	pthread_mutex_lock(&e->lock);
	g = find(e, fp, h, &found);
	if (!found) {
		if (e->used >= e->max) {
			e->untracked++;
			goto out;
		}
		g->used = true;
		g->fp = fp;
		g->src_hash = h;
		g->first_ns = time_ns;
		g->ns = dup_or_null(src->k8s_namespace);
		g->pod = dup_or_null(src->k8s_pod);
		g->container = dup_or_null(src->k8s_container);
		g->container_id = dup_or_null(src->container_id);
		g->path = dup_or_null(src->path);
		e->used++;
	}
	if (sev > g->sev)
		g->sev = sev;
	g->pending++;
	if (time_ns > g->last_ns)
		g->last_ns = time_ns;
	if (time_ns < g->first_ns)
		g->first_ns = time_ns;
out:
	pthread_mutex_unlock(&e->lock);
}

void log_errors_commit(struct log_errors *e)
{
	unsigned int i;

	pthread_mutex_lock(&e->lock);
	for (i = 0; i < e->cap; i++) {
		e->g[i].ready += e->g[i].pending;
		e->g[i].pending = 0;
	}
	pthread_mutex_unlock(&e->lock);
}

static void rfc3339(uint64_t ns, char *out, size_t size)
{
	time_t t = (time_t)(ns / 1000000000ULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned long long)(ns % 1000000000ULL));
}

static json_t *group_json(const struct group *g)
{
	char fp[20], first[96], last[96];
	json_t *attrs = json_object();

	snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)g->fp);
	rfc3339(g->first_ns, first, sizeof(first));
	rfc3339(g->last_ns, last, sizeof(last));
	if (!attrs)
		return NULL;
	if (g->ns)
		json_object_set_new(attrs, "k8s.namespace.name", json_string(g->ns));
	if (g->pod)
		json_object_set_new(attrs, "k8s.pod.name", json_string(g->pod));
	if (g->container)
		json_object_set_new(attrs, "k8s.container.name", json_string(g->container));
	if (g->container_id)
		json_object_set_new(attrs, "container.id", json_string(g->container_id));
	if (g->path)
		json_object_set_new(attrs, "log.file.path", json_string(g->path));
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o}", "source", "logs", "fingerprint", fp,
			 "severity", log_severity_text(g->sev), "count", (json_int_t)g->ready,
			 "first_seen", first, "last_seen", last, "attributes", attrs);
}

/* Groups with nothing pending leave the table; open addressing needs a rebuild. */
static void compact(struct log_errors *e)
{
	struct group *old = e->g, *fresh;
	unsigned int i;
	bool found;

	if (!e->cap)
		return;
	fresh = calloc(e->cap, sizeof(*fresh));
	if (!fresh)
		return; /* they stay: the table is bounded anyway */
	e->g = fresh;
	e->used = 0;
	for (i = 0; i < e->cap; i++) {
		if (old[i].used && old[i].pending) {
			*find(e, old[i].fp, old[i].src_hash, &found) = old[i];
			e->used++;
		} else if (old[i].used) {
			clear(&old[i]);
		}
	}
	free(old);
}

json_t *log_errors_take(struct log_errors *e)
{
	json_t *arr = json_array(), *j;
	unsigned int i;

	if (!arr)
		return NULL;
	pthread_mutex_lock(&e->lock);
	for (i = 0; i < e->cap; i++) {
		struct group *g = &e->g[i];

		if (!g->used || !g->ready)
			continue;
		j = group_json(g);
		if (!j || json_array_append_new(arr, j)) {
			json_decref(arr);
			arr = NULL;
			break;
		}
		g->ready = 0;
	}
	if (arr)
		compact(e);
	pthread_mutex_unlock(&e->lock);
	return arr;
}

unsigned long long log_errors_untracked(struct log_errors *e)
{
	unsigned long long n;

	pthread_mutex_lock(&e->lock);
	n = e->untracked;
	pthread_mutex_unlock(&e->lock);
	return n;
}
