// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TLS client connections on BoringSSL, verification always on: see tls.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "clock.h"
#include "resolve.h"
#include "tls.h"

struct tls_client {
	SSL_CTX *ctx;
};

struct tls_conn {
	SSL *ssl;
	int fd;
	char peer[128]; /* host:port, for error lines */
	char alpn[32];
	char err[256];
	short want; /* what the last incomplete write waits for: POLLIN or POLLOUT */
};

/* The reason of the oldest queued BoringSSL error, or `fallback`. */
static const char *ssl_reason(const char *fallback)
{
	uint32_t e = ERR_get_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : fallback;
}

/* ALPN wire format: each protocol preceded by its length byte. */
static int alpn_wire(const char *const *alpn, uint8_t *out, size_t size, size_t *len)
{
	size_t n = 0, l;

	for (; alpn && *alpn; alpn++) {
		l = strlen(*alpn);
		if (!l || l > 255 || n + 1 + l > size)
			return -1;
		out[n++] = (uint8_t)l;
		memcpy(out + n, *alpn, l);
		n += l;
	}
	*len = n;
	return 0;
}

struct tls_client *tls_client_new(const struct tls_client_opts *opts, char *err, size_t errlen)
{
	const char *ca = opts->ca_file && *opts->ca_file ? opts->ca_file : TLS_SYSTEM_CA_FILE;
	struct tls_client *c = calloc(1, sizeof(*c));
	uint8_t wire[256];
	size_t wlen = 0;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->ctx = SSL_CTX_new(TLS_method());
	if (!c->ctx) {
		snprintf(err, errlen, "TLS context: %s", ssl_reason("out of memory"));
		goto fail;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(c->ctx,
			 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (access(ca, R_OK)) {
		snprintf(err, errlen, "CA file %s: %s", ca, strerror(errno));
		goto fail;
	}
	if (!SSL_CTX_load_verify_locations(c->ctx, ca, NULL)) {
		snprintf(err, errlen, "CA file %s: %s (a PEM bundle is expected)", ca,
			 ssl_reason("no certificate loaded"));
		goto fail;
	}
	if (alpn_wire(opts->alpn, wire, sizeof(wire), &wlen)) {
		snprintf(err, errlen, "ALPN list too long or with an empty name");
		goto fail;
	}
	/* SSL_CTX_set_alpn_protos returns 0 on success, unlike the rest of the API. */
	if (wlen && SSL_CTX_set_alpn_protos(c->ctx, wire, wlen)) {
		snprintf(err, errlen, "ALPN: %s", ssl_reason("cannot set"));
		goto fail;
	}
	return c;
fail:
	tls_client_free(c);
	return NULL;
}

void tls_client_free(struct tls_client *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ctx);
	free(c);
}

static __thread int cancel_fd = -1;

void tls_cancel_on(int fd)
{
	cancel_fd = fd;
}

int tls_wait(int fd, short events, long long deadline)
{
	struct pollfd p[2] = { { .fd = fd, .events = events },
			       { .fd = cancel_fd, .events = POLLIN } };
	int r;

	for (;;) {
		r = poll(p, cancel_fd >= 0 ? 2 : 1, ms_until(deadline));
		if (r > 0)
			return cancel_fd >= 0 && p[1].revents ? -ECANCELED : 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int connect_addr(const struct addrinfo *ai, long long deadline)
{
	int fd, r, soerr = 0, one = 1;
	socklen_t sl = sizeof(soerr);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
		r = -errno;
		goto fail;
	}
	r = tls_wait(fd, POLLOUT, deadline);
	if (r)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr) {
		r = soerr ? -soerr : -errno;
		goto fail;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	close(fd);
	return r;
}

/* A connected non-blocking TCP socket, or -1 with err set. */
static int tcp_connect(const char *host, const char *port, long long deadline, char *err,
		       size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL, *ai;
	int fd = -ETIMEDOUT;
	char why[96];

	if (resolve(host, port, &hints, deadline, &res, why, sizeof(why))) {
		snprintf(err, errlen, "%s:%s: cannot resolve: %s", host, port, why);
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = connect_addr(ai, deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "%s:%s: connect: %s", host, port,
			 fd == -ETIMEDOUT ? "timed out" : strerror(-fd));
	return fd < 0 ? -1 : fd;
}

static bool is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Name checks: the certificate must match what the caller asked for. */
static int set_peer_name(SSL *ssl, const char *host)
{
	if (is_ip_literal(host))
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) ? 0 : -1;
	if (!SSL_set_tlsext_host_name(ssl, host))
		return -1;
	return SSL_set1_host(ssl, host) ? 0 : -1;
}

/* Why the handshake failed, as one line. */
static void handshake_error(struct tls_conn *t, int ret, char *err, size_t errlen)
{
	long vr = SSL_get_verify_result(t->ssl);
	int e = SSL_get_error(t->ssl, ret);

	if (vr != X509_V_OK) {
		ERR_clear_error();
		snprintf(err, errlen, "%s: certificate verify failed: %s", t->peer,
			 X509_verify_cert_error_string(vr));
	} else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
		snprintf(err, errlen, "%s: TLS handshake: %s", t->peer,
			 errno && e == SSL_ERROR_SYSCALL ? strerror(errno) :
							   "connection closed by peer");
		ERR_clear_error();
	} else {
		snprintf(err, errlen, "%s: TLS handshake: %s", t->peer,
			 ssl_reason("protocol error"));
	}
}

static int handshake(struct tls_conn *t, long long deadline, char *err, size_t errlen)
{
	int r, e, w;

	for (;;) {
		errno = 0;
		r = SSL_connect(t->ssl);
		if (r == 1)
			return 0;
		e = SSL_get_error(t->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			handshake_error(t, r, err, errlen);
			return -1;
		}
		w = tls_wait(t->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (w) {
			snprintf(err, errlen, "%s: TLS handshake: %s", t->peer,
				 w == -ETIMEDOUT ? "timed out" : strerror(-w));
			return -1;
		}
	}
}

struct tls_conn *tls_connect(struct tls_client *c, const char *host, const char *port,
			     int timeout_ms, char *err, size_t errlen)
{
	long long deadline = mono_ms() + timeout_ms;
	struct tls_conn *t = calloc(1, sizeof(*t));
	const uint8_t *proto;
	unsigned int plen;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(t->peer, sizeof(t->peer), "%s:%s", host, port);
	t->fd = tcp_connect(host, port, deadline, err, errlen);
	if (t->fd < 0)
		goto fail;
	t->ssl = SSL_new(c->ctx);
	if (!t->ssl || !SSL_set_fd(t->ssl, t->fd) || set_peer_name(t->ssl, host)) {
		snprintf(err, errlen, "%s: TLS setup: %s", t->peer, ssl_reason("out of memory"));
		goto fail;
	}
	if (handshake(t, deadline, err, errlen))
		goto fail;
	SSL_get0_alpn_selected(t->ssl, &proto, &plen);
	if (proto && plen && plen < sizeof(t->alpn)) { /* no ALPN: NULL, 0 */
		memcpy(t->alpn, proto, plen);
		t->alpn[plen] = '\0';
	}
	return t;
fail:
	if (t->ssl)
		SSL_free(t->ssl);
	if (t->fd >= 0)
		close(t->fd);
	free(t);
	return NULL;
}

const char *tls_alpn(const struct tls_conn *t)
{
	return t->alpn;
}

int tls_fd(const struct tls_conn *t)
{
	return t->fd;
}

const char *tls_error(const struct tls_conn *t)
{
	return t->err;
}

size_t tls_pending(const struct tls_conn *t)
{
	int n = SSL_pending(t->ssl);

	return n > 0 ? (size_t)n : 0;
}

/* Classify a failed SSL_read/SSL_write: 1 to wait for POLLIN, 2 for POLLOUT, <0 error. */
static int io_result(struct tls_conn *t, int r, const char *op)
{
	int e = SSL_get_error(t->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		return 1;
	case SSL_ERROR_WANT_WRITE:
		return 2;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		snprintf(t->err, sizeof(t->err), "%s: %s: %s", t->peer, op,
			 errno ? strerror(errno) : "connection closed without close_notify");
		ERR_clear_error();
		return errno ? -errno : -ECONNRESET;
	default:
		snprintf(t->err, sizeof(t->err), "%s: %s: %s", t->peer, op,
			 ssl_reason("TLS error"));
		return -EPROTO;
	}
}

ssize_t tls_read(struct tls_conn *t, void *buf, size_t len, int timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;
	int r, k, w;

	for (;;) {
		errno = 0;
		r = SSL_read(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
		if (r > 0)
			return r;
		k = io_result(t, r, "read");
		if (k <= 0)
			return k;
		w = tls_wait(t->fd, k == 1 ? POLLIN : POLLOUT, deadline);
		if (w) {
			snprintf(t->err, sizeof(t->err), "%s: read: %s", t->peer,
				 w == -ETIMEDOUT ? "timed out" : strerror(-w));
			return w;
		}
	}
}

ssize_t tls_write_some(struct tls_conn *t, const void *buf, size_t len)
{
	int r, k;

	if (!len)
		return 0;
	errno = 0;
	r = SSL_write(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (r > 0)
		return r;
	k = io_result(t, r, "write");
	if (k == 0) {
		snprintf(t->err, sizeof(t->err), "%s: write: connection closed by peer", t->peer);
		return -EPIPE;
	}
	if (k < 0)
		return k;
	t->want = k == 1 ? POLLIN : POLLOUT;
	return 0;
}

int tls_write_all(struct tls_conn *t, const void *buf, size_t len, int timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;
	const char *p = buf;
	ssize_t n;
	int w;

	while (len) {
		n = tls_write_some(t, p, len);
		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
		if (n || !len)
			continue;
		w = tls_wait(t->fd, t->want, deadline);
		if (w) {
			snprintf(t->err, sizeof(t->err), "%s: write: %s", t->peer,
				 w == -ETIMEDOUT ? "timed out" : strerror(-w));
			return w;
		}
	}
	return 0;
}

void tls_close(struct tls_conn *t)
{
	if (!t)
		return;
	SSL_shutdown(t->ssl);
	ERR_clear_error();
	SSL_free(t->ssl);
	close(t->fd);
	free(t);
}

int tls_tcp_connect(const char *host, const char *port, int timeout_ms, char *err, size_t errlen)
{
	return tcp_connect(host, port, mono_ms() + timeout_ms, err, errlen);
}

struct tls_conn *tls_connect_fd(struct tls_client *c, int fd, const char *host, const char *port,
				int timeout_ms, char *err, size_t errlen)
{
	long long deadline = mono_ms() + timeout_ms;
	struct tls_conn *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	snprintf(t->peer, sizeof(t->peer), "%s:%s", host, port);
	t->fd = fd;
	t->ssl = SSL_new(c->ctx);
	if (!t->ssl || !SSL_set_fd(t->ssl, t->fd) || set_peer_name(t->ssl, host)) {
		snprintf(err, errlen, "%s: TLS setup: %s", t->peer, ssl_reason("out of memory"));
		goto fail;
	}
	if (handshake(t, deadline, err, errlen))
		goto fail;
	return t;
fail:
	if (t->ssl)
		SSL_free(t->ssl);
	close(t->fd);
	free(t);
	return NULL;
}
