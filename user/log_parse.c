// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A message's time and severity: the structured formats first (their fields
 * are explicit), then heuristics over plain text. See log_parse.h.
 */
#include <string.h>
#include <strings.h>

#include "log_parse.h"

/* How far into a plain message severity words are looked for. */
#define SEVERITY_SCAN 160
/* How far stack-trace markers are looked for. */
#define TRACE_SCAN 4096

static const struct {
	const char *name;
	enum log_severity sev;
} sev_names[] = {
	{ "trace", LOG_SEV_TRACE },    { "debug", LOG_SEV_DEBUG },	{ "dbg", LOG_SEV_DEBUG },
	{ "info", LOG_SEV_INFO },      { "information", LOG_SEV_INFO }, { "notice", LOG_SEV_INFO },
	{ "warn", LOG_SEV_WARN },      { "warning", LOG_SEV_WARN },	{ "error", LOG_SEV_ERROR },
	{ "err", LOG_SEV_ERROR },      { "severe", LOG_SEV_ERROR },	{ "fatal", LOG_SEV_FATAL },
	{ "critical", LOG_SEV_FATAL }, { "crit", LOG_SEV_FATAL },	{ "panic", LOG_SEV_FATAL },
	{ "emerg", LOG_SEV_FATAL },    { "alert", LOG_SEV_FATAL },
};

enum log_severity log_severity_from_name(const char *s, size_t len)
{
	size_t i;
	int n;

	if (len == 1) {
		switch (*s | 0x20) {
		case 't':
			return LOG_SEV_TRACE;
		case 'd':
			return LOG_SEV_DEBUG;
		case 'i':
			return LOG_SEV_INFO;
		case 'w':
			return LOG_SEV_WARN;
		case 'e':
			return LOG_SEV_ERROR;
		case 'f':
		case 'c':
			return LOG_SEV_FATAL;
		}
		return LOG_SEV_UNSET;
	}
	/* bunyan and pino: 10 trace ... 60 fatal */
	if (len == 2 && s[0] >= '1' && s[0] <= '6' && s[1] == '0') {
		n = s[0] - '0';
		return n == 1 ? LOG_SEV_TRACE :
		       n == 2 ? LOG_SEV_DEBUG :
		       n == 3 ? LOG_SEV_INFO :
		       n == 4 ? LOG_SEV_WARN :
		       n == 5 ? LOG_SEV_ERROR :
				LOG_SEV_FATAL;
	}
	for (i = 0; i < sizeof(sev_names) / sizeof(sev_names[0]); i++)
		if (strlen(sev_names[i].name) == len && !strncasecmp(s, sev_names[i].name, len))
			return sev_names[i].sev;
	return LOG_SEV_UNSET;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool all_upper(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return false;
	return true;
}

/*
 * The first word that names a severity and looks meant as one: in capitals
 * ("ERROR"), in brackets ("[error]", "<warn>") or followed by a colon
 * ("error:"). "no error found" is not an error.
 */
static enum log_severity severity_word(const char *s, size_t len)
{
	size_t i = 0, start, wlen;
	enum log_severity sev;

	if (len > SEVERITY_SCAN)
		len = SEVERITY_SCAN;
	while (i < len) {
		while (i < len && !is_alpha(s[i]))
			i++;
		start = i;
		while (i < len && is_alpha(s[i]))
			i++;
		wlen = i - start;
		if (wlen < 3 || wlen > 11)
			continue;
		if (!all_upper(s + start, wlen) &&
		    !(start && (s[start - 1] == '[' || s[start - 1] == '<') && i < len &&
		      (s[i] == ']' || s[i] == '>')) &&
		    !(i < len && s[i] == ':'))
			continue;
		sev = log_severity_from_name(s + start, wlen);
		if (sev)
			return sev;
	}
	return LOG_SEV_UNSET;
}

/* glog / klog: "E1126 12:00:00.000000 ..." */
static enum log_severity glog_prefix(const char *s, size_t len)
{
	size_t i;

	if (len < 14 || s[5] != ' ' || s[8] != ':' || s[11] != ':' || !strchr("IWEF", s[0]))
		return LOG_SEV_UNSET;
	for (i = 1; i < 5; i++)
		if (s[i] < '0' || s[i] > '9')
			return LOG_SEV_UNSET;
	return log_severity_from_name(s, 1);
}

/* A joined stack trace is an error whatever its first line says. */
static bool has_stack_trace(const char *s, size_t len)
{
	if (len > TRACE_SCAN)
		len = TRACE_SCAN;
	if (len >= 7 && !memcmp(s, "panic: ", 7))
		return true;
	return memmem(s, len, "\n\tat ", 5) || memmem(s, len, "\n    at ", 8) ||
	       memmem(s, len, "Traceback (most recent call last):", 34) ||
	       memmem(s, len, "\ngoroutine ", 11);
}

static void plain(struct log_record *r)
{
	const char *s = r->body;
	size_t len = r->len, used;
	uint64_t ns = 0;
	enum log_severity sev;

	used = log_parse_time(s, len, &ns);
	if (used && !r->time_ns)
		r->time_ns = ns;
	sev = glog_prefix(s, len);
	if (!sev)
		sev = severity_word(s + used, len - used);
	if (sev)
		r->severity = sev;
}

void log_parse_message(struct log_record *r)
{
	const char *s = r->body;
	size_t len = r->len;

	r->severity = LOG_SEV_UNSET;
	if (!(len && *s == '{' && log_parse_json(s, len, r)) && !log_parse_clf(s, len, r) &&
	    !(len && is_alpha(*s) && log_parse_logfmt(s, len, r)))
		plain(r);
	if (r->lines > 1 && r->severity < LOG_SEV_ERROR && has_stack_trace(s, len))
		r->severity = LOG_SEV_ERROR;
	if (!r->severity)
		r->severity = LOG_SEV_INFO;
}
