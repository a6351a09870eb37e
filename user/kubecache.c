// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kubernetes objects kept by Kerno and their owner chains: see kubecache.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kubecache.h"

#define MAX_CHAIN 4

const struct kube_kind_info kube_kinds[KK__COUNT] = {
	[KK_POD] = { "Pod", "/api/v1/pods", NULL },
	[KK_REPLICASET] = { "ReplicaSet", "/apis/apps/v1/replicasets", "k8s.replicaset.name" },
	[KK_DEPLOYMENT] = { "Deployment", "/apis/apps/v1/deployments", "k8s.deployment.name" },
	[KK_STATEFULSET] = { "StatefulSet", "/apis/apps/v1/statefulsets", "k8s.statefulset.name" },
	[KK_DAEMONSET] = { "DaemonSet", "/apis/apps/v1/daemonsets", "k8s.daemonset.name" },
	[KK_JOB] = { "Job", "/apis/batch/v1/jobs", "k8s.job.name" },
	[KK_CRONJOB] = { "CronJob", "/apis/batch/v1/cronjobs", "k8s.cronjob.name" },
	[KK_SERVICE] = { "Service", "/api/v1/services", NULL },
	[KK_NODE] = { "Node", "/api/v1/nodes", NULL },
	[KK_NAMESPACE] = { "Namespace", "/api/v1/namespaces", NULL },
	[KK_EVENT] = { "Event", "/api/v1/events", NULL },
};

int kube_kind_of(const char *kind)
{
	int i;

	for (i = 0; kind && i < KK__COUNT; i++)
		if (!strcmp(kube_kinds[i].kind, kind))
			return i;
	return -1;
}

void kubecache_init(struct kubecache *c, size_t max_objects)
{
	memset(c, 0, sizeof(*c));
	c->max_objects = max_objects ? max_objects : 100000;
}

void kobj_free(struct kobj *o)
{
	if (!o)
		return;
	free(o->ctrs);
	free(o);
}

void kubecache_free(struct kubecache *c)
{
	size_t k, i;

	for (k = 0; k < KK__COUNT; k++) {
		for (i = 0; i < c->k[k].n; i++)
			kobj_free(c->k[k].v[i]);
		free(c->k[k].v);
	}
	memset(c, 0, sizeof(*c));
}

static void copy_str(char *dst, size_t size, json_t *v)
{
	const char *s = json_string_value(v);

	snprintf(dst, size, "%s", s ? s : "");
}

/* A container id without its "containerd://" (or other runtime) prefix, if 64 hex digits. */
static void container_id(char *dst, json_t *v)
{
	const char *s = json_string_value(v), *p;
	size_t i;

	dst[0] = '\0';
	if (!s)
		return;
	p = strstr(s, "://");
	p = p ? p + 3 : s;
	for (i = 0; p[i]; i++)
		if (!isxdigit((unsigned char)p[i]))
			return;
	if (i == KUBE_CID_LEN)
		memcpy(dst, p, KUBE_CID_LEN + 1);
}

static int parse_containers(struct kobj *o, json_t *status)
{
	static const char *const lists[] = { "containerStatuses", "initContainerStatuses",
					     "ephemeralContainerStatuses" };
	size_t l, i, n = 0;
	json_t *cs;

	for (l = 0; l < 3; l++)
		n += json_array_size(json_object_get(status, lists[l]));
	if (!n)
		return 0;
	o->ctrs = calloc(n, sizeof(*o->ctrs));
	if (!o->ctrs)
		return -ENOMEM;
	for (l = 0; l < 3; l++) {
		json_array_foreach(json_object_get(status, lists[l]), i, cs)
		{
			struct kube_container *c = &o->ctrs[o->n_ctrs];

			copy_str(c->name, sizeof(c->name), json_object_get(cs, "name"));
			container_id(c->id, json_object_get(cs, "containerID"));
			if (c->name[0])
				o->n_ctrs++;
		}
	}
	return 0;
}

static void parse_owner(struct kobj *o, json_t *meta)
{
	json_t *ref;
	size_t i;

	o->owner_kind = -1;
	json_array_foreach(json_object_get(meta, "ownerReferences"), i, ref)
	{
		if (!json_is_true(json_object_get(ref, "controller")))
			continue;
		o->owner_kind = kube_kind_of(json_string_value(json_object_get(ref, "kind")));
		copy_str(o->owner, sizeof(o->owner), json_object_get(ref, "name"));
		if (o->owner_kind < 0 || !o->owner[0])
			o->owner_kind = -1;
		return;
	}
}

struct kobj *kobj_parse(enum kube_kind kind, json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata"), *spec = json_object_get(obj, "spec");
	json_t *status = json_object_get(obj, "status");
	struct kobj *o;

	if (!json_is_object(meta) || !json_is_string(json_object_get(meta, "name")))
		return NULL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	copy_str(o->ns, sizeof(o->ns), json_object_get(meta, "namespace"));
	copy_str(o->name, sizeof(o->name), json_object_get(meta, "name"));
	copy_str(o->uid, sizeof(o->uid), json_object_get(meta, "uid"));
	copy_str(o->rv, sizeof(o->rv), json_object_get(meta, "resourceVersion"));
	parse_owner(o, meta);
	if (kind == KK_POD) {
		copy_str(o->node, sizeof(o->node), json_object_get(spec, "nodeName"));
		if (!json_is_true(json_object_get(spec, "hostNetwork")))
			copy_str(o->ip, sizeof(o->ip), json_object_get(status, "podIP"));
		if (parse_containers(o, status)) {
			kobj_free(o);
			return NULL;
		}
	} else if (kind == KK_SERVICE) {
		copy_str(o->ip, sizeof(o->ip), json_object_get(spec, "clusterIP"));
		if (!strcmp(o->ip, "None"))
			o->ip[0] = '\0';
	}
	return o;
}

static size_t find(const struct kubecache_kind *k, const char *ns, const char *name)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (!strcmp(k->v[i]->name, name) && !strcmp(k->v[i]->ns, ns))
			return i;
	return (size_t)-1;
}

struct kobj *kubecache_get(struct kubecache *c, enum kube_kind kind, const char *ns,
			   const char *name)
{
	size_t i = find(&c->k[kind], ns ? ns : "", name);

	return i == (size_t)-1 ? NULL : c->k[kind].v[i];
}

int kubecache_put(struct kubecache *c, enum kube_kind kind, struct kobj *o, bool *was_new,
		  bool *changed)
{
	struct kubecache_kind *k = &c->k[kind];
	size_t i = find(k, o->ns, o->name);

	*was_new = i == (size_t)-1;
	*changed = true;
	if (!*was_new) {
		*changed = strcmp(k->v[i]->rv, o->rv) != 0;
		kobj_free(k->v[i]);
		k->v[i] = o;
		return 0;
	}
	if (k->n == c->max_objects) {
		c->dropped++;
		kobj_free(o);
		return -ENOSPC;
	}
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 64;
		struct kobj **v = realloc(k->v, cap * sizeof(*v));

		if (!v) {
			kobj_free(o);
			return -ENOMEM;
		}
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = o;
	return 0;
}

int kubecache_del(struct kubecache *c, enum kube_kind kind, const char *ns, const char *name)
{
	struct kubecache_kind *k = &c->k[kind];
	size_t i = find(k, ns, name);

	if (i == (size_t)-1)
		return -ENOENT;
	kobj_free(k->v[i]);
	k->v[i] = k->v[--k->n];
	return 0;
}

/* Owners of (kind, ns, name), nearest first, into kinds/names; -1 ends the list. */
static void chain(struct kubecache *c, int kind, const char *ns, const char *name,
		  int kinds[MAX_CHAIN], char names[MAX_CHAIN][KUBE_NAME_LEN])
{
	struct kobj *o = kind >= 0 ? kubecache_get(c, kind, ns, name) : NULL;
	int n = 0;

	while (o && o->owner_kind >= 0 && n < MAX_CHAIN) {
		kinds[n] = o->owner_kind;
		snprintf(names[n], KUBE_NAME_LEN, "%s", o->owner);
		n++;
		/* A ReplicaSet or Job not (yet) cached still names its owner: stop there. */
		o = kubecache_get(c, o->owner_kind, ns, o->owner);
	}
	if (n < MAX_CHAIN)
		kinds[n] = -1;
}

static void lower_kind(int kind, char *out, size_t size)
{
	size_t i;

	for (i = 0; kube_kinds[kind].kind[i] && i + 1 < size; i++)
		out[i] = (char)tolower((unsigned char)kube_kinds[kind].kind[i]);
	out[i] = '\0';
}

void kubecache_workload(struct kubecache *c, int kind, const char *ns, const char *name, char *wl,
			size_t wl_size)
{
	char names[MAX_CHAIN][KUBE_NAME_LEN], k[32];
	int kinds[MAX_CHAIN], n = 0;

	chain(c, kind, ns, name, kinds, names);
	while (n < MAX_CHAIN && kinds[n] >= 0)
		n++;
	if (n) {
		lower_kind(kinds[n - 1], k, sizeof(k));
		snprintf(wl, wl_size, "%s/%s", k, names[n - 1]);
	} else {
		lower_kind(kind >= 0 ? kind : KK_POD, k, sizeof(k));
		snprintf(wl, wl_size, "%s/%s", k, name);
	}
}

int kubecache_by_container(struct kubecache *c, const char *cid, struct kube_identity *out)
{
	struct kubecache_kind *k = &c->k[KK_POD];
	size_t i, j;

	for (i = 0; i < k->n; i++) {
		struct kobj *p = k->v[i];

		for (j = 0; j < p->n_ctrs; j++) {
			if (strcmp(p->ctrs[j].id, cid))
				continue;
			memset(out, 0, sizeof(*out));
			snprintf(out->ns, sizeof(out->ns), "%s", p->ns);
			snprintf(out->pod, sizeof(out->pod), "%s", p->name);
			snprintf(out->pod_uid, sizeof(out->pod_uid), "%s", p->uid);
			snprintf(out->container, sizeof(out->container), "%s", p->ctrs[j].name);
			snprintf(out->node, sizeof(out->node), "%s", p->node);
			chain(c, KK_POD, p->ns, p->name, out->kinds, out->names);
			return 0;
		}
	}
	return -ENOENT;
}

int kubecache_by_ip(struct kubecache *c, const char *ip, char *ns, size_t ns_size, char *wl,
		    size_t wl_size)
{
	static const int kinds[] = { KK_POD, KK_SERVICE };
	size_t i, k;

	for (k = 0; k < 2; k++) {
		struct kubecache_kind *kk = &c->k[kinds[k]];

		for (i = 0; i < kk->n; i++) {
			if (!kk->v[i]->ip[0] || strcmp(kk->v[i]->ip, ip))
				continue;
			snprintf(ns, ns_size, "%s", kk->v[i]->ns);
			kubecache_workload(c, kinds[k], kk->v[i]->ns, kk->v[i]->name, wl, wl_size);
			return 0;
		}
	}
	return -ENOENT;
}
