/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What Kerno keeps of Kubernetes objects: per kind, the objects' identity
 * and the few fields it uses (owners, pod IPs and containers, service
 * IPs), and the resource version of the last list or event. Owner chains
 * are resolved through it: Pod -> ReplicaSet -> Deployment, Pod -> Job ->
 * CronJob, Pod -> StatefulSet or DaemonSet.
 *
 * Not thread-safe by itself: kube.c guards it with a mutex.
 */
#ifndef KERNO_KUBECACHE_H
#define KERNO_KUBECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

enum kube_kind {
	KK_POD,
	KK_REPLICASET,
	KK_DEPLOYMENT,
	KK_STATEFULSET,
	KK_DAEMONSET,
	KK_JOB,
	KK_CRONJOB,
	KK_SERVICE,
	KK_NODE,
	KK_NAMESPACE,
	KK_EVENT,
	KK__COUNT,
};

struct kube_kind_info {
	const char *kind; /* "ReplicaSet" */
	const char *path; /* "/apis/apps/v1/replicasets" (all namespaces) */
	const char *attr; /* "k8s.replicaset.name", NULL when not a workload */
};

extern const struct kube_kind_info kube_kinds[KK__COUNT];

/* kind name ("Deployment") -> enum, or -1. */
int kube_kind_of(const char *kind);

#define KUBE_NAME_LEN 254
#define KUBE_CID_LEN 64

struct kube_container {
	char name[64];
	char id[KUBE_CID_LEN + 1]; /* without its runtime:// prefix */
};

struct kobj {
	char ns[64];
	char name[KUBE_NAME_LEN];
	char uid[40];
	char rv[32];
	int owner_kind; /* controller owner, -1 when none or of a kind not kept */
	char owner[KUBE_NAME_LEN];
	char node[KUBE_NAME_LEN]; /* pods */
	char ip[48]; /* pods: podIP (not for hostNetwork pods); services: clusterIP */
	struct kube_container *ctrs;
	size_t n_ctrs;
};

struct kubecache_kind {
	struct kobj **v;
	size_t n, cap;
	char rv[32]; /* of the last list, event or bookmark */
	bool synced; /* listed at least once */
};

struct kubecache {
	struct kubecache_kind k[KK__COUNT];
	size_t max_objects; /* per kind; past it new objects are dropped and counted */
	unsigned long long dropped;
};

/* Who a pod's container belongs to, resolved up the owner chain. */
struct kube_identity {
	char ns[64];
	char pod[KUBE_NAME_LEN];
	char pod_uid[40];
	char container[64];
	char node[KUBE_NAME_LEN];
	int kinds[4]; /* the owners, nearest first, -1 after the last */
	char names[4][KUBE_NAME_LEN];
};

void kubecache_init(struct kubecache *c, size_t max_objects);
void kubecache_free(struct kubecache *c);

/* A kobj from an object of `kind` (JSON as the API returns it). NULL if malformed. */
struct kobj *kobj_parse(enum kube_kind kind, json_t *obj);
void kobj_free(struct kobj *o);

/* Insert or replace (by namespace and name); takes o. Returns the object it replaced's rv, "" if new. */
int kubecache_put(struct kubecache *c, enum kube_kind kind, struct kobj *o, bool *was_new,
		  bool *changed);
/* Remove by namespace and name. 0 or -ENOENT. */
int kubecache_del(struct kubecache *c, enum kube_kind kind, const char *ns, const char *name);
struct kobj *kubecache_get(struct kubecache *c, enum kube_kind kind, const char *ns,
			   const char *name);

/* The container with that id (64 hex digits) in a cached pod. 0 or -ENOENT. */
int kubecache_by_container(struct kubecache *c, const char *cid, struct kube_identity *out);

/* The workload behind an IP: a pod's top owner, else a service. 0 or -ENOENT. */
int kubecache_by_ip(struct kubecache *c, const char *ip, char *ns, size_t ns_size, char *wl,
		    size_t wl_size);

/* The top owner of (kind, ns, name) as "deployment/x" (itself when it has none). */
void kubecache_workload(struct kubecache *c, int kind, const char *ns, const char *name, char *wl,
			size_t wl_size);

#endif /* KERNO_KUBECACHE_H */
