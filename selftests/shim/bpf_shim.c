// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Storage and helpers behind bpf_shim.h. A map's storage is made the first
 * time a helper is given its definition, with the shape the definition
 * declares. Hash maps are open-addressing tables with twice max_entries
 * slots, so values never move; max_entries is what limits them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bpf_shim.h"

#define SHIM_MAX_MAPS 16

enum { SLOT_EMPTY, SLOT_USED, SLOT_DELETED };

struct shim_map {
	struct shim_map_desc d;
	__u32 slots; /* hash: a power of two >= 2 * max_entries; array: max_entries */
	__u32 count; /* keys in a hash map */
	size_t stride; /* bytes per value: value_size rounded up to 8, as the kernel does */
	unsigned char *state; /* hash: enum SLOT_* per slot */
	unsigned char *keys;
	unsigned char *values;
};

static struct shim_map maps[SHIM_MAX_MAPS];
static unsigned int nmaps;
static uintptr_t fault_lo, fault_hi;

__u64 shim_now_ns;

static void die(const char *what, const struct shim_map_desc *d)
{
	fprintf(stderr, "bpf_shim: %s (map type %u, key %u, value %u, max_entries %u)\n", what,
		d->type, d->key_size, d->value_size, d->max_entries);
	abort();
}

static int is_hash(const struct shim_map *m)
{
	return m->d.type == BPF_MAP_TYPE_HASH || m->d.type == BPF_MAP_TYPE_PERCPU_HASH;
}

static void *xcalloc(size_t n, size_t size, const struct shim_map_desc *d)
{
	void *p = calloc(n, size);

	if (!p)
		die("out of memory", d);
	return p;
}

static struct shim_map *map_of(const struct shim_map_desc *d)
{
	struct shim_map *m;
	unsigned int i;

	for (i = 0; i < nmaps; i++)
		if (maps[i].d.def == d->def)
			return &maps[i];
	if (nmaps == SHIM_MAX_MAPS)
		die("too many maps", d);
	if (!d->max_entries || !d->key_size || !d->value_size)
		die("empty map", d);
	m = &maps[nmaps];
	m->d = *d;
	m->stride = (d->value_size + 7) & ~(size_t)7;
	switch (d->type) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
		for (m->slots = 2; m->slots < 2 * d->max_entries; m->slots *= 2)
			;
		m->state = xcalloc(m->slots, 1, d);
		m->keys = xcalloc(m->slots, d->key_size, d);
		break;
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
		if (d->key_size != sizeof(__u32))
			die("array key is not a __u32", d);
		m->slots = d->max_entries;
		break;
	default:
		die("map type not supported", d);
	}
	m->values = xcalloc(m->slots, m->stride, d);
	nmaps++;
	return m;
}

/* FNV-1a over the key bytes. */
static __u32 hash_key(const struct shim_map *m, const void *key)
{
	const unsigned char *p = key;
	__u32 h = 2166136261u, i;

	for (i = 0; i < m->d.key_size; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/*
 * Slot holding key, or -1; *free_slot (if given) gets the slot an insert
 * of key would take.
 */
static long find_slot(const struct shim_map *m, const void *key, long *free_slot)
{
	__u32 mask = m->slots - 1, s = hash_key(m, key) & mask, n;
	long first_free = -1;

	for (n = 0; n < m->slots; n++, s = (s + 1) & mask) {
		if (m->state[s] == SLOT_EMPTY) {
			if (first_free < 0)
				first_free = s;
			break;
		}
		if (m->state[s] == SLOT_DELETED) {
			if (first_free < 0)
				first_free = s;
			continue;
		}
		if (!memcmp(m->keys + (size_t)s * m->d.key_size, key, m->d.key_size)) {
			if (free_slot)
				*free_slot = -1;
			return s;
		}
	}
	if (free_slot)
		*free_slot = first_free;
	return -1;
}

void *shim_map_lookup_elem(const struct shim_map_desc *d, const void *key)
{
	struct shim_map *m = map_of(d);
	long s;

	if (!is_hash(m)) {
		__u32 idx = *(const __u32 *)key;

		return idx < m->slots ? m->values + idx * m->stride : NULL;
	}
	s = find_slot(m, key, NULL);
	return s < 0 ? NULL : m->values + (size_t)s * m->stride;
}

long shim_map_update_elem(const struct shim_map_desc *d, const void *key, const void *value,
			  __u64 flags)
{
	struct shim_map *m = map_of(d);
	long s, free_slot;

	if (flags > BPF_EXIST)
		return -EINVAL;
	if (!is_hash(m)) {
		__u32 idx = *(const __u32 *)key;

		if (idx >= m->slots)
			return -E2BIG;
		if (flags == BPF_NOEXIST)
			return -EEXIST; /* every element of an array exists */
		memcpy(m->values + idx * m->stride, value, m->d.value_size);
		return 0;
	}
	s = find_slot(m, key, &free_slot);
	if (s >= 0) {
		if (flags == BPF_NOEXIST)
			return -EEXIST;
		memcpy(m->values + (size_t)s * m->stride, value, m->d.value_size);
		return 0;
	}
	if (flags == BPF_EXIST)
		return -ENOENT;
	if (m->count >= m->d.max_entries)
		return -E2BIG;
	if (free_slot < 0)
		die("hash table has no free slot", d); /* cannot happen: slots > max_entries */
	m->state[free_slot] = SLOT_USED;
	memcpy(m->keys + (size_t)free_slot * m->d.key_size, key, m->d.key_size);
	memcpy(m->values + (size_t)free_slot * m->stride, value, m->d.value_size);
	m->count++;
	return 0;
}

long shim_map_delete_elem(const struct shim_map_desc *d, const void *key)
{
	struct shim_map *m = map_of(d);
	long s;

	if (!is_hash(m))
		return -EINVAL;
	s = find_slot(m, key, NULL);
	if (s < 0)
		return -ENOENT;
	m->state[s] = SLOT_DELETED;
	m->count--;
	return 0;
}

long shim_map_get_next_key(const struct shim_map_desc *d, const void *key, void *next_key)
{
	struct shim_map *m = map_of(d);
	__u32 s;
	long cur;

	if (!is_hash(m)) {
		__u32 idx = key ? *(const __u32 *)key + 1 : 0;

		if (key && *(const __u32 *)key >= m->slots)
			idx = 0;
		if (idx >= m->slots)
			return -ENOENT;
		*(__u32 *)next_key = idx;
		return 0;
	}
	/* As in the kernel, a key that is not there restarts from the first. */
	cur = key ? find_slot(m, key, NULL) : -1;
	for (s = cur + 1; s < m->slots; s++) {
		if (m->state[s] == SLOT_USED) {
			memcpy(next_key, m->keys + (size_t)s * m->d.key_size, m->d.key_size);
			return 0;
		}
	}
	return -ENOENT;
}

__u32 shim_map_count(const struct shim_map_desc *d)
{
	struct shim_map *m = map_of(d);

	return is_hash(m) ? m->count : m->slots;
}

void shim_reset_maps(void)
{
	unsigned int i;

	for (i = 0; i < nmaps; i++) {
		struct shim_map *m = &maps[i];

		if (is_hash(m)) {
			memset(m->state, SLOT_EMPTY, m->slots);
			m->count = 0;
		} else {
			memset(m->values, 0, m->slots * m->stride);
		}
	}
}

void shim_loop_bad_return(long ret)
{
	fprintf(stderr, "bpf_shim: bpf_loop callback returned %ld (the verifier allows 0 or 1)\n",
		ret);
	abort();
}

void shim_set_fault_range(const void *lo, size_t len)
{
	fault_lo = (uintptr_t)lo;
	fault_hi = fault_lo + len;
}

long shim_probe_read(void *dst, __u32 size, const void *src)
{
	uintptr_t a = (uintptr_t)src;

	if (!size)
		return 0;
	if (a < 4096 || a + size < a || (a < fault_hi && a + size > fault_lo)) {
		memset(dst, 0, size);
		return -EFAULT;
	}
	memcpy(dst, src, size);
	return 0;
}
