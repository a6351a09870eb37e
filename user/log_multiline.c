// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Joining continuation lines into one record: see log_multiline.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log_multiline.h"
#include "log_record.h"

#define STARTS(s, len, lit) ((len) >= sizeof(lit) - 1 && !memcmp((s), (lit), sizeof(lit) - 1))

int log_ml_init(struct log_ml *m, size_t cap, unsigned int max_lines)
{
	memset(m, 0, sizeof(*m));
	m->cap = cap;
	m->max_lines = max_lines;
	return 0;
}

void log_ml_free(struct log_ml *m)
{
	free(m->buf);
	free(m->spare);
	m->buf = m->spare = NULL;
}

static bool looks_like_error(const char *s, size_t len)
{
	if (len > 200)
		len = 200;
	return memmem(s, len, "ERROR", 5) || memmem(s, len, "rror", 4) ||
	       memmem(s, len, "xception", 8) || memmem(s, len, "CRITICAL", 8) ||
	       memmem(s, len, "FATAL", 5) || (len && s[len - 1] == ':');
}

/* "ValueError: bad", "KeyError", "mod.sub.CustomException: x" */
static bool python_exception_line(const char *s, size_t len)
{
	size_t i = 0;

	if (!len || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	while (i < len && s[i] != ':' && s[i] != ' ')
		i++;
	return i == len || s[i] == ':';
}

/* "main.main()", "net/http.(*conn).serve(0xc000)", "created by main.run" */
static bool go_frame_line(const char *s, size_t len)
{
	return STARTS(s, len, "created by ") || STARTS(s, len, "goroutine ") ||
	       STARTS(s, len, "[signal ") || STARTS(s, len, "exit status ") ||
	       (len > 2 && s[len - 1] == ')' && memchr(s, '(', len) && !memchr(s, ' ', len));
}

bool log_ml_continues(enum log_ml_state state, const char *first, size_t first_len,
		      const char *line, size_t len)
{
	if (len && (line[0] == '\t' || line[0] == ' '))
		return true;
	switch (state) {
	case LOG_ML_PY_TRACE:
		return python_exception_line(line, len);
	case LOG_ML_PY_EXC:
		return !len || STARTS(line, len, "During handling of the above exception") ||
		       STARTS(line, len, "The above exception was the direct cause") ||
		       STARTS(line, len, "Traceback (most recent call last):");
	case LOG_ML_GO:
		return !len || go_frame_line(line, len);
	case LOG_ML_PLAIN:
		break;
	}
	if (STARTS(line, len, "Caused by: ") || STARTS(line, len, "Suppressed: "))
		return true;
	if (STARTS(line, len, "Traceback (most recent call last):"))
		return looks_like_error(first, first_len);
	return false;
}

static enum log_ml_state next_state(enum log_ml_state state, const char *line, size_t len)
{
	if (STARTS(line, len, "Traceback (most recent call last):"))
		return LOG_ML_PY_TRACE;
	if (STARTS(line, len, "panic: ") || STARTS(line, len, "fatal error: "))
		return LOG_ML_GO;
	if (state == LOG_ML_PY_TRACE && len && line[0] != ' ' && line[0] != '\t')
		return LOG_ML_PY_EXC;
	return state;
}

static void complete(struct log_ml *m, struct log_record *out)
{
	size_t len = m->len;

	/* Blank lines a chained traceback or panic allowed at its end belong to nothing. */
	while (len && (m->buf[len - 1] == '\n' || m->buf[len - 1] == '\r'))
		len--;
	memset(out, 0, sizeof(*out));
	out->body = m->buf;
	out->len = len;
	out->time_ns = m->time_ns;
	out->stream = m->stream;
	out->truncated = m->truncated;
	out->lines = m->lines;
	out->weight = 1;
	if (m->truncated)
		m->cut++;
	m->open = false;
}

/* Buffers grow as records need (up to the cap), so idle files cost little. */
static void reserve(struct log_ml *m, size_t need)
{
	size_t cap = m->buf_cap ? m->buf_cap : 512;
	char *p;

	if (need > m->cap)
		need = m->cap;
	if (need <= m->buf_cap)
		return;
	while (cap < need)
		cap *= 2;
	if (cap > m->cap)
		cap = m->cap;
	p = realloc(m->buf, cap);
	if (!p)
		return;
	m->buf = p;
	m->buf_cap = cap;
}

static void append(struct log_ml *m, const char *s, size_t len, bool newline)
{
	size_t room;

	reserve(m, m->len + len + 1);
	room = m->buf_cap - m->len;
	if (newline && room) {
		m->buf[m->len++] = '\n';
		room--;
	}
	if (len > room) {
		len = room;
		m->truncated = true;
	}
	if (len) {
		memcpy(m->buf + m->len, s, len);
		m->len += len;
	}
}

static void open_record(struct log_ml *m, const struct log_message *msg)
{
	m->open = true;
	m->len = 0;
	m->truncated = msg->truncated;
	m->lines = 1;
	m->start_off = msg->start_off;
	m->time_ns = msg->time_ns;
	m->stream = msg->stream;
	m->state = next_state(LOG_ML_PLAIN, msg->body, msg->len);
	append(m, msg->body, msg->len, false);
}

static size_t first_line_len(const struct log_ml *m)
{
	const char *nl = memchr(m->buf, '\n', m->len);

	return nl ? (size_t)(nl - m->buf) : m->len;
}

static void swap(struct log_ml *m)
{
	char *t = m->buf;
	size_t c = m->buf_cap;

	m->buf = m->spare;
	m->buf_cap = m->spare_cap;
	m->spare = t;
	m->spare_cap = c;
}

int log_ml_push(struct log_ml *m, const struct log_message *msg, struct log_record *out)
{
	if (m->open && msg->stream == m->stream && m->lines < m->max_lines && m->len < m->cap &&
	    m->len && log_ml_continues(m->state, m->buf, first_line_len(m), msg->body, msg->len)) {
		append(m, msg->body, msg->len, true);
		m->truncated |= msg->truncated;
		m->lines++;
		m->state = next_state(m->state, msg->body, msg->len);
		return 0;
	}
	if (!m->open) {
		open_record(m, msg);
		return 0;
	}
	complete(m, out);
	/* out->body stays valid in the other buffer while the message opens the next record. */
	swap(m);
	open_record(m, msg);
	return 1;
}

int log_ml_flush(struct log_ml *m, struct log_record *out)
{
	if (!m->open)
		return 0;
	complete(m, out);
	swap(m);
	return 1;
}
