// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The S3 object store backend: spool first, upload after, delete on confirmation. See objstore_s3.h. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "objstore_s3.h"
#include "s3.h"
#include "seal.h"
#include "spool.h"

#define BATCH_MAX 16 /* parts of one multipart upload sent at once, at most */
#define ROUND_MAX 256 /* spooled objects looked at per round */
#define BACKOFF_CAP_MS 15000
#define STALE_UPLOAD_SECS (24 * 3600)
#define CLOSE_FLUSH_SECS 5
#define CLOSE_GRACE_SECS 3 /* for the request in flight when the flush time ran out */

struct s3_backend {
	struct obj_backend b; /* first: the writer holds a pointer to it */
	struct s3 *s3;
	struct spool *spool;
	size_t part_size;
	int conns;
	char host[256];
	char prefix[512];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_bool stop;
	time_t flush_deadline;
	unsigned int attempt; /* consecutive failed rounds */
	char last_error[400];
	struct objstore_s3_stats st;
};

static void logf_err(struct s3_backend *sb, const char *what, const char *msg)
{
	char line[sizeof(sb->last_error)];

	/* The same failure again and again is said once, and once more when it changes. */
	snprintf(line, sizeof(line), "%s: %s", what, msg);
	if (!strcmp(line, sb->last_error))
		return;
	snprintf(sb->last_error, sizeof(sb->last_error), "%s", line);
	fprintf(stderr, "kerno: s3: %s (will retry)\n", line);
}

static void note_success(struct s3_backend *sb)
{
	if (sb->last_error[0])
		fprintf(stderr, "kerno: s3: uploads resumed\n");
	sb->last_error[0] = '\0';
	sb->attempt = 0;
}

/* Sleep the backoff for this round, or until stop. */
static void back_off(struct s3_backend *sb)
{
	unsigned int ms = s3_backoff_ms(++sb->attempt, BACKOFF_CAP_MS);
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&sb->lock);
	if (!sb->stop)
		pthread_cond_timedwait(&sb->wake, &sb->lock, &until);
	pthread_mutex_unlock(&sb->lock);
	sb->st.retries++;
}

enum round { ROUND_IDLE, ROUND_OK, ROUND_FAILED };

struct loaded {
	uint64_t id;
	char *key;
	uint8_t *data;
	size_t len;
};

static void unload(struct loaded *l)
{
	free(l->key);
	free(l->data);
	memset(l, 0, sizeof(*l));
}

static void drop_corrupt(struct s3_backend *sb, uint64_t id)
{
	fprintf(stderr,
		"kerno: s3: spooled object %016" PRIx64
		" does not open (corrupt or another key): dropped\n",
		id);
	spool_remove(sb->spool, id);
	sb->st.corrupt++;
}

static void done(struct s3_backend *sb, struct loaded *l, bool multipart)
{
	spool_remove(sb->spool, l->id);
	sb->st.objects++;
	sb->st.bytes += l->len;
	sb->st.multipart += multipart;
}

/* When an upload id is gone, the object may already be complete (a crash after Complete). */
static bool already_stored(struct s3_backend *sb, const struct loaded *l)
{
	struct s3_result r;

	s3_head_object(sb->s3, l->key, &r);
	return r.ok;
}

static int find_part(const struct spool_mpu *m, int number)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->parts[i].number == number)
			return (int)i;
	return -1;
}

static int part_cmp(const void *a, const void *b)
{
	return ((const struct s3_part *)a)->number - ((const struct s3_part *)b)->number;
}

/* Send the parts not yet confirmed, a batch at a time; progress saved after each batch. */
static int send_parts(struct s3_backend *sb, struct loaded *l, struct spool_mpu *m, bool *gone)
{
	int total = (int)((l->len + sb->part_size - 1) / sb->part_size), num[BATCH_MAX], i, k;
	const void *data[BATCH_MAX];
	struct s3_result res[BATCH_MAX];
	size_t lens[BATCH_MAX], n;
	struct s3_part *np;

	for (i = 1; i <= total;) {
		for (n = 0; i <= total && n < (size_t)sb->conns && n < BATCH_MAX; i++) {
			if (find_part(m, i) >= 0)
				continue;
			num[n] = i;
			data[n] = l->data + (size_t)(i - 1) * sb->part_size;
			lens[n] = i < total ? sb->part_size :
					      l->len - (size_t)(i - 1) * sb->part_size;
			n++;
		}
		if (!n)
			break;
		s3_upload_parts(sb->s3, l->key, m->upload_id, num, data, lens, n, res);
		for (k = 0; k < (int)n; k++) {
			if (!res[k].ok) {
				*gone = !strcmp(res[k].code, "NoSuchUpload");
				logf_err(sb, "UploadPart", res[k].msg);
				continue;
			}
			np = realloc(m->parts, (m->n + 1) * sizeof(*np));
			if (!np)
				return -1;
			m->parts = np;
			m->parts[m->n].number = num[k];
			snprintf(m->parts[m->n].etag, sizeof(np->etag), "%s", res[k].etag);
			m->n++;
		}
		if (spool_mpu_save(sb->spool, l->id, m))
			fprintf(stderr, "kerno: s3: cannot save multipart progress\n");
		for (k = 0; k < (int)n; k++)
			if (!res[k].ok)
				return -1;
	}
	return 0;
}

/* A large object by multipart upload, resuming spooled progress. 0 when stored. */
static int upload_multipart(struct s3_backend *sb, struct loaded *l)
{
	struct spool_mpu m = { 0 };
	struct s3_result r;
	bool gone = false;
	int rc = -1;

	if (spool_mpu_load(sb->spool, l->id, &m)) {
		s3_create_upload(sb->s3, l->key, &r);
		if (!r.ok) {
			logf_err(sb, "CreateMultipartUpload", r.msg);
			return -1;
		}
		snprintf(m.upload_id, sizeof(m.upload_id), "%s", r.upload_id);
		if (spool_mpu_save(sb->spool, l->id, &m))
			goto out;
	}
	if (send_parts(sb, l, &m, &gone))
		goto out;
	qsort(m.parts, m.n, sizeof(*m.parts), part_cmp);
	s3_complete_upload(sb->s3, l->key, m.upload_id, m.parts, m.n, &r);
	if (!r.ok) {
		gone = !strcmp(r.code, "NoSuchUpload");
		logf_err(sb, "CompleteMultipartUpload", r.msg);
		goto out;
	}
	rc = 0;
out:
	if (gone && already_stored(sb, l)) {
		rc = 0;
	} else if (gone) {
		/* The upload was aborted or expired: start again from the first part. */
		spool_mpu_drop(sb->spool, l->id);
	}
	spool_mpu_free(&m);
	return rc;
}

/* One round's small objects, fed to the store as fast as it takes them. */
struct round_feed {
	struct s3_backend *sb;
	uint64_t ids[ROUND_MAX];
	unsigned long long sizes[ROUND_MAX];
	size_t n, next;
	uint64_t large[ROUND_MAX]; /* left for multipart, after the stream */
	size_t n_large;
	bool failed;
};

static int feed_next(void *arg, const char **key, const void **data, size_t *len, void **token)
{
	struct round_feed *rf = arg;
	struct s3_backend *sb = rf->sb;
	struct loaded *l;
	int r;

	while (!rf->failed && rf->next < rf->n) {
		size_t i = rf->next++;

		if (rf->sizes[i] > sb->part_size) {
			rf->large[rf->n_large++] = rf->ids[i];
			continue;
		}
		l = calloc(1, sizeof(*l));
		if (!l) {
			rf->failed = true;
			break;
		}
		l->id = rf->ids[i];
		r = spool_load(sb->spool, l->id, &l->key, &l->data, &l->len);
		if (r == -EBADMSG || r == -EINVAL || r == -ENOENT) {
			drop_corrupt(sb, l->id);
			free(l);
			continue;
		}
		if (r) {
			rf->failed = true;
			free(l);
			break;
		}
		*key = l->key;
		*data = l->data;
		*len = l->len;
		*token = l;
		return 0;
	}
	return -1;
}

static void feed_done(void *arg, void *token, const struct s3_result *res)
{
	struct round_feed *rf = arg;
	struct loaded *l = token;

	if (res->ok) {
		done(rf->sb, l, false);
	} else {
		logf_err(rf->sb, "PutObject", res->msg);
		rf->failed = true;
	}
	unload(l);
	free(l);
}

/* One round: the oldest objects, small ones streamed, then large ones by multipart. */
static enum round round_once(struct s3_backend *sb)
{
	static const struct s3_put_feed ops = { feed_next, feed_done };
	struct round_feed *rf = calloc(1, sizeof(*rf));
	struct loaded l;
	enum round result;
	size_t i;
	int r;

	if (!rf)
		return ROUND_FAILED;
	rf->sb = sb;
	rf->n = spool_oldest_sized(sb->spool, rf->ids, rf->sizes, ROUND_MAX);
	if (!rf->n) {
		free(rf);
		return ROUND_IDLE;
	}
	s3_put_stream(sb->s3, &ops, rf, (size_t)sb->conns);
	for (i = 0; i < rf->n_large && !rf->failed; i++) {
		memset(&l, 0, sizeof(l));
		l.id = rf->large[i];
		r = spool_load(sb->spool, l.id, &l.key, &l.data, &l.len);
		if (r == -EBADMSG || r == -EINVAL || r == -ENOENT)
			drop_corrupt(sb, l.id);
		else if (r || upload_multipart(sb, &l))
			rf->failed = true;
		else
			done(sb, &l, true);
		unload(&l);
	}
	result = rf->failed ? ROUND_FAILED : ROUND_OK;
	free(rf);
	if (result == ROUND_FAILED)
		back_off(sb);
	else
		note_success(sb);
	return result;
}

static bool should_stop(struct s3_backend *sb)
{
	atomic_bool stop;

	pthread_mutex_lock(&sb->lock);
	stop = sb->stop && (time(NULL) >= sb->flush_deadline || !spool_count(sb->spool));
	pthread_mutex_unlock(&sb->lock);
	return stop;
}

/* Multipart uploads nobody will finish: this node's not in the spool, anybody's over a day old. */
static void abort_stale(struct s3_backend *sb)
{
	struct s3_upload *up = calloc(1000, sizeof(*up));
	char **mine = NULL, mark[300];
	size_t n_mine = 0, j;
	struct s3_result r;
	int n, i;

	if (!up || spool_mpu_ids(sb->spool, &mine, &n_mine))
		goto out;
	n = s3_list_uploads(sb->s3, sb->prefix, up, 1000, &r);
	if (n < 0) {
		fprintf(stderr, "kerno: s3: cannot list multipart uploads, stale ones stay: %s\n",
			r.msg);
		goto out;
	}
	snprintf(mark, sizeof(mark), "/%s-", sb->host);
	for (i = 0; i < n; i++) {
		const char *base = strrchr(up[i].key, '/');
		bool ours = base ? !strncmp(base, mark, strlen(mark)) :
				   !strncmp(up[i].key, mark + 1, strlen(mark) - 1);
		bool old = up[i].initiated && time(NULL) - up[i].initiated > STALE_UPLOAD_SECS;

		for (j = 0; j < n_mine; j++)
			if (mine[j] && !strcmp(mine[j], up[i].upload_id))
				ours = old = false;
		if (!ours && !old)
			continue;
		s3_abort_upload(sb->s3, up[i].key, up[i].upload_id, &r);
		if (r.ok || r.status == 404)
			sb->st.stale_aborted++;
		else
			fprintf(stderr, "kerno: s3: abort of a stale upload of %s: %s\n", up[i].key,
				r.msg);
	}
out:
	for (j = 0; j < n_mine; j++)
		free(mine[j]);
	free(mine);
	free(up);
}

static void *uploader(void *arg)
{
	struct s3_backend *sb = arg;
	struct timespec until;

	enum round r;

	abort_stale(sb);
	sb->st.swept = true;
	while (!should_stop(sb)) {
		r = round_once(sb);
		/* Closing: what the store refuses now stays spooled for the next start. */
		if (r == ROUND_FAILED && sb->stop)
			break;
		if (r != ROUND_IDLE)
			continue;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_mutex_lock(&sb->lock);
		if (!sb->stop && !spool_count(sb->spool))
			pthread_cond_timedwait(&sb->wake, &sb->lock, &until);
		pthread_mutex_unlock(&sb->lock);
	}
	return NULL;
}

static int s3_put(struct obj_backend *b, const char *key, const void *data, size_t len)
{
	struct s3_backend *sb = (struct s3_backend *)b;
	int r = spool_put(sb->spool, key, data, len);

	if (!r) {
		pthread_mutex_lock(&sb->lock);
		pthread_cond_signal(&sb->wake);
		pthread_mutex_unlock(&sb->lock);
	}
	return r;
}

static unsigned long long s3_pending(struct obj_backend *b)
{
	return spool_bytes(((struct s3_backend *)b)->spool);
}

/* In the spool (durable, on its way), or already confirmed by the store. */
static int s3_exists(struct obj_backend *b, const char *key)
{
	struct s3_backend *sb = (struct s3_backend *)b;
	struct s3_result r;
	int found;

	found = spool_has_key(sb->spool, key);
	if (found)
		return found;
	s3_head_object(sb->s3, key, &r);
	if (r.ok)
		return 1;
	return r.status == 404 ? 0 : -EIO;
}

static void free_backend(struct s3_backend *sb)
{
	s3_free(sb->s3);
	spool_close(sb->spool);
	pthread_cond_destroy(&sb->wake);
	pthread_mutex_destroy(&sb->lock);
	free(sb);
}

static void s3_close(struct obj_backend *b)
{
	struct s3_backend *sb = (struct s3_backend *)b;
	struct timespec until;

	pthread_mutex_lock(&sb->lock);
	sb->stop = true;
	sb->flush_deadline = time(NULL) + CLOSE_FLUSH_SECS;
	pthread_cond_signal(&sb->wake);
	pthread_mutex_unlock(&sb->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CLOSE_FLUSH_SECS + CLOSE_GRACE_SECS;
	if (pthread_timedjoin_np(sb->thread, NULL, &until)) {
		/*
		 * A request hanging on a silent store: the process is exiting, the
		 * spool keeps everything not confirmed, so leave the thread be.
		 */
		fprintf(stderr,
			"kerno: s3: the uploader is still waiting on the store; %llu objects "
			"stay in the spool for the next start\n",
			(unsigned long long)spool_count(sb->spool));
		return;
	}
	fprintf(stderr,
		"kerno: s3: %llu objects (%llu bytes, %llu multipart) uploaded, %llu retries, "
		"%llu left in the spool for the next start\n",
		sb->st.objects, sb->st.bytes, sb->st.multipart, sb->st.retries,
		(unsigned long long)spool_count(sb->spool));
	free_backend(sb);
}

void objstore_s3_stats(struct obj_backend *b, struct objstore_s3_stats *out)
{
	*out = ((struct s3_backend *)b)->st;
}

const char *objstore_s3_protocol(struct obj_backend *b)
{
	return s3_protocol(((struct s3_backend *)b)->s3);
}

static int check_sse(const struct kerno_config *cfg, char *err, size_t errlen)
{
	const char *m = cfg->s3_sse ? cfg->s3_sse : "";

	if (*m && strcmp(m, "AES256") && strcmp(m, "aws:kms")) {
		snprintf(err, errlen, "--s3-sse '%s': expected AES256 or aws:kms", m);
		return -1;
	}
	if (cfg->s3_kms_key_id && *cfg->s3_kms_key_id && strcmp(m, "aws:kms")) {
		snprintf(err, errlen, "--s3-kms-key-id needs --s3-sse aws:kms");
		return -1;
	}
	return 0;
}

static const char *region_of(const struct kerno_config *cfg)
{
	const char *r = cfg->s3_region;

	if (!r || !*r)
		r = getenv("AWS_REGION");
	if (!r || !*r)
		r = getenv("AWS_DEFAULT_REGION");
	return r && *r ? r : "us-east-1";
}

static int open_spool(struct s3_backend *sb, const struct kerno_config *cfg, char *err,
		      size_t errlen)
{
	char dir[PATH_MAX], keyfile[PATH_MAX];
	struct seal_key key;
	int r;

	snprintf(dir, sizeof(dir), "%s", cfg->spool_dir ? cfg->spool_dir : "");
	if (!dir[0])
		snprintf(dir, sizeof(dir), "%s/spool", cfg->data_dir);
	snprintf(keyfile, sizeof(keyfile), "%s", cfg->spool_key_file ? cfg->spool_key_file : "");
	if (!keyfile[0])
		snprintf(keyfile, sizeof(keyfile), "%s/spool.key", cfg->data_dir);
	if (mkdir(cfg->data_dir, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "--data-dir %s: %s", cfg->data_dir, strerror(errno));
		return -1;
	}
	if (seal_key_load(keyfile, &key, err, errlen))
		return -1;
	sb->spool = spool_open(dir, &key, (unsigned long long)cfg->spool_max_bytes, err, errlen);
	explicit_bzero(&key, sizeof(key));
	r = sb->spool ? 0 : -1;
	return r;
}

struct obj_backend *objstore_s3_new(const struct kerno_config *cfg, char *err, size_t errlen)
{
	struct s3_backend *sb = calloc(1, sizeof(*sb));
	struct s3_config sc = {
		.bucket = cfg->s3_bucket,
		.region = region_of(cfg),
		.endpoint = cfg->s3_endpoint,
		.ca_file = cfg->s3_ca_file,
		.sse = cfg->s3_sse,
		.kms_key_id = cfg->s3_kms_key_id,
		.max_conns = (int)cfg->s3_connections,
		.timeout_ms = 30000,
	};

	if (!sb) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/*
	 * A peer closing a TLS connection must be an error on that connection,
	 * not the death of the process: BoringSSL writes with write(2).
	 */
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&sb->lock, NULL);
	pthread_cond_init(&sb->wake, NULL);
	sb->b = (struct obj_backend){
		.name = "s3",
		.put = s3_put,
		.pending_bytes = s3_pending,
		.exists = s3_exists,
		.close = s3_close,
	};
	sb->part_size = (size_t)cfg->s3_part_size;
	sb->conns = (int)cfg->s3_connections;
	snprintf(sb->host, sizeof(sb->host), "%s", cfg->host_name ? cfg->host_name : "");
	/* The writer's key prefix: --s3-prefix, or else --object-prefix (agent.c). */
	snprintf(sb->prefix, sizeof(sb->prefix), "%s",
		 cfg->s3_prefix && *cfg->s3_prefix ? cfg->s3_prefix :
		 cfg->object_prefix		   ? cfg->object_prefix :
						     "");
	if (check_sse(cfg, err, errlen) || open_spool(sb, cfg, err, errlen))
		goto fail;
	sb->s3 = s3_new(&sc, err, errlen);
	if (!sb->s3)
		goto fail;
	if (pthread_create(&sb->thread, NULL, uploader, sb)) {
		snprintf(err, errlen, "cannot start the uploader thread");
		goto fail;
	}
	return &sb->b;
fail:
	free_backend(sb);
	return NULL;
}
