/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The accepting side of TLS on BoringSSL, for Nanobe's in-cluster listener
 * (tls.h is the connecting side). The certificate and key come from PEM
 * files, typically issued by the cluster-internal CA; ALPN selects "h2"
 * and refuses peers that do not offer it, so every connection speaks
 * HTTP/2.
 *
 * Connections are non-blocking: the caller's poll loop asks for the events
 * a connection waits for (tls_sconn_events) and calls the step functions
 * when they arrive. Nothing here blocks.
 */
#ifndef KERNO_TLS_SERVER_H
#define KERNO_TLS_SERVER_H

#include <stddef.h>
#include <sys/types.h>

struct tls_server;
struct tls_sconn;

/* NULL with a one-line message in err when the files cannot be used. */
struct tls_server *tls_server_new(const char *cert_file, const char *key_file, char *err,
				  size_t errlen);
void tls_server_free(struct tls_server *s);

/* Take over an accepted socket (made non-blocking here). NULL when out of memory. */
struct tls_sconn *tls_sconn_new(struct tls_server *s, int fd);

/* 1 once the handshake is complete, 0 while it waits, -EPROTO on failure. */
int tls_sconn_handshake(struct tls_sconn *c);

/* Count, 0 on a clean close, -EAGAIN when nothing is ready, or -EPROTO/-errno. */
ssize_t tls_sconn_read(struct tls_sconn *c, void *buf, size_t len);

/*
 * Count written (0 when the socket is full; retry with the same bytes),
 * or a negative errno.
 */
ssize_t tls_sconn_write(struct tls_sconn *c, const void *buf, size_t len);

/* poll(2) events the connection waits for: POLLIN, POLLOUT or both. */
short tls_sconn_events(const struct tls_sconn *c);

/* Decrypted bytes buffered in the library, readable without polling. */
size_t tls_sconn_pending(const struct tls_sconn *c);

int tls_sconn_fd(const struct tls_sconn *c);
const char *tls_sconn_error(const struct tls_sconn *c);

/* Send close_notify (without waiting), close the socket, free c (NULL is fine). */
void tls_sconn_close(struct tls_sconn *c);

#endif /* KERNO_TLS_SERVER_H */
