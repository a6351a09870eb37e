/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small HTTP/2 server over TLS (nghttp2's classic API on tls_server.h),
 * driven by the caller's loop: h2server_poll() waits up to a timeout,
 * accepts, handshakes, reads frames, and hands every complete request to
 * one handler, whose response goes back on the same stream.
 *
 * Bounded: at most `max_conns` connections (more are closed at accept),
 * at most `max_body` bytes per request body (past it the body is not kept
 * and the handler is told, to answer 413 and count it), at most 100
 * concurrent streams per connection.
 */
#ifndef KERNO_H2SERVER_H
#define KERNO_H2SERVER_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "tls_server.h"

#define H2_HDR_LEN 256

struct h2_request {
	char method[16];
	char path[H2_HDR_LEN];
	char authorization[H2_HDR_LEN];
	char content_type[64];
	char batch_id[H2_HDR_LEN]; /* kerno-batch-id, "" when absent */
	const uint8_t *body;
	size_t body_len;
	bool too_big; /* past max_body: body is NULL, answer 413 */
};

struct h2_response {
	int status;
	const char *content_type; /* static string; NULL: application/json */
	char *body; /* malloc'ed, freed by the server; NULL: empty */
	size_t body_len;
};

/* Fill *resp (zeroed on entry) for req. */
typedef void (*h2_handler_fn)(void *ctx, const struct h2_request *req, struct h2_response *resp);

struct h2server_opts {
	int listen_fd; /* bound and listening; owned by the caller */
	struct tls_server *tls;
	h2_handler_fn handler;
	void *ctx;
	size_t max_conns;
	size_t max_body;
	/*
	 * NULL: answers go out as the handler gives them. Else the answers of
	 * one poll round are held and this is called once before they go out:
	 * one fdatasync for all the requests that arrived together.
	 */
	void (*before_reply)(void *ctx);
};

struct h2server;

struct h2server *h2server_new(const struct h2server_opts *o);
void h2server_free(struct h2server *s);

/* One round of waiting (at most timeout_ms) and work. 0 or a negative errno. */
int h2server_poll(struct h2server *s, int timeout_ms);

/* Connections open now, and refused at accept for want of room, since the start. */
size_t h2server_conns(const struct h2server *s);
unsigned long long h2server_refused(const struct h2server *s);

/* A listening TCP socket on host:port (port "0": ephemeral); the port bound in *port_out. */
int h2server_listen(const char *host, const char *port, int *port_out, char *err, size_t errlen);

#endif /* KERNO_H2SERVER_H */
