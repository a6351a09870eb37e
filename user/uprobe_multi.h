/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * uprobe_multi links (Linux 6.6): every offset of one program in one file
 * under a single link. Perf-event uprobes detach one grace period at a
 * time (about 90 ms each, serialized in the kernel), which makes an
 * agent's stop take seconds on a node with many TLS libraries; a
 * uprobe_multi link detaches all its offsets after one. Debian's libbpf 1.1
 * and linux/bpf.h predate them: the attach type and the BPF_LINK_CREATE
 * layout are spelled out in uprobe_multi.c.
 */
#ifndef KERNO_UPROBE_MULTI_H
#define KERNO_UPROBE_MULTI_H

#include <stdbool.h>
#include <linux/types.h>

/* The expected_attach_type a program needs, set before loading, to be attached this way. */
#define UPROBE_MULTI_ATTACH_TYPE 48 /* BPF_TRACE_UPROBE_MULTI */

/* Does this kernel have uprobe_multi links? */
bool uprobe_multi_supported(void);

/*
 * Attach prog_fd at the cnt file offsets of path, at function entry or,
 * with ret, at return. The link's fd, or a negative errno.
 */
int uprobe_multi_attach(int prog_fd, const char *path, const __u64 *offsets, __u32 cnt, bool ret);

#endif /* KERNO_UPROBE_MULTI_H */
