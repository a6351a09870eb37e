// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTPS test client for the TLS capture tests: COUNT GET requests over one
 * keep-alive connection (a new one if the server closes it), the paths
 * taken in turn from the list, then one "STATUS COUNT" line per status.
 * Built by the test against OpenSSL linked in (libssl.a), against BoringSSL
 * shared and against BoringSSL linked in: the calls used here are common to
 * all.
 *
 *   tls_client HOST PORT CA_FILE COUNT PATH...
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_STATUS 600

struct conn {
	int fd;
	SSL *ssl;
	char buf[16384];
	size_t have; /* bytes in buf not consumed yet */
};

static int tls_connect(struct conn *c, SSL_CTX *ctx, const char *host, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, host, &sa.sin_addr);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	c->ssl = SSL_new(ctx);
	SSL_set_fd(c->ssl, c->fd);
	c->have = 0;
	if (SSL_connect(c->ssl) != 1) {
		ERR_print_errors_fp(stderr);
		return -1;
	}
	return 0;
}

static void tls_close(struct conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

/* More bytes into buf; 0 at end of stream. */
static int fill(struct conn *c)
{
	int n;

	if (c->have == sizeof(c->buf))
		return -1;
	n = SSL_read(c->ssl, c->buf + c->have, (int)(sizeof(c->buf) - c->have));
	if (n <= 0)
		return n;
	c->have += n;
	return n;
}

static void consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->have - n);
	c->have -= n;
}

/* One response: its status, its body skipped; *keep 0 if the server closes. */
static int read_response(struct conn *c, int *keep)
{
	char *end, *cl, *close_hdr;
	size_t head, body;
	int status;

	while (!(end = memmem(c->buf, c->have, "\r\n\r\n", 4)))
		if (fill(c) <= 0)
			return -1;
	head = end - c->buf + 4;
	c->buf[head - 1] = 0;
	if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	cl = strcasestr(c->buf, "\r\ncontent-length:");
	close_hdr = strcasestr(c->buf, "\r\nconnection: close");
	*keep = !close_hdr;
	body = cl ? strtoul(cl + 17, NULL, 10) : 0;
	consume(c, head);
	while (c->have < body)
		if (fill(c) <= 0)
			return -1;
	consume(c, body);
	return status;
}

int main(int argc, char **argv)
{
	static unsigned long counts[MAX_STATUS];
	struct conn c = { .fd = -1 };
	char req[512];
	SSL_CTX *ctx;
	int port, count, i, status, keep = 0, len;

	if (argc < 6) {
		fprintf(stderr, "usage: %s HOST PORT CA_FILE COUNT PATH...\n", argv[0]);
		return 2;
	}
	port = atoi(argv[2]);
	count = atoi(argv[4]);
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1)
		return 1;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	for (i = 0; i < count; i++) {
		if (!keep) {
			tls_close(&c);
			if (tls_connect(&c, ctx, argv[1], port))
				return 1;
		}
		len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
			       argv[5 + i % (argc - 5)], argv[1]);
		if (SSL_write(c.ssl, req, len) != len)
			return 1;
		status = read_response(&c, &keep);
		if (status < 0 || status >= MAX_STATUS)
			return 1;
		counts[status]++;
	}
	tls_close(&c);
	SSL_CTX_free(ctx);
	for (i = 0; i < MAX_STATUS; i++)
		if (counts[i])
			printf("%d %lu\n", i, counts[i]);
	return 0;
}
