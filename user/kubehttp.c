// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP/1.1 GETs to the Kubernetes API, bodies streamed: see kubehttp.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kubehttp.h"
#include "kubewatch.h"

#define MAX_HEAD 16384
#define SLICE_MS 500 /* a read waits this long at most, to look at *stop */

struct reader {
	struct tls_conn *t;
	char head[MAX_HEAD + 1];
	size_t head_len;
	int status;
	bool chunked;
	long long length; /* -1: until close */
	struct kubechunk ch;
};

/* Status and framing from the response head. 0 or -EBADMSG. */
static int parse_head(struct reader *r)
{
	char *line, *save = NULL, *colon;

	line = strtok_r(r->head, "\r\n", &save);
	if (!line || sscanf(line, "HTTP/1.%*d %d", &r->status) != 1)
		return -EBADMSG;
	r->length = -1;
	while ((line = strtok_r(NULL, "\r\n", &save))) {
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon++ = '\0';
		while (*colon == ' ' || *colon == '\t')
			colon++;
		if (!strcasecmp(line, "transfer-encoding") && strcasestr(colon, "chunked"))
			r->chunked = true;
		else if (!strcasecmp(line, "content-length"))
			r->length = strtoll(colon, NULL, 10);
	}
	return 0;
}

static int send_request(struct tls_conn *t, const struct kubeconf *kc, const char *path,
			int idle_ms, char *err, size_t errlen)
{
	char token[4096], *req = NULL;
	int len, ret;

	if (kubeconf_token(kc, token, sizeof(token), err, errlen))
		return -EACCES;
	len = asprintf(&req,
		       "GET %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Bearer %s\r\n"
		       "Accept: application/json\r\nUser-Agent: kerno/" KERNO_VERSION "\r\n"
		       "Connection: close\r\n\r\n",
		       path, kc->host, kc->port, token);
	if (len < 0)
		return -ENOMEM;
	ret = tls_write_all(t, req, len, idle_ms);
	free(req);
	if (ret)
		snprintf(err, errlen, "%s", tls_error(t));
	return ret;
}

/* Body bytes after the head, through the framing. 1 at the end of the body. */
static int body_bytes(struct reader *r, const char *data, size_t len, kubehttp_body_fn cb,
		      void *ctx)
{
	int ret;

	if (r->chunked)
		return kubechunk_feed(&r->ch, data, len, cb, ctx);
	if (r->length >= 0 && (long long)len > r->length)
		len = r->length;
	ret = len ? cb(ctx, data, len) : 0;
	if (ret)
		return ret;
	if (r->length >= 0) {
		r->length -= len;
		return r->length == 0;
	}
	return 0;
}

/* Bytes read while the head was incomplete: the head, then maybe body. */
static int head_bytes(struct reader *r, const char *data, size_t len, kubehttp_body_fn cb,
		      void *ctx, int *status)
{
	size_t room = MAX_HEAD - r->head_len, take = len < room ? len : room, body_off;
	char *end;

	memcpy(r->head + r->head_len, data, take);
	r->head_len += take;
	r->head[r->head_len] = '\0';
	end = strstr(r->head, "\r\n\r\n");
	if (!end)
		return r->head_len == MAX_HEAD ? -EBADMSG : 0;
	body_off = end + 4 - r->head - (r->head_len - take);
	end[2] = '\0';
	r->head_len = MAX_HEAD + 1; /* marks the head as done */
	if (parse_head(r))
		return -EBADMSG;
	*status = r->status;
	if (r->length == 0 && !r->chunked)
		return 1;
	return body_bytes(r, data + body_off, len - body_off, cb, ctx);
}

int kubehttp_get(struct tls_client *tls, const struct kubeconf *kc, const char *path, int idle_ms,
		 int *status, kubehttp_body_fn cb, void *ctx, volatile int *stop, char *err,
		 size_t errlen)
{
	struct reader *r = calloc(1, sizeof(*r));
	char buf[16384];
	int ret, waited = 0;
	ssize_t n;

	if (!r)
		return -ENOMEM;
	*status = 0;
	r->t = tls_connect(tls, kc->host, kc->port, idle_ms, err, errlen);
	if (!r->t) {
		free(r);
		return -ECONNREFUSED;
	}
	ret = send_request(r->t, kc, path, idle_ms, err, errlen);
	while (!ret && !(stop && *stop)) {
		n = tls_read(r->t, buf, sizeof(buf), SLICE_MS);
		if (n == -ETIMEDOUT) {
			waited += SLICE_MS;
			if (waited < idle_ms)
				continue;
			snprintf(err, errlen, "%s:%s: nothing for %d ms", kc->host, kc->port,
				 idle_ms);
			ret = -ETIMEDOUT;
			break;
		}
		waited = 0;
		if (n < 0) {
			snprintf(err, errlen, "%s", tls_error(r->t));
			ret = (int)n;
			break;
		}
		if (n == 0) { /* closed: the end only for a body read until close */
			if (r->head_len <= MAX_HEAD || r->chunked || r->length > 0) {
				snprintf(err, errlen, "%s:%s: connection closed mid-response",
					 kc->host, kc->port);
				ret = -ECONNRESET;
			}
			break;
		}
		ret = r->head_len <= MAX_HEAD ? head_bytes(r, buf, n, cb, ctx, status) :
						body_bytes(r, buf, n, cb, ctx);
		if (ret == -EBADMSG)
			snprintf(err, errlen, "%s:%s: malformed HTTP response", kc->host, kc->port);
	}
	if (ret == 1)
		ret = 0;
	tls_close(r->t);
	free(r);
	return ret;
}
