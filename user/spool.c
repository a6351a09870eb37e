// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The sealed, bounded, restart-proof disk spool of the S3 uploader: see spool.h. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "strbuf.h"

struct entry {
	uint64_t id;
	unsigned long long size; /* sealed bytes on disk */
};

struct spool {
	char dir[PATH_MAX - 320];
	struct seal_key key;
	unsigned long long max, bytes;
	pthread_mutex_t lock;
	struct entry *e; /* ascending id */
	size_t n, cap;
	uint64_t next_id;
};

static void entry_path(const struct spool *sp, uint64_t id, const char *ext, char *out, size_t size)
{
	snprintf(out, size, "%s/%016" PRIx64 ".%s", sp->dir, id, ext);
}

static int add_entry(struct spool *sp, uint64_t id, unsigned long long size)
{
	struct entry *ne;
	size_t i;

	if (sp->n == sp->cap) {
		ne = realloc(sp->e, (sp->cap ? 2 * sp->cap : 64) * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		sp->e = ne;
		sp->cap = sp->cap ? 2 * sp->cap : 64;
	}
	for (i = sp->n; i > 0 && sp->e[i - 1].id > id; i--)
		sp->e[i] = sp->e[i - 1];
	sp->e[i] = (struct entry){ id, size };
	sp->n++;
	sp->bytes += size;
	if (id >= sp->next_id)
		sp->next_id = id + 1;
	return 0;
}

static bool has_entry(const struct spool *sp, uint64_t id)
{
	size_t i;

	for (i = 0; i < sp->n; i++)
		if (sp->e[i].id == id)
			return true;
	return false;
}

/* Parse "<16 hex>.<ext>"; 0 with *id and the extension, or -1. */
static int parse_name(const char *name, uint64_t *id, const char **ext)
{
	char *end;

	if (strlen(name) < 18 || name[16] != '.')
		return -1;
	*id = strtoull(name, &end, 16);
	if (end != name + 16)
		return -1;
	*ext = name + 17;
	return 0;
}

static int scan(struct spool *sp, char *err, size_t errlen)
{
	DIR *d = opendir(sp->dir);
	char path[PATH_MAX];
	struct dirent *de;
	const char *ext;
	struct stat st;
	uint64_t id;

	if (!d) {
		snprintf(err, errlen, "--spool-dir %s: %s", sp->dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		if (parse_name(de->d_name, &id, &ext))
			continue;
		snprintf(path, sizeof(path), "%s/%s", sp->dir, de->d_name);
		if (strstr(ext, ".tmp")) {
			unlink(path); /* a write cut short: its put() never returned 0 */
		} else if (!strcmp(ext, "obj") && !stat(path, &st)) {
			if (add_entry(sp, id, (unsigned long long)st.st_size)) {
				closedir(d);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
		}
	}
	closedir(d);
	return 0;
}

/* Progress files whose object is gone belong to uploads that completed. */
static void drop_orphan_progress(struct spool *sp)
{
	DIR *d = opendir(sp->dir);
	char path[PATH_MAX];
	struct dirent *de;
	const char *ext;
	uint64_t id;

	while (d && (de = readdir(d))) {
		if (!parse_name(de->d_name, &id, &ext) && !strcmp(ext, "mpu") &&
		    !has_entry(sp, id)) {
			snprintf(path, sizeof(path), "%s/%s", sp->dir, de->d_name);
			unlink(path);
		}
	}
	if (d)
		closedir(d);
}

struct spool *spool_open(const char *dir, const struct seal_key *key, unsigned long long max_bytes,
			 char *err, size_t errlen)
{
	struct spool *sp = calloc(1, sizeof(*sp));

	if (!sp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (snprintf(sp->dir, sizeof(sp->dir), "%s", dir) >= (int)sizeof(sp->dir)) {
		snprintf(err, errlen, "--spool-dir: path too long");
		free(sp);
		return NULL;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "--spool-dir %s: %s", dir, strerror(errno));
		free(sp);
		return NULL;
	}
	sp->key = *key;
	sp->max = max_bytes;
	sp->next_id = 1;
	pthread_mutex_init(&sp->lock, NULL);
	if (scan(sp, err, errlen)) {
		spool_close(sp);
		return NULL;
	}
	drop_orphan_progress(sp);
	return sp;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	pthread_mutex_destroy(&sp->lock);
	explicit_bzero(&sp->key, sizeof(sp->key));
	free(sp->e);
	free(sp);
}

int spool_put(struct spool *sp, const char *key, const void *data, size_t len)
{
	size_t klen = strlen(key), plen = 4 + klen + len;
	unsigned long long sealed = seal_size(plen);
	char path[PATH_MAX];
	uint8_t *plain;
	uint64_t id;
	int r;

	if (sealed > sp->max)
		return -EFBIG; /* could never fit: refusing for good, not backpressure */
	pthread_mutex_lock(&sp->lock);
	if (sp->bytes + sealed > sp->max) {
		pthread_mutex_unlock(&sp->lock);
		return -ENOSPC;
	}
	/* Reserve the bytes and the id now; give them back on failure. */
	id = sp->next_id++;
	sp->bytes += sealed;
	pthread_mutex_unlock(&sp->lock);
	plain = malloc(plen);
	if (!plain) {
		r = -ENOMEM;
		goto out;
	}
	plain[0] = (uint8_t)(klen >> 24);
	plain[1] = (uint8_t)(klen >> 16);
	plain[2] = (uint8_t)(klen >> 8);
	plain[3] = (uint8_t)klen;
	memcpy(plain + 4, key, klen);
	memcpy(plain + 4 + klen, data, len);
	entry_path(sp, id, "obj", path, sizeof(path));
	r = seal_write_file(&sp->key, path, plain, plen);
	explicit_bzero(plain, plen);
	free(plain);
out:
	pthread_mutex_lock(&sp->lock);
	sp->bytes -= sealed;
	if (!r)
		r = add_entry(sp, id, sealed);
	pthread_mutex_unlock(&sp->lock);
	return r;
}

unsigned long long spool_bytes(struct spool *sp)
{
	unsigned long long b;

	pthread_mutex_lock(&sp->lock);
	b = sp->bytes;
	pthread_mutex_unlock(&sp->lock);
	return b;
}

size_t spool_count(struct spool *sp)
{
	size_t n;

	pthread_mutex_lock(&sp->lock);
	n = sp->n;
	pthread_mutex_unlock(&sp->lock);
	return n;
}

size_t spool_oldest_sized(struct spool *sp, uint64_t *ids, unsigned long long *sizes, size_t max)
{
	size_t i;

	pthread_mutex_lock(&sp->lock);
	for (i = 0; i < sp->n && i < max; i++) {
		ids[i] = sp->e[i].id;
		if (sizes)
			sizes[i] = sp->e[i].size;
	}
	pthread_mutex_unlock(&sp->lock);
	return i;
}

size_t spool_oldest(struct spool *sp, uint64_t *ids, size_t max)
{
	return spool_oldest_sized(sp, ids, NULL, max);
}

int spool_load(struct spool *sp, uint64_t id, char **key, uint8_t **data, size_t *len)
{
	char path[PATH_MAX];
	uint8_t *plain = NULL;
	size_t plen, klen;
	int r;

	entry_path(sp, id, "obj", path, sizeof(path));
	r = seal_read_file(&sp->key, path, &plain, &plen);
	if (r)
		return r;
	klen = plen < 4 ? 0 :
			  (size_t)plain[0] << 24 | (size_t)plain[1] << 16 | (size_t)plain[2] << 8 |
				  plain[3];
	if (plen < 4 || !klen || klen > plen - 4) {
		free(plain);
		return -EBADMSG;
	}
	*key = strndup((char *)plain + 4, klen);
	*len = plen - 4 - klen;
	*data = malloc(*len ? *len : 1);
	if (!*key || !*data) {
		free(*key);
		free(*data);
		free(plain);
		return -ENOMEM;
	}
	memcpy(*data, plain + 4 + klen, *len);
	free(plain);
	return 0;
}

int spool_has_key(struct spool *sp, const char *key)
{
	size_t cap = spool_count(sp) + 1, n, i;
	uint64_t *ids = calloc(cap, sizeof(*ids));
	uint8_t *data;
	size_t len;
	char *k;
	int found = 0;

	if (!ids)
		return -ENOMEM;
	/* Rare (a restart's checkpoint check): every entry is opened to read its key. */
	n = spool_oldest(sp, ids, cap);
	for (i = 0; i < n && !found; i++) {
		if (spool_load(sp, ids[i], &k, &data, &len))
			continue; /* gone meanwhile (uploaded), or unreadable */
		found = !strcmp(k, key);
		free(k);
		free(data);
	}
	free(ids);
	return found;
}

int spool_remove(struct spool *sp, uint64_t id)
{
	char path[PATH_MAX];
	size_t i;
	int r;

	entry_path(sp, id, "obj", path, sizeof(path));
	r = unlink(path) && errno != ENOENT ? -errno : 0;
	entry_path(sp, id, "mpu", path, sizeof(path));
	unlink(path);
	pthread_mutex_lock(&sp->lock);
	for (i = 0; i < sp->n; i++) {
		if (sp->e[i].id != id)
			continue;
		sp->bytes -= sp->e[i].size;
		memmove(&sp->e[i], &sp->e[i + 1], (sp->n - i - 1) * sizeof(*sp->e));
		sp->n--;
		break;
	}
	pthread_mutex_unlock(&sp->lock);
	return r;
}

/* Progress format: upload id on the first line, then "<part> <etag>" lines. */
int spool_mpu_save(struct spool *sp, uint64_t id, const struct spool_mpu *m)
{
	struct strbuf b = { 0 };
	char path[PATH_MAX];
	size_t i;
	int r;

	sb_addf(&b, "%s\n", m->upload_id);
	for (i = 0; i < m->n; i++)
		sb_addf(&b, "%d %s\n", m->parts[i].number, m->parts[i].etag);
	entry_path(sp, id, "mpu", path, sizeof(path));
	r = b.oom ? -ENOMEM : seal_write_file(&sp->key, path, b.s, b.len);
	sb_free(&b);
	return r;
}

static int parse_progress(char *text, struct spool_mpu *m)
{
	char *line, *save = NULL, *sp;
	struct s3_part *np;

	line = strtok_r(text, "\n", &save);
	if (!line ||
	    snprintf(m->upload_id, sizeof(m->upload_id), "%s", line) >= (int)sizeof(m->upload_id))
		return -EBADMSG;
	while ((line = strtok_r(NULL, "\n", &save))) {
		sp = strchr(line, ' ');
		if (!sp || strlen(sp + 1) >= sizeof(m->parts[0].etag))
			return -EBADMSG;
		np = realloc(m->parts, (m->n + 1) * sizeof(*np));
		if (!np)
			return -ENOMEM;
		m->parts = np;
		m->parts[m->n].number = atoi(line);
		snprintf(m->parts[m->n].etag, sizeof(m->parts[0].etag), "%s", sp + 1);
		m->n++;
	}
	return 0;
}

int spool_mpu_load(struct spool *sp, uint64_t id, struct spool_mpu *m)
{
	char path[PATH_MAX];
	uint8_t *plain = NULL;
	char *text;
	size_t len;
	int r;

	memset(m, 0, sizeof(*m));
	entry_path(sp, id, "mpu", path, sizeof(path));
	r = seal_read_file(&sp->key, path, &plain, &len);
	if (r)
		return r;
	text = strndup((char *)plain, len);
	free(plain);
	if (!text)
		return -ENOMEM;
	r = parse_progress(text, m);
	free(text);
	if (r)
		spool_mpu_free(m);
	return r;
}

int spool_mpu_drop(struct spool *sp, uint64_t id)
{
	char path[PATH_MAX];

	entry_path(sp, id, "mpu", path, sizeof(path));
	return unlink(path) && errno != ENOENT ? -errno : 0;
}

void spool_mpu_free(struct spool_mpu *m)
{
	free(m->parts);
	m->parts = NULL;
	m->n = 0;
}

int spool_mpu_ids(struct spool *sp, char ***ids, size_t *n)
{
	uint64_t list[4096];
	size_t i, k = spool_oldest(sp, list, 4096);
	struct spool_mpu m;

	*ids = calloc(k ? k : 1, sizeof(char *));
	*n = 0;
	if (!*ids)
		return -ENOMEM;
	for (i = 0; i < k; i++) {
		if (spool_mpu_load(sp, list[i], &m))
			continue;
		(*ids)[(*n)++] = strdup(m.upload_id);
		spool_mpu_free(&m);
	}
	return 0;
}
