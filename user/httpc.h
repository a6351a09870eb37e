/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * An HTTP client for one origin (scheme, host, port), for the S3 uploader
 * and the credential providers.
 *
 * Over TLS, ALPN decides: when the server selects h2, every request of a
 * batch is a stream on one connection (nghttp2; request bodies go out as
 * flow-control windows allow); otherwise HTTP/1.1 with keep-alive and up
 * to max_conns parallel connections, the batch spread over them. A reused
 * keep-alive connection that turns out closed is replaced once, silently.
 *
 * Responses carry the status, the header fields, the body, or a transport
 * error (negative errno and one line).
 */
#ifndef KERNO_HTTPC_H
#define KERNO_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

#include "http1_resp.h"
#include "sigv4.h"
#include "strbuf.h"
#include "tls.h"

struct httpc_opts {
	const char *host;
	const char *port;
	struct tls_client *tls; /* NULL: plain HTTP */
	int max_conns; /* HTTP/1.1 connections used at once (h2: one) */
	int timeout_ms; /* connect, and the longest silence while a reply is due */
};

struct httpc_request {
	const char *method;
	const char *target; /* path and query, encoded as they go on the wire */
	const struct sigv4_header *headers; /* without Host and Content-Length */
	size_t n_headers;
	const void *body;
	size_t body_len;
};

struct httpc_response {
	int status; /* 0 when there is no reply (err says why) */
	int err; /* negative errno of a transport failure */
	char errmsg[256];
	struct http1_head head; /* fields point into head_buf */
	struct strbuf head_buf;
	struct strbuf body;
};

struct httpc;

struct httpc *httpc_new(const struct httpc_opts *opts);
void httpc_free(struct httpc *c);

/* Run n requests; each response is filled in (free with httpc_response_free). */
void httpc_run(struct httpc *c, const struct httpc_request *reqs, struct httpc_response *resps,
	       size_t n);

/*
 * A stream of requests: next() hands out the next request and where its
 * response goes (-1: none now), done() says that response is complete.
 * Up to max_inflight run at once, a new one starting as soon as one ends
 * (no batch barrier). Both callbacks run under one lock, from whichever
 * thread needs them; the request must stay valid until its done().
 */
struct httpc_feed {
	int (*next)(void *arg, const struct httpc_request **rq, struct httpc_response **rs,
		    void **token);
	void (*done)(void *arg, void *token);
};

void httpc_stream(struct httpc *c, const struct httpc_feed *ops, void *arg, size_t max_inflight);

/* "h2" or "http/1.1" once a connection was made, "" before. */
const char *httpc_protocol(const struct httpc *c);

/* Header value (first of that name) into out; -1 when absent. */
int httpc_header(const struct httpc_response *r, const char *name, char *out, size_t size);

void httpc_response_free(struct httpc_response *r);

struct url {
	bool tls; /* https */
	char host[256]; /* without brackets for IPv6 */
	char port[8]; /* given, or 443 / 80 */
	char path[1024]; /* "/" at least; query included */
};

/* http:// or https:// URLs: 0, or -1 when malformed. */
int url_parse(const char *s, struct url *u);

#endif /* KERNO_HTTPC_H */
