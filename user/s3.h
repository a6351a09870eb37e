/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The S3 protocol over httpc: requests addressed (virtual-hosted on AWS,
 * path-style on a custom endpoint or for bucket names with dots), signed
 * with SigV4 (x-amz-content-sha256 always the body's SHA-256), server-side
 * encryption headers on the writes that take them, replies classified and
 * XML error bodies turned into one line ("SlowDown: Please reduce your
 * request rate"). The server's Date corrects a skewed local clock.
 *
 * Each call makes one attempt; s3_backoff_ms() gives the wait before the
 * next one. Batches run in parallel (h2 streams or HTTP/1.1 connections).
 */
#ifndef KERNO_S3_H
#define KERNO_S3_H

#include <stdbool.h>
#include <stddef.h>

struct s3_config {
	const char *bucket;
	const char *region;
	const char *endpoint; /* https://host[:port]; NULL or "": AWS */
	const char *ca_file; /* NULL: system bundle */
	const char *sse; /* NULL, "", "AES256" or "aws:kms" */
	const char *kms_key_id;
	int max_conns;
	int timeout_ms;
};

struct s3_result {
	int status; /* HTTP status, 0 for a transport failure */
	bool ok;
	bool retryable; /* throttling, 5xx, network, skew, expired token */
	char code[64]; /* S3 error code, or "" */
	char msg[384]; /* one line for the log */
	char etag[130]; /* UploadPart, PutObject */
	char upload_id[1024]; /* CreateMultipartUpload */
	long long length; /* HeadObject */
};

struct s3_part {
	int number;
	char etag[130];
};

struct s3_upload {
	char key[1024];
	char upload_id[1024];
	long long initiated; /* epoch seconds */
};

struct s3;

/* NULL with a one-line message (bad endpoint, CA file, no credentials). */
struct s3 *s3_new(const struct s3_config *cfg, char *err, size_t errlen);
void s3_free(struct s3 *s);

/* "h2" or "http/1.1" once connected. */
const char *s3_protocol(const struct s3 *s);

/*
 * PutObject of a stream of objects, up to max_inflight at once, the next
 * one starting as soon as one ends. next() gives an object (key and data
 * valid until its done()), -1 when there is none; done() gets its result.
 * Both run under one lock.
 */
struct s3_put_feed {
	int (*next)(void *arg, const char **key, const void **data, size_t *len, void **token);
	void (*done)(void *arg, void *token, const struct s3_result *res);
};

void s3_put_stream(struct s3 *s, const struct s3_put_feed *f, void *arg, size_t max_inflight);

void s3_create_upload(struct s3 *s, const char *key, struct s3_result *res);
/* UploadPart of n parts of one upload at once: parts[i] numbers, data, lens. */
void s3_upload_parts(struct s3 *s, const char *key, const char *upload_id, const int *numbers,
		     const void *const *data, const size_t *lens, size_t n, struct s3_result *res);
void s3_complete_upload(struct s3 *s, const char *key, const char *upload_id,
			const struct s3_part *parts, size_t n, struct s3_result *res);
void s3_abort_upload(struct s3 *s, const char *key, const char *upload_id, struct s3_result *res);
void s3_head_object(struct s3 *s, const char *key, struct s3_result *res);

/*
 * Multipart uploads in progress under prefix (up to max): their count, or
 * -1 with res describing why (S3-compatible stores may not implement it).
 */
int s3_list_uploads(struct s3 *s, const char *prefix, struct s3_upload *out, int max,
		    struct s3_result *res);

/* Wait before attempt `attempt` (1, 2, ...): exponential from 200 ms, capped, full jitter. */
unsigned int s3_backoff_ms(unsigned int attempt, unsigned int cap_ms);

/* Seconds added to the local clock when signing (server Date minus local time). */
long s3_clock_skew(const struct s3 *s);

#endif /* KERNO_S3_H */
