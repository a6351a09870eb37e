/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * An HTTP/2 client for one peer (nghttp2's classic API over tls.h): one
 * connection, kept open between requests and opened again after any error.
 * Requests are sequential; each waits for its response within a timeout.
 */
#ifndef KERNO_H2CLIENT_H
#define KERNO_H2CLIENT_H

#include <stddef.h>

#include "tls.h"

struct h2client;

/* host and port are copied; tls is borrowed. NULL when out of memory. */
struct h2client *h2client_new(struct tls_client *tls, const char *host, const char *port,
			      int timeout_ms);
void h2client_free(struct h2client *c);

struct h2_header {
	const char *name; /* lower case */
	const char *value;
};

/*
 * POST body to path with the extra headers (n of them). On 0, *status is
 * the response status and, when resp is not NULL, *resp a malloc'ed,
 * NUL-terminated body (at most 64 KiB kept). A negative errno with a
 * one-line reason in err when the peer could not be reached or the
 * exchange failed; the connection is then closed.
 */
int h2client_post(struct h2client *c, const char *path, const struct h2_header *hdrs, size_t n,
		  const void *body, size_t len, int *status, char **resp, char *err, size_t errlen);

#endif /* KERNO_H2CLIENT_H */
