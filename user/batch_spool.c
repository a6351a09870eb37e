// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Preon's sealed on-disk spool: see spool.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch_spool.h"
#include "durable.h"

struct spool_file {
	unsigned long long seq;
	unsigned long long bytes;
};

struct batch_spool {
	char *dir;
	struct seal_key key;
	char id[17];
	unsigned long long next_seq;
	unsigned long long max_bytes, bytes, dropped;
	struct spool_file *files; /* ascending seq */
	size_t n, cap;
};

static int batch_path(const struct batch_spool *s, unsigned long long seq, char *out, size_t size)
{
	return snprintf(out, size, "%s/b-%020llu.seal", s->dir, seq) >= (int)size ? -ENAMETOOLONG :
										    0;
}

/* A small file of text, written atomically and durably. */
static int write_small(const struct batch_spool *s, const char *name, const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	return durable_replace(path, text, strlen(text));
}

static int read_small(const struct batch_spool *s, const char *name, char *out, size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, out, size - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

static int load_identity(struct batch_spool *s)
{
	char text[64];
	uint8_t rnd[8];
	int i, ret;

	if (!read_small(s, "id", text, sizeof(text)) && strlen(text) == 16) {
		memcpy(s->id, text, 17);
	} else {
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			return -EIO;
		for (i = 0; i < 8; i++)
			snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
		ret = write_small(s, "id", s->id);
		if (ret)
			return ret;
	}
	s->next_seq = 1;
	if (!read_small(s, "seq", text, sizeof(text)))
		s->next_seq = strtoull(text, NULL, 10);
	if (!s->next_seq)
		s->next_seq = 1;
	return 0;
}

static int cmp_files(const void *a, const void *b)
{
	const struct spool_file *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int add_file(struct batch_spool *s, unsigned long long seq, unsigned long long bytes)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct spool_file *f = realloc(s->files, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		s->files = f;
		s->cap = cap;
	}
	s->files[s->n++] = (struct spool_file){ seq, bytes };
	s->bytes += bytes;
	if (seq >= s->next_seq)
		s->next_seq = seq + 1;
	return 0;
}

static int scan(struct batch_spool *s)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;
	struct stat st;
	int ret = 0;

	if (!d)
		return -errno;
	while (!ret && (e = readdir(d))) {
		unsigned long long seq;
		char tail[8];

		if (sscanf(e->d_name, "b-%20llu.%7s", &seq, tail) != 2 || strcmp(tail, "seal"))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, 0))
			continue;
		ret = add_file(s, seq, st.st_size);
	}
	closedir(d);
	if (s->n)
		qsort(s->files, s->n, sizeof(*s->files), cmp_files);
	return ret;
}

int batch_spool_open(const char *dir, const struct seal_key *key, unsigned long long max_bytes,
		     struct batch_spool **out, char *err, size_t errlen)
{
	struct batch_spool *s = calloc(1, sizeof(*s));
	int ret = -ENOMEM;

	if (!s || !(s->dir = strdup(dir)))
		goto fail;
	s->key = *key;
	s->max_bytes = max_bytes;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		ret = -errno;
		goto fail;
	}
	ret = load_identity(s);
	if (!ret)
		ret = scan(s);
	if (ret)
		goto fail;
	*out = s;
	return 0;
fail:
	snprintf(err, errlen, "cannot use the spool directory %s: %s", dir, strerror(-ret));
	batch_spool_close(s);
	return ret;
}

void batch_spool_close(struct batch_spool *s)
{
	if (!s)
		return;
	free(s->files);
	free(s->dir);
	free(s);
}

/* Forget the oldest file (deleted or not). */
static void pop_oldest(struct batch_spool *s)
{
	char path[PATH_MAX];

	if (!batch_path(s, s->files[0].seq, path, sizeof(path)))
		unlink(path);
	s->bytes -= s->files[0].bytes;
	memmove(s->files, s->files + 1, (s->n - 1) * sizeof(*s->files));
	s->n--;
}

int batch_spool_put(struct batch_spool *s, const char *path, const void *body, size_t len)
{
	size_t plen = strlen(path), total = plen + 1 + len;
	unsigned long long seq = s->next_seq, sealed = seal_size(total);
	char file[PATH_MAX], seqtext[24];
	uint8_t *buf;
	int ret;

	if (plen >= sizeof(((struct spooled_batch *)0)->path) || memchr(path, '\n', plen))
		return -EINVAL;
	/* Room first: the oldest batches go, counted, rather than the newest. */
	while (s->n && s->bytes + sealed > s->max_bytes) {
		pop_oldest(s);
		s->dropped++;
	}
	/* The counter moves on before the batch exists: an id is never given twice. */
	snprintf(seqtext, sizeof(seqtext), "%llu\n", seq + 1);
	ret = write_small(s, "seq", seqtext);
	if (ret)
		return ret;
	s->next_seq = seq + 1;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, path, plen);
	buf[plen] = '\n';
	memcpy(buf + plen + 1, body, len);
	ret = batch_path(s, seq, file, sizeof(file));
	if (!ret)
		ret = seal_write_file(&s->key, file, buf, total);
	free(buf);
	if (!ret)
		ret = add_file(s, seq, sealed);
	return ret;
}

static int read_batch(struct batch_spool *s, unsigned long long seq, struct spooled_batch *b)
{
	char file[PATH_MAX];
	uint8_t *data, *nl;
	size_t len;
	int ret;

	ret = batch_path(s, seq, file, sizeof(file));
	if (!ret)
		ret = seal_read_file(&s->key, file, &data, &len);
	if (ret)
		return ret;
	nl = memchr(data, '\n', len);
	if (!nl || nl - data >= (long)sizeof(b->path)) {
		free(data);
		return -EBADMSG;
	}
	memset(b, 0, sizeof(*b));
	b->seq = seq;
	snprintf(b->id, sizeof(b->id), "%s-%llu", s->id, seq);
	memcpy(b->path, data, nl - data);
	b->len = len - (nl + 1 - data);
	memmove(data, nl + 1, b->len);
	b->body = data;
	return 0;
}

int batch_spool_peek(struct batch_spool *s, struct spooled_batch *b)
{
	int ret;

	while (s->n) {
		ret = read_batch(s, s->files[0].seq, b);
		if (ret == -EBADMSG || ret == -EINVAL || ret == -ENOENT) {
			pop_oldest(s);
			s->dropped++;
			continue;
		}
		return ret;
	}
	return -ENOENT;
}

int batch_spool_remove(struct batch_spool *s, unsigned long long seq)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (s->files[i].seq != seq)
			continue;
		if (i == 0) {
			pop_oldest(s);
		} else {
			char path[PATH_MAX];

			if (!batch_path(s, seq, path, sizeof(path)))
				unlink(path);
			s->bytes -= s->files[i].bytes;
			memmove(s->files + i, s->files + i + 1, (s->n - i - 1) * sizeof(*s->files));
			s->n--;
		}
		return 0;
	}
	return -ENOENT;
}

void batch_spool_batch_free(struct spooled_batch *b)
{
	free(b->body);
	b->body = NULL;
}

size_t batch_spool_count(const struct batch_spool *s)
{
	return s->n;
}

unsigned long long batch_spool_bytes(const struct batch_spool *s)
{
	return s->bytes;
}

unsigned long long batch_spool_dropped(const struct batch_spool *s)
{
	return s->dropped;
}
