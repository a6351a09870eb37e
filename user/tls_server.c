// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Accepting TLS connections on BoringSSL, ALPN h2 only: see tls_server.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls_server.h"

struct tls_server {
	SSL_CTX *ctx;
};

struct tls_sconn {
	SSL *ssl;
	int fd;
	short want; /* what the last incomplete operation waits for */
	char err[160];
};

static const char *ssl_reason(const char *fallback)
{
	uint32_t e = ERR_get_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : fallback;
}

/* Only h2: a client that does not offer it is refused in the handshake. */
static int select_h2(SSL *ssl, const uint8_t **out, uint8_t *outlen, const uint8_t *in,
		     unsigned int inlen, void *arg)
{
	unsigned int i = 0;

	while (i < inlen) {
		unsigned int l = in[i];

		if (i + 1 + l > inlen)
			break;
		if (l == 2 && !memcmp(in + i + 1, "h2", 2)) {
			*out = in + i + 1;
			*outlen = 2;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + l;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

struct tls_server *tls_server_new(const char *cert_file, const char *key_file, char *err,
				  size_t errlen)
{
	struct tls_server *s = calloc(1, sizeof(*s));

	if (!s || !(s->ctx = SSL_CTX_new(TLS_server_method()))) {
		snprintf(err, errlen, "out of memory setting up TLS");
		goto fail;
	}
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(s->ctx, cert_file) != 1) {
		snprintf(err, errlen, "cannot use the TLS certificate %s: %s", cert_file,
			 ssl_reason("unreadable"));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(s->ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(s->ctx) != 1) {
		snprintf(err, errlen, "cannot use the TLS key %s: %s", key_file,
			 ssl_reason("unreadable or not the certificate's key"));
		goto fail;
	}
	SSL_CTX_set_alpn_select_cb(s->ctx, select_h2, NULL);
	return s;
fail:
	tls_server_free(s);
	return NULL;
}

void tls_server_free(struct tls_server *s)
{
	if (!s)
		return;
	SSL_CTX_free(s->ctx);
	free(s);
}

struct tls_sconn *tls_sconn_new(struct tls_server *s, int fd)
{
	struct tls_sconn *c = calloc(1, sizeof(*c));
	int fl = fcntl(fd, F_GETFL);

	if (!c)
		return NULL;
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || !(c->ssl = SSL_new(s->ctx)) ||
	    !SSL_set_fd(c->ssl, fd)) {
		SSL_free(c->ssl);
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->want = POLLIN;
	SSL_set_accept_state(c->ssl);
	return c;
}

/* Map an SSL result to the convention of this module, noting what to wait for. */
static ssize_t io_result(struct tls_sconn *c, int r, const char *op)
{
	int e = SSL_get_error(c->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		c->want = POLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->want = POLLOUT;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		snprintf(c->err, sizeof(c->err), "%s: %s", op,
			 errno ? strerror(errno) : "connection closed");
		ERR_clear_error();
		return errno ? -errno : -ECONNRESET;
	default:
		snprintf(c->err, sizeof(c->err), "%s: %s", op, ssl_reason("TLS error"));
		return -EPROTO;
	}
}

int tls_sconn_handshake(struct tls_sconn *c)
{
	int r = SSL_do_handshake(c->ssl);
	ssize_t ret;

	if (r == 1) {
		c->want = POLLIN;
		return 1;
	}
	ret = io_result(c, r, "handshake");
	return ret == -EAGAIN ? 0 : -EPROTO;
}

ssize_t tls_sconn_read(struct tls_sconn *c, void *buf, size_t len)
{
	int r = SSL_read(c->ssl, buf, len > 1 << 30 ? 1 << 30 : (int)len);

	if (r > 0) {
		c->want = POLLIN;
		return r;
	}
	return io_result(c, r, "read");
}

ssize_t tls_sconn_write(struct tls_sconn *c, const void *buf, size_t len)
{
	int r;
	ssize_t ret;

	if (!len)
		return 0;
	r = SSL_write(c->ssl, buf, len > 1 << 30 ? 1 << 30 : (int)len);
	if (r > 0)
		return r;
	ret = io_result(c, r, "write");
	return ret == -EAGAIN ? 0 : (ret ? ret : -ECONNRESET);
}

short tls_sconn_events(const struct tls_sconn *c)
{
	return c->want;
}

size_t tls_sconn_pending(const struct tls_sconn *c)
{
	return SSL_pending(c->ssl);
}

int tls_sconn_fd(const struct tls_sconn *c)
{
	return c->fd;
}

const char *tls_sconn_error(const struct tls_sconn *c)
{
	return c->err;
}

void tls_sconn_close(struct tls_sconn *c)
{
	if (!c)
		return;
	SSL_shutdown(c->ssl);
	SSL_free(c->ssl);
	close(c->fd);
	free(c);
}
