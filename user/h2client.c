// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Sequential HTTP/2 requests to one peer over TLS: see h2client.h. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttp2/nghttp2.h>

#include "clock.h"
#include "h2client.h"

#define MAX_RESP 65536
#define MAX_HDRS 16

struct h2client {
	struct tls_client *tls;
	struct tls_conn *conn;
	nghttp2_session *ng;
	char *host, *port;
	int timeout_ms;
	/* the request in flight */
	int32_t stream;
	const unsigned char *body;
	size_t body_len, body_sent;
	int status;
	char *resp;
	size_t resp_len;
	bool done;
	int reset; /* RST_STREAM code, or -1 */
};

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	struct h2client *c = ud;
	char v[8];

	if (f->hd.stream_id != c->stream || namelen != 7 || memcmp(name, ":status", 7) ||
	    valuelen >= sizeof(v))
		return 0;
	memcpy(v, value, valuelen);
	v[valuelen] = '\0';
	c->status = atoi(v);
	return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *ud)
{
	struct h2client *c = ud;
	size_t room = MAX_RESP - c->resp_len;

	if (id != c->stream || !c->resp)
		return 0;
	if (len > room)
		len = room;
	memcpy(c->resp + c->resp_len, data, len);
	c->resp_len += len;
	c->resp[c->resp_len] = '\0';
	return 0;
}

static int on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
	struct h2client *c = ud;

	if (id == c->stream) {
		c->done = true;
		c->reset = code == NGHTTP2_NO_ERROR ? -1 : (int)code;
	}
	return 0;
}

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *ud)
{
	struct h2client *c = ud;
	size_t left = c->body_len - c->body_sent;

	if (len > left)
		len = left;
	memcpy(buf, c->body + c->body_sent, len);
	c->body_sent += len;
	if (c->body_sent == c->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)len;
}

struct h2client *h2client_new(struct tls_client *tls, const char *host, const char *port,
			      int timeout_ms)
{
	struct h2client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->tls = tls;
	c->host = strdup(host);
	c->port = strdup(port);
	c->timeout_ms = timeout_ms;
	if (!c->host || !c->port) {
		h2client_free(c);
		return NULL;
	}
	return c;
}

static void disconnect(struct h2client *c)
{
	nghttp2_session_del(c->ng);
	c->ng = NULL;
	tls_close(c->conn);
	c->conn = NULL;
}

void h2client_free(struct h2client *c)
{
	if (!c)
		return;
	disconnect(c);
	free(c->host);
	free(c->port);
	free(c);
}

static int connect_peer(struct h2client *c, char *err, size_t errlen)
{
	nghttp2_session_callbacks *cb;
	int ret;

	c->conn = tls_connect(c->tls, c->host, c->port, c->timeout_ms, err, errlen);
	if (!c->conn)
		return -ECONNREFUSED;
	if (strcmp(tls_alpn(c->conn), "h2")) {
		snprintf(err, errlen, "%s:%s did not select h2 by ALPN", c->host, c->port);
		disconnect(c);
		return -EPROTO;
	}
	if (nghttp2_session_callbacks_new(&cb))
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	ret = nghttp2_session_client_new(&c->ng, cb, c);
	nghttp2_session_callbacks_del(cb);
	if (ret || nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0)) {
		disconnect(c);
		return -ENOMEM;
	}
	return 0;
}

/* Exchange frames until the stream closes or the deadline passes. */
static int run_until_done(struct h2client *c, long long deadline, char *err, size_t errlen)
{
	const uint8_t *out;
	uint8_t buf[16384];
	ssize_t n;
	int ret;

	while (!c->done) {
		while ((n = nghttp2_session_mem_send(c->ng, &out)) > 0) {
			ret = tls_write_all(c->conn, out, n, (int)(deadline - mono_ms()));
			if (ret) {
				snprintf(err, errlen, "%s", tls_error(c->conn));
				return ret;
			}
		}
		if (n < 0 || c->done)
			break;
		if (mono_ms() >= deadline) {
			snprintf(err, errlen, "%s:%s: no response in time", c->host, c->port);
			return -ETIMEDOUT;
		}
		n = tls_read(c->conn, buf, sizeof(buf), (int)(deadline - mono_ms()));
		if (n <= 0) {
			snprintf(err, errlen, "%s:%s: %s", c->host, c->port,
				 n ? tls_error(c->conn) : "connection closed");
			return n ? (int)n : -ECONNRESET;
		}
		if (nghttp2_session_mem_recv(c->ng, buf, n) < 0) {
			snprintf(err, errlen, "%s:%s: HTTP/2 protocol error", c->host, c->port);
			return -EPROTO;
		}
	}
	if (!c->done) {
		snprintf(err, errlen, "%s:%s: HTTP/2 session ended", c->host, c->port);
		return -EPROTO;
	}
	if (c->reset >= 0 || !c->status) {
		snprintf(err, errlen, "%s:%s: stream reset (%s)", c->host, c->port,
			 nghttp2_http2_strerror(c->reset < 0 ? 0 : (uint32_t)c->reset));
		return -ECONNRESET;
	}
	return 0;
}

static void make_nv(nghttp2_nv *nv, const char *name, const char *value)
{
	nv->name = (uint8_t *)name;
	nv->value = (uint8_t *)value;
	nv->namelen = strlen(name);
	nv->valuelen = strlen(value);
	nv->flags = NGHTTP2_NV_FLAG_NONE;
}

int h2client_post(struct h2client *c, const char *path, const struct h2_header *hdrs, size_t n,
		  const void *body, size_t len, int *status, char **resp, char *err, size_t errlen)
{
	nghttp2_data_provider dp = { .read_callback = read_body };
	long long deadline = mono_ms() + c->timeout_ms;
	nghttp2_nv nv[4 + MAX_HDRS];
	char clen[24];
	size_t i, k = 0;
	int ret;

	if (n > MAX_HDRS - 1)
		return -EINVAL;
	if (!c->ng && (ret = connect_peer(c, err, errlen)))
		return ret;
	snprintf(clen, sizeof(clen), "%zu", len);
	make_nv(&nv[k++], ":method", "POST");
	make_nv(&nv[k++], ":scheme", "https");
	make_nv(&nv[k++], ":authority", c->host);
	make_nv(&nv[k++], ":path", path);
	make_nv(&nv[k++], "content-length", clen);
	for (i = 0; i < n; i++)
		make_nv(&nv[k++], hdrs[i].name, hdrs[i].value);
	c->body = body;
	c->body_len = len;
	c->body_sent = 0;
	c->status = 0;
	c->done = false;
	c->reset = -1;
	c->resp_len = 0;
	c->resp = resp ? malloc(MAX_RESP + 1) : NULL;
	if (resp && !c->resp)
		return -ENOMEM;
	if (c->resp)
		c->resp[0] = '\0';
	c->stream = nghttp2_submit_request(c->ng, NULL, nv, k, &dp, NULL);
	ret = c->stream < 0 ? -EPROTO : run_until_done(c, deadline, err, errlen);
	if (ret) {
		free(c->resp);
		c->resp = NULL;
		disconnect(c);
		return ret;
	}
	*status = c->status;
	if (resp)
		*resp = c->resp;
	c->resp = NULL;
	return 0;
}
