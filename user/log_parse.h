/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Parsers of log lines, all of untrusted input: any bytes, any length, no
 * NUL terminator expected, never reading past `len`, never failing loudly.
 *
 * Container framings (a file's physical lines):
 *   CRI (containerd, CRI-O):  <RFC3339Nano> <stdout|stderr> <P|F> <message>
 *   Docker json-file:         {"log":"<message>\n","stream":"stdout","time":"<RFC3339Nano>"}
 * Message formats (the text inside, once framed and joined):
 *   JSON lines, logfmt, nginx/Apache common and combined log format, plain.
 */
#ifndef KERNO_LOG_PARSE_H
#define KERNO_LOG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log_record.h"

struct log_frame_msg {
	const char *msg; /* the message bytes, newline removed */
	size_t len;
	uint64_t time_ns;
	enum log_stream stream;
	bool partial; /* more of the same message follows (CRI "P", Docker without '\n') */
};

/* One CRI line. Returns 0, or -1 when the line is not CRI (then use it as plain text). */
int log_parse_cri(const char *line, size_t len, struct log_frame_msg *out);

/*
 * One Docker json-file line: the "log" string is unescaped into buf (which
 * must hold len bytes: unescaping never grows). Returns 0, or -1 when the
 * line is not a Docker json-file record.
 */
int log_parse_docker(const char *line, size_t len, char *buf, struct log_frame_msg *out);

/*
 * Time and severity of a framed, joined message, from explicit fields first
 * (JSON "level"/"time", logfmt level=/ts=, the common log format's date and
 * status) and heuristics after (a leading timestamp, severity words, glog
 * prefixes, stack traces). Sets r->severity always (LOG_SEV_INFO when
 * nothing says otherwise) and r->time_ns when the message names a time and
 * r->time_ns is still 0.
 */
void log_parse_message(struct log_record *r);

/* The individual formats, for tests: each returns true when the message is of that format. */
bool log_parse_json(const char *s, size_t len, struct log_record *r);
bool log_parse_logfmt(const char *s, size_t len, struct log_record *r);
bool log_parse_clf(const char *s, size_t len, struct log_record *r);

/* A severity name ("error", "WARNING", "E", "50"...) as a SeverityNumber; LOG_SEV_UNSET if unknown. */
enum log_severity log_severity_from_name(const char *s, size_t len);

/*
 * A timestamp at the start of s: RFC 3339 / ISO 8601 ("2026-11-26T12:00:00.123Z",
 * "2026-11-26 12:00:00,123", offsets), "2026/11/26 12:00:00", or the common
 * log format's "26/Nov/2026:12:00:00 +0000". Returns the bytes used (0: none)
 * and *ns in Unix nanoseconds.
 */
size_t log_parse_time(const char *s, size_t len, uint64_t *ns);

#endif /* KERNO_LOG_PARSE_H */
