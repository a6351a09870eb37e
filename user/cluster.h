/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What kerno preon and kerno nanobe share: the token, addresses, the batch header. */
#ifndef KERNO_CLUSTER_H
#define KERNO_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define CLUSTER_TOKEN_MAX 512
/* The header carrying a Preon batch id: "<spool id>-<seq>" (spool.h). */
#define CLUSTER_BATCH_HEADER "kerno-batch-id"

/*
 * Read the shared bearer token from path: one line of printable ASCII
 * (surrounding white space dropped), 16 to CLUSTER_TOKEN_MAX bytes.
 * 0, or -1 with a one-line message in err.
 */
int cluster_read_token(const char *path, char *out, size_t size, char *err, size_t errlen);

/* Split "host:port" or "[v6]:port". 0, or -1 when malformed. */
int cluster_split_addr(const char *addr, char *host, size_t hsize, char *port, size_t psize);

/* Whether `authorization` is exactly "Bearer <token>", compared in constant time. */
bool cluster_auth_ok(const char *authorization, const char *token);

/*
 * A delta, monotonic OTLP sum named `name` with one data point per label
 * (attribute `attr` = labels[i], asInt = values[i]) over [start_ns, end_ns]:
 * the cluster roles' own counters. NULL when out of memory.
 */
json_t *cluster_delta_sum(const char *name, const char *unit, const char *attr,
			  const char *const *labels, const unsigned long long *values, size_t n,
			  unsigned long long start_ns, unsigned long long end_ns);

#endif /* KERNO_CLUSTER_H */
