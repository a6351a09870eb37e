/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `kerno preon`: the node agent in a cluster. It captures like `kerno run`
 * and sends each interval's metrics to Nanobe (HTTP/2, TLS, bearer token)
 * through a sealed on-disk spool, so nothing is lost while Nanobe is away.
 */
#ifndef KERNO_PREON_H
#define KERNO_PREON_H

#include "config.h"

int preon_run(const struct kerno_config *cfg);

#endif /* KERNO_PREON_H */
