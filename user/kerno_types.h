/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What userspace needs before including the headers shared with the kernel
 * (kern/capture.h, kern/hist.h): the __u64 family and __always_inline, which
 * the BPF side gets from vmlinux.h and bpf_helpers.h.
 */
#ifndef KERNO_TYPES_H
#define KERNO_TYPES_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#endif /* KERNO_TYPES_H */
