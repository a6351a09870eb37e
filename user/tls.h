/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small TLS client on BoringSSL, shared by the S3 uploader and the
 * WebSocket uplink.
 *
 * Certificates are always verified: the chain against the system bundle
 * (/etc/ssl/certs/ca-certificates.crt) or the caller's CA file, and the
 * name against the host connected to (DNS name or IP address). There is no
 * switch to turn verification off. SNI is sent for DNS names. ALPN is
 * offered when the caller gives a list, and the server's choice is read
 * back with tls_alpn().
 *
 * Sockets are non-blocking underneath; every call that may wait takes a
 * timeout in milliseconds. Errors come back as one line in the caller's
 * buffer, naming the peer ("example.com:443: certificate verify failed:
 * unable to get local issuer certificate").
 *
 * A tls_client (the SSL_CTX: trust store, ALPN list) is built once and may
 * be used from several threads to open connections; one tls_conn belongs
 * to one thread at a time.
 */
#ifndef KERNO_TLS_H
#define KERNO_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TLS_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

struct tls_client_opts {
	const char *ca_file; /* PEM bundle; NULL or "": the system bundle */
	/* ALPN protocols offered, most preferred first, e.g. { "h2", "http/1.1", NULL } */
	const char *const *alpn;
};

struct tls_client;
struct tls_conn;

/* NULL with a one-line message in err when the CA file cannot be loaded. */
struct tls_client *tls_client_new(const struct tls_client_opts *opts, char *err, size_t errlen);
void tls_client_free(struct tls_client *c);

/*
 * TCP connect to host:port (every address it resolves to, in turn) and
 * complete the handshake, within timeout_ms overall. Nothing is written
 * to the peer beyond the handshake itself: a refused certificate means no
 * application byte was sent. NULL with the reason in err.
 */
struct tls_conn *tls_connect(struct tls_client *c, const char *host, const char *port,
			     int timeout_ms, char *err, size_t errlen);

/*
 * On the calling thread, make every wait of this module (connect, handshake,
 * read, write, tls_wait()) also end, with -ECANCELED, once fd is readable:
 * an eventfd written at shutdown abandons a connection attempt in flight.
 * -1 turns it off. Name resolution (resolve.h) ends there too.
 */
void tls_cancel_on(int fd);

/*
 * Wait for `events` on fd until deadline (mono_ms() time): 0, -ETIMEDOUT,
 * -ECANCELED (see tls_cancel_on()) or -errno.
 */
int tls_wait(int fd, short events, long long deadline);

/*
 * A connected non-blocking TCP socket to host:port (every address in
 * turn) within timeout_ms, or -1 with the reason in err. For a peer that
 * is not TLS yet, such as an HTTP CONNECT proxy.
 */
int tls_tcp_connect(const char *host, const char *port, int timeout_ms, char *err, size_t errlen);

/*
 * tls_connect() over a socket already connected (through an HTTP CONNECT
 * proxy): fd is owned by the result, or closed on failure. host and port
 * are those of the TLS server, whose certificate is verified against host.
 * ALPN is not read back (tls_alpn() returns "").
 */
struct tls_conn *tls_connect_fd(struct tls_client *c, int fd, const char *host, const char *port,
				int timeout_ms, char *err, size_t errlen);

/* The protocol the server chose by ALPN, or "" when none. */
const char *tls_alpn(const struct tls_conn *t);

/*
 * Read up to len bytes, waiting at most timeout_ms for the first one.
 * Returns the count, 0 when the peer closed cleanly, -ETIMEDOUT, or
 * another negative errno (-EPROTO for TLS errors) with tls_error() set.
 */
ssize_t tls_read(struct tls_conn *t, void *buf, size_t len, int timeout_ms);

/* Bytes already decrypted and buffered, readable without waiting. */
size_t tls_pending(const struct tls_conn *t);

/* Write all of buf within timeout_ms. 0 or a negative errno as tls_read. */
int tls_write_all(struct tls_conn *t, const void *buf, size_t len, int timeout_ms);

/*
 * Write what can be written now without waiting: the count (possibly 0
 * when the socket is full), or a negative errno. BoringSSL requires a
 * retried write to pass the same buffer again (at least the same first
 * bytes), which callers do by retrying with their unsent remainder.
 */
ssize_t tls_write_some(struct tls_conn *t, const void *buf, size_t len);

/* The socket, for poll(); reads must still go through tls_read(). */
int tls_fd(const struct tls_conn *t);

/* The last error on this connection, one line; "" when none. */
const char *tls_error(const struct tls_conn *t);

/* Send close_notify (without waiting) and close the socket. NULL is fine. */
void tls_close(struct tls_conn *t);

#endif /* KERNO_TLS_H */
