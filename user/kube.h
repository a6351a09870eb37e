/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Kubernetes API client: one thread per kind lists the objects, then
 * watches from the list's resourceVersion with bookmarks; a watch that
 * ends is resumed from the last version seen; a 410 Gone (as the HTTP
 * status or as an ERROR event) leads to a new list, whose difference with
 * what was cached is delivered as events, so that nothing is lost or
 * repeated across it. Pods may be limited to one node (spec.nodeName).
 */
#ifndef KERNO_KUBE_H
#define KERNO_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "kubecache.h"
#include "kubeconf.h"

/* An object of a kind with on_change set was ADDED, MODIFIED or DELETED (object borrowed). */
typedef void (*kube_change_fn)(void *ctx, struct kubecache *cache, enum kube_kind kind,
			       const char *type, json_t *object);

struct kube_opts {
	const struct kubeconf *conf;
	unsigned int kinds; /* bit (1 << enum kube_kind) per kind to follow */
	const char *node_name; /* pods of this node only; NULL: all */
	int watch_timeout_s; /* asked of the server per watch (default 300) */
	size_t max_objects; /* per kind */
	kube_change_fn on_change; /* called with the cache lock held; NULL: none */
	unsigned int change_kinds; /* kinds on_change is called for */
	void *ctx;
	bool verbose;
};

struct kube_stats {
	unsigned long long lists, watches, events, bookmarks, gone, dropped_watches, errors;
	unsigned long long dropped_objects; /* past max_objects */
};

struct kube;

/* Start the threads. NULL with a one-line message in err. */
struct kube *kube_start(const struct kube_opts *o, char *err, size_t errlen);
/* Stop and join the threads, free everything (NULL is fine). */
void kube_stop(struct kube *k);

/* Wait until every kind has been listed once, at most timeout_ms. true when it has. */
bool kube_wait_synced(struct kube *k, int timeout_ms);

/* The cache, locked: call kube_unlock() when done. */
struct kubecache *kube_lock(struct kube *k);
void kube_unlock(struct kube *k);

void kube_get_stats(struct kube *k, struct kube_stats *out);

#endif /* KERNO_KUBE_H */
