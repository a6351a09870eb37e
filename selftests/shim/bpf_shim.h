/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Userspace stand-in for what the BPF programs get from vmlinux.h and
 * libbpf's bpf_helpers.h, so that kern/http1.bpf.h compiles unchanged as
 * ordinary C and its parser can be unit-tested and fuzzed:
 *
 *	#include "bpf_shim.h"
 *	#include "http1.bpf.h"
 *
 * The map definitions (`struct { __uint(...); __type(...); } conns
 * SEC(".maps");`) stay what libbpf makes of them: a struct of pointers whose
 * types encode the map type, key, value and max_entries. Here they are
 * ordinary globals, and the helper macros below read those sizes off the
 * map's type, so each map gets real storage (bpf_shim.c) of the right shape
 * the first time a helper touches it.
 *
 * The helpers do what the kernel's do, as far as the parser can tell:
 *  - hash maps (HASH, PERCPU_HASH) hold at most max_entries keys: an update
 *    that would add one more fails with -E2BIG; BPF_NOEXIST, BPF_EXIST and
 *    BPF_ANY behave as in the kernel; a value stays at the same address
 *    until its key is deleted; keys are compared as bytes, padding included.
 *  - array maps (ARRAY, PERCPU_ARRAY) have every index below max_entries,
 *    zeroed at creation; they cannot be deleted from, nor NOEXIST-updated.
 *  - per-CPU maps have a single CPU: the tests run on one thread.
 *  - bpf_loop() calls the callback at most nr_loops times, stops after one
 *    that returns 1, and returns the number of calls made; a callback that
 *    returns anything but 0 or 1 (which the verifier would refuse) aborts.
 *  - bpf_probe_read_{user,kernel}() copy, or fail with -EFAULT and zero
 *    the destination if any byte of the source lies in the NULL page or in
 *    the range set with shim_set_fault_range().
 *  - bpf_ktime_get_ns() reads a clock that only the test moves.
 */
#ifndef KERNO_BPF_SHIM_H
#define KERNO_BPF_SHIM_H

#include <errno.h>
#include <stdbool.h> /* vmlinux.h has bool, true and false */
#include <stddef.h>
#include <string.h>
#include <linux/types.h> /* __u8 .. __u64, __s64, as vmlinux.h has them */
#include <linux/bpf.h> /* BPF_MAP_TYPE_*, BPF_ANY, BPF_NOEXIST, BPF_EXIST */

/* bpf_helpers.h: sections mean nothing here, maps are ordinary globals. */
#define SEC(name)
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif

/* A map's shape, read off its libbpf-style definition. */
struct shim_map_desc {
	const void *def; /* the map's definition: identifies it */
	__u32 type; /* enum bpf_map_type */
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
};

#define SHIM_MAP(m)                                                               \
	(&(const struct shim_map_desc){ .def = (m),                               \
					.type = sizeof(*(m)->type) / sizeof(int), \
					.key_size = sizeof(*(m)->key),            \
					.value_size = sizeof(*(m)->value),        \
					.max_entries = sizeof(*(m)->max_entries) / sizeof(int) })

void *shim_map_lookup_elem(const struct shim_map_desc *m, const void *key);
long shim_map_update_elem(const struct shim_map_desc *m, const void *key, const void *value,
			  __u64 flags);
long shim_map_delete_elem(const struct shim_map_desc *m, const void *key);

#define bpf_map_lookup_elem(map, key) shim_map_lookup_elem(SHIM_MAP(map), (key))
#define bpf_map_update_elem(map, key, value, flags) \
	shim_map_update_elem(SHIM_MAP(map), (key), (value), (flags))
#define bpf_map_delete_elem(map, key) shim_map_delete_elem(SHIM_MAP(map), (key))

/*
 * For the tests, as bpf_map_get_next_key(): the key after `key` (the first
 * one when key is NULL) in an unspecified but stable order; -ENOENT after
 * the last. Also the number of keys in a hash map.
 */
long shim_map_get_next_key(const struct shim_map_desc *m, const void *key, void *next_key);
__u32 shim_map_count(const struct shim_map_desc *m);

/* Every map back to its state at load: hash maps empty, arrays zeroed. */
void shim_reset_maps(void);

void shim_loop_bad_return(long ret) __attribute__((noreturn));

/* The kernel's bpf_loop() (kernel/bpf/bpf_iter.c), with the callback called directly. */
#define bpf_loop(nr_loops, callback_fn, callback_ctx, flags)                   \
	({                                                                     \
		__u32 __n = (nr_loops), __i;                                   \
		long __ret;                                                    \
		if ((flags) != 0) {                                            \
			__ret = -EINVAL;                                       \
		} else if (__n > 1U << 23) {                                   \
			__ret = -E2BIG;                                        \
		} else {                                                       \
			for (__i = 0; __i < __n; __i++) {                      \
				long __r = (callback_fn)(__i, (callback_ctx)); \
				if (__r != 0 && __r != 1)                      \
					shim_loop_bad_return(__r);             \
				if (__r) {                                     \
					__i++;                                 \
					break;                                 \
				}                                              \
			}                                                      \
			__ret = __i;                                           \
		}                                                              \
		__ret;                                                         \
	})

/* Reads of [lo, lo + len) fail, as an unmapped page would; len 0: none do. */
void shim_set_fault_range(const void *lo, size_t len);
long shim_probe_read(void *dst, __u32 size, const void *src);

static inline long bpf_probe_read_user(void *dst, __u32 size, const void *unsafe_ptr)
{
	return shim_probe_read(dst, size, unsafe_ptr);
}

static inline long bpf_probe_read_kernel(void *dst, __u32 size, const void *unsafe_ptr)
{
	return shim_probe_read(dst, size, unsafe_ptr);
}

/* The test's clock: bpf_ktime_get_ns() returns it, only the test moves it. */
extern __u64 shim_now_ns;

static inline __u64 bpf_ktime_get_ns(void)
{
	return shim_now_ns;
}

#endif /* KERNO_BPF_SHIM_H */
