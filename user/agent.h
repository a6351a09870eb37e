/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `kerno run`: capture on this host, drain every interval, write the uplink. */
#ifndef KERNO_AGENT_H
#define KERNO_AGENT_H

#include <stdbool.h>
#include <jansson.h>

#include "config.h"
#include "otlp.h"

/*
 * What a role built on the agent loop changes in it (kerno preon): which
 * series it keeps, and where the envelopes go instead of the local uplink.
 */
struct agent_ops {
	/* NULL: keep every sample. Called once per sample per interval. */
	bool (*keep)(void *ctx, const struct kerno_sample *s);
	/* Called once per interval before the samples are filtered. */
	void (*refresh)(void *ctx);
	/* Instead of the uplink; data is borrowed. 0 or a negative errno (fatal). */
	int (*emit)(void *ctx, const char *type, json_t *data);
	void *ctx;
};

/* agent_run() with the ops' filter and sink; a NULL emit writes the uplink. */
int agent_run_ops(const struct kerno_config *cfg, const struct agent_ops *ops);

/* Runs until --duration passes or SIGINT/SIGTERM; returns the exit code. */
int agent_run(const struct kerno_config *cfg);

/* `kerno hooks`: the capture flavours this kernel can attach, best first. */
int agent_hooks(const struct kerno_config *cfg);

/* `kerno verifier-report`: what each program costs the verifier on this kernel. */
int agent_verifier_report(const struct kerno_config *cfg);

#endif /* KERNO_AGENT_H */
