// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for what Nanobe does with a request body from the
 * network: OTLP/JSON metrics merged (metricagg.c), taken out, snapshotted
 * and merged back, and the service map built from them (svcmap.c). The
 * input is merged twice so that series meet themselves.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "metricagg.h"
#include "svcmap.h"

static int resolve(void *ctx, const char *ip, char *ns, size_t ns_size, char *wl, size_t wl_size)
{
	if (ip[0] != '1')
		return -1;
	snprintf(ns, ns_size, "ns");
	snprintf(wl, wl_size, "deployment/%s", ip);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metricagg *a = metricagg_new(1000000000ULL, 64, size & 1);
	json_t *req = json_loadb((const char *)data, size, 0, NULL), *out, *snap, *edges;
	char err[256];
	int empty;

	if (req && a) {
		metricagg_add(a, req, NULL, err, sizeof(err));
		metricagg_add(a, req, NULL, err, sizeof(err));
		snap = metricagg_snapshot(a);
		out = metricagg_take(a, 5000000000ULL, &empty);
		if (snap)
			metricagg_add(a, snap, NULL, err, sizeof(err));
		if (out) {
			edges = svcmap_build(out, resolve, NULL);
			json_decref(edges);
		}
		json_decref(out);
		json_decref(snap);
		out = metricagg_take(a, UINT64_MAX, &empty);
		json_decref(out);
	}
	json_decref(req);
	metricagg_free(a);
	return 0;
}
