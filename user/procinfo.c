// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Process executable names and container ids from /proc: see procinfo.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "procinfo.h"

#define DEFAULT_CAP 4096
#define NO_ENTRY UINT32_MAX

struct entry {
	__u32 pid;
	__u32 next; /* next entry in the hash chain or the free list */
	__u64 fetched_ns; /* CLOCK_MONOTONIC time /proc was read */
	struct procinfo info;
};

struct procinfo_cache {
	char *proc_root;
	__u64 ttl_ns;
	__u32 cap;
	__u32 n_heads; /* a power of two >= cap */
	__u32 used;
	__u32 free_head;
	__u32 *heads;
	struct entry *entries;
};

static const char *const cid_prefixes[] = {
	"docker-", "cri-containerd-", "crio-", "libpod-", "containerd-", "",
};

static bool is_cid(const char *s, size_t len)
{
	size_t i;

	if (len != PROCINFO_CID_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Does the path segment [s, s+len) name a container? Copies the id to out if so. */
static bool segment_cid(const char *s, size_t len, char *out)
{
	size_t i, plen;

	if (len > 6 && !memcmp(s + len - 6, ".scope", 6))
		len -= 6;
	for (i = 0; i < sizeof(cid_prefixes) / sizeof(cid_prefixes[0]); i++) {
		plen = strlen(cid_prefixes[i]);
		if (len < plen || memcmp(s, cid_prefixes[i], plen))
			continue;
		if (is_cid(s + plen, len - plen)) {
			memcpy(out, s + plen, PROCINFO_CID_LEN);
			out[PROCINFO_CID_LEN] = '\0';
			return true;
		}
	}
	return false;
}

/*
 * One line is "hierarchy:controllers:path". Segments are tried from the
 * last, so a nested cgroup inside the container (/docker/ID/init.scope)
 * still finds the id of the innermost container.
 */
static bool line_cid(const char *line, size_t len, char *out)
{
	const char *path = NULL, *p, *end = line + len, *seg_end = end;
	int colons = 0;

	for (p = line; p < end && !path; p++)
		if (*p == ':' && ++colons == 2)
			path = p + 1;
	if (!path)
		return false;
	for (p = end; p > path; p--) {
		if (p[-1] != '/')
			continue;
		if (segment_cid(p, seg_end - p, out))
			return true;
		seg_end = p - 1;
	}
	return segment_cid(path, seg_end - path, out);
}

int procinfo_container_id_from_cgroup(const char *text, char out[PROCINFO_CID_LEN + 1])
{
	const char *line = text, *nl;

	out[0] = '\0';
	while (line && *line) {
		nl = strchr(line, '\n');
		if (line_cid(line, nl ? (size_t)(nl - line) : strlen(line), out))
			return 0;
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

/* Read up to size-1 bytes of a small /proc file, NUL-terminated. -errno on failure. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

static void copy_name(char *dst, const char *src, size_t len)
{
	if (len >= PROCINFO_NAME_LEN)
		len = PROCINFO_NAME_LEN - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * The basename of /proc/PID/exe, which, unlike comm, is neither truncated
 * to 15 bytes nor changed by prctl(PR_SET_NAME). Kernel threads and
 * processes we may not ptrace have no readable exe: fall back to comm.
 */
static int read_exe(const char *dir, char *out)
{
	char path[PATH_MAX + 16], target[PATH_MAX], *base;
	static const char deleted[] = " (deleted)";
	size_t dl = sizeof(deleted) - 1;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/exe", dir);
	n = readlink(path, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		/* A binary replaced by an upgrade is still the same program. */
		if ((size_t)n > dl && !strcmp(target + n - dl, deleted))
			target[n - dl] = '\0';
		base = strrchr(target, '/');
		base = base ? base + 1 : target;
		if (*base) {
			copy_name(out, base, strlen(base));
			return 0;
		}
	}
	snprintf(path, sizeof(path), "%s/comm", dir);
	n = read_small(path, target, sizeof(target));
	if (n < 0)
		return (int)n;
	target[strcspn(target, "\n")] = '\0';
	if (!target[0])
		return -ENOENT;
	copy_name(out, target, strlen(target));
	return 0;
}

static int read_info(const struct procinfo_cache *c, __u32 pid, struct procinfo *out)
{
	char dir[PATH_MAX], path[PATH_MAX + 8], text[4096] = "";
	int err;

	snprintf(dir, sizeof(dir), "%s/%u", c->proc_root, pid);
	err = read_exe(dir, out->exe);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	snprintf(path, sizeof(path), "%s/cgroup", dir);
	if (read_small(path, text, sizeof(text)) < 0)
		text[0] = '\0';
	procinfo_container_id_from_cgroup(text, out->container_id);
	return 0;
}

static bool pid_alive(const struct procinfo_cache *c, __u32 pid)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%u", c->proc_root, pid);
	return access(dir, F_OK) == 0;
}

struct procinfo_cache *procinfo_cache_new(const char *proc_root, size_t cap, unsigned int ttl_sec)
{
	struct procinfo_cache *c = calloc(1, sizeof(*c));
	__u32 i;

	if (!c)
		return NULL;
	c->cap = cap && cap < UINT32_MAX / 2 ? cap : DEFAULT_CAP;
	for (c->n_heads = 1; c->n_heads < c->cap; c->n_heads <<= 1)
		;
	c->ttl_ns = ttl_sec * 1000000000ULL;
	c->proc_root = strdup(proc_root ? proc_root : "/proc");
	c->heads = malloc(c->n_heads * sizeof(*c->heads));
	c->entries = malloc(c->cap * sizeof(*c->entries));
	if (!c->proc_root || !c->heads || !c->entries) {
		procinfo_cache_free(c);
		return NULL;
	}
	for (i = 0; i < c->n_heads; i++)
		c->heads[i] = NO_ENTRY;
	for (i = 0; i < c->cap; i++)
		c->entries[i].next = i + 1 < c->cap ? i + 1 : NO_ENTRY;
	c->free_head = 0;
	return c;
}

void procinfo_cache_free(struct procinfo_cache *c)
{
	if (!c)
		return;
	free(c->proc_root);
	free(c->heads);
	free(c->entries);
	free(c);
}

static __u32 *head_of(struct procinfo_cache *c, __u32 pid)
{
	/* Fibonacci hashing: consecutive pids spread over the table. */
	return &c->heads[(__u32)(pid * 2654435769u) & (c->n_heads - 1)];
}

static __u32 find(struct procinfo_cache *c, __u32 pid)
{
	__u32 i;

	for (i = *head_of(c, pid); i != NO_ENTRY; i = c->entries[i].next)
		if (c->entries[i].pid == pid)
			return i;
	return NO_ENTRY;
}

/* Unlink entry idx from its chain and put it on the free list. */
static void release(struct procinfo_cache *c, __u32 idx)
{
	__u32 *link = head_of(c, c->entries[idx].pid);

	while (*link != idx)
		link = &c->entries[*link].next;
	*link = c->entries[idx].next;
	c->entries[idx].next = c->free_head;
	c->free_head = idx;
	c->used--;
}

/* The entry read longest ago: a linear scan, but only when the cache is full. */
static void evict_oldest(struct procinfo_cache *c)
{
	__u32 i, oldest = 0;

	for (i = 1; i < c->cap; i++)
		if (c->entries[i].fetched_ns < c->entries[oldest].fetched_ns)
			oldest = i;
	release(c, oldest);
}

static void insert(struct procinfo_cache *c, __u32 pid, const struct procinfo *info, __u64 now)
{
	__u32 idx, *head;

	if (c->free_head == NO_ENTRY)
		evict_oldest(c);
	idx = c->free_head;
	c->free_head = c->entries[idx].next;
	head = head_of(c, pid);
	c->entries[idx] =
		(struct entry){ .pid = pid, .next = *head, .fetched_ns = now, .info = *info };
	*head = idx;
	c->used++;
}

int procinfo_lookup(struct procinfo_cache *c, __u32 pid, struct procinfo *out)
{
	__u64 now = clock_ns(CLOCK_MONOTONIC);
	__u32 idx = find(c, pid);
	struct procinfo info;
	int err;

	if (idx != NO_ENTRY && now - c->entries[idx].fetched_ns < c->ttl_ns) {
		*out = c->entries[idx].info;
		return 0;
	}
	if (idx != NO_ENTRY)
		release(c, idx);
	memset(&info, 0, sizeof(info));
	err = read_info(c, pid, &info);
	if (err)
		return err;
	insert(c, pid, &info, now);
	*out = info;
	return 0;
}

int procinfo_lookup_cb(void *cache, __u32 pid, struct procinfo *out)
{
	return procinfo_lookup(cache, pid, out);
}

size_t procinfo_cache_prune(struct procinfo_cache *c)
{
	size_t pruned = 0;
	__u32 h, i, next;

	for (h = 0; h < c->n_heads; h++) {
		for (i = c->heads[h]; i != NO_ENTRY; i = next) {
			next = c->entries[i].next;
			if (!pid_alive(c, c->entries[i].pid)) {
				release(c, i);
				pruned++;
			}
		}
	}
	return pruned;
}

size_t procinfo_cache_size(const struct procinfo_cache *c)
{
	return c->used;
}
