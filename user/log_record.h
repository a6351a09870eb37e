/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One log record as it moves through the pipeline (logs.c): framed out of a
 * file (log_frame.c), joined over lines (log_multiline.c), given a time and
 * a severity (log_parse.c), judged (log_filter.c) and encoded
 * (log_otlp.c). The body points into a buffer owned by the stage that
 * produced it and is valid until that stage's next call.
 */
#ifndef KERNO_LOG_RECORD_H
#define KERNO_LOG_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* OpenTelemetry SeverityNumber: the first of each range. */
enum log_severity {
	LOG_SEV_UNSET = 0,
	LOG_SEV_TRACE = 1,
	LOG_SEV_DEBUG = 5,
	LOG_SEV_INFO = 9,
	LOG_SEV_WARN = 13,
	LOG_SEV_ERROR = 17,
	LOG_SEV_FATAL = 21,
};

enum log_stream {
	LOG_STREAM_NONE,
	LOG_STREAM_STDOUT,
	LOG_STREAM_STDERR,
};

struct log_record {
	const char *body;
	size_t len;
	uint64_t time_ns; /* from the record itself; 0: unknown */
	enum log_severity severity;
	enum log_stream stream;
	bool truncated; /* cut at the line cap */
	unsigned int lines; /* physical lines joined into it */
	uint32_t weight; /* lines this kept record stands for (sampling), 1 when all are kept */
};

static inline const char *log_severity_text(enum log_severity s)
{
	switch (s) {
	case LOG_SEV_TRACE:
		return "TRACE";
	case LOG_SEV_DEBUG:
		return "DEBUG";
	case LOG_SEV_INFO:
		return "INFO";
	case LOG_SEV_WARN:
		return "WARN";
	case LOG_SEV_ERROR:
		return "ERROR";
	case LOG_SEV_FATAL:
		return "FATAL";
	default:
		return "";
	}
}

#endif /* KERNO_LOG_RECORD_H */
