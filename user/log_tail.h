/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Finding and following log files.
 *
 * Files are found by globs (the Kubernetes layout
 * <pods-root>/<ns>_<pod>_<uid>/<container>/<N>.log, Docker's
 * <docker-root>/<id>/<id>-json.log, and any --logs GLOB), rescanned when
 * inotify reports a change in a watched directory and every scan interval
 * whatever it reports (the stat fallback: inotify misses events on some
 * file systems and when its queue overflows).
 *
 * A file is known by its device and inode, not its path, so a file renamed
 * by rotation keeps its offset, whatever its new name; a file no glob
 * matches any more (rotated away or deleted) is still drained through its
 * open descriptor before it is closed.
 *
 * Each file carries a fingerprint, a hash of its first bytes (up to 1 KiB).
 * It is checked after every read: when the file's start no longer matches
 * (copytruncate, truncation, rewrite) or the file shrank below the offset,
 * the file is read again from 0 and the chunk just read is discarded.
 *
 * A new file in the same directory whose first bytes are those of a file
 * followed is a copy (copytruncate's): while the original still starts with
 * those bytes it holds all of them and is the one read; the copy waits.
 * When the original is found truncated (or is closed), the copy is read from
 * the offset the original had reached, and inherits its committed offset:
 * what was read from the original but not yet stored is read again from the
 * copy after a crash. A new file whose bytes so far are a proper beginning of
 * a followed file's (a copy being written) waits until it tells (grows to the
 * fingerprint's length or differs), or has not grown for
 * LOG_TAIL_UNDECIDED_MS. A copy of a file truncated before the copy was seen
 * starts at the offset of the truncation; one made while the agent was down
 * at the checkpoint's offset. Waiting files are in no checkpoint: a restart
 * decides again. On restart, files named by the checkpoint are opened first,
 * so their copies find them.
 *
 * A checkpoint entry is trusted only when the inode's fingerprint still
 * matches (inode reuse otherwise).
 */
#ifndef KERNO_LOG_TAIL_H
#define KERNO_LOG_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log_checkpoint.h"
#include "log_frame.h"

#define LOG_TAIL_FP_MAX 1024
/* Shorter shared beginnings do not make a file a copy of another. */
#define LOG_TAIL_FP_COPY_MIN 64
/* A possible copy that has not grown for this long is a new file. */
#define LOG_TAIL_UNDECIDED_MS 5000

struct log_tail_source {
	const char *pattern;
	enum log_format format;
};

struct log_file {
	struct log_file *next;
	char *path;
	uint64_t dev, ino;
	int fd;
	enum log_format format;
	uint64_t read_off; /* every byte before it has been handed to the reader */
	uint64_t committed_off; /* the reader's: every byte before it is stored */
	uint64_t fp;
	uint32_t fp_len;
	uint64_t trunc_fp; /* before the last truncation, for its copy */
	uint32_t trunc_fp_len;
	uint64_t trunc_off, trunc_committed;
	struct log_file *copy_of; /* waits while this original holds its bytes */
	bool undecided; /* maybe a copy being written: waits */
	uint64_t undecided_size, undecided_since_ms;
	unsigned int scan_gen; /* the scan that last matched it */
	bool gone; /* no glob matches it any more */
	bool eof; /* the last read found nothing new */
	uint64_t eof_since_ms;
	void *user; /* the reader's state */
};

struct log_tail_stats {
	unsigned long long files_opened;
	unsigned long long files_closed;
	unsigned long long truncations;
	unsigned long long copies; /* files read from their original's offset */
	unsigned long long inode_reuse; /* checkpoint entries refused */
	unsigned long long resumed; /* files resumed from a checkpoint */
	unsigned long long over_limit; /* files left unopened in the last scan (max-files) */
	unsigned long long read_errors;
};

struct log_tail_hooks {
	/* A file starts being followed; returns 0 or a negative errno (then it is not followed). */
	int (*opened)(void *ctx, struct log_file *f);
	/* The file was truncated or rewritten: hand out what is pending before read_off goes to 0. */
	void (*reset)(void *ctx, struct log_file *f);
	/* The file is being closed: free f->user. */
	void (*closed)(void *ctx, struct log_file *f);
	void *ctx;
};

struct log_tail {
	struct log_tail_source *src;
	size_t n_src;
	unsigned int max_files;
	unsigned int n_files;
	struct log_file *files;
	struct log_ckpt restored; /* from the last run */
	struct log_tail_hooks hooks;
	unsigned int scan_gen;
	int inotify_fd;
	char *fp_buf;
	struct log_tail_stats stats;
};

/*
 * Follow the sources (patterns copied); restored (taken over, may be empty)
 * holds the last run's checkpoints. Returns 0 or a negative errno.
 */
int log_tail_init(struct log_tail *t, const struct log_tail_source *src, size_t n_src,
		  unsigned int max_files, struct log_ckpt *restored,
		  const struct log_tail_hooks *hooks);
void log_tail_free(struct log_tail *t);

/* Glob every source; open new files, mark unmatched ones gone. */
void log_tail_scan(struct log_tail *t, uint64_t now_ms);

/* The inotify descriptor to poll, or -1. */
int log_tail_fd(const struct log_tail *t);

#define LOG_TAIL_EV_DATA 1
#define LOG_TAIL_EV_RESCAN 2
/* Drain inotify's queue: what it asks for (LOG_TAIL_EV_*). */
unsigned int log_tail_events(struct log_tail *t);

/*
 * Read up to cap bytes at f->read_off into buf. Returns the count (0 at
 * the end, and for a waiting file), or -EAGAIN when the file was found
 * truncated or rewritten (it was reset: read again). The caller advances
 * f->read_off by what it used and f->committed_off once that is stored.
 */
ssize_t log_tail_read(struct log_tail *t, struct log_file *f, char *buf, size_t cap,
		      uint64_t now_ms);

/* A copy waiting for its original, or a file that may be one: not read, in no checkpoint. */
static inline bool log_tail_waiting(const struct log_file *f)
{
	return f->copy_of || f->undecided;
}

/* Stop following f (the hooks' closed() runs first). */
void log_tail_close(struct log_tail *t, struct log_file *f);

/* 64-bit FNV-1a, the fingerprint's hash. */
uint64_t log_tail_hash(const void *p, size_t len);

#endif /* KERNO_LOG_TAIL_H */
