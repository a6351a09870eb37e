/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Opening a WebSocket to the cloud: parse the wss:// URL, reach the host
 * directly or through an HTTP CONNECT proxy (HTTPS_PROXY, NO_PROXY), TLS
 * with verification (tls.h), the upgrade handshake (ws_handshake.h), and a
 * ws_conn reading and writing through that TLS connection.
 *
 * Only wss:// is accepted: the uplink never sends in the clear.
 */
#ifndef KERNO_WS_CLIENT_H
#define KERNO_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "tls.h"
#include "ws_conn.h"

struct ws_url {
	char host[256]; /* without brackets */
	char port[8];
	char path[1024]; /* "/" at least */
	bool ipv6;
};

/* Parse "wss://host[:port][/path]". 0, or -EINVAL with the reason in err. */
int ws_url_parse(const char *url, struct ws_url *u, char *err, size_t errlen);

struct ws_proxy {
	char host[256];
	char port[8];
	char auth[512]; /* "Basic ..." from user:password@, or "" */
};

/*
 * The proxy to use for host from HTTPS_PROXY (or https_proxy) unless
 * NO_PROXY (or no_proxy) exempts it: 1 with p filled, 0 for a direct
 * connection, -EINVAL with the reason in err when the variable is malformed.
 */
int ws_proxy_for(const char *host, struct ws_proxy *p, char *err, size_t errlen);

struct ws_client_opts {
	const struct ws_url *url;
	struct tls_client *tls;
	const char *token; /* bearer token or NULL */
	const char *stream; /* Kerno-Stream value or NULL */
	const char *user_agent;
	bool deflate; /* offer permessage-deflate */
	size_t max_message;
	int timeout_ms; /* for everything up to the end of the handshake */
	ws_on_message on_message;
	void *ud;
};

struct ws_client;

/*
 * Connect and complete the handshake. 0 with *out set, or a negative errno
 * with one line in err saying what failed (proxy, TLS, handshake):
 * -EACCES when the token was refused.
 */
int ws_client_connect(const struct ws_client_opts *o, struct ws_client **out, char *err,
		      size_t errlen);

/* The socket, for poll(). */
int ws_client_fd(const struct ws_client *c);

/* Bytes that can be read without polling (decrypted or left over from the handshake). */
bool ws_client_readable(const struct ws_client *c);

struct ws_conn *ws_client_conn(struct ws_client *c);

/* Whether the connection went through a proxy. */
bool ws_client_proxied(const struct ws_client *c);

/* Close the TLS connection and free everything (NULL is fine). */
void ws_client_free(struct ws_client *c);

#endif /* KERNO_WS_CLIENT_H */
