// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Log collection: the pipeline and its thread. See logs.h. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log_checkpoint.h"
#include "log_drain.h"
#include "log_errors.h"
#include "log_filter.h"
#include "log_frame.h"
#include "log_multiline.h"
#include "log_otlp.h"
#include "log_parse.h"
#include "log_redact.h"
#include "log_tail.h"
#include "logs.h"
#include "logs_stats.h"

#define READ_BUF_MIN (256 * 1024)
#define FILE_BUDGET (4 * 1024 * 1024) /* bytes read from one file per pass: fairness */
#define MULTILINE_IDLE_MS 500 /* an open record is complete after this long without news */
#define MULTILINE_MAX_LINES 500
#define IDLE_POLL_MS 250 /* the stat fallback: files are read this often without inotify */
#define PAUSE_POLL_MS 100 /* while the store pushes back */
#define COMMIT_IDLE_MS 1000 /* checkpoint cadence when nothing waits in the store */
#define MAX_ERROR_GROUPS 1024

/* What the pipeline keeps per followed file (log_file.user). */
struct source {
	struct log_frame frame;
	struct log_ml ml;
	struct log_rate rate;
	char *resource; /* OTLP attributes JSON */
	char *ns, *pod, *uid, *container, *restart, *container_id;
	bool skipping; /* inside a line longer than the cap */
	uint64_t last_data_ms;
};

struct logs {
	pthread_t thread;
	bool started;
	atomic_bool stop;
	const struct kerno_config *cfg;
	struct objstore *store;
	struct log_tail tail;
	struct log_drain *drain;
	struct log_errors *errors;
	struct log_filter_opts filter;
	size_t max_line;
	uint64_t rotate_wait_ms, scan_ms;
	char ckpt_path[PATH_MAX + 16];
	char *buf;
	size_t buf_cap;
	struct log_otlp enc;
	struct log_redactor redactor;
	struct log_file *enc_file; /* whose records the open request holds */
	size_t enc_limit;
	bool paused;
	bool exiting; /* the thread is gone: closing files stores nothing more */
	bool dirty; /* offsets moved since the last checkpoint */
	uint64_t last_commit_ms;
	uint64_t observed_ns; /* wall clock of the current pass */
	struct logs_stats st; /* the thread's own */
	pthread_mutex_t lock; /* shared and reported */
	struct logs_stats shared, reported;
};

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- metadata from the path ---- */

static char *dup_n(const char *s, size_t n)
{
	return strndup(s, n);
}

/* <root>/<ns>_<pod>_<uid>/<container>/<N>.log */
static void pod_meta(struct source *s, const char *path)
{
	const char *end = path + strlen(path), *file, *cont, *pod, *u1, *u2;

	for (file = end; file > path && file[-1] != '/'; file--)
		;
	if (file == path)
		return;
	for (cont = file - 1; cont > path && cont[-1] != '/'; cont--)
		;
	if (cont == path)
		return;
	for (pod = cont - 1; pod > path && pod[-1] != '/'; pod--)
		;
	u1 = memchr(pod, '_', cont - 1 - pod);
	u2 = u1 ? memrchr(u1 + 1, '_', cont - 1 - (u1 + 1)) : NULL;
	if (!u1 || !u2)
		return;
	s->ns = dup_n(pod, u1 - pod);
	s->pod = dup_n(u1 + 1, u2 - u1 - 1);
	s->uid = dup_n(u2 + 1, cont - 1 - u2 - 1);
	s->container = dup_n(cont, file - 1 - cont);
	if (end - file > 4 && !strcmp(end - 4, ".log"))
		s->restart = dup_n(file, end - 4 - file);
}

/* <root>/<id>/<id>-json.log */
static void docker_meta(struct source *s, const char *path)
{
	const char *file = strrchr(path, '/'), *dash;

	if (!file)
		return;
	dash = strstr(file + 1, "-json.log");
	if (dash && dash > file + 1)
		s->container_id = dup_n(file + 1, dash - file - 1);
}

static void free_source(struct source *s)
{
	log_frame_free(&s->frame);
	log_ml_free(&s->ml);
	free(s->resource);
	free(s->ns);
	free(s->pod);
	free(s->uid);
	free(s->container);
	free(s->restart);
	free(s->container_id);
	free(s);
}

static int on_opened(void *ctx, struct log_file *f)
{
	struct logs *l = ctx;
	struct source *s = calloc(1, sizeof(*s));
	struct log_resource r = {};

	if (!s)
		return -ENOMEM;
	if (f->format == LOG_FORMAT_CRI)
		pod_meta(s, f->path);
	else if (f->format == LOG_FORMAT_DOCKER)
		docker_meta(s, f->path);
	r.host = l->cfg->host_name;
	r.path = f->path;
	r.k8s_namespace = s->ns;
	r.k8s_pod = s->pod;
	r.k8s_pod_uid = s->uid;
	r.k8s_container = s->container;
	r.restart_count = s->restart;
	r.container_id = s->container_id;
	s->resource = log_otlp_resource(&r);
	if (!s->resource || log_frame_init(&s->frame, f->format, l->max_line) ||
	    log_ml_init(&s->ml, l->max_line, MULTILINE_MAX_LINES)) {
		free_source(s);
		return -ENOMEM;
	}
	f->user = s;
	l->dirty = true;
	return 0;
}

/* ---- records: parse, judge, encode ---- */

static void flush_enc(struct logs *l)
{
	int ret;

	if (!l->enc_file)
		return;
	log_otlp_end(&l->enc);
	if (l->enc.failed) {
		l->st.c[LOGS_DROP_NOMEM] += l->enc.records;
	} else {
		ret = objstore_append(l->store, OBJSTORE_LOGS, l->enc.p, l->enc.len);
		if (ret)
			l->st.c[LOGS_DROP_STORE] += l->enc.records;
	}
	log_otlp_reset(&l->enc);
	l->enc_file = NULL;
}

static void encode(struct logs *l, struct log_file *f, const struct log_record *r)
{
	struct source *s = f->user;

	if (l->enc_file != f) {
		flush_enc(l);
		log_otlp_begin(&l->enc, s->resource);
		l->enc_file = f;
	}
	log_otlp_record(&l->enc, r, l->observed_ns);
	if (l->enc.len >= l->enc_limit)
		flush_enc(l);
}

/* Credentials out, then into the open request. */
static void store(struct logs *l, struct log_file *f, struct log_record *r)
{
	unsigned long long before = l->redactor.redacted;
	const char *body;
	size_t len;

	body = log_redact(&l->redactor, r->body, r->len, &len);
	if (!body) {
		l->st.c[LOGS_DROP_NOMEM]++;
		return;
	}
	l->st.c[LOGS_REDACTED] += l->redactor.redacted - before;
	r->body = body;
	r->len = len;
	encode(l, f, r);
}

static void error_group(struct logs *l, struct log_file *f, const struct log_record *r,
			const struct log_template_hit *hit)
{
	struct source *s = f->user;
	struct log_error_source src = {
		.k8s_namespace = s->ns,
		.k8s_pod = s->pod,
		.k8s_container = s->container,
		.container_id = s->container_id,
		.path = s->ns || s->container_id ? NULL : f->path,
	};

	log_errors_add(l->errors, hit->fingerprint, r->severity, &src,
		       r->time_ns ? r->time_ns : l->observed_ns);
}

static void record(struct logs *l, struct log_file *f, struct log_record *r)
{
	struct source *s = f->user;
	struct log_template_hit hit;
	enum log_verdict v;

	log_parse_message(r);
	log_drain_match(l->drain, r->body, r->len, &hit);
	v = log_filter_judge(&l->filter, &s->rate, r, &hit, s->last_data_ms);
	l->st.c[LOGS_RECORDS]++;
	l->st.c[LOGS_VERDICT_BASE + v]++;
	if (r->truncated)
		l->st.c[LOGS_DROP_CUT]++;
	if (r->severity >= LOG_SEV_ERROR)
		error_group(l, f, r, &hit);
	if (log_verdict_kept(v))
		store(l, f, r);
}

static void message(struct logs *l, struct log_file *f, const struct log_message *m)
{
	struct source *s = f->user;
	struct log_record r;

	if (log_ml_push(&s->ml, m, &r))
		record(l, f, &r);
}

static void flush_pending(struct logs *l, struct log_file *f)
{
	struct source *s = f->user;
	struct log_message m;
	struct log_record r;

	if (log_frame_flush(&s->frame, &m))
		message(l, f, &m);
	if (log_ml_flush(&s->ml, &r))
		record(l, f, &r);
}

static void line(struct logs *l, struct log_file *f, const char *p, size_t len, bool cut,
		 uint64_t off)
{
	struct source *s = f->user;
	struct log_message m;

	l->st.c[LOGS_LINES]++;
	if (len && p[len - 1] == '\r')
		len--;
	if (log_frame_line(&s->frame, p, len, cut, off, &m) == 1)
		message(l, f, &m);
}

/* The complete lines of one chunk read at `base`; returns the bytes used. */
static size_t chunk(struct logs *l, struct log_file *f, const char *buf, size_t n, uint64_t base)
{
	struct source *s = f->user;
	const char *p = buf, *end = buf + n, *nl;

	while (p < end) {
		nl = memchr(p, '\n', end - p);
		if (!nl) {
			if (s->skipping) {
				p = end; /* the rest of an overlong line: already counted */
			} else if ((size_t)(end - p) >= l->max_line) {
				line(l, f, p, l->max_line, true, base + (p - buf));
				s->skipping = true;
				p = end;
			}
			break;
		}
		if (s->skipping)
			s->skipping = false;
		else
			line(l, f, p, nl - p, false, base + (p - buf));
		p = nl + 1;
	}
	return p - buf;
}

/* ---- checkpoints ---- */

static uint64_t safe_offset(const struct log_file *f)
{
	const struct source *s = f->user;
	uint64_t off = f->read_off;

	if (s->frame.pending && s->frame.pending_off < off)
		off = s->frame.pending_off;
	if (s->ml.open && s->ml.start_off < off)
		off = s->ml.start_off;
	return off;
}

/*
 * Write the checkpoint: every followed file with its committed offset and,
 * with `pending_key`, the offset the object about to be put completes.
 */
static int save_checkpoint(struct logs *l, const char *pending_key)
{
	struct log_ckpt c = {};
	struct log_file *f;
	int ret = 0;

	for (f = l->tail.files; f && !ret; f = f->next) {
		struct log_ckpt_entry e = { .dev = f->dev,
					    .ino = f->ino,
					    .fp_len = f->fp_len,
					    .fp = f->fp,
					    .off = pending_key ? f->committed_off : safe_offset(f),
					    .pending_off = safe_offset(f),
					    .path = f->path };

		/* A file waiting to tell whether it is a copy: the next run decides again. */
		if (!log_tail_waiting(f))
			ret = log_ckpt_add(&c, &e);
	}
	if (!ret && pending_key) {
		c.pending_key = strdup(pending_key);
		ret = c.pending_key ? 0 : -ENOMEM;
	}
	if (!ret)
		ret = log_ckpt_save(l->ckpt_path, &c);
	log_ckpt_free(&c);
	if (ret)
		l->st.c[LOGS_CKPT_FAILED]++;
	return ret;
}

static int intent(void *ctx, const char *key)
{
	return save_checkpoint(ctx, key);
}

/* Offsets (and error counts) up to here are stored; with `save`, the checkpoint says so. */
static void commit(struct logs *l, uint64_t now_ms, bool save)
{
	struct log_file *f;

	if (save && save_checkpoint(l, NULL))
		return;
	for (f = l->tail.files; f; f = f->next)
		if (!log_tail_waiting(f))
			f->committed_off = safe_offset(f);
	log_errors_commit(l->errors);
	if (save) {
		l->st.c[LOGS_CKPTS]++;
		l->dirty = false;
		l->last_commit_ms = now_ms;
	}
}

/*
 * Seal what the store holds and put it. The checkpoint written just before
 * the put (intent) already names the object with the offsets it completes,
 * so a stored object needs no second checkpoint now: the next intent or the
 * idle commit writes the plain one.
 */
static void seal_and_commit(struct logs *l, uint64_t now_ms)
{
	int ret;

	flush_enc(l);
	ret = objstore_seal(l->store, OBJSTORE_LOGS, intent, l);
	if (ret == -EAGAIN) {
		l->paused = true;
		return;
	}
	l->paused = false;
	commit(l, now_ms, ret != 1);
}

/* ---- the thread ---- */

static void on_reset(void *ctx, struct log_file *f)
{
	struct logs *l = ctx;
	struct source *s = f->user;

	flush_pending(l, f);
	s->skipping = false;
	l->dirty = true;
}

static void on_closed(void *ctx, struct log_file *f)
{
	struct logs *l = ctx;

	if (!f->user)
		return;
	/* At exit what is still pending is not in the checkpoint: the next run reads it again. */
	if (!l->exiting) {
		flush_pending(l, f);
		flush_enc(l);
	}
	free_source(f->user);
	f->user = NULL;
}

/* Read one file up to its budget; returns the bytes used. */
static size_t read_file(struct logs *l, struct log_file *f, uint64_t now_ms)
{
	struct source *s = f->user;
	size_t total = 0, used;
	ssize_t n;

	while (total < FILE_BUDGET && !l->paused && !atomic_load(&l->stop)) {
		n = log_tail_read(&l->tail, f, l->buf, l->buf_cap, now_ms);
		if (n == -EAGAIN)
			continue;
		if (n <= 0)
			break;
		s->last_data_ms = now_ms;
		used = chunk(l, f, l->buf, n, f->read_off);
		f->read_off += used;
		l->st.c[LOGS_BYTES] += used;
		total += used;
		l->dirty = true;
		flush_enc(l);
		if (objstore_due(l->store, OBJSTORE_LOGS, now_ms))
			seal_and_commit(l, now_ms);
		if ((size_t)n < l->buf_cap || !used)
			break;
	}
	return total;
}

/*
 * A file's last line may lack its newline for good (the writer died or
 * the file was rotated away): once it is idle and gone, that line counts.
 */
static void final_line(struct logs *l, struct log_file *f)
{
	struct source *s = f->user;
	ssize_t n;

	if (log_tail_waiting(f))
		return; /* a copy: its original had these bytes */
	n = pread(f->fd, l->buf, l->buf_cap, f->read_off);
	if (n > 0 && !s->skipping) {
		line(l, f, l->buf, (size_t)n > l->max_line ? l->max_line : (size_t)n,
		     (size_t)n > l->max_line, f->read_off);
		f->read_off += n;
	}
}

static void housekeeping(struct logs *l, uint64_t now_ms)
{
	struct log_file *f, *next;
	struct log_record r;
	struct source *s;

	for (f = l->tail.files; f; f = next) {
		next = f->next;
		s = f->user;
		if (s->ml.open && f->eof && now_ms - s->last_data_ms >= MULTILINE_IDLE_MS &&
		    log_ml_flush(&s->ml, &r)) {
			record(l, f, &r);
			l->dirty = true;
		}
		if (f->gone && f->eof && now_ms - f->eof_since_ms >= l->rotate_wait_ms) {
			final_line(l, f);
			log_tail_close(&l->tail, f);
			l->dirty = true;
		}
	}
	flush_enc(l);
}

static size_t read_pass(struct logs *l, uint64_t now_ms)
{
	struct log_file *f;
	size_t total = 0;

	l->observed_ns = wall_ns();
	for (f = l->tail.files; f && !l->paused; f = f->next)
		total += read_file(l, f, now_ms);
	return total;
}

static void publish(struct logs *l)
{
	struct objstore_stats os;
	struct log_drain_stats ds;

	objstore_get_stats(l->store, OBJSTORE_LOGS, &os);
	log_drain_get_stats(l->drain, &ds);
	l->st.c[LOGS_OBJECTS] = os.objects;
	l->st.c[LOGS_STORED_JSON] = os.json_bytes;
	l->st.c[LOGS_STORED_GZIP] = os.gzip_bytes;
	l->st.c[LOGS_BACKPRESSURE] = os.backpressure;
	l->st.c[LOGS_DROP_STORE_FAILED] = os.dropped_lines;
	l->st.c[LOGS_TEMPLATES_EVICTED] = ds.evicted;
	l->st.c[LOGS_FILES_OPENED] = l->tail.stats.files_opened;
	l->st.c[LOGS_FILES_CLOSED] = l->tail.stats.files_closed;
	l->st.c[LOGS_TRUNCATIONS] = l->tail.stats.truncations;
	l->st.c[LOGS_COPIES] = l->tail.stats.copies;
	l->st.c[LOGS_INODE_REUSE] = l->tail.stats.inode_reuse;
	l->st.c[LOGS_RESUMED] = l->tail.stats.resumed;
	l->st.c[LOGS_DROP_FILES_OVER_LIMIT] = l->tail.stats.over_limit;
	l->st.c[LOGS_DROP_ERRORS_UNTRACKED] = log_errors_untracked(l->errors);
	pthread_mutex_lock(&l->lock);
	l->shared = l->st;
	pthread_mutex_unlock(&l->lock);
}

static int wait_events(struct logs *l, int timeout_ms)
{
	struct pollfd p = { .fd = log_tail_fd(&l->tail), .events = POLLIN };

	if (p.fd < 0) {
		usleep(timeout_ms * 1000);
		return 0;
	}
	return poll(&p, 1, timeout_ms);
}

static void shutdown_flush(struct logs *l, uint64_t now_ms)
{
	struct log_file *f;

	l->observed_ns = wall_ns();
	/* An object the store refused comes first: records must not join a batch sealed without them. */
	seal_and_commit(l, now_ms);
	if (!l->paused) {
		for (f = l->tail.files; f; f = f->next)
			flush_pending(l, f);
		seal_and_commit(l, now_ms);
	}
	/* Still refused: what is pending is not in the checkpoint and is read again next run. */
	if (!l->paused)
		commit(l, now_ms, true);
	publish(l);
}

static void *thread_main(void *arg)
{
	struct logs *l = arg;
	uint64_t now, next_scan = 0;
	unsigned int ev;
	size_t got;

	while (!atomic_load(&l->stop)) {
		now = objstore_now_ms();
		ev = log_tail_events(&l->tail);
		if ((ev & LOG_TAIL_EV_RESCAN) || now >= next_scan) {
			log_tail_scan(&l->tail, now);
			next_scan = now + l->scan_ms;
		}
		if (l->paused) {
			seal_and_commit(l, now);
			publish(l);
			if (l->paused)
				wait_events(l, PAUSE_POLL_MS);
			continue;
		}
		got = read_pass(l, now);
		/* A batch waiting for the store must not gain records: see shutdown_flush(). */
		if (!l->paused)
			housekeeping(l, now);
		if (objstore_due(l->store, OBJSTORE_LOGS, now))
			seal_and_commit(l, now);
		else if (l->dirty && !objstore_buffered(l->store, OBJSTORE_LOGS) &&
			 now - l->last_commit_ms >= COMMIT_IDLE_MS)
			commit(l, now, true);
		publish(l);
		if (!got)
			wait_events(l, IDLE_POLL_MS);
	}
	shutdown_flush(l, objstore_now_ms());
	return NULL;
}

/* ---- set-up ---- */

/* Patterns are copied by log_tail_init(): temporaries are fine until then. */
static int add_source(struct log_tail_source **v, size_t *n, char *pattern, enum log_format format)
{
	struct log_tail_source *p;

	if (!pattern)
		return -ENOMEM;
	p = realloc(*v, (*n + 1) * sizeof(**v));
	if (!p) {
		free(pattern);
		return -ENOMEM;
	}
	*v = p;
	p[*n].pattern = pattern;
	p[*n].format = format;
	(*n)++;
	return 0;
}

static void free_sources(struct log_tail_source *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free((char *)v[i].pattern);
	free(v);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return path && *path && !stat(path, &st) && S_ISDIR(st.st_mode);
}

static char *join(const char *dir, const char *rest)
{
	char *s;

	return asprintf(&s, "%s%s", dir, rest) < 0 ? NULL : s;
}

/* The Kubernetes and Docker roots that exist, and every --logs glob (one a line in cfg->logs). */
static int sources(const struct kerno_config *cfg, struct log_tail_source **v, size_t *n)
{
	const char *p = cfg->logs, *nl;
	int ret = 0;

	if (is_dir(cfg->log_pods_root))
		ret = add_source(v, n, join(cfg->log_pods_root, "/*/*/*.log"), LOG_FORMAT_CRI);
	if (!ret && is_dir(cfg->log_docker_root))
		ret = add_source(v, n, join(cfg->log_docker_root, "/*/*-json.log"),
				 LOG_FORMAT_DOCKER);
	for (; !ret && p && *p; p = *nl ? nl + 1 : nl) {
		nl = p + strcspn(p, "\n");
		if (nl > p)
			ret = add_source(v, n, strndup(p, nl - p), LOG_FORMAT_AUTO);
	}
	return ret;
}

static int open_checkpoints(struct logs *l, struct log_ckpt *restored, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	int ret;

	snprintf(dir, sizeof(dir), "%s/logs", l->cfg->data_dir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	snprintf(l->ckpt_path, sizeof(l->ckpt_path), "%s/checkpoints", dir);
	ret = log_ckpt_load(l->ckpt_path, restored);
	if (ret) {
		snprintf(err, errlen, "cannot read %s: %s", l->ckpt_path, strerror(-ret));
		return ret;
	}
	/* The object of a put the last run may not have finished: are its lines stored? */
	if (restored->pending_key)
		log_ckpt_settle(restored, objstore_exists(l->store, restored->pending_key) == 1);
	return 0;
}

static int init(struct logs *l, const struct kerno_config *cfg, const struct log_tail_source *src,
		size_t n_src, char *err, size_t errlen)
{
	struct log_tail_hooks hooks = { on_opened, on_reset, on_closed, l };
	struct log_ckpt restored = {};
	int ret;

	l->cfg = cfg;
	l->max_line = cfg->log_max_line_bytes;
	l->rotate_wait_ms = cfg->log_rotate_wait * 1000ULL;
	l->scan_ms = cfg->log_scan_interval * 1000ULL;
	l->filter.keep_all = cfg->log_keep_all;
	l->filter.first_n = cfg->log_first;
	l->filter.sample_every = cfg->log_sample_every;
	l->filter.rate_limit = cfg->log_rate_limit;
	l->buf_cap = 2 * l->max_line > READ_BUF_MIN ? 2 * l->max_line : READ_BUF_MIN;
	l->enc_limit = cfg->object_max_bytes / 4 < 1024 * 1024 ? cfg->object_max_bytes / 4 :
								 1024 * 1024;
	pthread_mutex_init(&l->lock, NULL);
	l->buf = malloc(l->buf_cap);
	l->drain = log_drain_new(cfg->log_max_templates, 50);
	l->errors = log_errors_new(MAX_ERROR_GROUPS);
	if (!l->buf || !l->drain || !l->errors) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = open_checkpoints(l, &restored, err, errlen);
	if (!ret)
		ret = log_tail_init(&l->tail, src, n_src, cfg->log_max_files, &restored, &hooks);
	log_ckpt_free(&restored);
	if (ret && !*err)
		snprintf(err, errlen, "cannot set up log tailing: %s", strerror(-ret));
	return ret;
}

int logs_start(const struct kerno_config *cfg, struct objstore *store, struct logs **out, char *err,
	       size_t errlen)
{
	struct log_tail_source *src = NULL;
	struct logs *l = NULL;
	size_t n_src = 0;
	int ret;

	*out = NULL;
	ret = sources(cfg, &src, &n_src);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (!n_src)
		goto out;
	l = calloc(1, sizeof(*l));
	if (!l) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	l->store = store;
	ret = init(l, cfg, src, n_src, err, errlen);
	if (!ret) {
		ret = -pthread_create(&l->thread, NULL, thread_main, l);
		if (ret)
			snprintf(err, errlen, "cannot start the log thread: %s", strerror(-ret));
		else /* for top -H, and for tests waiting until it runs */
			pthread_setname_np(l->thread, "kerno-logs");
	}
	if (ret) {
		logs_free(l);
		goto out;
	}
	l->started = true;
	*out = l;
out:
	free_sources(src, n_src);
	return ret;
}

void logs_stop(struct logs *l)
{
	if (!l || !l->started)
		return;
	atomic_store(&l->stop, true);
	pthread_join(l->thread, NULL);
	l->started = false;
}

void logs_free(struct logs *l)
{
	if (!l)
		return;
	logs_stop(l);
	l->exiting = true;
	log_tail_free(&l->tail);
	log_otlp_free(&l->enc);
	log_redactor_free(&l->redactor);
	log_drain_free(l->drain);
	log_errors_free(l->errors);
	free(l->buf);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

json_t *logs_take_error_groups(struct logs *l)
{
	json_t *groups;

	if (!l)
		return NULL;
	groups = log_errors_take(l->errors);
	if (groups && !json_array_size(groups)) {
		json_decref(groups);
		return NULL;
	}
	return groups;
}

json_t *logs_metrics(struct logs *l, uint64_t start_ns, uint64_t end_ns, const char *host)
{
	struct logs_stats now, delta;
	int i;

	if (!l)
		return NULL;
	pthread_mutex_lock(&l->lock);
	now = l->shared;
	pthread_mutex_unlock(&l->lock);
	for (i = 0; i < LOGS__COUNT; i++)
		delta.c[i] = logs_stat_is_gauge(i) ? now.c[i] : now.c[i] - l->reported.c[i];
	l->reported = now;
	return logs_stats_json(&delta, start_ns, end_ns, host);
}
