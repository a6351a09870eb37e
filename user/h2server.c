// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/2 over TLS, one poll loop, nghttp2 classic API: see h2server.h. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "h2server.h"

#define MAX_STREAMS 100

struct h2_stream {
	int32_t id;
	struct h2_request req;
	uint8_t *body;
	size_t cap;
	bool too_big;
	struct h2_response resp;
	bool held; /* answered, waiting for before_reply (see h2server.h) */
	size_t sent; /* of resp.body */
	struct h2_stream *next;
};

struct h2_conn {
	struct h2server *srv;
	struct tls_sconn *tls;
	nghttp2_session *ng;
	bool ready; /* handshake done, session created */
	const uint8_t *out; /* bytes from nghttp2 not yet written */
	size_t out_len;
	struct h2_stream *streams;
	struct h2_conn *next;
};

struct h2server {
	struct h2server_opts o;
	struct h2_conn *conns;
	size_t n_conns;
	unsigned long long refused;
	size_t held; /* answers held in this round */
	struct pollfd *pfds;
	struct h2_conn **pconns;
};

static struct h2_stream *find_stream(struct h2_conn *c, int32_t id)
{
	struct h2_stream *s;

	for (s = c->streams; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void free_stream(struct h2_stream *s)
{
	free(s->body);
	free(s->resp.body);
	free(s);
}

static void copy_value(char *dst, size_t size, const uint8_t *v, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	s->id = f->hd.stream_id;
	s->next = c->streams;
	c->streams = s;
	nghttp2_session_set_stream_user_data(ng, s->id, s);
	return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	struct h2_stream *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
	static const struct {
		const char *name;
		size_t off, size;
	} keep[] = {
		{ ":method", offsetof(struct h2_request, method), 16 },
		{ ":path", offsetof(struct h2_request, path), H2_HDR_LEN },
		{ "authorization", offsetof(struct h2_request, authorization), H2_HDR_LEN },
		{ "content-type", offsetof(struct h2_request, content_type), 64 },
		{ "kerno-batch-id", offsetof(struct h2_request, batch_id), H2_HDR_LEN },
	};
	size_t i;

	if (!s)
		return 0;
	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (strlen(keep[i].name) == namelen && !memcmp(keep[i].name, name, namelen))
			copy_value((char *)&s->req + keep[i].off, keep[i].size, value, valuelen);
	return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s = find_stream(c, id);
	size_t need, cap;
	uint8_t *nb;

	if (!s || s->too_big)
		return 0;
	need = s->req.body_len + len;
	if (need > c->srv->o.max_body) {
		s->too_big = true;
		return 0;
	}
	if (need > s->cap) {
		cap = s->cap ? s->cap : 4096;
		while (cap < need)
			cap *= 2;
		nb = realloc(s->body, cap);
		if (!nb)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		s->body = nb;
		s->cap = cap;
	}
	memcpy(s->body + s->req.body_len, data, len);
	s->req.body_len = need;
	return 0;
}

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *ud)
{
	struct h2_stream *s = src->ptr;
	size_t left = s->resp.body_len - s->sent;

	if (len > left)
		len = left;
	if (len)
		memcpy(buf, s->resp.body + s->sent, len);
	s->sent += len;
	if (s->sent == s->resp.body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)len;
}

static int submit(nghttp2_session *ng, struct h2_stream *s)
{
	char status[8], clen[24];
	nghttp2_data_provider dp = { .source.ptr = s, .read_callback = read_body };
	const char *ctype = s->resp.content_type ? s->resp.content_type : "application/json";

	snprintf(status, sizeof(status), "%d", s->resp.status);
	snprintf(clen, sizeof(clen), "%zu", s->resp.body_len);
	nghttp2_nv nv[] = {
		{ (uint8_t *)":status", (uint8_t *)status, 7, strlen(status),
		  NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"content-type", (uint8_t *)ctype, 12, strlen(ctype),
		  NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"content-length", (uint8_t *)clen, 14, strlen(clen),
		  NGHTTP2_NV_FLAG_NONE },
	};
	return nghttp2_submit_response(ng, s->id, nv, 3, &dp);
}

/* The handler's answer goes out now, or at the end of the round (before_reply). */
static int respond(nghttp2_session *ng, struct h2_conn *c, struct h2_stream *s)
{
	s->req.too_big = s->too_big;
	s->req.body = s->too_big ? NULL : s->body;
	if (s->too_big)
		s->req.body_len = 0;
	c->srv->o.handler(c->srv->o.ctx, &s->req, &s->resp);
	if (s->resp.status < 100 || s->resp.status > 599)
		s->resp.status = 500;
	if (!c->srv->o.before_reply)
		return submit(ng, s);
	s->held = true;
	c->srv->held++;
	return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s;

	if ((f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS) ||
	    !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	s = find_stream(c, f->hd.stream_id);
	if (!s)
		return 0;
	return respond(ng, c, s) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream **pp;

	for (pp = &c->streams; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct h2_stream *s = *pp;

			*pp = s->next;
			free_stream(s);
			break;
		}
	}
	return 0;
}

static int start_session(struct h2_conn *c)
{
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS } };
	nghttp2_session_callbacks *cb;
	int ret;

	if (nghttp2_session_callbacks_new(&cb))
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	ret = nghttp2_session_server_new(&c->ng, cb, c);
	nghttp2_session_callbacks_del(cb);
	if (ret)
		return -ENOMEM;
	if (nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, 1))
		return -ENOMEM;
	c->ready = true;
	return 0;
}

/* Write what nghttp2 has queued, as far as the socket takes it. 0 or <0: close. */
static int flush_out(struct h2_conn *c)
{
	ssize_t n;

	for (;;) {
		if (!c->out_len) {
			n = nghttp2_session_mem_send(c->ng, &c->out);
			if (n < 0)
				return -EPROTO;
			if (!n)
				return 0;
			c->out_len = n;
		}
		n = tls_sconn_write(c->tls, c->out, c->out_len);
		if (n < 0)
			return (int)n;
		if (!n)
			return 0;
		c->out += n;
		c->out_len -= n;
	}
}

/* Read and feed nghttp2 until the socket has nothing more. 0 or <0: close. */
static int pump_in(struct h2_conn *c)
{
	uint8_t buf[16384];
	ssize_t n;

	for (;;) {
		n = tls_sconn_read(c->tls, buf, sizeof(buf));
		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return n ? (int)n : -ECONNRESET;
		if (nghttp2_session_mem_recv(c->ng, buf, n) < 0)
			return -EPROTO;
	}
}

static int conn_step(struct h2_conn *c)
{
	int ret;

	if (!c->ready) {
		ret = tls_sconn_handshake(c->tls);
		if (ret <= 0)
			return ret;
		ret = start_session(c);
		if (ret)
			return ret;
	}
	ret = pump_in(c);
	if (!ret)
		ret = flush_out(c);
	if (!ret && !nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng) &&
	    !c->out_len)
		return -ECONNRESET;
	return ret;
}

static void conn_free(struct h2_conn *c)
{
	struct h2_stream *s, *n;

	for (s = c->streams; s; s = n) {
		n = s->next;
		free_stream(s);
	}
	nghttp2_session_del(c->ng);
	tls_sconn_close(c->tls);
	free(c);
}

static void accept_all(struct h2server *s)
{
	struct h2_conn *c;
	int fd;

	while ((fd = accept4(s->o.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		if (s->n_conns >= s->o.max_conns) {
			s->refused++;
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c || !(c->tls = tls_sconn_new(s->o.tls, fd))) {
			free(c);
			close(fd);
			s->refused++;
			continue;
		}
		c->srv = s;
		c->next = s->conns;
		s->conns = c;
		s->n_conns++;
		/* The client speaks first: the handshake runs on the next POLLIN. */
	}
}

struct h2server *h2server_new(const struct h2server_opts *o)
{
	struct h2server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->o = *o;
	if (!s->o.max_conns)
		s->o.max_conns = 64;
	if (!s->o.max_body)
		s->o.max_body = 16 << 20;
	s->pfds = calloc(s->o.max_conns + 1, sizeof(*s->pfds));
	s->pconns = calloc(s->o.max_conns + 1, sizeof(*s->pconns));
	if (!s->pfds || !s->pconns) {
		h2server_free(s);
		return NULL;
	}
	return s;
}

void h2server_free(struct h2server *s)
{
	struct h2_conn *c, *n;

	if (!s)
		return;
	for (c = s->conns; c; c = n) {
		n = c->next;
		conn_free(c);
	}
	free(s->pfds);
	free(s->pconns);
	free(s);
}

static short wanted(const struct h2_conn *c)
{
	short ev = tls_sconn_events(c->tls);

	if (c->ready && (c->out_len || nghttp2_session_want_write(c->ng)))
		ev |= POLLOUT;
	return ev;
}

static void drop_closed(struct h2server *s, struct h2_conn *dead)
{
	struct h2_conn **pp;

	for (pp = &s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == dead) {
			*pp = dead->next;
			conn_free(dead);
			s->n_conns--;
			return;
		}
	}
}

/* One before_reply for all the answers of the round, then they go out. */
static void release_held(struct h2server *s)
{
	struct h2_conn *c, *next;
	struct h2_stream *st;
	bool failed;

	s->o.before_reply(s->o.ctx);
	s->held = 0;
	for (c = s->conns; c; c = next) {
		next = c->next;
		failed = false;
		for (st = c->streams; st; st = st->next) {
			if (!st->held)
				continue;
			st->held = false;
			failed |= submit(c->ng, st) != 0;
		}
		if (failed || (c->ready && flush_out(c)))
			drop_closed(s, c);
	}
}

int h2server_poll(struct h2server *s, int timeout_ms)
{
	struct h2_conn *c;
	size_t n = 1, i;
	int ready;

	s->pfds[0] = (struct pollfd){ .fd = s->o.listen_fd, .events = POLLIN };
	for (c = s->conns; c; c = c->next) {
		if (tls_sconn_pending(c->tls))
			timeout_ms = 0;
		s->pfds[n] = (struct pollfd){ .fd = tls_sconn_fd(c->tls), .events = wanted(c) };
		s->pconns[n++] = c;
	}
	ready = poll(s->pfds, n, timeout_ms);
	if (ready < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 1; i < n; i++) {
		c = s->pconns[i];
		if (!s->pfds[i].revents && !tls_sconn_pending(c->tls))
			continue;
		if (conn_step(c))
			drop_closed(s, c);
	}
	if (s->held)
		release_held(s);
	if (s->pfds[0].revents & POLLIN)
		accept_all(s);
	return 0;
}

size_t h2server_conns(const struct h2server *s)
{
	return s->n_conns;
}

unsigned long long h2server_refused(const struct h2server *s)
{
	return s->refused;
}

int h2server_listen(const char *host, const char *port, int *port_out, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct sockaddr_storage ss = {};
	socklen_t sl = sizeof(ss);
	struct addrinfo *ai = NULL;
	int fd = -1, one = 1, ret;

	ret = getaddrinfo(host && *host ? host : NULL, port, &hints, &ai);
	if (ret) {
		snprintf(err, errlen, "cannot resolve listen address %s:%s: %s", host, port,
			 gai_strerror(ret));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		ret = -errno;
		snprintf(err, errlen, "cannot listen on %s:%s: %s", host ? host : "*", port,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return ret;
	}
	freeaddrinfo(ai);
	/* getsockname() filled ss, which the analyzer does not model. */
	/* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
	*port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
						     ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}
