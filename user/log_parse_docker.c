// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Docker's json-file driver, one object a line:
 *
 *   {"log":"the message\n","stream":"stderr","time":"2026-11-26T12:00:00.1Z"}
 *
 * Docker splits lines longer than 16 KiB into several objects; every part
 * but the last lacks the trailing "\n". Scanned by hand (log_json.c) rather
 * than with a JSON library: this runs once per line at hundreds of thousands
 * of lines a second and needs three string fields of a flat object.
 */
#include <string.h>

#include "log_json.h"
#include "log_parse.h"

struct docker_ctx {
	struct log_frame_msg *out;
	char *buf;
	bool have_log, bad;
};

static bool key_is(const char *k, size_t klen, const char *name)
{
	return klen == strlen(name) && !memcmp(k, name, klen);
}

static void member(const char *key, size_t klen, const char *v, const char *vend, void *arg)
{
	struct docker_ctx *c = arg;
	size_t n;

	if (*v != '"')
		return;
	if (key_is(key, klen, "log")) {
		if (!log_json_string(v + 1, vend, c->buf, &n)) {
			c->bad = true;
			return;
		}
		c->have_log = true;
		c->out->msg = c->buf;
		c->out->len = n;
	} else if (key_is(key, klen, "stream") && vend - v == 8) {
		c->out->stream = !memcmp(v + 1, "stderr", 6) ? LOG_STREAM_STDERR :
				 !memcmp(v + 1, "stdout", 6) ? LOG_STREAM_STDOUT :
							       LOG_STREAM_NONE;
	} else if (key_is(key, klen, "time")) {
		log_parse_time(v + 1, vend - v - 2, &c->out->time_ns);
	}
}

int log_parse_docker(const char *line, size_t len, char *buf, struct log_frame_msg *out)
{
	struct docker_ctx c = { .out = out, .buf = buf };

	memset(out, 0, sizeof(*out));
	if (log_json_object(line, line + len, member, &c) || !c.have_log || c.bad)
		return -1;
	if (out->len && out->msg[out->len - 1] == '\n') {
		out->len--;
		if (out->len && out->msg[out->len - 1] == '\r')
			out->len--;
	} else {
		out->partial = true;
	}
	return 0;
}
