/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * AWS Signature Version 4, header signing.
 *
 * The caller gives the request as it will be sent: the path unencoded (the
 * object key as it is, with its spaces, '+', '//' and UTF-8), the query as
 * on the wire, and the headers to sign (host among them). The signer
 *   - encodes the path once, every byte but A-Z a-z 0-9 - _ . ~ and '/'
 *     (sigv4_uri_encode; S3 requests must be sent with exactly that path);
 *     with normalize_path (every service but S3) dot segments and repeated
 *     slashes are removed first;
 *   - decodes and re-encodes each query key and value, and sorts them by key
 *     then value; a key without '=' gets an empty value;
 *   - lower-cases header names, trims values and squeezes inner runs of
 *     blanks, joins repeated headers with ',' in their order, sorts by name;
 *   - adds x-amz-date, and x-amz-content-sha256 and x-amz-security-token
 *     when asked, to the signed set.
 * It fills in the header values the caller must then send.
 */
#ifndef KERNO_SIGV4_H
#define KERNO_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "strbuf.h"

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_creds {
	const char *access_key;
	const char *secret_key;
	const char *token; /* NULL or "": none */
};

struct sigv4_input {
	const char *method;
	const char *path; /* unencoded, starting with '/' */
	const char *query; /* as on the wire, without '?'; NULL or "": none */
	const struct sigv4_header *headers;
	size_t n_headers;
	const char *payload_hash; /* lower-case hex SHA-256 of the body, or UNSIGNED-PAYLOAD */
	const char *region;
	const char *service;
	time_t when;
	bool normalize_path; /* false for S3 */
	bool content_sha256_header; /* sign and send x-amz-content-sha256 (S3: always) */
	bool sign_token; /* sign x-amz-security-token (true but for the suite's one case) */
};

struct sigv4_output {
	char amz_date[17]; /* x-amz-date: 20150830T123600Z */
	char signature[65];
	char authorization[1024];
	struct strbuf canonical; /* the canonical request, for tests and debugging */
	struct strbuf string_to_sign;
};

/* 0, or -1 when out of memory or an input is too long. Free out with sigv4_output_free(). */
int sigv4_sign(const struct sigv4_input *in, const struct sigv4_creds *creds,
	       struct sigv4_output *out);
void sigv4_output_free(struct sigv4_output *out);

/* Append s percent-encoded (all but unreserved bytes, and '/' when keep_slash). */
void sigv4_uri_encode(struct strbuf *b, const char *s, size_t len, bool keep_slash);

/* Lower-case hex SHA-256 of data into out[65]. */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

#endif /* KERNO_SIGV4_H */
