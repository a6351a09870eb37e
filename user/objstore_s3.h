/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The S3 backend of the object store (objstore_backend.h).
 *
 * put() seals the object into the spool (spool.h) and returns once it is
 * fsync'ed; an uploader thread sends the oldest spooled objects, several at
 * once (h2 streams or a few HTTP/1.1 connections), and deletes each only
 * after S3 confirmed it. Objects larger than the part size go by multipart
 * upload, resumed after a restart from the spooled progress. Failures are
 * retried with exponential backoff and jitter for as long as it takes; the
 * spool's bound is the backpressure: put() answers -ENOSPC when full, and
 * -EFBIG for an object larger than the whole spool (it never fits).
 *
 * At start, multipart uploads under the prefix that no spooled object
 * resumes are aborted when they are this node's (key file name starting
 * with "<host>-") or older than a day.
 */
#ifndef KERNO_OBJSTORE_S3_H
#define KERNO_OBJSTORE_S3_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "objstore_backend.h"

struct objstore_s3_stats {
	unsigned long long objects, bytes; /* confirmed by S3 */
	unsigned long long multipart; /* of which by multipart upload */
	unsigned long long retries; /* failed attempts retried */
	unsigned long long corrupt; /* spooled objects that did not open, dropped */
	unsigned long long stale_aborted;
	bool swept; /* the start-up sweep of stale uploads is over */
};

/*
 * From the --s3-* and --spool-* options. NULL with a one-line message in
 * err for a bad configuration (exit code 2).
 */
struct obj_backend *objstore_s3_new(const struct kerno_config *cfg, char *err, size_t errlen);

/* Counters so far (b must come from objstore_s3_new). */
void objstore_s3_stats(struct obj_backend *b, struct objstore_s3_stats *out);

/* "h2" or "http/1.1" once connected, "" before. */
const char *objstore_s3_protocol(struct obj_backend *b);

#endif /* KERNO_OBJSTORE_S3_H */
