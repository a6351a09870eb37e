/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Checks before loading anything: privileges, BTF, bpffs, tracefs. */
#ifndef KERNO_PREFLIGHT_H
#define KERNO_PREFLIGHT_H

#include <stddef.h>

/*
 * Returns 0 when the agent can load its programs here, else -1 with one
 * line in msg that says what is missing and what to do (exit code 2).
 * Mounts bpffs on /sys/fs/bpf and tracefs on /sys/kernel/tracing when they
 * are missing and this process may mount.
 */
int preflight_capture(char *msg, size_t len);

#endif /* KERNO_PREFLIGHT_H */
