/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the resource attributes say about a process: its executable name and
 * container id, read from /proc and cached so that a drain interval does not
 * reread /proc for every series.
 */
#ifndef KERNO_PROCINFO_H
#define KERNO_PROCINFO_H

#include <stddef.h>
#include "kerno_types.h"

#define PROCINFO_NAME_LEN 64
#define PROCINFO_CID_LEN 64

struct procinfo {
	char exe[PROCINFO_NAME_LEN]; /* process.executable.name, never empty */
	char container_id[PROCINFO_CID_LEN + 1]; /* container.id, "" outside containers */
};

struct procinfo_cache;

/*
 * Find the container id (64 lower-case hex digits) in the text of a
 * /proc/PID/cgroup file. Recognised path segments, searched from the last:
 * docker-ID.scope, cri-containerd-ID.scope, crio-ID.scope, libpod-ID.scope,
 * containerd-ID.scope, and a bare ID (/docker/ID, /kubepods/.../ID).
 * Returns 0 with the id in out, or -ENOENT with out = "".
 */
int procinfo_container_id_from_cgroup(const char *text, char out[PROCINFO_CID_LEN + 1]);

/*
 * A cache of at most `cap` processes (0: 4096) whose entries are reread after
 * `ttl_sec` seconds. `proc_root` is where procfs is mounted (NULL: "/proc";
 * tests point it at a fake tree). NULL on allocation failure.
 */
struct procinfo_cache *procinfo_cache_new(const char *proc_root, size_t cap, unsigned int ttl_sec);
void procinfo_cache_free(struct procinfo_cache *c);

/*
 * Fill *out for pid, from the cache when the entry is fresh. An entry is not
 * dropped the moment its process exits: the series being exported were made
 * by that process, so its name stays right until procinfo_cache_prune().
 * Returns 0, or -ESRCH when the pid is not in /proc and not cached.
 */
int procinfo_lookup(struct procinfo_cache *c, __u32 pid, struct procinfo *out);

/* procinfo_lookup() with the cache as a void pointer, for callbacks (otlp.h). */
int procinfo_lookup_cb(void *cache, __u32 pid, struct procinfo *out);

/*
 * Drop the entries of processes that are gone, so a reused pid is read
 * afresh. Call once per interval, after exporting. Returns how many.
 */
size_t procinfo_cache_prune(struct procinfo_cache *c);

/* Number of cached entries (for tests and self-metrics). */
size_t procinfo_cache_size(const struct procinfo_cache *c);

#endif /* KERNO_PROCINFO_H */
