/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TLS plaintext capture (kern/tls.bpf.c): finds the TLS libraries every
 * process maps, attaches the uprobes once per file, and keeps doing so for
 * processes that start later.
 */
#ifndef KERNO_TLS_PROBE_H
#define KERNO_TLS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

struct capture;
struct capture_bpf;
struct tls_probe;

struct tls_probe_opts {
	const char *proc_root; /* the host's /proc (e.g. a read-only mount), NULL: /proc */
	bool verbose; /* name each file probed on stderr */
};

/*
 * Load the uprobe programs on the capture's maps, attach to every TLS
 * library mapped now, and start the thread that follows new processes. On
 * failure returns a negative errno with a one-line reason in err.
 */
int tls_probe_start(struct tls_probe **out, const struct capture *cap,
		    const struct tls_probe_opts *o, char *err, size_t errlen);
void tls_probe_stop(struct tls_probe *tp);

/*
 * Load the TLS programs on the maps of cap (a loaded capture of flavour
 * `flavour`) without attaching them, and print per program the
 * instructions the verifier processed, as `kerno verifier-report` does.
 */
int tls_probe_verifier_report(FILE *out, struct capture_bpf *cap, const char *flavour);

/* Files probed so far (each once, whatever the processes mapping it). */
unsigned int tls_probe_files(struct tls_probe *tp);

/* Runs of the TLS programs the kernel skipped (recursion), summed. */
__u64 tls_probe_prog_misses(struct tls_probe *tp);

#endif /* KERNO_TLS_PROBE_H */
