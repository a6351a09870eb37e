// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The CRI log format kubelet's runtimes write under /var/log/pods:
 *
 *   2026-11-26T12:00:00.123456789Z stdout F the message
 *
 * The tag is "P" for a partial line (the runtime splits lines longer than
 * its buffer, 16 KiB in containerd) and "F" for the last part; tags may
 * carry more flags after a ':' in future runtimes, which are ignored.
 */
#include <string.h>

#include "log_parse.h"

int log_parse_cri(const char *line, size_t len, struct log_frame_msg *out)
{
	const char *p, *end = line + len, *sp;
	size_t tlen;

	sp = memchr(line, ' ', len);
	if (!sp)
		return -1;
	tlen = log_parse_time(line, sp - line, &out->time_ns);
	if (!tlen || tlen != (size_t)(sp - line))
		return -1;
	p = sp + 1;
	if (end - p >= 7 && !memcmp(p, "stdout ", 7))
		out->stream = LOG_STREAM_STDOUT;
	else if (end - p >= 7 && !memcmp(p, "stderr ", 7))
		out->stream = LOG_STREAM_STDERR;
	else
		return -1;
	p += 7;
	if (p >= end || (*p != 'P' && *p != 'F'))
		return -1;
	out->partial = *p == 'P';
	p++;
	if (p < end && *p != ' ' && *p != ':')
		return -1;
	while (p < end && *p != ' ')
		p++;
	/* An empty message may come without the separating blank. */
	if (p < end)
		p++;
	out->msg = p;
	out->len = end - p;
	return 0;
}
