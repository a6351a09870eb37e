// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Nanobe's journal and seen batch ids: see nbstore.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "nbstore.h"

#define SID_LEN 64

struct seen {
	char sid[SID_LEN];
	unsigned long long seq;
	unsigned long long used; /* tick of the last batch, for forgetting */
};

struct nbstore {
	char dir[PATH_MAX];
	char journal[PATH_MAX + 16];
	char next[PATH_MAX + 16];
	int fd;
	unsigned long long flush;
	unsigned long long tick;
	unsigned long long skipped;
	struct seen *seen;
	size_t n_seen;
};

/* "<sid>-<seq>" split; -1 when id is not of that shape. */
static int parse_id(const char *id, char *sid, unsigned long long *seq)
{
	const char *dash = id ? strrchr(id, '-') : NULL;
	char *end;

	if (!dash || dash == id || dash - id >= SID_LEN || !dash[1])
		return -1;
	errno = 0;
	*seq = strtoull(dash + 1, &end, 10);
	if (errno || *end || dash[1] == '-' || dash[1] == '+')
		return -1;
	memcpy(sid, id, dash - id);
	sid[dash - id] = '\0';
	return 0;
}

static struct seen *find_seen(const struct nbstore *s, const char *sid)
{
	size_t i;

	for (i = 0; i < s->n_seen; i++)
		if (!strcmp(s->seen[i].sid, sid))
			return &s->seen[i];
	return NULL;
}

static void remember(struct nbstore *s, const char *sid, unsigned long long seq)
{
	struct seen *e = find_seen(s, sid);
	size_t i, old = 0;

	if (!e) {
		if (s->n_seen < NBSTORE_MAX_SPOOLS) {
			e = &s->seen[s->n_seen++];
		} else {
			for (i = 1; i < s->n_seen; i++)
				if (s->seen[i].used < s->seen[old].used)
					old = i;
			e = &s->seen[old];
		}
		snprintf(e->sid, sizeof(e->sid), "%s", sid);
		e->seq = 0;
	}
	if (seq > e->seq)
		e->seq = seq;
	e->used = ++s->tick;
}

bool nbstore_seen(const struct nbstore *s, const char *id)
{
	char sid[SID_LEN];
	unsigned long long seq;
	const struct seen *e;

	if (!id || !*id || parse_id(id, sid, &seq))
		return false;
	e = find_seen(s, sid);
	return e && seq <= e->seq;
}

static int write_line(int fd, json_t *rec, bool sync)
{
	char *text = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	size_t len, done = 0;
	struct stat st;
	ssize_t n;
	int err = 0;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len++] = '\n'; /* over the NUL: the buffer is not used as a string again */
	while (done < len) {
		n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			break;
		}
		done += n;
	}
	free(text);
	/* A partial line is cut off, so the journal never ends mid-record. */
	if (err && done && !fstat(fd, &st) && ftruncate(fd, st.st_size - done))
		err = -errno;
	if (!err && sync && fdatasync(fd))
		err = -errno;
	return err;
}

static int append(struct nbstore *s, const char *id, json_t *body, bool sync)
{
	char sid[SID_LEN];
	unsigned long long seq;
	json_t *rec;
	int ret;

	rec = json_pack("{s:s, s:s?, s:O}", "t", "batch", "id", id && *id ? id : NULL, "body",
			body);
	if (!rec)
		return -ENOMEM;
	ret = write_line(s->fd, rec, sync);
	json_decref(rec);
	if (!ret && id && !parse_id(id, sid, &seq))
		remember(s, sid, seq);
	return ret;
}

int nbstore_append(struct nbstore *s, const char *id, json_t *body)
{
	return append(s, id, body, true);
}

int nbstore_append_nosync(struct nbstore *s, const char *id, json_t *body)
{
	return append(s, id, body, false);
}

int nbstore_sync(struct nbstore *s)
{
	return fdatasync(s->fd) ? -errno : 0;
}

int nbstore_rotate(struct nbstore *s, json_t *still_open, unsigned long long *flush)
{
	json_t *seen = json_object(), *rec;
	size_t i;
	int fd, ret;

	if (!seen)
		return -ENOMEM;
	for (i = 0; i < s->n_seen; i++)
		json_object_set_new(seen, s->seen[i].sid, json_integer((json_int_t)s->seen[i].seq));
	rec = json_pack("{s:s, s:I, s:o, s:O?}", "t", "state", "flush", (json_int_t)(s->flush + 1),
			"seen", seen, "open", still_open);
	if (!rec)
		return -ENOMEM;
	fd = open(s->next, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		json_decref(rec);
		return -errno;
	}
	ret = write_line(fd, rec, true);
	json_decref(rec);
	close(fd);
	if (ret) {
		unlink(s->next);
		return ret;
	}
	*flush = s->flush + 1;
	return 0;
}

int nbstore_commit(struct nbstore *s)
{
	int fd;

	if (rename(s->next, s->journal))
		return -errno;
	durable_sync_dir(s->dir);
	fd = open(s->journal, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(s->fd);
	s->fd = fd;
	s->flush++;
	return 0;
}

void nbstore_abort(struct nbstore *s)
{
	unlink(s->next);
}

unsigned long long nbstore_skipped(const struct nbstore *s)
{
	return s->skipped;
}

/* Whether any file in dir contains `needle` (the mark of an envelope written). */
static bool dir_contains(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		char path[PATH_MAX], *line = NULL;
		size_t cap = 0;
		FILE *f;

		if (e->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		f = fopen(path, "re");
		if (!f)
			continue;
		while (!found && getline(&line, &cap, f) > 0)
			found = strstr(line, needle) != NULL;
		free(line);
		fclose(f);
	}
	closedir(d);
	return found;
}

/* An interrupted flush: keep its journal.next only if its envelope went out. */
static void settle(struct nbstore *s, const char *uplink_dir)
{
	json_t *rec = json_load_file(s->next, 0, NULL);
	char mark[128];

	if (rec) {
		snprintf(mark, sizeof(mark), NBSTORE_MARK_FMT,
			 (unsigned long long)json_integer_value(json_object_get(rec, "flush")));
		json_decref(rec);
		if (dir_contains(uplink_dir, mark) && !rename(s->next, s->journal)) {
			durable_sync_dir(s->dir);
			return;
		}
	}
	unlink(s->next);
}

static int replay_record(struct nbstore *s, json_t *rec, nbstore_replay_fn replay, void *ctx)
{
	const char *t = json_string_value(json_object_get(rec, "t")), *key;
	char sid[SID_LEN];
	unsigned long long seq;
	json_t *v, *body;

	if (t && !strcmp(t, "state")) {
		s->flush = (unsigned long long)json_integer_value(json_object_get(rec, "flush"));
		json_object_foreach(json_object_get(rec, "seen"), key, v) if (strlen(key) < SID_LEN)
			remember(s, key, (unsigned long long)json_integer_value(v));
		body = json_object_get(rec, "open");
		return json_is_object(body) ? replay(ctx, body) : 0;
	}
	if (!t || strcmp(t, "batch"))
		return -EINVAL;
	v = json_object_get(rec, "id");
	if (json_is_string(v) && !parse_id(json_string_value(v), sid, &seq))
		remember(s, sid, seq);
	return replay(ctx, json_object_get(rec, "body"));
}

static int replay_journal(struct nbstore *s, nbstore_replay_fn replay, void *ctx)
{
	FILE *f = fopen(s->journal, "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (getline(&line, &cap, f) > 0) {
		json_t *rec = json_loads(line, 0, NULL);

		if (!rec) {
			s->skipped++;
			continue;
		}
		ret = replay_record(s, rec, replay, ctx);
		json_decref(rec);
		if (ret == -EINVAL) {
			s->skipped++;
			ret = 0;
		}
		if (ret)
			break;
	}
	free(line);
	fclose(f);
	return ret;
}

int nbstore_open(const char *data_dir, const char *uplink_dir, nbstore_replay_fn replay, void *ctx,
		 struct nbstore **out, char *err, size_t errlen)
{
	struct nbstore *s = calloc(1, sizeof(*s));
	int ret = -ENOMEM;

	if (!s || !(s->seen = calloc(NBSTORE_MAX_SPOOLS, sizeof(*s->seen))))
		goto fail;
	s->fd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s/nanobe", data_dir);
	snprintf(s->journal, sizeof(s->journal), "%s/journal.ndjson", s->dir);
	snprintf(s->next, sizeof(s->next), "%s/journal.next", s->dir);
	if (mkdir(s->dir, 0700) && errno != EEXIST) {
		ret = -errno;
		goto fail;
	}
	if (!access(s->next, F_OK))
		settle(s, uplink_dir);
	ret = replay_journal(s, replay, ctx);
	if (ret)
		goto fail;
	s->fd = open(s->journal, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		ret = -errno;
		goto fail;
	}
	durable_sync_dir(s->dir);
	*out = s;
	return 0;
fail:
	snprintf(err, errlen, "cannot use the journal under %s/nanobe: %s", data_dir,
		 strerror(-ret));
	nbstore_close(s);
	return ret;
}

void nbstore_close(struct nbstore *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->seen);
	free(s);
}
