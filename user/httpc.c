// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/1.1 keep-alive pool and h2 streams over one connection: see httpc.h. */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "clock.h"
#include "httpc.h"
#include "resolve.h"

struct conn {
	struct tls_conn *tls; /* or a plain socket in fd */
	int fd;
	nghttp2_session *h2;
	struct conn *next;
	bool broken;
};

struct httpc {
	struct httpc_opts o;
	char host[256], port[16];
	pthread_mutex_t lock; /* idle list, protocol */
	pthread_mutex_t
		run_lock; /* one thread at a time on the h2 connection (and finding the protocol) */
	struct conn *idle;
	struct conn *h2conn;
	char protocol[16];
};

struct httpc *httpc_new(const struct httpc_opts *opts)
{
	struct httpc *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->o = *opts;
	snprintf(c->host, sizeof(c->host), "%s", opts->host);
	snprintf(c->port, sizeof(c->port), "%s", opts->port);
	c->o.host = c->host;
	c->o.port = c->port;
	if (c->o.max_conns < 1)
		c->o.max_conns = 1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->run_lock, NULL);
	return c;
}

static void conn_close(struct conn *k)
{
	if (!k)
		return;
	if (k->h2)
		nghttp2_session_del(k->h2);
	if (k->tls)
		tls_close(k->tls);
	else if (k->fd >= 0)
		close(k->fd);
	free(k);
}

void httpc_free(struct httpc *c)
{
	struct conn *k, *n;

	if (!c)
		return;
	for (k = c->idle; k; k = n) {
		n = k->next;
		conn_close(k);
	}
	conn_close(c->h2conn);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->run_lock);
	free(c);
}

const char *httpc_protocol(const struct httpc *c)
{
	return c->protocol;
}

static void fail(struct httpc_response *r, int err, const char *fmt, const char *detail)
{
	r->status = 0;
	r->err = err < 0 ? err : -EIO;
	snprintf(r->errmsg, sizeof(r->errmsg), fmt, detail);
}

/* A plain TCP connection within timeout_ms. */
static int plain_connect(const struct httpc *c, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	int fd = -1, one = 1, soerr = 0;
	socklen_t sl = sizeof(soerr);
	struct pollfd p;

	char why[96];

	if (resolve(c->host, c->port, &hints, mono_ms() + c->o.timeout_ms, &res, why,
		    sizeof(why))) {
		snprintf(err, errlen, "%.150s:%.7s: cannot resolve: %.60s", c->host, c->port, why);
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen) || errno == EINPROGRESS) {
			p = (struct pollfd){ .fd = fd, .events = POLLOUT };
			if (poll(&p, 1, c->o.timeout_ms) == 1 &&
			    !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) && !soerr)
				break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "%.200s:%.7s: connect: %s", c->host, c->port,
			 soerr ? strerror(soerr) : "failed or timed out");
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static struct conn *conn_open(struct httpc *c, char *err, size_t errlen)
{
	struct conn *k = calloc(1, sizeof(*k));

	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->fd = -1;
	if (c->o.tls) {
		k->tls = tls_connect(c->o.tls, c->host, c->port, c->o.timeout_ms, err, errlen);
		if (!k->tls) {
			free(k);
			return NULL;
		}
		k->fd = tls_fd(k->tls);
	} else {
		k->fd = plain_connect(c, err, errlen);
		if (k->fd < 0) {
			free(k);
			return NULL;
		}
	}
	pthread_mutex_lock(&c->lock);
	if (!c->protocol[0])
		snprintf(c->protocol, sizeof(c->protocol), "%s",
			 k->tls && !strcmp(tls_alpn(k->tls), "h2") ? "h2" : "http/1.1");
	pthread_mutex_unlock(&c->lock);
	return k;
}

/* ---- transport: TLS or plain, with timeouts ---- */

static ssize_t conn_read(struct conn *k, void *buf, size_t len, int timeout_ms, char *err,
			 size_t errlen)
{
	struct pollfd p = { .fd = k->fd, .events = POLLIN };
	ssize_t n;

	if (k->tls) {
		n = tls_read(k->tls, buf, len, timeout_ms);
		if (n < 0)
			snprintf(err, errlen, "%s", tls_error(k->tls));
		return n;
	}
	for (;;) {
		n = read(k->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			return -errno;
		}
		n = poll(&p, 1, timeout_ms);
		if (n == 0) {
			snprintf(err, errlen, "read: timed out");
			return -ETIMEDOUT;
		}
	}
}

static int conn_write(struct conn *k, const void *buf, size_t len, int timeout_ms, char *err,
		      size_t errlen)
{
	struct pollfd p = { .fd = k->fd, .events = POLLOUT };
	const char *b = buf;
	ssize_t n;
	int r;

	if (k->tls) {
		r = tls_write_all(k->tls, buf, len, timeout_ms);
		if (r)
			snprintf(err, errlen, "%s", tls_error(k->tls));
		return r;
	}
	while (len) {
		n = send(k->fd, b, len, MSG_NOSIGNAL);
		if (n > 0) {
			b += n;
			len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(err, errlen, "write: %s", strerror(errno));
			return -errno;
		} else if (n < 0 && errno == EAGAIN && poll(&p, 1, timeout_ms) == 0) {
			snprintf(err, errlen, "write: timed out");
			return -ETIMEDOUT;
		}
	}
	return 0;
}

/* ---- HTTP/1.1 ---- */

static void h1_head(const struct httpc *c, const struct httpc_request *rq, struct strbuf *b)
{
	bool default_port = !strcmp(c->port, c->o.tls ? "443" : "80");
	size_t i;

	sb_addf(b, "%s %s HTTP/1.1\r\nHost: %s%s%s\r\n", rq->method, rq->target, c->host,
		default_port ? "" : ":", default_port ? "" : c->port);
	for (i = 0; i < rq->n_headers; i++)
		sb_addf(b, "%s: %s\r\n", rq->headers[i].name, rq->headers[i].value);
	if (rq->body_len || !strcmp(rq->method, "PUT") || !strcmp(rq->method, "POST"))
		sb_addf(b, "Content-Length: %zu\r\n", rq->body_len);
	sb_adds(b, "\r\n");
}

/* Read until a complete (non-1xx) head is in rs; leftover body bytes stay in raw after it. */
static int h1_read_head(struct httpc *c, struct conn *k, struct strbuf *raw,
			struct httpc_response *rs, size_t *head_len)
{
	char buf[16384];
	ssize_t n, h;

	for (;;) {
		h = raw->len ? http1_parse_head(raw->s, raw->len, &rs->head) : 0;
		if (h < 0) {
			fail(rs, -EPROTO, "%s", "malformed HTTP response head");
			return -1;
		}
		if (h > 0 && rs->head.status >= 100 && rs->head.status < 200) {
			memmove(raw->s, raw->s + h, raw->len - (size_t)h);
			raw->len -= (size_t)h;
			continue;
		}
		if (h > 0) {
			*head_len = (size_t)h;
			return 0;
		}
		n = conn_read(k, buf, sizeof(buf), c->o.timeout_ms, rs->errmsg, sizeof(rs->errmsg));
		if (n <= 0) {
			rs->err = n ? (int)n : -ECONNRESET;
			if (!n)
				snprintf(rs->errmsg, sizeof(rs->errmsg),
					 "connection closed before a reply");
			return -1;
		}
		sb_add(raw, buf, (size_t)n);
	}
}

static int h1_read_body(struct httpc *c, struct conn *k, const char *method, const char *extra,
			size_t extra_len, struct httpc_response *rs)
{
	struct http1_chunked ch = { 0 };
	bool until_close = false;
	char buf[65536];
	ssize_t n;

	if (!strcmp(method, "HEAD") || rs->head.status == 204 || rs->head.status == 304)
		return 0;
	if (!rs->head.chunked && rs->head.content_length < 0)
		until_close = true;
	for (;;) {
		if (rs->head.chunked) {
			if (http1_dechunk(&ch, extra, extra_len, &rs->body) < 0) {
				fail(rs, -EPROTO, "%s", "malformed chunked body");
				return -1;
			}
			if (ch.done)
				return 0;
		} else {
			sb_add(&rs->body, extra, extra_len);
			if (!until_close && rs->body.len >= (size_t)rs->head.content_length) {
				rs->body.len = (size_t)rs->head.content_length;
				return 0;
			}
		}
		n = conn_read(k, buf, sizeof(buf), c->o.timeout_ms, rs->errmsg, sizeof(rs->errmsg));
		if (n == 0 && until_close) {
			k->broken = true;
			return 0;
		}
		if (n <= 0) {
			rs->err = n ? (int)n : -ECONNRESET;
			if (!n)
				snprintf(rs->errmsg, sizeof(rs->errmsg),
					 "connection closed mid-body");
			return -1;
		}
		extra = buf;
		extra_len = (size_t)n;
	}
}

/* Copy the head into the response's own buffer and parse it there. */
static void keep_head(struct httpc_response *rs, const char *raw, size_t len)
{
	sb_reset(&rs->head_buf);
	sb_add(&rs->head_buf, raw, len);
	if (rs->head_buf.oom || http1_parse_head(rs->head_buf.s, len, &rs->head) <= 0) {
		fail(rs, -ENOMEM, "%s", "out of memory");
		return;
	}
	rs->status = rs->head.status;
}

/* One exchange; 0, or -1 with rs->err set. *sent tells whether any byte left. */
static int h1_exchange(struct httpc *c, struct conn *k, const struct httpc_request *rq,
		       struct httpc_response *rs, bool *got_reply)
{
	struct strbuf raw = { 0 }, head = { 0 };
	size_t head_len = 0;
	int r = -1;

	*got_reply = false;
	h1_head(c, rq, &head);
	if (head.oom) {
		fail(rs, -ENOMEM, "%s", "out of memory");
		goto out;
	}
	rs->err = conn_write(k, head.s, head.len, c->o.timeout_ms, rs->errmsg, sizeof(rs->errmsg));
	if (!rs->err && rq->body_len)
		rs->err = conn_write(k, rq->body, rq->body_len, c->o.timeout_ms, rs->errmsg,
				     sizeof(rs->errmsg));
	if (rs->err || h1_read_head(c, k, &raw, rs, &head_len))
		goto out;
	*got_reply = true;
	keep_head(rs, raw.s, head_len);
	if (rs->err || h1_read_body(c, k, rq->method, raw.s + head_len, raw.len - head_len, rs))
		goto out;
	if (rs->head.close)
		k->broken = true;
	r = 0;
out:
	if (r) {
		k->broken = true;
		rs->status = 0;
		if (!rs->err)
			rs->err = -EIO;
	}
	sb_free(&raw);
	sb_free(&head);
	return r;
}

static struct conn *take_idle(struct httpc *c)
{
	struct conn *k;

	pthread_mutex_lock(&c->lock);
	k = c->idle;
	if (k)
		c->idle = k->next;
	pthread_mutex_unlock(&c->lock);
	return k;
}

static void give_back(struct httpc *c, struct conn *k)
{
	if (k->broken) {
		conn_close(k);
		return;
	}
	pthread_mutex_lock(&c->lock);
	k->next = c->idle;
	c->idle = k;
	pthread_mutex_unlock(&c->lock);
}

static void h1_one(struct httpc *c, const struct httpc_request *rq, struct httpc_response *rs)
{
	struct conn *k = take_idle(c);
	bool reused = k != NULL, got;

	for (;;) {
		if (!k)
			k = conn_open(c, rs->errmsg, sizeof(rs->errmsg));
		if (!k) {
			rs->status = 0;
			rs->err = -ECONNREFUSED;
			return;
		}
		memset(&rs->head, 0, sizeof(rs->head));
		sb_reset(&rs->body);
		rs->err = 0;
		if (!h1_exchange(c, k, rq, rs, &got) || got || !reused) {
			give_back(c, k);
			return;
		}
		/* A kept-alive connection the server had closed: once more, on a new one. */
		conn_close(k);
		k = NULL;
		reused = false;
	}
}

/* The caller's feed, called under one lock whatever thread runs it. */
struct feed {
	const struct httpc_feed *ops;
	void *arg;
	pthread_mutex_t lock;
	bool dry; /* next() said there is nothing more */
};

static bool feed_next(struct feed *f, const struct httpc_request **rq, struct httpc_response **rs,
		      void **token)
{
	bool got = false;

	pthread_mutex_lock(&f->lock);
	if (!f->dry)
		got = !f->ops->next(f->arg, rq, rs, token);
	if (!got)
		f->dry = true;
	pthread_mutex_unlock(&f->lock);
	if (got)
		memset(*rs, 0, sizeof(**rs));
	return got;
}

static void feed_done(struct feed *f, void *token)
{
	pthread_mutex_lock(&f->lock);
	f->ops->done(f->arg, token);
	pthread_mutex_unlock(&f->lock);
}

struct h1_worker_arg {
	struct httpc *c;
	struct feed *f;
};

static void *h1_worker(void *arg)
{
	struct h1_worker_arg *w = arg;
	const struct httpc_request *rq;
	struct httpc_response *rs;
	void *token;

	while (feed_next(w->f, &rq, &rs, &token)) {
		h1_one(w->c, rq, rs);
		feed_done(w->f, token);
	}
	return NULL;
}

/* Up to max_conns connections, each taking the next request as soon as it is free. */
static void h1_stream(struct httpc *c, struct feed *f, size_t max_inflight)
{
	size_t workers = max_inflight < (size_t)c->o.max_conns ? max_inflight :
								 (size_t)c->o.max_conns;
	struct h1_worker_arg w = { c, f };
	size_t i, started = 0;
	pthread_t t[64];

	if (workers > 64)
		workers = 64;
	for (i = 1; i < workers; i++)
		if (!pthread_create(&t[started], NULL, h1_worker, &w))
			started++;
	h1_worker(&w);
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
}

/* ---- h2 ---- */

struct h2_stream {
	const struct httpc_request *rq;
	struct httpc_response *rs;
	void *token;
	size_t sent;
	struct h2_stream *next, *prev; /* the run's open streams */
};

struct h2_run {
	size_t open;
	struct feed *f;
	struct h2_stream *streams;
};

static void h2_unlink(struct h2_run *run, struct h2_stream *st)
{
	if (run->streams == st)
		run->streams = st->next;
	else if (st->prev)
		st->prev->next = st->next;
	if (st->next)
		st->next->prev = st->prev;
	run->open--;
}

/* A stream is over: its response goes back to the caller, its slot is freed. */
static void h2_finish(struct h2_run *run, struct h2_stream *st)
{
	h2_unlink(run, st);
	feed_done(run->f, st->token);
	free(st);
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		     const uint8_t *value, size_t vl, uint8_t flags, void *user)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	if (!st || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (nl == 7 && !memcmp(name, ":status", 7)) {
		/* A 1xx head is followed by the final one: start over. */
		sb_reset(&st->rs->head_buf);
		sb_addf(&st->rs->head_buf, "HTTP/1.1 %.*s \r\n", (int)(vl < 3 ? vl : 3), value);
		return 0;
	}
	if (!nl || name[0] == ':')
		return 0;
	sb_add(&st->rs->head_buf, name, nl);
	sb_adds(&st->rs->head_buf, ": ");
	sb_add(&st->rs->head_buf, value, vl);
	sb_adds(&st->rs->head_buf, "\r\n");
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *user)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);

	if (st)
		sb_add(&st->rs->body, data, len);
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *user)
{
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
	struct h2_run *run = user;
	struct httpc_response *rs;

	if (!st || !run)
		return 0;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	rs = st->rs;
	if (code) {
		snprintf(rs->errmsg, sizeof(rs->errmsg), "h2 stream reset: %s",
			 nghttp2_http2_strerror(code));
		rs->err = code == NGHTTP2_REFUSED_STREAM ? -EAGAIN : -EPROTO;
		rs->status = 0;
	} else {
		sb_adds(&rs->head_buf, "\r\n");
		if (rs->head_buf.oom ||
		    http1_parse_head(rs->head_buf.s, rs->head_buf.len, &rs->head) <= 0)
			fail(rs, -EPROTO, "%s", "h2 reply without a valid :status");
		else
			rs->status = rs->head.status;
	}
	h2_finish(run, st);
	return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *user)
{
	struct h2_stream *st = src->ptr;
	size_t n = st->rq->body_len - st->sent;

	if (n > len)
		n = len;
	memcpy(buf, (const char *)st->rq->body + st->sent, n);
	st->sent += n;
	if (st->sent == st->rq->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int h2_setup(struct conn *k, struct h2_run *run)
{
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
					{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24 } };
	nghttp2_session_callbacks *cb;
	int r;

	if (nghttp2_session_callbacks_new(&cb))
		return -1;
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	r = nghttp2_session_client_new(&k->h2, cb, run);
	nghttp2_session_callbacks_del(cb);
	if (r)
		return -1;
	if (nghttp2_submit_settings(k->h2, NGHTTP2_FLAG_NONE, iv, 2) ||
	    nghttp2_session_set_local_window_size(k->h2, NGHTTP2_FLAG_NONE, 0, 1 << 26))
		return -1;
	return 0;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s), *p;

	for (p = d; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

#define NV(n, v)                                                                           \
	{                                                                                  \
		(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE \
	}

static int h2_submit(struct httpc *c, struct conn *k, struct h2_stream *st, const char *authority)
{
	const struct httpc_request *rq = st->rq;
	nghttp2_data_provider dp = { .source.ptr = st, .read_callback = read_body };
	char *names[64] = { 0 }, clen[24];
	nghttp2_nv nv[70];
	size_t n = 0, i;
	int32_t id = -1;

	if (rq->n_headers > 64)
		return -1;
	nv[n++] = (nghttp2_nv)NV(":method", rq->method);
	nv[n++] = (nghttp2_nv)NV(":scheme", "https");
	nv[n++] = (nghttp2_nv)NV(":authority", authority);
	nv[n++] = (nghttp2_nv)NV(":path", rq->target);
	for (i = 0; i < rq->n_headers; i++) {
		names[i] = lower_dup(rq->headers[i].name);
		if (!names[i])
			goto out;
		nv[n++] = (nghttp2_nv)NV(names[i], rq->headers[i].value);
	}
	snprintf(clen, sizeof(clen), "%zu", rq->body_len);
	if (rq->body_len || !strcmp(rq->method, "PUT") || !strcmp(rq->method, "POST"))
		nv[n++] = (nghttp2_nv)NV("content-length", clen);
	id = nghttp2_submit_request(k->h2, NULL, nv, n, rq->body_len ? &dp : NULL, st);
out:
	for (i = 0; i < rq->n_headers; i++)
		free(names[i]);
	return id < 0 ? -1 : 0;
}

/* Send what nghttp2 has queued, then wait for and feed one read. */
static int h2_pump(struct httpc *c, struct conn *k, char *err, size_t errlen)
{
	uint8_t buf[65536];
	const uint8_t *out;
	ssize_t n;

	/*
	 * Frames are coalesced into large writes: one 16 KiB DATA frame plus its
	 * 9-byte header written alone would cost two TLS records and a syscall.
	 */
	static __thread uint8_t wbuf[256 * 1024];
	size_t wlen = 0;

	while ((n = nghttp2_session_mem_send(k->h2, &out)) > 0) {
		if (wlen + (size_t)n > sizeof(wbuf)) {
			if (conn_write(k, wbuf, wlen, c->o.timeout_ms, err, errlen))
				return -1;
			wlen = 0;
		}
		if ((size_t)n > sizeof(wbuf)) {
			if (conn_write(k, out, (size_t)n, c->o.timeout_ms, err, errlen))
				return -1;
			continue;
		}
		memcpy(wbuf + wlen, out, (size_t)n);
		wlen += (size_t)n;
	}
	if (wlen && conn_write(k, wbuf, wlen, c->o.timeout_ms, err, errlen))
		return -1;
	if (n < 0) {
		snprintf(err, errlen, "h2: %s", nghttp2_strerror((int)n));
		return -1;
	}
	if (!nghttp2_session_want_read(k->h2) && !nghttp2_session_want_write(k->h2)) {
		snprintf(err, errlen, "h2: connection closed (GOAWAY)");
		return -1;
	}
	n = conn_read(k, buf, sizeof(buf), c->o.timeout_ms, err, errlen);
	if (n <= 0) {
		if (!n)
			snprintf(err, errlen, "h2: connection closed by peer");
		return -1;
	}
	n = nghttp2_session_mem_recv(k->h2, buf, (size_t)n);
	if (n < 0) {
		snprintf(err, errlen, "h2: %s", nghttp2_strerror((int)n));
		return -1;
	}
	return 0;
}

/* Open a stream for the next request of the feed; false when the feed is dry or on error. */
static bool h2_feed_one(struct httpc *c, struct conn *k, struct h2_run *run, const char *authority,
			char *err, size_t errlen)
{
	struct h2_stream *st = calloc(1, sizeof(*st));

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	if (!feed_next(run->f, &st->rq, &st->rs, &st->token)) {
		free(st);
		return false;
	}
	st->next = run->streams;
	if (run->streams)
		run->streams->prev = st;
	run->streams = st;
	run->open++;
	if (h2_submit(c, k, st, authority)) {
		snprintf(err, errlen, "h2: cannot submit a request");
		return false;
	}
	return true;
}

/* Streams on one connection, a new one opened as soon as one ends, up to max_inflight. */
static void h2_stream(struct httpc *c, struct feed *f, size_t max_inflight)
{
	struct h2_run run = { .f = f };
	char authority[300], err[256] = "";
	struct conn *k = c->h2conn;
	const struct httpc_request *rq;
	struct httpc_response *rs;
	void *token;

	c->h2conn = NULL;
	snprintf(authority, sizeof(authority), "%s%s%s", c->host, strcmp(c->port, "443") ? ":" : "",
		 strcmp(c->port, "443") ? c->port : "");
	if (!k)
		k = conn_open(c, err, sizeof(err));
	if (k && !k->h2 && h2_setup(k, &run))
		snprintf(err, sizeof(err), "h2: cannot set up the session");
	if (k && k->h2)
		nghttp2_session_set_user_data(k->h2, &run);
	while (!err[0]) {
		while (!err[0] && !f->dry && run.open < max_inflight &&
		       h2_feed_one(c, k, &run, authority, err, sizeof(err)))
			;
		if (err[0] || !run.open)
			break;
		h2_pump(c, k, err, sizeof(err));
	}
	/* A failed session fails its open streams and whatever the feed still has. */
	while (run.streams) {
		fail(run.streams->rs, -ECONNRESET, "%s", err);
		h2_finish(&run, run.streams);
	}
	while (err[0] && feed_next(f, &rq, &rs, &token)) {
		fail(rs, -ECONNRESET, "%s", err);
		feed_done(f, token);
	}
	/* No callback may reach this run once it returns, even from nghttp2_session_del(). */
	if (k && k->h2)
		nghttp2_session_set_user_data(k->h2, NULL);
	if (err[0] || (k && (!k->h2 || !nghttp2_session_want_read(k->h2)))) {
		conn_close(k);
		k = NULL;
	}
	c->h2conn = k;
}

void httpc_stream(struct httpc *c, const struct httpc_feed *ops, void *arg, size_t max_inflight)
{
	struct feed f = { ops, arg, PTHREAD_MUTEX_INITIALIZER, false };
	const struct httpc_request *rq;
	struct httpc_response *rs;
	void *token;
	struct conn *k;

	if (!max_inflight)
		max_inflight = 1;
	pthread_mutex_lock(&c->run_lock);
	if (!c->protocol[0] && c->o.tls) {
		/* The first connection tells which protocol the server speaks. */
		char err[256] = "";

		k = conn_open(c, err, sizeof(err));
		if (!k) {
			pthread_mutex_unlock(&c->run_lock);
			while (feed_next(&f, &rq, &rs, &token)) {
				fail(rs, -ECONNREFUSED, "%s", err);
				feed_done(&f, token);
			}
			return;
		}
		if (!strcmp(c->protocol, "h2"))
			c->h2conn = k;
		else
			give_back(c, k);
	}
	if (!strcmp(c->protocol, "h2")) {
		h2_stream(c, &f, max_inflight);
		pthread_mutex_unlock(&c->run_lock);
	} else {
		/* HTTP/1.1 connections come from the locked idle list: threads run side by side. */
		pthread_mutex_unlock(&c->run_lock);
		h1_stream(c, &f, max_inflight);
	}
}

struct batch {
	const struct httpc_request *reqs;
	struct httpc_response *resps;
	size_t n, next;
};

static int batch_next(void *arg, const struct httpc_request **rq, struct httpc_response **rs,
		      void **token)
{
	struct batch *b = arg;

	if (b->next == b->n)
		return -1;
	*rq = &b->reqs[b->next];
	*rs = &b->resps[b->next++];
	*token = NULL;
	return 0;
}

static void batch_done(void *arg, void *token)
{
}

void httpc_run(struct httpc *c, const struct httpc_request *reqs, struct httpc_response *resps,
	       size_t n)
{
	static const struct httpc_feed ops = { batch_next, batch_done };
	struct batch b = { reqs, resps, n, 0 };

	httpc_stream(c, &ops, &b, n);
}

int httpc_header(const struct httpc_response *r, const char *name, char *out, size_t size)
{
	if (!r->status)
		return -1;
	return http1_field(&r->head, name, out, size);
}

void httpc_response_free(struct httpc_response *r)
{
	sb_free(&r->head_buf);
	sb_free(&r->body);
}

int url_parse(const char *s, struct url *u)
{
	const char *h, *end, *colon, *slash;
	size_t hl;

	memset(u, 0, sizeof(*u));
	if (!strncmp(s, "https://", 8)) {
		u->tls = true;
		h = s + 8;
	} else if (!strncmp(s, "http://", 7)) {
		h = s + 7;
	} else {
		return -1;
	}
	slash = strchrnul(h, '/');
	if (*h == '[') {
		end = memchr(h, ']', (size_t)(slash - h));
		if (!end)
			return -1;
		hl = (size_t)(end - h - 1);
		h++;
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = memchr(h, ':', (size_t)(slash - h));
		hl = (size_t)((colon ? colon : slash) - h);
	}
	if (!hl || hl >= sizeof(u->host))
		return -1;
	memcpy(u->host, h, hl);
	if (colon) {
		size_t pl = (size_t)(slash - colon - 1);

		if (!pl || pl >= sizeof(u->port) || strspn(colon + 1, "0123456789") < pl)
			return -1;
		memcpy(u->port, colon + 1, pl);
	} else {
		snprintf(u->port, sizeof(u->port), "%s", u->tls ? "443" : "80");
	}
	if (snprintf(u->path, sizeof(u->path), "%s", *slash ? slash : "/") >= (int)sizeof(u->path))
		return -1;
	return 0;
}
