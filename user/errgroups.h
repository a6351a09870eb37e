/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Error groups: errors counted per fingerprint over one interval, for the
 * uplink's `errors` envelopes (docs/uplink.md).
 *
 * An error is a class and a code (kern/errors.h: enum kerno_err_class):
 *   tcp.connect_refused ECONNREFUSED, tcp.reset_sent 0, process.fatal_signal
 *   SIGSEGV, http.server.5xx 503, ...
 * seen at a workload (command name and cgroup) and an endpoint (peer
 * address and port, or an HTTP method and route). Its fingerprint is a hash
 * of those and of the class's message template, so the same error at the
 * same place has the same fingerprint on every node and every run.
 *
 * Messages are templates fixed per class: no payload, header value, query
 * value or raw text ever reaches a group.
 *
 * New classes plug in as one row of the class table in errgroups.c (name,
 * template, how to name the code, which attributes name the endpoint) and,
 * for a protocol whose errors are in its metric series, one entry of
 * series_errors[] there: a function that says which series count errors,
 * of which class and code, at which operation and target.
 */
#ifndef KERNO_ERRGROUPS_H
#define KERNO_ERRGROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "kerno_types.h"
#include "../kern/errors.h"
#include "otlp.h"

/* One observation: count errors of one group, seen between first_ns and last_ns. */
struct errgroup_in {
	unsigned int class; /* enum kerno_err_class */
	unsigned int code;
	unsigned int flags; /* enum kerno_err_flags */
	const char *comm; /* command name, NULL or "" when not known */
	__u64 cgroup_id; /* 0 when not known */
	__u32 pid; /* a process that had the error (0 unknown): names the container */
	__u8 family; /* AF_INET, AF_INET6 or 0 */
	__u8 addr[16]; /* peer address */
	__u16 port; /* peer port (client) or local port (server); 0 none */
	const char *method; /* the operation: HTTP method, SQL operation, Redis command,
			     * DNS question type; or NULL */
	const char *route; /* the target: HTTP route or URL template, db.system.name, DNS
			    * transport; or NULL */
	__u64 count;
	__u64 first_ns, last_ns; /* unix-epoch ns */
};

/*
 * The hook for an example trace id (the spans module): called once per
 * group when it is taken, with the group's fingerprint and identity; fills
 * `out` (32 lower-case hex digits and a NUL) with the trace id of a sampled
 * span of that group seen in the interval and returns true, or returns
 * false when there is none.
 */
typedef bool (*errgroups_trace_fn)(void *ctx, __u64 fingerprint, const struct errgroup_in *g,
				   char out[33]);

struct errgroups;

/* At most max groups per interval; more are counted as untracked. NULL when out of memory. */
struct errgroups *errgroups_new(unsigned int max);
void errgroups_free(struct errgroups *g);

void errgroups_set_trace_hook(struct errgroups *g, errgroups_trace_fn fn, void *ctx);

/* The fingerprint of an observation's group. */
__u64 errgroups_fingerprint(const struct errgroup_in *e);

/* Class name ("tcp.connect_refused"), or NULL for an unknown class. */
const char *errgroups_class_name(unsigned int class);

/* Count an observation into its group. Returns false when it found no room (untracked). */
bool errgroups_add(struct errgroups *g, const struct errgroup_in *e);

/*
 * Protocol error groups from one interval's metric series, counted exactly
 * as the series counted them, per role, code, workload and endpoint: HTTP
 * 5xx and 4xx responses, SQL errors (SQLSTATE, MySQL error numbers), Redis
 * error replies, DNS answers with an error RCODE. Times are the interval's
 * bounds.
 */
void errgroups_add_series(struct errgroups *g, const struct kerno_sample *samples, size_t n,
			  otlp_proc_lookup_fn lookup, void *lookup_ctx, __u64 start_ns,
			  __u64 end_ns);

/* Groups in the table now. */
size_t errgroups_count(const struct errgroups *g);

/*
 * The interval's `errors` envelope data (new reference, NULL when out of
 * memory): {"start","end","groups":[...],"dropped":{...}} with the kernel's
 * drop counts given here; the table is emptied. lookup (may be NULL) names
 * the container of a group's process.
 */
json_t *errgroups_take(struct errgroups *g, __u64 start_ns, __u64 end_ns,
		       const __u64 drops[KERNO_ERR_DROP__COUNT], otlp_proc_lookup_fn lookup,
		       void *lookup_ctx);

#endif /* KERNO_ERRGROUPS_H */
