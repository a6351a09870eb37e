/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `kerno nanobe`: the cluster's aggregator. It accepts Preons' batches and
 * standard OTLP/HTTP JSON (/v1/metrics) over HTTP/2 with TLS and a bearer
 * token, merges metrics across nodes per series and window (metricagg.h),
 * adds the service map (svcmap.h), and writes one `metrics` envelope per
 * flush through the uplink. Accepted data is journaled first (nbstore.h),
 * so a restart loses and repeats nothing.
 */
#ifndef KERNO_NANOBE_H
#define KERNO_NANOBE_H

#include "config.h"

int nanobe_run(const struct kerno_config *cfg);

#endif /* KERNO_NANOBE_H */
