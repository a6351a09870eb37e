/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Framing: a file's physical lines to messages. CRI and Docker json-file
 * lines are unwrapped and their partial lines merged (up to `cap` bytes;
 * what passes the cap is cut and counted); a raw file's lines are messages
 * as they are. The format is known from where the file was found, or
 * detected per line (LOG_FORMAT_AUTO: CRI, then Docker, then raw).
 */
#ifndef KERNO_LOG_FRAME_H
#define KERNO_LOG_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log_parse.h"

enum log_format {
	LOG_FORMAT_AUTO,
	LOG_FORMAT_CRI,
	LOG_FORMAT_DOCKER,
	LOG_FORMAT_RAW,
};

struct log_message {
	const char *body;
	size_t len;
	uint64_t time_ns;
	enum log_stream stream;
	bool truncated;
	uint64_t start_off; /* file offset of its first physical line */
};

struct log_frame {
	enum log_format format;
	size_t cap;
	char *merged; /* partials so far, cap bytes */
	size_t merged_len;
	bool pending; /* partials await their last part */
	bool merged_cut;
	uint64_t pending_off;
	uint64_t pending_time;
	enum log_stream pending_stream;
	char *scratch; /* Docker unescaping */
	size_t scratch_cap;
	unsigned long long cut; /* messages cut at the cap */
};

/* Returns 0 or -ENOMEM. */
int log_frame_init(struct log_frame *f, enum log_format format, size_t cap);
void log_frame_free(struct log_frame *f);

/*
 * One physical line (newline removed) read at file offset `off`; `cut` when
 * the reader already cut it at the cap. Returns 1 with *out set when a
 * message is complete (valid until the next call), 0 while partials are
 * pending, -ENOMEM (the line is counted as cut and dropped).
 */
int log_frame_line(struct log_frame *f, const char *line, size_t len, bool cut, uint64_t off,
		   struct log_message *out);

/* Hand out pending partials as a message (end of file, rotation, shutdown). Returns 1 or 0. */
int log_frame_flush(struct log_frame *f, struct log_message *out);

#endif /* KERNO_LOG_FRAME_H */
