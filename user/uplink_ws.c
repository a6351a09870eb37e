// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The WebSocket uplink's delivery thread: see uplink_ws.h and docs/uplink.md. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "clock.h"
#include "envelope.h"
#include "tls.h"
#include "uplink_queue.h"
#include "uplink_ws.h"
#include "ws_client.h"

#define CONNECT_TIMEOUT_MS 10000
#define RESUME_TIMEOUT_MS 10000 /* for the server's first ack */
#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 60000
#define WINDOW_ENVELOPES 64 /* sent and not yet acknowledged, at most */
#define WINDOW_BYTES (1 << 20) /* queued in memory for the socket, at most (plus one envelope) */
#define MAX_SERVER_MESSAGE 65536
#define HEARTBEAT_RESERVE 65536 /* bytes over the queue bound heartbeats may use */
#define MAX_TOKEN_BYTES 8192

struct uplink_ws {
	struct uplink_ws_opts o;
	struct ws_url url;
	struct tls_client *tls;
	struct uplink_queue *q;
	pthread_t thread;
	bool started;
	int wake_fd;
	int stop_fd; /* written once, by uplink_ws_stop(): abandons a connection attempt */

	pthread_mutex_t lock; /* guards what follows, shared with the agent's thread */
	bool stopping;
	bool hello_queued; /* this run's first envelope is queued: heartbeats may follow */
	unsigned long long overflow, overflow_bytes; /* since the last heartbeat */
	unsigned long long overflow_total, overflow_bytes_total;
	unsigned long long lost; /* queue files that could not be read back */

	/* The delivery thread's own. */
	struct ws_client *c;
	bool resumed, closing, failed;
	bool done; /* the stopping close has begun: nothing more is queued or connected */
	unsigned long long next_seq; /* next to send on this connection */
	unsigned long long reconnects, connections;
	unsigned int attempt; /* failed connections in a row */
	long long rx_ms, ping_ms, resume_deadline, close_deadline, next_heartbeat, started_ms;
	long long flush_deadline; /* once stopping: when to give up on acknowledgements */
	long long stop_ms; /* when uplink_ws_stop() was called */
};

/* One log line, prefixed with the URL: "kerno: uplink wss://...: ..." */
__attribute__((format(printf, 2, 3))) static void say(const struct uplink_ws *w, const char *fmt,
						      ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	fprintf(stderr, "kerno: uplink %s: %s\n", w->o.url, line);
}

/* The token from its file: trailing white space removed, no control characters. */
static int read_token(const char *path, char **out, char *err, size_t errlen)
{
	char *buf = calloc(1, MAX_TOKEN_BYTES + 1);
	ssize_t n = -1;
	size_t i;
	int fd;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, MAX_TOKEN_BYTES + 1);
		close(fd);
	}
	if (n < 0) {
		snprintf(err, errlen, "cannot read --cloud-token-file %s: %s", path,
			 strerror(errno));
		goto bad;
	}
	while (n && strchr(" \t\r\n", buf[n - 1]))
		buf[--n] = '\0';
	for (i = 0; i < (size_t)n; i++)
		if ((unsigned char)buf[i] <= 0x20 || buf[i] == 0x7f)
			break;
	if (!n || i < (size_t)n || n > MAX_TOKEN_BYTES) {
		snprintf(
			err, errlen,
			"--cloud-token-file %s: expected one token of 1 to %d printable characters",
			path, MAX_TOKEN_BYTES);
		goto bad;
	}
	*out = buf;
	return 0;
bad:
	free(buf);
	return -EINVAL;
}

/* Add one to an eventfd: a full counter (EAGAIN) is readable already. */
static void kick(int fd, const char *what)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror(what);
}

static void wake(struct uplink_ws *w)
{
	kick(w->wake_fd, "kerno: uplink wake");
}

static bool stopping(struct uplink_ws *w)
{
	bool s;

	pthread_mutex_lock(&w->lock);
	s = w->stopping;
	pthread_mutex_unlock(&w->lock);
	return s;
}

struct build_ctx {
	const char *type;
	json_t *data;
	time_t now;
	size_t len;
};

/* The envelope for seq, without the newline the file sink adds. */
static char *build_envelope(void *ctx, unsigned long long seq, size_t *len)
{
	struct build_ctx *b = ctx;
	char *line = envelope_line(b->type, seq, b->now, b->data, len);

	if (line)
		line[--*len] = '\0';
	b->len = line ? *len : 0;
	return line;
}

static long long queue_envelope(struct uplink_ws *w, const char *type, json_t *data, time_t now,
				unsigned long long reserve)
{
	struct build_ctx b = { .type = type, .data = data, .now = now };
	long long ret = uplink_queue_push(w->q, build_envelope, &b, reserve);

	if (ret == -ENOSPC) {
		pthread_mutex_lock(&w->lock);
		w->overflow++;
		w->overflow_total++;
		w->overflow_bytes += b.len;
		w->overflow_bytes_total += b.len;
		pthread_mutex_unlock(&w->lock);
	}
	return ret;
}

int uplink_ws_send(struct uplink_ws *w, const char *type, json_t *data, time_t now)
{
	long long ret = queue_envelope(w, type, data, now, 0);

	if (ret > 0) {
		pthread_mutex_lock(&w->lock);
		w->hello_queued = true;
		pthread_mutex_unlock(&w->lock);
		wake(w);
	}
	return ret == -ENOSPC || ret > 0 ? 0 : (int)ret;
}

/*
 * Heartbeats wait for the hello, which every run sends before anything else
 * it makes (docs/uplink.md): an agent whose programs take longer to load
 * than a heartbeat period would queue a heartbeat first. Once done, none is
 * made.
 */
static bool heartbeats_on(struct uplink_ws *w)
{
	bool hello;

	if (w->done)
		return false;
	pthread_mutex_lock(&w->lock);
	hello = w->hello_queued;
	pthread_mutex_unlock(&w->lock);
	return hello;
}

unsigned long long uplink_ws_last_seq(struct uplink_ws *w)
{
	struct uplink_queue_stats s;

	uplink_queue_stats(w->q, &s);
	return s.last_seq;
}

/* The heartbeat envelope: queue state and what overflowed since the last one. */
static void heartbeat(struct uplink_ws *w, long long now)
{
	unsigned long long ov, ovb;
	struct uplink_queue_stats s;
	json_t *data;
	long long ret;

	uplink_queue_stats(w->q, &s);
	pthread_mutex_lock(&w->lock);
	ov = w->overflow;
	ovb = w->overflow_bytes;
	data = json_pack("{s:I, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}, s:I, s:{s:I, s:b}}",
			 "uptime_s", (json_int_t)((now - w->started_ms) / 1000), "queue",
			 "envelopes", (json_int_t)s.envelopes, "bytes", (json_int_t)s.bytes,
			 "max_bytes", (json_int_t)s.max_bytes, "overflow", "envelopes",
			 (json_int_t)ov, "bytes", (json_int_t)ovb, "envelopes_total",
			 (json_int_t)w->overflow_total, "bytes_total",
			 (json_int_t)w->overflow_bytes_total, "lost", (json_int_t)w->lost,
			 "connection", "reconnects", (json_int_t)w->reconnects, "deflate",
			 w->o.deflate);
	pthread_mutex_unlock(&w->lock);
	if (!data)
		return;
	ret = queue_envelope(w, "heartbeat", data, time(NULL), HEARTBEAT_RESERVE);
	json_decref(data);
	if (ret > 0) { /* reported: count from here for the next one */
		pthread_mutex_lock(&w->lock);
		w->overflow -= ov;
		w->overflow_bytes -= ovb;
		pthread_mutex_unlock(&w->lock);
	}
}

/* Start the close handshake; the connection ends when it completes or times out. */
static void start_close(struct uplink_ws *w, uint16_t code, const char *reason)
{
	if (w->closing)
		return;
	ws_conn_close(ws_client_conn(w->c), code, reason);
	w->closing = true;
	w->close_deadline = mono_ms() + w->o.close_secs * 1000;
}

static void drop_conn(struct uplink_ws *w, const char *why)
{
	if (!w->c)
		return;
	say(w, "connection ended: %s%s", why, w->resumed ? "" : " (before the server's first ack)");
	ws_client_free(w->c);
	w->c = NULL;
	w->closing = w->failed = false;
	/* A connection that worked starts the backoff over; one that never did goes on with it. */
	w->attempt = w->resumed ? 1 : w->attempt + 1;
	w->resumed = false;
}

/* An ack: the server holds every envelope up to seq durably. */
static void on_ack(struct uplink_ws *w, unsigned long long seq)
{
	struct uplink_queue_stats s;

	uplink_queue_ack(w->q, seq);
	if (w->resumed)
		return;
	w->resumed = true;
	w->next_seq = seq + 1;
	uplink_queue_stats(w->q, &s);
	say(w, "connected%s%s; the server holds up to seq %llu, %llu envelopes to send",
	    ws_client_proxied(w->c) ? " through HTTPS_PROXY" : "",
	    w->o.deflate ? "" : " (deflate off)", seq, s.envelopes);
	if (seq > s.last_seq)
		say(w,
		    "the server's ack is past the last seq this agent assigned (%llu): is the "
		    "stream shared?",
		    s.last_seq);
}

static void on_message(void *ud, const char *text, size_t len)
{
	struct uplink_ws *w = ud;
	json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	json_int_t seq = -1;
	const char *type = NULL;

	if (!msg || json_unpack(msg, "{s:s}", "type", &type)) {
		say(w, "the server sent a message that is not a JSON object with a type");
		start_close(w, 1008, "bad message");
	} else if (!strcmp(type, "ack")) {
		if (json_unpack(msg, "{s:I}", "seq", &seq) || seq < 0) {
			say(w, "the server sent an ack without a valid seq");
			start_close(w, 1008, "bad ack");
		} else {
			on_ack(w, (unsigned long long)seq);
		}
	} else if (w->o.verbose) {
		say(w, "ignoring a '%s' message from the server", type);
	}
	json_decref(msg);
}

static int connect_once(struct uplink_ws *w)
{
	struct ws_client_opts co = { .url = &w->url,
				     .tls = w->tls,
				     .user_agent = "kerno/" KERNO_VERSION,
				     .deflate = w->o.deflate,
				     .max_message = MAX_SERVER_MESSAGE,
				     .timeout_ms = CONNECT_TIMEOUT_MS,
				     .on_message = on_message,
				     .ud = w };
	char err[512] = "", *token = NULL;
	int ret = 0;

	co.stream = uplink_queue_stream(w->q);
	/* Stopping: a connection attempt may not outlast the flush time. */
	if (w->flush_deadline && w->flush_deadline - mono_ms() < co.timeout_ms)
		co.timeout_ms =
			w->flush_deadline > mono_ms() ? (int)(w->flush_deadline - mono_ms()) : 0;
	if (w->o.token_file)
		ret = read_token(w->o.token_file, &token, err, sizeof(err));
	co.token = token;
	/*
	 * An attempt begun before the stop would hold the stop up to its own
	 * timeout (an unanswered SYN, a silent TLS server): the stop abandons
	 * it. Later ones already end with the flush time.
	 */
	tls_cancel_on(w->flush_deadline ? -1 : w->stop_fd);
	if (!ret)
		ret = ws_client_connect(&co, &w->c, err, sizeof(err));
	tls_cancel_on(-1);
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	if (ret) {
		w->c = NULL;
		w->attempt++;
		say(w, "cannot connect: %s", err);
		return ret;
	}
	if (w->connections++)
		w->reconnects++;
	w->resumed = w->closing = w->failed = false;
	w->rx_ms = mono_ms();
	w->ping_ms = 0;
	w->resume_deadline = w->rx_ms + RESUME_TIMEOUT_MS;
	if (w->o.verbose)
		say(w, "handshake done%s, waiting for the server's ack",
		    ws_client_proxied(w->c) ? " through the proxy" : "");
	return 0;
}

long long uplink_ws_backoff_ms(unsigned int attempt, uint32_t r)
{
	long long top = BACKOFF_BASE_MS;

	while (attempt-- > 1 && top < BACKOFF_CAP_MS)
		top *= 2;
	if (top > BACKOFF_CAP_MS)
		top = BACKOFF_CAP_MS;
	return (long long)((double)r / 4294967296.0 * top);
}

static long long backoff_ms(unsigned int attempt)
{
	uint32_t r = 0;

	RAND_bytes((uint8_t *)&r, sizeof(r));
	return uplink_ws_backoff_ms(attempt, r);
}

static void drain_wake(struct uplink_ws *w)
{
	uint64_t n;

	if (read(w->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		perror("kerno: uplink wake");
}

/* Sleep up to ms, or until woken. */
static void nap(struct uplink_ws *w, long long ms)
{
	struct pollfd p = { .fd = w->wake_fd, .events = POLLIN };

	if (ms > 0 && poll(&p, 1, ms > 60000 ? 60000 : (int)ms) > 0)
		drain_wake(w);
}

/* Send queued envelopes in order while the window allows. */
static void send_ready(struct uplink_ws *w)
{
	struct uplink_queue_stats s;
	unsigned long long got;
	char *text;
	size_t len;
	int ret;

	while (w->resumed && !w->closing) {
		uplink_queue_stats(w->q, &s);
		if (s.envelopes && w->next_seq > s.first_seq + WINDOW_ENVELOPES)
			break;
		if (ws_conn_queued_bytes(ws_client_conn(w->c)) > WINDOW_BYTES)
			break; /* the socket is slow: memory stays bounded */
		ret = uplink_queue_get(w->q, w->next_seq, &got, &text, &len);
		if (ret == -ENOENT)
			break;
		if (ret == -EBADMSG) {
			say(w,
			    "queue file of seq %llu is corrupt or sealed with another key: dropped, "
			    "counted as lost",
			    got);
			uplink_queue_drop(w->q, got);
			pthread_mutex_lock(&w->lock);
			w->lost++;
			pthread_mutex_unlock(&w->lock);
			continue;
		}
		if (ret)
			break;
		ret = ws_conn_send_text(ws_client_conn(w->c), text, len);
		free(text);
		if (ret)
			break;
		w->next_seq = got + 1;
	}
}

/* Deadlines: pings, a silent peer, the first ack, the close handshake. */
static void check_timers(struct uplink_ws *w, long long now)
{
	long long ping = w->o.ping_secs * 1000;

	if (w->failed) {
		/* Its deadline alone ends the wait for the server's end of the stream. */
		if (now >= w->close_deadline)
			drop_conn(w, "failed by this agent; the server did not end the TCP "
				     "connection in time");
	} else if (w->closing && ws_conn_close_done(ws_client_conn(w->c))) {
		drop_conn(w, ws_conn_error(ws_client_conn(w->c))[0] ?
				     ws_conn_error(ws_client_conn(w->c)) :
				     "closed by this agent (close handshake complete)");
	} else if (w->closing) {
		/* Its deadline alone ends the close handshake: no pings, no dead-peer verdict. */
		if (now < w->close_deadline)
			return;
		say(w,
		    "the server did not answer the close frame within %lld s: closing the TCP "
		    "connection",
		    w->o.close_secs);
		drop_conn(w, "no close frame from the server");
	} else if (!w->resumed && now >= w->resume_deadline) {
		drop_conn(w, "the server sent no ack within 10 s of the handshake");
	} else if (now - w->rx_ms >= 2 * ping) {
		say(w, "nothing from the server for %lld s, ping unanswered", 2 * w->o.ping_secs);
		drop_conn(w, "dead peer");
	} else if (now - w->rx_ms >= ping && w->ping_ms <= w->rx_ms) {
		ws_conn_ping(ws_client_conn(w->c), "kerno", 5);
		w->ping_ms = now;
	}
}

/*
 * A connection this agent failed (RFC 6455 7.1.7): once the close frame is
 * out, what the server still sends is read and thrown away until it ends
 * the TCP stream, as the server is to close first (7.1.1). Closed with
 * bytes unread, the socket would send a reset, which can destroy the close
 * frame before the server reads it.
 */
static bool failed_conn_ended(struct ws_conn *conn)
{
	if (ws_conn_write(conn))
		return true;
	return !ws_conn_want_write(conn) && ws_conn_discard(conn) != -EAGAIN;
}

/* Poll the connection once for up to timeout ms and do what is due. */
static void run_conn(struct uplink_ws *w, int timeout)
{
	struct pollfd p[2] = { { .fd = w->wake_fd, .events = POLLIN },
			       { .fd = ws_client_fd(w->c), .events = POLLIN } };
	struct ws_conn *conn = ws_client_conn(w->c);
	ssize_t n;

	if (ws_conn_want_write(conn))
		p[1].events |= POLLOUT;
	if (ws_client_readable(w->c))
		timeout = 0;
	if (poll(p, 2, timeout) > 0 && (p[0].revents & POLLIN))
		drain_wake(w);
	if (w->failed) {
		if (failed_conn_ended(conn))
			drop_conn(w, "failed by this agent, close frame sent, stream ended");
		else
			check_timers(w, mono_ms());
		return;
	}
	n = ws_conn_read(conn);
	if (n > 0)
		w->rx_ms = mono_ms();
	if (n == -EPROTO && !w->failed) {
		/* Fail the connection: the close frame is queued, sent below. */
		say(w, "%s", ws_conn_error(conn));
		w->failed = true;
		w->closing = true;
		w->close_deadline = mono_ms() + w->o.close_secs * 1000;
	} else if (n < 0 && n != -EPROTO) {
		ws_conn_write(conn);
		drop_conn(w, ws_conn_error(conn));
		return;
	}
	if (ws_conn_close_received(conn) && !w->closing) {
		ws_conn_write(conn); /* the answering close wslay queued */
		drop_conn(w, ws_conn_error(conn));
		return;
	}
	send_ready(w);
	if (ws_conn_write(conn)) {
		drop_conn(w, ws_conn_error(conn));
		return;
	}
	check_timers(w, mono_ms());
}

static int next_timeout(struct uplink_ws *w, long long now)
{
	long long ping = w->o.ping_secs * 1000, t;

	if (w->closing) {
		t = w->close_deadline - now; /* its only timer (check_timers()) */
	} else {
		t = (w->ping_ms > w->rx_ms ? w->rx_ms + 2 * ping : w->rx_ms + ping) - now;
		if (!w->resumed && w->resume_deadline - now < t)
			t = w->resume_deadline - now;
	}
	/* A heartbeat that is not on would make this a busy loop once overdue. */
	if (heartbeats_on(w) && w->next_heartbeat - now < t)
		t = w->next_heartbeat - now;
	return t < 0 ? 0 : t > 60000 ? 60000 : (int)t;
}

/* At shutdown: done once everything is acknowledged, or the flush time is up. */
static bool flushed(struct uplink_ws *w, long long flush_deadline)
{
	struct uplink_queue_stats s;

	uplink_queue_stats(w->q, &s);
	return !s.envelopes || mono_ms() >= flush_deadline;
}

static void *delivery_thread(void *arg)
{
	struct uplink_ws *w = arg;
	long long now, wait;
	sigset_t pipe;

	/* A write to a connection the server dropped must fail with EPIPE, not kill the agent. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);

	w->next_heartbeat = mono_ms() + w->o.heartbeat_secs * 1000;
	for (;;) {
		now = mono_ms();
		if (!w->flush_deadline && stopping(w))
			w->flush_deadline = now + w->o.flush_secs * 1000;
		if (now >= w->next_heartbeat && heartbeats_on(w)) {
			heartbeat(w, now);
			w->next_heartbeat = now + w->o.heartbeat_secs * 1000;
		}
		/*
		 * Once the stopping close has begun, whatever is queued after it
		 * stays on disk for the next run: connecting again to deliver it
		 * would only delay the exit.
		 */
		if (!w->done && w->flush_deadline && flushed(w, w->flush_deadline)) {
			w->done = true;
			if (w->c)
				start_close(w, 1001, "agent stopping");
		}
		if (w->done && !w->c)
			break;
		if (w->c) {
			run_conn(w, next_timeout(w, now));
			continue;
		}
		if (w->attempt) {
			wait = backoff_ms(w->attempt);
			if (w->flush_deadline && now + wait > w->flush_deadline)
				wait = w->flush_deadline - now;
			nap(w, wait);
			if (w->flush_deadline && mono_ms() >= w->flush_deadline)
				continue;
		}
		if (connect_once(w) == 0)
			continue;
	}
	return NULL;
}

static int dup_opt(const char **field)
{
	if (*field && !(*field = strdup(*field)))
		return -ENOMEM;
	return 0;
}

static void free_opts(struct uplink_ws_opts *o)
{
	free((char *)o->url);
	free((char *)o->token_file);
	free((char *)o->ca_file);
	free((char *)o->queue_dir);
	free((char *)o->key_file);
}

/* Everything that can be checked before the first connection, so bad options exit 2. */
static int check_opts(struct uplink_ws *w, char *err, size_t errlen)
{
	struct tls_client_opts to = { .ca_file = w->o.ca_file };
	char *token = NULL;
	int ret;

	ret = ws_url_parse(w->o.url, &w->url, err, errlen);
	if (!ret && w->o.token_file &&
	    (ret = read_token(w->o.token_file, &token, err, errlen)) == 0)
		free(token);
	if (!ret && ws_proxy_for(w->url.host, &(struct ws_proxy){ 0 }, err, errlen) < 0)
		ret = -EINVAL;
	if (ret)
		return ret;
	w->tls = tls_client_new(&to, err, errlen);
	return w->tls ? 0 : -EINVAL;
}

static int start(struct uplink_ws *w, char *err, size_t errlen)
{
	struct seal_key key;
	int ret;

	ret = check_opts(w, err, errlen);
	if (ret)
		return ret;
	if (seal_key_load(w->o.key_file, &key, err, errlen))
		return -EINVAL;
	ret = uplink_queue_open(w->o.queue_dir, &key, w->o.queue_bytes, &w->q, err, errlen);
	explicit_bzero(&key, sizeof(key));
	if (ret)
		return ret;
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0 || w->stop_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(-ret));
		return ret;
	}
	w->started_ms = mono_ms();
	ret = pthread_create(&w->thread, NULL, delivery_thread, w);
	if (ret) {
		snprintf(err, errlen, "cannot start the uplink thread: %s", strerror(ret));
		return -ret;
	}
	w->started = true;
	return 0;
}

int uplink_ws_open(const struct uplink_ws_opts *o, struct uplink_ws **out, char *err, size_t errlen)
{
	struct uplink_ws *w = calloc(1, sizeof(*w));
	int ret = -ENOMEM;

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w->o = *o;
	w->wake_fd = w->stop_fd = -1;
	pthread_mutex_init(&w->lock, NULL);
	if (dup_opt(&w->o.url) || dup_opt(&w->o.token_file) || dup_opt(&w->o.ca_file) ||
	    dup_opt(&w->o.queue_dir) || dup_opt(&w->o.key_file)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	ret = start(w, err, errlen);
	if (ret)
		goto fail;
	*out = w;
	return 0;
fail:
	uplink_ws_close(w);
	return ret;
}

/* At exit: what the server has not acknowledged stays queued, and the log says how much. */
static void report_kept(struct uplink_ws *w)
{
	struct uplink_queue_stats s;

	uplink_queue_stats(w->q, &s);
	if (s.envelopes)
		say(w,
		    "stopping with %llu envelopes (%llu bytes, seq %llu to %llu) not acknowledged "
		    "after %.1f s: kept in %s for the next run",
		    s.envelopes, s.bytes, s.first_seq, s.last_seq,
		    (mono_ms() - w->stop_ms) / 1000.0, w->o.queue_dir);
}

void uplink_ws_stop(struct uplink_ws *w)
{
	if (!w || !w->started)
		return;
	pthread_mutex_lock(&w->lock);
	if (!w->stopping)
		w->stop_ms = mono_ms();
	w->stopping = true;
	pthread_mutex_unlock(&w->lock);
	kick(w->stop_fd, "kerno: uplink stop");
	wake(w);
}

void uplink_ws_close(struct uplink_ws *w)
{
	if (!w)
		return;
	if (w->started) {
		uplink_ws_stop(w);
		pthread_join(w->thread, NULL);
		report_kept(w);
	}
	ws_client_free(w->c);
	uplink_queue_close(w->q);
	tls_client_free(w->tls);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	pthread_mutex_destroy(&w->lock);
	free_opts(&w->o);
	free(w);
}
