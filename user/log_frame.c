// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Framing a file's lines into messages: see log_frame.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log_frame.h"

int log_frame_init(struct log_frame *f, enum log_format format, size_t cap)
{
	memset(f, 0, sizeof(*f));
	f->format = format;
	f->cap = cap;
	return 0;
}

void log_frame_free(struct log_frame *f)
{
	free(f->merged);
	free(f->scratch);
	f->merged = f->scratch = NULL;
}

static int decode(struct log_frame *f, const char *line, size_t len, struct log_frame_msg *m)
{
	enum log_format fmt = f->format;

	if (fmt == LOG_FORMAT_CRI || fmt == LOG_FORMAT_AUTO) {
		if (!log_parse_cri(line, len, m))
			return 0;
	}
	if ((fmt == LOG_FORMAT_DOCKER || fmt == LOG_FORMAT_AUTO) && len && *line == '{') {
		if (f->scratch_cap < len) {
			char *p = realloc(f->scratch, len);

			if (!p)
				return -ENOMEM;
			f->scratch = p;
			f->scratch_cap = len;
		}
		if (!log_parse_docker(line, len, f->scratch, m))
			return 0;
	}
	memset(m, 0, sizeof(*m));
	m->msg = line;
	m->len = len;
	return 0;
}

/* Add a part to the merge buffer, cutting at the cap. */
static int merge(struct log_frame *f, const struct log_frame_msg *m)
{
	size_t room, n = m->len;

	if (!f->merged) {
		f->merged = malloc(f->cap);
		if (!f->merged)
			return -ENOMEM;
	}
	room = f->cap - f->merged_len;
	if (n > room) {
		n = room;
		f->merged_cut = true;
	}
	memcpy(f->merged + f->merged_len, m->msg, n);
	f->merged_len += n;
	return 0;
}

static void merged_out(struct log_frame *f, struct log_message *out)
{
	out->body = f->merged;
	out->len = f->merged_len;
	out->time_ns = f->pending_time;
	out->stream = f->pending_stream;
	out->truncated = f->merged_cut;
	out->start_off = f->pending_off;
	if (f->merged_cut)
		f->cut++;
	f->pending = false;
	f->merged_len = 0;
	f->merged_cut = false;
}

int log_frame_line(struct log_frame *f, const char *line, size_t len, bool cut, uint64_t off,
		   struct log_message *out)
{
	struct log_frame_msg m;
	int ret;

	ret = decode(f, line, len, &m);
	if (ret) {
		f->cut++;
		return ret;
	}
	if (!f->pending && !m.partial) {
		out->body = m.msg;
		out->len = m.len > f->cap ? f->cap : m.len;
		out->time_ns = m.time_ns;
		out->stream = m.stream;
		out->truncated = cut || m.len > f->cap;
		out->start_off = off;
		if (out->truncated)
			f->cut++;
		return 1;
	}
	if (!f->pending) {
		f->pending = true;
		f->pending_off = off;
		f->pending_time = m.time_ns;
		f->pending_stream = m.stream;
	}
	f->merged_cut |= cut;
	ret = merge(f, &m);
	if (ret) {
		f->pending = false;
		f->merged_len = 0;
		f->cut++;
		return ret;
	}
	if (m.partial)
		return 0;
	merged_out(f, out);
	return 1;
}

int log_frame_flush(struct log_frame *f, struct log_message *out)
{
	if (!f->pending)
		return 0;
	merged_out(f, out);
	return 1;
}
