// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The object store writer: batches, gzip, keys, backpressure. See objstore.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <zlib.h>

#include "objstore.h"

static const char *const signal_names[OBJSTORE__SIGNALS] = { "traces", "logs" };

struct batch {
	char *json; /* lines, each ending in '\n' */
	size_t len, cap;
	unsigned long long lines;
	unsigned long long opened_ms; /* monotonic */
	time_t opened_at; /* wall clock, for the key */
	unsigned char *gz; /* sealed, awaiting a retry */
	size_t gz_len;
	size_t sealed_len; /* JSON bytes (and lines) the gz object holds; later ones wait */
	unsigned long long sealed_lines;
	char key[512];
	struct objstore_stats stats;
};

struct objstore {
	pthread_mutex_t lock; /* the backend and every batch */
	struct obj_backend *backend;
	struct objstore_opts o;
	char prefix[256];
	char node[128];
	unsigned int rand32;
	unsigned long long counter;
	bool refused; /* the last put() pushed back */
	struct batch b[OBJSTORE__SIGNALS];
};

unsigned long long objstore_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void clean_name(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in && in[i] && i + 1 < size; i++) {
		char c = in[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';

		out[i] = ok ? c : '_';
	}
	out[i] = '\0';
	if (!i)
		snprintf(out, size, "node");
}

int objstore_open(const struct objstore_opts *o, struct obj_backend *backend, struct objstore **out)
{
	struct objstore *w;
	const char *p = o->prefix ? o->prefix : "";
	size_t plen;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		backend->close(backend);
		return -ENOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	w->backend = backend;
	w->o = *o;
	if (w->o.level < 1 || w->o.level > 9)
		w->o.level = 1;
	while (*p == '/')
		p++;
	plen = strlen(p);
	while (plen && p[plen - 1] == '/')
		plen--;
	snprintf(w->prefix, sizeof(w->prefix), "%.*s%s", (int)plen, p, plen ? "/" : "");
	clean_name(o->node, w->node, sizeof(w->node));
	if (getrandom(&w->rand32, sizeof(w->rand32), 0) != sizeof(w->rand32))
		w->rand32 = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)w;
	*out = w;
	return 0;
}

static int grow(struct batch *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 64 * 1024;
	char *p;

	while (cap < need)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	p = realloc(b->json, cap);
	if (!p)
		return -ENOMEM;
	b->json = p;
	b->cap = cap;
	return 0;
}

int objstore_append(struct objstore *w, enum objstore_signal s, const char *line, size_t len)
{
	struct batch *b = &w->b[s];
	int ret = 0;

	pthread_mutex_lock(&w->lock);
	if (len + 1 > w->o.max_bytes) {
		ret = -E2BIG;
		goto drop;
	}
	ret = grow(b, b->len + len + 1);
	if (ret)
		goto drop;
	if (!b->len) {
		b->opened_ms = objstore_now_ms();
		b->opened_at = time(NULL);
	}
	memcpy(b->json + b->len, line, len);
	b->json[b->len + len] = '\n';
	b->len += len + 1;
	b->lines++;
	pthread_mutex_unlock(&w->lock);
	return 0;
drop:
	b->stats.dropped_lines++;
	b->stats.dropped_bytes += len;
	pthread_mutex_unlock(&w->lock);
	return ret;
}

bool objstore_due(struct objstore *w, enum objstore_signal s, unsigned long long now_ms)
{
	struct batch *b = &w->b[s];
	bool due;

	pthread_mutex_lock(&w->lock);
	/* opened_ms may be a little later than a now_ms the caller took before appending. */
	due = b->gz ||
	      (b->len && (b->len >= w->o.max_bytes ||
			  (now_ms >= b->opened_ms && now_ms - b->opened_ms >= w->o.max_age_ms)));
	pthread_mutex_unlock(&w->lock);
	return due;
}

/* The whole batch as one gzip member. */
static int compress_batch(struct objstore *w, struct batch *b)
{
	z_stream z = {};
	size_t bound;
	int ret;

	b->sealed_len = b->len;
	b->sealed_lines = b->lines;
	if (deflateInit2(&z, w->o.level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	bound = deflateBound(&z, b->len) + 64;
	b->gz = malloc(bound);
	if (!b->gz) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (unsigned char *)b->json;
	z.avail_in = b->len;
	z.next_out = b->gz;
	z.avail_out = bound;
	ret = deflate(&z, Z_FINISH);
	b->gz_len = bound - z.avail_out;
	deflateEnd(&z);
	if (ret != Z_STREAM_END) {
		free(b->gz);
		b->gz = NULL;
		return -EIO;
	}
	return 0;
}

static void make_key(struct objstore *w, enum objstore_signal s, struct batch *b)
{
	struct tm tm;

	gmtime_r(&b->opened_at, &tm);
	snprintf(b->key, sizeof(b->key),
		 "%s%s/year=%04d/month=%02d/day=%02d/hour=%02d/%s-%08llx%08x%06llx.json.gz",
		 w->prefix, signal_names[s], tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, w->node, (unsigned long long)b->opened_at & 0xffffffffULL, w->rand32,
		 ++w->counter & 0xffffffULL);
}

/*
 * The sealed part is gone (stored or dropped). Lines appended while it
 * waited for a retry stay: they open the next batch.
 */
static void batch_consume_sealed(struct batch *b)
{
	size_t rest = b->len - b->sealed_len;

	free(b->gz);
	b->gz = NULL;
	b->gz_len = 0;
	if (rest)
		memmove(b->json, b->json + b->sealed_len, rest);
	b->len = rest;
	b->lines -= b->sealed_lines;
	b->sealed_len = 0;
	b->sealed_lines = 0;
	if (rest) {
		b->opened_ms = objstore_now_ms();
		b->opened_at = time(NULL);
	}
	/* A burst's buffer is not kept for good. */
	if (!rest && b->cap > 4 * 1024 * 1024) {
		free(b->json);
		b->json = NULL;
		b->cap = 0;
	}
}

static bool backend_pending_over(struct objstore *w)
{
	return w->backend->pending_bytes &&
	       w->backend->pending_bytes(w->backend) > w->o.max_pending_bytes;
}

int objstore_exists(struct objstore *w, const char *key)
{
	int ret;

	if (!w->backend->exists)
		return -ENOSYS;
	pthread_mutex_lock(&w->lock);
	ret = w->backend->exists(w->backend, key);
	pthread_mutex_unlock(&w->lock);
	return ret;
}

int objstore_seal(struct objstore *w, enum objstore_signal s, objstore_intent_fn intent, void *ctx)
{
	struct batch *b = &w->b[s];
	int ret;

	pthread_mutex_lock(&w->lock);
	if (!b->gz && !b->len) {
		ret = 0;
		goto out;
	}
	if (!b->gz) {
		ret = compress_batch(w, b);
		if (ret)
			goto fail;
		make_key(w, s, b);
	}
	if (backend_pending_over(w)) {
		w->refused = true;
		b->stats.backpressure++;
		ret = -EAGAIN;
		goto out;
	}
	if (intent && intent(ctx, b->key)) {
		ret = -EAGAIN;
		goto out;
	}
	ret = w->backend->put(w->backend, b->key, b->gz, b->gz_len);
	if (ret == -EAGAIN || ret == -ENOSPC) {
		w->refused = true;
		b->stats.backpressure++;
		ret = -EAGAIN;
		goto out;
	}
	if (ret)
		goto fail;
	w->refused = false;
	b->stats.objects++;
	b->stats.lines += b->sealed_lines;
	b->stats.json_bytes += b->sealed_len;
	b->stats.gzip_bytes += b->gz_len;
	batch_consume_sealed(b);
	ret = 1;
	goto out;
fail:
	b->stats.failed_objects++;
	b->stats.dropped_lines += b->sealed_lines;
	b->stats.dropped_bytes += b->sealed_len;
	batch_consume_sealed(b);
out:
	pthread_mutex_unlock(&w->lock);
	return ret;
}

bool objstore_congested(struct objstore *w)
{
	bool c;

	pthread_mutex_lock(&w->lock);
	c = w->refused || backend_pending_over(w);
	pthread_mutex_unlock(&w->lock);
	return c;
}

size_t objstore_buffered(struct objstore *w, enum objstore_signal s)
{
	size_t n;

	pthread_mutex_lock(&w->lock);
	n = w->b[s].gz ? w->b[s].gz_len + w->b[s].len - w->b[s].sealed_len : w->b[s].len;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void objstore_get_stats(struct objstore *w, enum objstore_signal s, struct objstore_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->b[s].stats;
	pthread_mutex_unlock(&w->lock);
}

void objstore_close(struct objstore *w)
{
	int s;

	if (!w)
		return;
	for (s = 0; s < OBJSTORE__SIGNALS; s++) {
		/* A second seal stores what was appended while the first waited. */
		if (objstore_seal(w, s, NULL, NULL) < 0 || objstore_seal(w, s, NULL, NULL) < 0) {
			w->b[s].stats.dropped_lines += w->b[s].lines;
			fprintf(stderr, "kerno: %s: %llu lines not stored at exit\n",
				signal_names[s], w->b[s].lines);
		}
		free(w->b[s].gz);
		free(w->b[s].json);
	}
	w->backend->close(w->backend);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
