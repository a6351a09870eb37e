// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The TLS client against a real BoringSSL server on 127.0.0.1 (a thread of
 * this test), with certificates the test makes with the openssl tool: the
 * right CA, the wrong CA, a name mismatch, ALPN, timeouts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/ssl.h>

#include "tls.h"

static char dir[64];

static void path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

/* CA "a" signs the server's certificate; CA "b" is the wrong one. */
static int make_certs(void **state)
{
	char cmd[2048];

	snprintf(dir, sizeof(dir), "/tmp/kerno-tls-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && for ca in a b; do openssl req -x509 -newkey ec -pkeyopt "
		 "ec_paramgen_curve:P-256 -nodes -keyout ca-$ca.key -out ca-$ca.pem -days 2 "
		 "-subj /CN=kerno-test-ca-$ca >/dev/null 2>&1 || exit 1; done; "
		 "for s in good:'DNS:localhost,IP:127.0.0.1' other:'DNS:other.example'; do "
		 "n=${s%%%%:*}; san=${s#*:}; "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key "
		 "-out $n.csr -subj /CN=$n >/dev/null 2>&1 || exit 1; "
		 "printf 'subjectAltName=%%s\\n' \"$san\" > $n.ext; "
		 "openssl x509 -req -in $n.csr -CA ca-a.pem -CAkey ca-a.key -CAcreateserial "
		 "-days 2 -extfile $n.ext -out $n.pem >/dev/null 2>&1 || exit 1; done",
		 dir);
	assert_int_equal(system(cmd), 0);
	*state = NULL;
	return 0;
}

static int remove_certs(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

struct server {
	int lfd;
	char port[8];
	const char *cert; /* "good" or "other" */
	const char *alpn_pick; /* protocol to choose when offered, NULL: no ALPN */
	bool handshake; /* false: accept and sit silent */
	pthread_t thread;
	int app_bytes; /* application bytes received, -1 when the handshake failed */
};

static int alpn_select(SSL *ssl, const uint8_t **out, uint8_t *outlen, const uint8_t *in,
		       unsigned int inlen, void *arg)
{
	const struct server *s = arg;
	size_t want = strlen(s->alpn_pick);
	unsigned int i = 0;

	while (i < inlen) {
		if (in[i] == want && i + 1 + want <= inlen &&
		    !memcmp(in + i + 1, s->alpn_pick, want)) {
			*out = in + i + 1;
			*outlen = in[i];
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + in[i];
	}
	return SSL_TLSEXT_ERR_NOACK;
}

/* One connection: handshake, then echo until the client closes. */
static void *serve(void *arg)
{
	struct server *s = arg;
	char file[128], buf[4096];
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	SSL *ssl = NULL;
	int fd, n;

	path(file, sizeof(file), s->cert);
	strcat(file, ".pem");
	SSL_CTX_use_certificate_chain_file(ctx, file);
	path(file, sizeof(file), s->cert);
	strcat(file, ".key");
	SSL_CTX_use_PrivateKey_file(ctx, file, SSL_FILETYPE_PEM);
	if (s->alpn_pick)
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, s);
	fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		goto out;
	if (!s->handshake) {
		/* Hold the connection open, say nothing, until the client gives up. */
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		goto out;
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	s->app_bytes = -1;
	if (SSL_accept(ssl) != 1)
		goto out;
	s->app_bytes = 0;
	while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
		s->app_bytes += n;
		SSL_write(ssl, buf, n);
	}
out:
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(ctx);
	return NULL;
}

static void server_start(struct server *s, const char *cert, const char *alpn, bool handshake)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	s->cert = cert;
	s->alpn_pick = alpn;
	s->handshake = handshake;
	s->app_bytes = -2;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 4), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
	snprintf(s->port, sizeof(s->port), "%u", ntohs(a.sin_port));
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_join(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

static struct tls_client *client(const char *ca, const char *const *alpn)
{
	struct tls_client_opts o = { .alpn = alpn };
	char file[128], err[256];
	struct tls_client *c;

	path(file, sizeof(file), ca);
	o.ca_file = file;
	c = tls_client_new(&o, err, sizeof(err));
	assert_non_null(c);
	return c;
}

static void test_verified_echo_with_alpn(void **state)
{
	static const char *const alpn[] = { "h2", "http/1.1", NULL };
	struct tls_client *c = client("ca-a.pem", alpn);
	struct server s;
	char err[256], buf[16];
	struct tls_conn *t;

	server_start(&s, "good", "http/1.1", true);
	t = tls_connect(c, "127.0.0.1", s.port, 5000, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(tls_alpn(t), "http/1.1");
	assert_int_equal(tls_write_all(t, "hello", 5, 5000), 0);
	assert_int_equal(tls_read(t, buf, sizeof(buf), 5000), 5);
	assert_memory_equal(buf, "hello", 5);
	tls_close(t);
	server_join(&s);
	assert_int_equal(s.app_bytes, 5);
	tls_client_free(c);
}

static void test_dns_name_and_h2(void **state)
{
	static const char *const alpn[] = { "h2", "http/1.1", NULL };
	struct tls_client *c = client("ca-a.pem", alpn);
	struct server s;
	char err[256];
	struct tls_conn *t;

	server_start(&s, "good", "h2", true);
	t = tls_connect(c, "localhost", s.port, 5000, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(tls_alpn(t), "h2");
	tls_close(t);
	server_join(&s);
	assert_int_equal(s.app_bytes, 0);
	tls_client_free(c);
}

static void test_wrong_ca_refused_nothing_sent(void **state)
{
	struct tls_client *c = client("ca-b.pem", NULL);
	char err[256], want[256];
	struct server s;

	server_start(&s, "good", NULL, true);
	assert_null(tls_connect(c, "127.0.0.1", s.port, 5000, err, sizeof(err)));
	snprintf(want, sizeof(want),
		 "127.0.0.1:%s: certificate verify failed: unable to get local issuer certificate",
		 s.port);
	assert_string_equal(err, want);
	server_join(&s);
	assert_int_equal(s.app_bytes, -1);
	tls_client_free(c);
}

static void test_system_bundle_refuses_private_ca(void **state)
{
	struct tls_client_opts o = { 0 };
	char err[256], want[256];
	struct tls_client *c = tls_client_new(&o, err, sizeof(err));
	struct server s;

	assert_non_null(c);
	server_start(&s, "good", NULL, true);
	assert_null(tls_connect(c, "localhost", s.port, 5000, err, sizeof(err)));
	snprintf(want, sizeof(want),
		 "localhost:%s: certificate verify failed: unable to get local issuer certificate",
		 s.port);
	assert_string_equal(err, want);
	server_join(&s);
	tls_client_free(c);
}

static void test_name_mismatch_refused(void **state)
{
	struct tls_client *c = client("ca-a.pem", NULL);
	char err[256], want[256];
	struct server s;

	server_start(&s, "other", NULL, true);
	assert_null(tls_connect(c, "localhost", s.port, 5000, err, sizeof(err)));
	snprintf(want, sizeof(want), "localhost:%s: certificate verify failed: %s", s.port,
		 X509_verify_cert_error_string(X509_V_ERR_HOSTNAME_MISMATCH));
	assert_string_equal(err, want);
	server_join(&s);
	tls_client_free(c);
}

static void test_handshake_timeout(void **state)
{
	struct tls_client *c = client("ca-a.pem", NULL);
	char err[256], want[256];
	struct server s;

	server_start(&s, "good", NULL, false);
	assert_null(tls_connect(c, "127.0.0.1", s.port, 300, err, sizeof(err)));
	snprintf(want, sizeof(want), "127.0.0.1:%s: TLS handshake: timed out", s.port);
	assert_string_equal(err, want);
	server_join(&s);
	tls_client_free(c);
}

static void test_refused_and_bad_ca_file(void **state)
{
	struct tls_client_opts o = { .ca_file = "/nonexistent/ca.pem" };
	struct tls_client *c = client("ca-a.pem", NULL);
	char err[256], want[256];
	struct server s;

	server_start(&s, "good", NULL, true);
	/* A closed port: the listener is gone before we connect. */
	shutdown(s.lfd, SHUT_RDWR);
	close(s.lfd);
	pthread_join(s.thread, NULL);
	assert_null(tls_connect(c, "127.0.0.1", s.port, 2000, err, sizeof(err)));
	snprintf(want, sizeof(want), "127.0.0.1:%s: connect: Connection refused", s.port);
	assert_string_equal(err, want);
	tls_client_free(c);

	assert_null(tls_client_new(&o, err, sizeof(err)));
	assert_string_equal(err, "CA file /nonexistent/ca.pem: No such file or directory");
	path(want, sizeof(want), "ca-a.key");
	o.ca_file = want;
	assert_null(tls_client_new(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "(a PEM bundle is expected)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verified_echo_with_alpn),
		cmocka_unit_test(test_dns_name_and_h2),
		cmocka_unit_test(test_wrong_ca_refused_nothing_sent),
		cmocka_unit_test(test_system_bundle_refuses_private_ca),
		cmocka_unit_test(test_name_mismatch_refused),
		cmocka_unit_test(test_handshake_timeout),
		cmocka_unit_test(test_refused_and_bad_ca_file),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
