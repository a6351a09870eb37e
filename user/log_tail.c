// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Finding and following log files: see log_tail.h. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "log_tail.h"

#define DIR_EVENTS (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_MODIFY)

uint64_t log_tail_hash(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

/* The directory part of a pattern before its first wildcard: where inotify watches. */
static void static_dir(const char *pattern, char *out, size_t size)
{
	size_t wild = strcspn(pattern, "*?[");
	char *slash;

	snprintf(out, size, "%.*s", (int)wild, pattern);
	slash = strrchr(out, '/');
	if (slash)
		*(slash == out ? slash + 1 : slash) = '\0';
	else
		snprintf(out, size, ".");
}

static void watch_dir(struct log_tail *t, const char *dir)
{
	if (t->inotify_fd >= 0)
		inotify_add_watch(t->inotify_fd, dir, DIR_EVENTS | IN_ONLYDIR);
}

int log_tail_init(struct log_tail *t, const struct log_tail_source *src, size_t n_src,
		  unsigned int max_files, struct log_ckpt *restored,
		  const struct log_tail_hooks *hooks)
{
	char dir[PATH_MAX];
	size_t i;

	memset(t, 0, sizeof(*t));
	t->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	t->max_files = max_files;
	t->hooks = *hooks;
	t->restored = *restored;
	memset(restored, 0, sizeof(*restored));
	t->fp_buf = malloc(LOG_TAIL_FP_MAX);
	t->src = calloc(n_src ? n_src : 1, sizeof(*t->src));
	if (!t->fp_buf || !t->src)
		return -ENOMEM;
	for (i = 0; i < n_src; i++) {
		t->src[i].format = src[i].format;
		t->src[i].pattern = strdup(src[i].pattern);
		if (!t->src[i].pattern)
			return -ENOMEM;
		t->n_src++;
		static_dir(src[i].pattern, dir, sizeof(dir));
		watch_dir(t, dir);
	}
	return 0;
}

static void release_copies(struct log_tail *t, const struct log_file *o, uint64_t off,
			   uint64_t committed);

void log_tail_close(struct log_tail *t, struct log_file *f)
{
	struct log_file **link;

	for (link = &t->files; *link && *link != f; link = &(*link)->next)
		;
	if (*link)
		*link = f->next;
	if (t->hooks.closed)
		t->hooks.closed(t->hooks.ctx, f);
	/* Its copies hold nothing it did not have. */
	release_copies(t, f, f->read_off, f->committed_off);
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f);
	t->n_files--;
	t->stats.files_closed++;
}

void log_tail_free(struct log_tail *t)
{
	size_t i;

	while (t->files)
		log_tail_close(t, t->files);
	for (i = 0; i < t->n_src; i++)
		free((char *)t->src[i].pattern);
	free(t->src);
	free(t->fp_buf);
	log_ckpt_free(&t->restored);
	if (t->inotify_fd >= 0)
		close(t->inotify_fd);
	t->inotify_fd = -1;
}

int log_tail_fd(const struct log_tail *t)
{
	return t->inotify_fd;
}

unsigned int log_tail_events(struct log_tail *t)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	unsigned int what = 0;
	ssize_t n;
	char *p;

	if (t->inotify_fd < 0)
		return 0;
	while ((n = read(t->inotify_fd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				what |= LOG_TAIL_EV_RESCAN | LOG_TAIL_EV_DATA;
			else if (ev->mask & IN_MODIFY)
				what |= LOG_TAIL_EV_DATA;
			else
				what |= LOG_TAIL_EV_RESCAN | LOG_TAIL_EV_DATA;
		}
	}
	return what;
}

/* Hash of the first min(LOG_TAIL_FP_MAX, size) bytes; *len their count. */
static int fingerprint(struct log_tail *t, int fd, uint64_t *fp, uint32_t *len)
{
	ssize_t n = pread(fd, t->fp_buf, LOG_TAIL_FP_MAX, 0);

	if (n < 0)
		return -errno;
	*len = (uint32_t)n;
	*fp = log_tail_hash(t->fp_buf, n);
	return 0;
}

/* Whether the file still starts with the bytes fingerprinted; extends a short fingerprint. */
static bool same_start(struct log_tail *t, struct log_file *f)
{
	ssize_t n = pread(f->fd, t->fp_buf, LOG_TAIL_FP_MAX, 0);

	if (n < 0) {
		t->stats.read_errors++;
		return true; /* an I/O error is not a truncation */
	}
	if ((size_t)n < f->fp_len || log_tail_hash(t->fp_buf, f->fp_len) != f->fp)
		return false;
	if ((size_t)n > f->fp_len) {
		f->fp_len = (uint32_t)n;
		f->fp = log_tail_hash(t->fp_buf, n);
	}
	return true;
}

static const char *base_end(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash : path;
}

static bool same_dir(const char *a, const char *b)
{
	size_t la = base_end(a) - a, lb = base_end(b) - b;

	return la == lb && !memcmp(a, b, la);
}

static struct log_file *find_inode(struct log_tail *t, uint64_t dev, uint64_t ino)
{
	struct log_file *f;

	for (f = t->files; f; f = f->next)
		if (f->dev == dev && f->ino == ino)
			return f;
	return NULL;
}

/* n, a copy of content read up to off and stored up to committed: where it starts. */
static void start_copy(struct log_file *n, uint64_t off, uint64_t committed)
{
	struct stat st;

	/* The copy may be shorter: what the original got after it was read there already. */
	if (!fstat(n->fd, &st) && (uint64_t)st.st_size < off)
		off = st.st_size;
	n->read_off = off;
	n->committed_off = committed < off ? committed : off;
}

/* Copies waiting for o: o's content is read up to off, stored up to committed. */
static void release_copies(struct log_tail *t, const struct log_file *o, uint64_t off,
			   uint64_t committed)
{
	struct log_file *c;

	for (c = t->files; c; c = c->next) {
		if (c->copy_of == o) {
			c->copy_of = NULL;
			start_copy(c, off, committed);
		}
	}
}

/* A followed file other than n, in its directory, that a copy can be of. */
static bool sibling(const struct log_file *f, const struct log_file *n)
{
	return f != n && !log_tail_waiting(f) && same_dir(f->path, n->path);
}

/* n holds the first bytes of a followed file or of one made while the agent was down. */
static bool place_copy(struct log_tail *t, struct log_file *n)
{
	struct log_file *f;
	size_t i;

	if (n->fp_len < LOG_TAIL_FP_COPY_MIN)
		return false;
	for (f = t->files; f; f = f->next) {
		if (!sibling(f, n))
			continue;
		if (f->fp_len == n->fp_len && f->fp == n->fp) {
			n->copy_of = f; /* f still holds these bytes: read there */
			return true;
		}
		if (f->trunc_fp_len == n->fp_len && f->trunc_fp == n->fp) {
			start_copy(n, f->trunc_off, f->trunc_committed);
			return true;
		}
	}
	for (i = 0; i < t->restored.n; i++) {
		const struct log_ckpt_entry *e = &t->restored.e[i];

		/* An entry whose file resumed names an original still read: not this way. */
		if ((e->dev || e->ino) && find_inode(t, e->dev, e->ino))
			continue;
		if (e->fp_len == n->fp_len && e->fp == n->fp && same_dir(e->path, n->path)) {
			start_copy(n, e->off, e->off);
			return true;
		}
	}
	return false;
}

/* n's bytes so far are a proper beginning of a followed file's: a copy being written? */
static bool maybe_copy(struct log_tail *t, const struct log_file *n)
{
	const struct log_file *f;
	ssize_t got;

	for (f = t->files; f; f = f->next) {
		if (!sibling(f, n) || f->fp_len < LOG_TAIL_FP_COPY_MIN || n->fp_len >= f->fp_len)
			continue;
		got = pread(f->fd, t->fp_buf, n->fp_len, 0);
		if (got == (ssize_t)n->fp_len && log_tail_hash(t->fp_buf, got) == n->fp)
			return true;
	}
	return false;
}

/* Where a file found new (or still undecided) starts: a copy, a file to wait for, or 0. */
static void place(struct log_tail *t, struct log_file *n, uint64_t now_ms)
{
	if (place_copy(t, n)) {
		n->undecided = false;
		t->stats.copies++;
		return;
	}
	if (maybe_copy(t, n)) {
		if (!n->undecided || n->undecided_size != n->fp_len) {
			n->undecided_size = n->fp_len;
			n->undecided_since_ms = now_ms;
		}
		n->undecided = now_ms - n->undecided_since_ms < LOG_TAIL_UNDECIDED_MS;
		if (n->undecided)
			return;
	}
	n->undecided = false;
	n->read_off = n->committed_off = 0;
}

/* Where reading a newly found file starts. */
static void start_offset(struct log_tail *t, struct log_file *f, uint64_t size, uint64_t now_ms)
{
	struct log_ckpt_entry *e = log_ckpt_find(&t->restored, f->dev, f->ino);

	if (e) {
		if (e->fp_len <= f->fp_len && e->off <= size &&
		    (e->fp_len == f->fp_len ? e->fp == f->fp :
					      log_tail_hash(t->fp_buf, e->fp_len) == e->fp)) {
			t->stats.resumed++;
			f->read_off = f->committed_off = e->off;
			return;
		}
		t->stats.inode_reuse++;
		e->dev = e->ino = 0; /* never again */
	}
	place(t, f, now_ms);
}

static void open_file(struct log_tail *t, const char *path, enum log_format format, uint64_t now_ms)
{
	struct log_file *f;
	struct stat fst;
	char dir[PATH_MAX];

	if (t->n_files >= t->max_files) {
		t->stats.over_limit++;
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return;
	f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f->fd < 0)
		f->fd = open(path, O_RDONLY | O_CLOEXEC);
	f->path = strdup(path);
	/* The path may have been replaced between stat and open: identity is what we opened. */
	if (f->fd < 0 || !f->path || fstat(f->fd, &fst) || !S_ISREG(fst.st_mode) ||
	    fingerprint(t, f->fd, &f->fp, &f->fp_len))
		goto fail;
	f->dev = fst.st_dev;
	f->ino = fst.st_ino;
	f->format = format;
	f->scan_gen = t->scan_gen;
	start_offset(t, f, fst.st_size, now_ms);
	if (t->hooks.opened && t->hooks.opened(t->hooks.ctx, f))
		goto fail;
	f->next = t->files;
	t->files = f;
	t->n_files++;
	t->stats.files_opened++;
	snprintf(dir, sizeof(dir), "%.*s", (int)(base_end(path) - path), path);
	watch_dir(t, *dir ? dir : "/");
	return;
fail:
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f);
}

/* With known_only, only files the checkpoint names are opened: their copies must find them. */
static void scan_path(struct log_tail *t, const char *path, enum log_format format, uint64_t now_ms,
		      bool known_only)
{
	struct log_file *f;
	struct stat st;
	char *p;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return;
	f = find_inode(t, st.st_dev, st.st_ino);
	if (!f) {
		if (!known_only || log_ckpt_find(&t->restored, st.st_dev, st.st_ino))
			open_file(t, path, format, now_ms);
		return;
	}
	if (f->scan_gen == t->scan_gen)
		return; /* matched twice (overlapping globs) */
	f->scan_gen = t->scan_gen;
	f->gone = false;
	if (strcmp(f->path, path)) {
		p = strdup(path); /* renamed by rotation: same file, same offset */
		if (p) {
			free(f->path);
			f->path = p;
		}
	}
}

static void scan_sources(struct log_tail *t, uint64_t now_ms, bool known_only)
{
	glob_t g;
	size_t i, j;

	for (i = 0; i < t->n_src; i++) {
		memset(&g, 0, sizeof(g));
		if (glob(t->src[i].pattern, GLOB_NOSORT, NULL, &g) == 0)
			for (j = 0; j < g.gl_pathc; j++)
				scan_path(t, g.gl_pathv[j], t->src[i].format, now_ms, known_only);
		globfree(&g);
	}
}

void log_tail_scan(struct log_tail *t, uint64_t now_ms)
{
	struct log_file *f;

	t->scan_gen++;
	t->stats.over_limit = 0;
	if (t->scan_gen == 1 && t->restored.n)
		scan_sources(t, now_ms, true);
	scan_sources(t, now_ms, false);
	for (f = t->files; f; f = f->next) {
		if (f->scan_gen != t->scan_gen && !f->gone) {
			f->gone = true;
			f->eof = false;
		}
	}
}

static void reset(struct log_tail *t, struct log_file *f)
{
	if (t->hooks.reset)
		t->hooks.reset(t->hooks.ctx, f);
	/* A copy made before the truncation holds what follows read_off. */
	release_copies(t, f, f->read_off, f->committed_off);
	f->trunc_fp = f->fp;
	f->trunc_fp_len = f->fp_len;
	f->trunc_off = f->read_off;
	f->trunc_committed = f->committed_off;
	/* The old offsets mean nothing in the new content: a crash from here reads it from 0. */
	f->read_off = f->committed_off = 0;
	if (fingerprint(t, f->fd, &f->fp, &f->fp_len))
		f->fp_len = 0;
	t->stats.truncations++;
}

static void at_end(struct log_file *f, bool end, uint64_t now_ms)
{
	if (end && !f->eof)
		f->eof_since_ms = now_ms;
	f->eof = end;
}

/* A waiting file: still waiting? (An undecided one is looked at again.) */
static bool still_waiting(struct log_tail *t, struct log_file *f, uint64_t now_ms)
{
	if (f->undecided && !fingerprint(t, f->fd, &f->fp, &f->fp_len))
		place(t, f, now_ms);
	return log_tail_waiting(f);
}

ssize_t log_tail_read(struct log_tail *t, struct log_file *f, char *buf, size_t cap,
		      uint64_t now_ms)
{
	struct stat st;
	ssize_t n;

	if (log_tail_waiting(f) && still_waiting(t, f, now_ms)) {
		at_end(f, true, now_ms);
		return 0;
	}
	n = pread(f->fd, buf, cap, f->read_off);
	if (n < 0) {
		t->stats.read_errors++;
		return 0;
	}
	/* Checked after the read: a truncation during it must not let its bytes through. */
	if (!same_start(t, f) || (!n && !fstat(f->fd, &st) && (uint64_t)st.st_size < f->read_off)) {
		reset(t, f);
		return -EAGAIN;
	}
	at_end(f, !n, now_ms);
	return n;
}
