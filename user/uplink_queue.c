// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The WebSocket uplink's sealed disk queue: see uplink_queue.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "durable.h"
#include "uplink_queue.h"

struct qent {
	unsigned long long seq, size;
};

struct uplink_queue {
	pthread_mutex_t lock;
	struct seal_key key;
	char *dir;
	struct qent *ents; /* ents[head..tail) in ascending seq */
	size_t head, tail, cap;
	unsigned long long bytes, max_bytes, last_seq;
	char stream[UPLINK_STREAM_ID_LEN + 1];
};

static void ent_path(const struct uplink_queue *q, unsigned long long seq, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%020llu.env", q->dir, seq);
}

/* Replace dir/name with text, durably: temporary file, fsync, rename, directory fsync. */
static int write_small_file(const char *dir, const char *name, const char *text)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return durable_replace(path, text, strlen(text));
}

static int read_small_file(const char *dir, const char *name, char *buf, size_t size)
{
	char path[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	return 0;
}

static int push_ent(struct uplink_queue *q, unsigned long long seq, unsigned long long size)
{
	struct qent *n;

	if (q->head && q->head == q->tail)
		q->head = q->tail = 0;
	if (q->tail == q->cap) {
		if (q->head > q->cap / 2) { /* slide down rather than grow */
			memmove(q->ents, q->ents + q->head, (q->tail - q->head) * sizeof(*n));
			q->tail -= q->head;
			q->head = 0;
		} else {
			n = realloc(q->ents, (q->cap ? q->cap * 2 : 64) * sizeof(*n));
			if (!n)
				return -ENOMEM;
			q->ents = n;
			q->cap = q->cap ? q->cap * 2 : 64;
		}
	}
	q->ents[q->tail++] = (struct qent){ seq, size };
	q->bytes += size;
	return 0;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct qent *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* "<20 digits>.env" -> seq; 0 for any other name. */
static unsigned long long ent_seq(const char *name)
{
	unsigned long long v = 0;
	int i;

	for (i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		v = v * 10 + (name[i] - '0');
	}
	return strcmp(name + 20, ".env") ? 0 : v;
}

/* Index what the directory holds; remove temporaries a crash left behind. */
static int scan(struct uplink_queue *q)
{
	DIR *d = opendir(q->dir);
	unsigned long long seq;
	struct dirent *de;
	struct stat st;
	int err = 0;

	if (!d)
		return -errno;
	while (!err && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n > 4 && !strcmp(de->d_name + n - 4, ".tmp")) {
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		seq = ent_seq(de->d_name);
		if (!seq || fstatat(dirfd(d), de->d_name, &st, 0))
			continue;
		err = push_ent(q, seq, st.st_size);
		if (seq > q->last_seq)
			q->last_seq = seq;
	}
	closedir(d);
	if (q->tail > q->head)
		qsort(q->ents + q->head, q->tail - q->head, sizeof(*q->ents), cmp_ent);
	return err;
}

static int load_stream(struct uplink_queue *q)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[UPLINK_STREAM_ID_LEN / 2];
	char buf[64];
	size_t i;

	if (!read_small_file(q->dir, "stream", buf, sizeof(buf)) &&
	    strspn(buf, hex) == UPLINK_STREAM_ID_LEN) {
		memcpy(q->stream, buf, UPLINK_STREAM_ID_LEN);
		return 0;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	for (i = 0; i < sizeof(raw); i++) {
		q->stream[2 * i] = hex[raw[i] >> 4];
		q->stream[2 * i + 1] = hex[raw[i] & 15];
	}
	snprintf(buf, sizeof(buf), "%s\n", q->stream);
	return write_small_file(q->dir, "stream", buf);
}

int uplink_queue_open(const char *dir, const struct seal_key *key, unsigned long long max_bytes,
		      struct uplink_queue **out, char *err, size_t errlen)
{
	struct uplink_queue *q = calloc(1, sizeof(*q));
	char buf[32];
	int ret = -ENOMEM;

	if (!q || !(q->dir = strdup(dir)))
		goto fail;
	pthread_mutex_init(&q->lock, NULL);
	q->key = *key;
	q->max_bytes = max_bytes;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		ret = -errno;
		goto fail;
	}
	if (!read_small_file(dir, "last-seq", buf, sizeof(buf)))
		q->last_seq = strtoull(buf, NULL, 10);
	ret = scan(q);
	if (!ret)
		ret = load_stream(q);
	if (ret)
		goto fail;
	*out = q;
	return 0;
fail:
	snprintf(err, errlen, "cannot open the uplink queue %s: %s", dir, strerror(-ret));
	uplink_queue_close(q);
	return ret;
}

void uplink_queue_close(struct uplink_queue *q)
{
	if (!q)
		return;
	if (q->dir)
		pthread_mutex_destroy(&q->lock);
	free(q->ents);
	free(q->dir);
	explicit_bzero(&q->key, sizeof(q->key));
	free(q);
}

long long uplink_queue_push(struct uplink_queue *q, uplink_queue_build build, void *ctx,
			    unsigned long long reserve)
{
	unsigned long long seq, size;
	char path[4200], *text;
	size_t len;
	long long ret;

	pthread_mutex_lock(&q->lock);
	seq = q->last_seq + 1;
	text = build(ctx, seq, &len);
	ret = -ENOMEM;
	if (!text)
		goto out;
	size = seal_size(len);
	ret = -ENOSPC;
	if (q->bytes + size > q->max_bytes + reserve)
		goto out;
	ent_path(q, seq, path, sizeof(path));
	ret = seal_write_file(&q->key, path, text, len);
	if (!ret)
		ret = push_ent(q, seq, size);
	if (ret) {
		unlink(path);
		goto out;
	}
	q->last_seq = seq;
	ret = (long long)seq;
out:
	pthread_mutex_unlock(&q->lock);
	free(text);
	return ret;
}

/* The index of the first entry with seq >= want (tail when none). */
static size_t find(const struct uplink_queue *q, unsigned long long want)
{
	size_t lo = q->head, hi = q->tail;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (q->ents[mid].seq < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The envelope must carry the number its file name says. */
static bool seq_matches(const char *text, size_t len, unsigned long long seq)
{
	char want[40];
	const char *p = memmem(text, len < 128 ? len : 128, "\"seq\":", 6);

	snprintf(want, sizeof(want), "\"seq\":%llu,", seq);
	return p && !strncmp(p, want, strlen(want));
}

int uplink_queue_get(struct uplink_queue *q, unsigned long long seq, unsigned long long *got,
		     char **text, size_t *len)
{
	uint8_t *data = NULL, *t;
	char path[4200];
	size_t i;
	int ret = -ENOENT;

	pthread_mutex_lock(&q->lock);
	i = find(q, seq);
	if (i == q->tail)
		goto out;
	*got = q->ents[i].seq;
	ent_path(q, *got, path, sizeof(path));
	ret = seal_read_file(&q->key, path, &data, len);
	if (ret == -EINVAL || ret == -ENOENT)
		ret = -EBADMSG;
	if (ret)
		goto out;
	t = realloc(data, *len + 1);
	ret = -ENOMEM;
	if (!t)
		goto out;
	data = t;
	data[*len] = '\0';
	ret = seq_matches((char *)data, *len, *got) ? 0 : -EBADMSG;
	if (!ret) {
		*text = (char *)data;
		data = NULL;
	}
out:
	pthread_mutex_unlock(&q->lock);
	free(data);
	return ret;
}

static void remove_at(struct uplink_queue *q, size_t i)
{
	char path[4200];

	ent_path(q, q->ents[i].seq, path, sizeof(path));
	unlink(path);
	q->bytes -= q->ents[i].size;
}

unsigned long long uplink_queue_ack(struct uplink_queue *q, unsigned long long seq)
{
	unsigned long long n = 0;
	char buf[32];

	pthread_mutex_lock(&q->lock);
	if (q->head < q->tail && seq >= q->ents[q->tail - 1].seq) {
		/* The newest file goes: keep its number for the next one. */
		snprintf(buf, sizeof(buf), "%llu\n", q->last_seq);
		write_small_file(q->dir, "last-seq", buf);
	}
	while (q->head < q->tail && q->ents[q->head].seq <= seq) {
		remove_at(q, q->head++);
		n++;
	}
	pthread_mutex_unlock(&q->lock);
	return n;
}

void uplink_queue_drop(struct uplink_queue *q, unsigned long long seq)
{
	char buf[32];
	size_t i;

	pthread_mutex_lock(&q->lock);
	i = find(q, seq);
	if (i < q->tail && q->ents[i].seq == seq) {
		if (i + 1 == q->tail) {
			snprintf(buf, sizeof(buf), "%llu\n", q->last_seq);
			write_small_file(q->dir, "last-seq", buf);
		}
		remove_at(q, i);
		memmove(q->ents + i, q->ents + i + 1, (q->tail - i - 1) * sizeof(*q->ents));
		q->tail--;
	}
	pthread_mutex_unlock(&q->lock);
}

void uplink_queue_stats(struct uplink_queue *q, struct uplink_queue_stats *s)
{
	pthread_mutex_lock(&q->lock);
	s->first_seq = q->head < q->tail ? q->ents[q->head].seq : 0;
	s->last_seq = q->last_seq;
	s->envelopes = q->tail - q->head;
	s->bytes = q->bytes;
	s->max_bytes = q->max_bytes;
	pthread_mutex_unlock(&q->lock);
}

const char *uplink_queue_stream(const struct uplink_queue *q)
{
	return q->stream;
}
