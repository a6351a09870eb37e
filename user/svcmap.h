/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The service map: client workload -> server workload, with rate, errors
 * and duration per edge, from the merged client-side HTTP histograms
 * (http.client.request.duration). The client is named by its resource
 * (owning workload, else service.name, else the executable); the server by
 * resolving server.address through pod IPs, else "address:port".
 *
 * Client-side series only: a request seen at both ends counts once. Edges
 * of servers whose clients are not measured do not appear.
 */
#ifndef KERNO_SVCMAP_H
#define KERNO_SVCMAP_H

#include <stddef.h>
#include <jansson.h>

/* ip -> workload ("deployment/checkout") and namespace; 0 when known. */
typedef int (*svcmap_resolve_fn)(void *ctx, const char *ip, char *ns, size_t ns_size,
				 char *workload, size_t wl_size);

/*
 * The edges of a merged ExportMetricsServiceRequest as an array of two
 * OTLP metrics: kerno.service_map.request.duration (histogram: count is
 * the requests, sum their seconds) and kerno.service_map.errors (sum), with
 * attributes client.workload, client.namespace, server.workload,
 * server.namespace (namespaces when known). NULL when there is no edge or
 * out of memory. resolve may be NULL.
 */
json_t *svcmap_build(json_t *req, svcmap_resolve_fn resolve, void *ctx);

/* The name of the workload a resource describes, and its namespace ("" if none). */
void svcmap_workload(json_t *resource_attrs, char *ns, size_t ns_size, char *wl, size_t wl_size);

#endif /* KERNO_SVCMAP_H */
