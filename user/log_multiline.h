/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Multi-line records: stack traces and other continuation lines joined onto
 * the message they belong to, so a Java, Python, Go or Node trace is one
 * record. A record stays open until a message arrives that does not
 * continue it, the stream changes, the caps are reached, or the caller
 * flushes it (idle timeout, end of file).
 *
 * What continues a record:
 *   - an indented line (tab or space): Java "\tat ...", Node "    at ...",
 *     Python "  File ...", Go "\t/src/x.go:12 +0x1d";
 *   - Java "Caused by: ..." and "Suppressed: ...";
 *   - Python's "Traceback (most recent call last):" after an error line, and
 *     within a traceback its final "SomeError: ..." line, the blank lines and
 *     "During handling of the above exception..." of chained exceptions;
 *   - within a Go panic ("panic: ..."): "goroutine N [...]:", function
 *     lines "pkg.fn(...)", "created by ...", blank lines, "[signal ...".
 */
#ifndef KERNO_LOG_MULTILINE_H
#define KERNO_LOG_MULTILINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log_frame.h"

enum log_ml_state {
	LOG_ML_PLAIN,
	LOG_ML_PY_TRACE, /* inside a Python traceback's frames */
	LOG_ML_PY_EXC, /* after its exception line: chaining may follow */
	LOG_ML_GO, /* inside a Go panic */
};

struct log_ml {
	size_t cap; /* bytes of a record */
	unsigned int max_lines;
	char *buf; /* the open record */
	char *spare; /* the record last completed, which the caller is reading */
	size_t buf_cap, spare_cap;
	size_t len;
	bool open;
	bool truncated;
	unsigned int lines;
	enum log_ml_state state;
	uint64_t start_off;
	uint64_t time_ns;
	enum log_stream stream;
	unsigned long long cut; /* records that hit a cap */
};

struct log_record;

int log_ml_init(struct log_ml *m, size_t cap, unsigned int max_lines);
void log_ml_free(struct log_ml *m);

/*
 * Offer the next message. When it does not continue the open record, that
 * record is completed into *out (body valid until the next call) and 1 is
 * returned; the message opens the next record. Returns 0 when nothing
 * completed.
 */
int log_ml_push(struct log_ml *m, const struct log_message *msg, struct log_record *out);

/* Complete the open record, if any, into *out: 1, or 0 when none is open. */
int log_ml_flush(struct log_ml *m, struct log_record *out);

/* Whether `line` would continue a record in `state` whose first line is first..first_len. */
bool log_ml_continues(enum log_ml_state state, const char *first, size_t first_len,
		      const char *line, size_t len);

#endif /* KERNO_LOG_MULTILINE_H */
