// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Opening a WebSocket to the cloud: see ws_client.h. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <openssl/base64.h>

#include "clock.h"
#include "http_head.h"
#include "ws_client.h"
#include "ws_handshake.h"

struct ws_client {
	struct tls_conn *tls;
	struct ws_conn *conn;
	bool proxied;
	/* Bytes that came after the handshake's head: the first frames. */
	char pre[HTTP_HEAD_MAX_BYTES];
	size_t pre_off, pre_len;
};

/* Say why in err and return code: one line per failure, as callers log it. */
__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int code,
						      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	return code;
}

/* "host[:port]" or "[v6][:port]" into host and port (default_port when absent). */
static int split_host_port(const char *s, size_t len, const char *default_port, char *host,
			   size_t hsize, char *port, size_t psize, bool *ipv6)
{
	const char *colon = NULL, *hs = s, *he;
	size_t i;

	*ipv6 = len && s[0] == '[';
	if (*ipv6) {
		he = memchr(s, ']', len);
		if (!he || (he + 1 < s + len && he[1] != ':'))
			return -EINVAL;
		hs = s + 1;
		colon = he + 1 < s + len ? he + 1 : NULL;
	} else {
		colon = memchr(s, ':', len);
		he = colon ? colon : s + len;
	}
	if (he == hs || (size_t)(he - hs) >= hsize)
		return -EINVAL;
	memcpy(host, hs, he - hs);
	host[he - hs] = '\0';
	for (i = 0; i < (size_t)(he - hs); i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:_",
			    host[i]))
			return -EINVAL;
	if (!colon) {
		snprintf(port, psize, "%s", default_port);
		return 0;
	}
	len -= colon + 1 - s;
	if (!len || len >= psize || len > 5)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (colon[1 + i] < '0' || colon[1 + i] > '9')
			return -EINVAL;
	memcpy(port, colon + 1, len);
	port[len] = '\0';
	return atoi(port) >= 1 && atoi(port) <= 65535 ? 0 : -EINVAL;
}

int ws_url_parse(const char *url, struct ws_url *u, char *err, size_t errlen)
{
	const char *auth, *slash;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(url, "wss://", 6)) {
		snprintf(err, errlen,
			 "--cloud-url must start with wss:// (the uplink is always TLS)");
		return -EINVAL;
	}
	auth = url + 6;
	slash = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', slash - auth) ||
	    split_host_port(auth, slash - auth, "443", u->host, sizeof(u->host), u->port,
			    sizeof(u->port), &u->ipv6)) {
		snprintf(err, errlen, "--cloud-url '%s': expected wss://HOST[:PORT][/PATH]", url);
		return -EINVAL;
	}
	if (*slash == '#' || strchr(slash, '#') || strlen(slash) + 2 > sizeof(u->path)) {
		snprintf(err, errlen, "--cloud-url '%s': no fragment, path under 1 KiB", url);
		return -EINVAL;
	}
	snprintf(u->path, sizeof(u->path), "%s%s", *slash == '/' ? "" : "/", slash);
	return 0;
}

/* Whether NO_PROXY's comma-separated list exempts host. */
static bool no_proxy_match(const char *list, const char *host)
{
	size_t hlen = strlen(host);
	const char *p = list;

	while (*p) {
		size_t n;
		const char *e;

		p += strspn(p, " ,");
		e = p + strcspn(p, ",");
		for (n = e - p; n && p[n - 1] == ' ';)
			n--;
		if (n && *p == '.') { /* ".example.com" matches below example.com too */
			p++;
			n--;
		}
		if ((n == 1 && *p == '*') ||
		    (n && n <= hlen && !strncasecmp(host + hlen - n, p, n) &&
		     (n == hlen || host[hlen - n - 1] == '.')))
			return true;
		p = e;
	}
	return false;
}

static const char *env2(const char *upper, const char *lower)
{
	const char *v = getenv(upper);

	return v && *v ? v : getenv(lower);
}

int ws_proxy_for(const char *host, struct ws_proxy *p, char *err, size_t errlen)
{
	const char *v = env2("HTTPS_PROXY", "https_proxy"), *np = env2("NO_PROXY", "no_proxy");
	const char *hp, *at, *end;
	size_t ulen;
	bool v6;

	memset(p, 0, sizeof(*p));
	if (!v || !*v || (np && no_proxy_match(np, host)))
		return 0;
	hp = v;
	if (!strncasecmp(v, "http://", 7))
		hp = v + 7;
	else if (strstr(v, "://"))
		goto bad; /* https:// to the proxy itself is not supported */
	end = hp + strcspn(hp, "/");
	at = memchr(hp, '@', end - hp);
	if (at) {
		ulen = at - hp;
		if (4 * ((ulen + 2) / 3) + 7 > sizeof(p->auth))
			goto bad;
		memcpy(p->auth, "Basic ", 6);
		EVP_EncodeBlock((uint8_t *)p->auth + 6, (const uint8_t *)hp, ulen);
		hp = at + 1;
	}
	if (split_host_port(hp, end - hp, "80", p->host, sizeof(p->host), p->port, sizeof(p->port),
			    &v6))
		goto bad;
	return 1;
bad:
	snprintf(err, errlen, "HTTPS_PROXY must be http://[USER:PASSWORD@]HOST[:PORT]");
	return -EINVAL;
}

static int send_plain(int fd, const char *buf, size_t len, long long deadline)
{
	ssize_t n;
	int r;

	while (len) {
		n = write(fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		r = tls_wait(fd, POLLOUT, deadline);
		if (r)
			return r;
	}
	return 0;
}

/* The proxy's answer to CONNECT: a 2xx head and not one byte more. */
static int read_connect_answer(int fd, long long deadline, char *err, size_t errlen)
{
	char buf[HTTP_HEAD_MAX_BYTES];
	struct http_head h;
	size_t len = 0;
	long n = 0;
	ssize_t r;
	int w;

	while (n == 0) {
		w = tls_wait(fd, POLLIN, deadline);
		if (w) {
			snprintf(err, errlen, "proxy: no answer to CONNECT: %s",
				 w == -ETIMEDOUT ? "timed out" : strerror(-w));
			return w;
		}
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "proxy: connection closed during CONNECT");
			return -ECONNRESET;
		}
		len += r;
		n = http_head_parse(buf, len, &h);
	}
	if (n < 0) {
		snprintf(err, errlen, "proxy: malformed answer to CONNECT");
		return -EPROTO;
	}
	if (h.status / 100 != 2) {
		snprintf(err, errlen, "proxy: CONNECT refused with HTTP %d%s", h.status,
			 h.status == 407 ? " (proxy credentials needed in HTTPS_PROXY)" : "");
		return -ECONNREFUSED;
	}
	if ((size_t)n != len) {
		snprintf(err, errlen, "proxy: bytes after the CONNECT answer before TLS began");
		return -EPROTO;
	}
	return 0;
}

/* A TCP socket through the proxy to url's host, ready for TLS; -1 with err. */
static int proxy_tunnel(const struct ws_proxy *p, const struct ws_url *u, long long deadline,
			char *err, size_t errlen)
{
	char req[2048], perr[256];
	int fd, n, r;

	fd = tls_tcp_connect(p->host, p->port, ms_until(deadline), perr, sizeof(perr));
	if (fd < 0) {
		snprintf(err, errlen, "proxy %s", perr);
		return -1;
	}
	n = snprintf(req, sizeof(req),
		     "CONNECT %s%s%s:%s HTTP/1.1\r\nHost: %s%s%s:%s\r\n%s%s%s\r\n",
		     u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "", u->port, u->ipv6 ? "[" : "",
		     u->host, u->ipv6 ? "]" : "", u->port,
		     p->auth[0] ? "Proxy-Authorization: " : "", p->auth, p->auth[0] ? "\r\n" : "");
	r = n > 0 && (size_t)n < sizeof(req) ? send_plain(fd, req, n, deadline) : -ENOSPC;
	if (r)
		snprintf(err, errlen, "proxy %s:%s: sending CONNECT: %s", p->host, p->port,
			 strerror(-r));
	else
		r = read_connect_answer(fd, deadline, err, errlen);
	if (r) {
		close(fd);
		return -1;
	}
	return fd;
}

static ssize_t io_read(void *ctx, void *buf, size_t len)
{
	struct ws_client *c = ctx;
	ssize_t n;

	if (c->pre_off < c->pre_len) {
		n = c->pre_len - c->pre_off < len ? c->pre_len - c->pre_off : len;
		memcpy(buf, c->pre + c->pre_off, n);
		c->pre_off += n;
		return n;
	}
	n = tls_read(c->tls, buf, len, 0);
	return n == -ETIMEDOUT ? -EAGAIN : n;
}

static ssize_t io_write(void *ctx, const void *buf, size_t len)
{
	struct ws_client *c = ctx;

	return tls_write_some(c->tls, buf, len);
}

/* Send the upgrade request and check the answer; leftover bytes go to c->pre. */
static int upgrade(struct ws_client *c, const struct ws_client_opts *o,
		   struct ws_deflate_params *dp, long long deadline, char *err, size_t errlen)
{
	struct ws_request rq = { .host = o->url->host,
				 .port = o->url->port,
				 .path = o->url->path,
				 .token = o->token,
				 .stream = o->stream,
				 .user_agent = o->user_agent,
				 .deflate = o->deflate };
	char key[WS_KEY_LEN + 1], req[4096], host[260];
	long head = 0;
	ssize_t r;
	int n;

	snprintf(host, sizeof(host), o->url->ipv6 ? "[%s]" : "%s", o->url->host);
	rq.host = host;
	if (ws_key_new(key))
		return fail(err, errlen, -EIO, "no random bytes for the key");
	n = ws_request_build(&rq, key, req, sizeof(req));
	if (n < 0)
		return fail(err, errlen, n, "cannot build the upgrade request: %s", strerror(-n));
	r = tls_write_all(c->tls, req, n, ms_until(deadline));
	if (r)
		return fail(err, errlen, (int)r, "sending the upgrade request: %s",
			    tls_error(c->tls));
	while (!head) {
		if (c->pre_len == sizeof(c->pre))
			return fail(err, errlen, -EPROTO,
				    "handshake refused: answer head too long");
		r = tls_read(c->tls, c->pre + c->pre_len, sizeof(c->pre) - c->pre_len,
			     ms_until(deadline));
		if (r <= 0)
			return fail(err, errlen, r ? (int)r : -ECONNRESET,
				    "no answer to the upgrade request: %s",
				    r == 0 ? "connection closed" : tls_error(c->tls));
		c->pre_len += r;
		head = ws_answer_check(c->pre, c->pre_len, key, o->deflate, dp, err, errlen);
	}
	if (head < 0)
		return (int)head;
	c->pre_off = head;
	return 0;
}

int ws_client_connect(const struct ws_client_opts *o, struct ws_client **out, char *err,
		      size_t errlen)
{
	long long deadline = mono_ms() + o->timeout_ms;
	struct ws_client *c = calloc(1, sizeof(*c));
	struct ws_conn_opts co = { .max_message = o->max_message,
				   .on_message = o->on_message,
				   .ud = o->ud };
	struct ws_io io = { .read = io_read, .write = io_write };
	struct ws_proxy proxy;
	int fd, ret;

	if (!c)
		return fail(err, errlen, -ENOMEM, "out of memory");
	ret = ws_proxy_for(o->url->host, &proxy, err, errlen);
	if (ret < 0)
		goto fail;
	c->proxied = ret == 1;
	if (c->proxied) {
		fd = proxy_tunnel(&proxy, o->url, deadline, err, errlen);
		c->tls = fd < 0 ? NULL :
				  tls_connect_fd(o->tls, fd, o->url->host, o->url->port,
						 ms_until(deadline), err, errlen);
	} else {
		c->tls = tls_connect(o->tls, o->url->host, o->url->port, ms_until(deadline), err,
				     errlen);
	}
	ret = -ECONNREFUSED;
	if (!c->tls)
		goto fail;
	ret = upgrade(c, o, &co.deflate, deadline, err, errlen);
	if (ret)
		goto fail;
	io.ctx = c;
	c->conn = ws_conn_new(&io, &co);
	ret = -ENOMEM;
	if (!c->conn)
		goto fail;
	*out = c;
	return 0;
fail:
	ws_client_free(c);
	return ret;
}

int ws_client_fd(const struct ws_client *c)
{
	return tls_fd(c->tls);
}

bool ws_client_readable(const struct ws_client *c)
{
	return c->pre_off < c->pre_len || tls_pending(c->tls);
}

struct ws_conn *ws_client_conn(struct ws_client *c)
{
	return c->conn;
}

bool ws_client_proxied(const struct ws_client *c)
{
	return c->proxied;
}

void ws_client_free(struct ws_client *c)
{
	if (!c)
		return;
	ws_conn_free(c->conn);
	tls_close(c->tls);
	free(c);
}
