/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `kerno run`: capture on this host, drain every interval, write the uplink. */
#ifndef KERNO_AGENT_H
#define KERNO_AGENT_H

#include "config.h"

/* Runs until --duration passes or SIGINT/SIGTERM; returns the exit code. */
int agent_run(const struct kerno_config *cfg);

/* `kerno hooks`: the capture flavours this kernel can attach, best first. */
int agent_hooks(const struct kerno_config *cfg);

/* `kerno verifier-report`: what each program costs the verifier on this kernel. */
int agent_verifier_report(const struct kerno_config *cfg);

#endif /* KERNO_AGENT_H */
