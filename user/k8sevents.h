/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kubernetes events, classified and grouped for the `k8s_events` envelope.
 *
 * Severity: Error for reasons that mean a workload is not running or lost
 * work (OOMKilled, OOMKilling, CrashLoopBackOff, Evicted, Failed,
 * FailedScheduling, FailedMount, FailedAttachVolume, FailedCreatePodSandBox,
 * ErrImagePull, ImagePullBackOff, NodeNotReady, ...); Warning for the other
 * Warning-type events (BackOff, Unhealthy, ...); Info for Normal ones.
 *
 * Groups: (namespace, involved object kind and name, reason), with the
 * owning workload and the number of occurrences since the last take. An
 * event's occurrences come from its count (or series.count), and only
 * what it added since it was last seen is counted, so an event delivered
 * again (a re-list after 410 Gone) adds nothing, and one updated adds only
 * its new occurrences. Messages are not kept: they are raw text.
 */
#ifndef KERNO_K8SEVENTS_H
#define KERNO_K8SEVENTS_H

#include <stddef.h>
#include <jansson.h>

#include "kubecache.h"

struct k8sevents;

/* At most max_events events remembered (the oldest forgotten first), max_groups groups held. */
struct k8sevents *k8sevents_new(size_t max_events, size_t max_groups);
void k8sevents_free(struct k8sevents *e);

const char *k8sevents_severity(const char *reason, const char *type);

/* An Event object ADDED or MODIFIED (DELETED ones are ignored). */
void k8sevents_observe(struct k8sevents *e, const char *type, json_t *event);

/*
 * The groups with occurrences since the last take as the envelope's data,
 * {"events":[{"namespace","kind","name","workload","reason","severity",
 * "count","last_seen"}...]}, sorted; NULL when there are none. They are
 * reset. The workload of each object is resolved through cache (may be
 * NULL) at this point. *dropped gets the occurrences not grouped for want of
 * room.
 */
json_t *k8sevents_take(struct k8sevents *e, struct kubecache *cache, unsigned long long *dropped);

/* Put back what a take returned (the envelope could not be written). */
void k8sevents_restore(struct k8sevents *e, json_t *data);

/*
 * Across restarts: the counts seen per event are saved with each envelope, so
 * that the list a restarted Nanobe starts with adds only what is new.
 *
 * k8sevents_save(e, path, pending, batch) writes, atomically and durably,
 * {"batch":N,"pending":DATA|null,"seen":{uid:count,...}} with the counts as
 * they are now. A flush saves with pending = the envelope's data (which
 * carries "batch":N first) before writing it, and with pending = NULL after.
 * k8sevents_load() reads the file back; a pending envelope is put back to be
 * sent unless uplink_dir shows it was written (the `"data":{"batch":N,` of a
 * k8s_events line). *batch gets the last batch number. 0, or a negative errno
 * (-ENOENT: no file, a first start).
 */
int k8sevents_save(struct k8sevents *e, const char *path, json_t *pending,
		   unsigned long long batch);
int k8sevents_load(struct k8sevents *e, const char *path, const char *uplink_dir,
		   unsigned long long *batch);

#endif /* KERNO_K8SEVENTS_H */
