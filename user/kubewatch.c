// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kubernetes watch streams and chunked framing, parsed incrementally: see kubewatch.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kubewatch.h"

static const char *const event_types[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };

void kubewatch_init(struct kubewatch *w, size_t max_line)
{
	memset(w, 0, sizeof(*w));
	w->max_line = max_line ? max_line : 16 << 20;
}

void kubewatch_free(struct kubewatch *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

static int one_line(struct kubewatch *w, const char *line, size_t len, kubewatch_event_fn cb,
		    void *ctx)
{
	json_t *ev, *obj;
	const char *type;
	size_t i;
	int ret = 0;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len)
		return 0;
	ev = json_loadb(line, len, 0, NULL);
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	for (i = 0; type && i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (!strcmp(type, event_types[i]))
			break;
	if (!type || !json_is_object(obj) || i == sizeof(event_types) / sizeof(event_types[0])) {
		w->bad++;
	} else {
		w->events++;
		ret = cb(ctx, event_types[i], obj);
	}
	json_decref(ev);
	return ret;
}

static int append(struct kubewatch *w, const char *data, size_t len)
{
	if (w->len + len > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		char *b;

		while (cap < w->len + len)
			cap *= 2;
		b = realloc(w->buf, cap);
		if (!b)
			return -ENOMEM;
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
	return 0;
}

int kubewatch_feed(struct kubewatch *w, const void *data, size_t len, kubewatch_event_fn cb,
		   void *ctx)
{
	const char *p = data, *nl;
	size_t n;
	int ret;

	while (len) {
		nl = memchr(p, '\n', len);
		n = nl ? (size_t)(nl - p) : len;
		if (w->skipping || w->len + n > w->max_line) {
			if (!w->skipping)
				w->too_long++;
			w->skipping = !nl;
			w->len = 0;
		} else if (!nl) {
			if (append(w, p, n))
				return -ENOMEM;
		} else if (w->len) {
			if (append(w, p, n))
				return -ENOMEM;
			ret = one_line(w, w->buf, w->len, cb, ctx);
			w->len = 0;
			if (ret)
				return ret;
		} else {
			ret = one_line(w, p, n, cb, ctx);
			if (ret)
				return ret;
		}
		if (!nl)
			break;
		p = nl + 1;
		len -= n + 1;
	}
	return 0;
}

int kubewatch_status_code(json_t *object)
{
	const char *kind = json_string_value(json_object_get(object, "kind"));
	json_t *code = json_object_get(object, "code");

	if (!kind || strcmp(kind, "Status") || !json_is_integer(code))
		return 0;
	return (int)json_integer_value(code);
}

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_DONE };

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One framing byte (not chunk data). 0, 1 when done, or -EBADMSG. */
static int framing_byte(struct kubechunk *c, char ch)
{
	int v;

	switch (c->state) {
	case CH_SIZE:
		v = hexval(ch);
		if (v >= 0) {
			if (++c->digits > 15)
				return -EBADMSG;
			c->left = c->left * 16 + v;
			return 0;
		}
		if (!c->digits)
			return -EBADMSG;
		if (ch == ';' || ch == ' ' || ch == '\t') {
			c->state = CH_EXT;
			return 0;
		}
		if (ch != '\r')
			return -EBADMSG;
		c->state = CH_SIZE_LF;
		return 0;
	case CH_EXT:
		if (ch == '\r')
			c->state = CH_SIZE_LF;
		return 0;
	case CH_SIZE_LF:
		if (ch != '\n')
			return -EBADMSG;
		c->state = c->left ? CH_DATA : CH_TRAILER;
		c->digits = 0;
		return 0;
	case CH_DATA_CR:
		if (ch != '\r')
			return -EBADMSG;
		c->state = CH_DATA_LF;
		return 0;
	case CH_DATA_LF:
		if (ch != '\n')
			return -EBADMSG;
		c->state = CH_SIZE;
		return 0;
	case CH_TRAILER: /* trailers are not used: the empty line ends the body */
		if (ch == '\n') {
			c->state = CH_DONE;
			return 1;
		}
		return ch == '\r' ? 0 : -EBADMSG;
	default:
		return 1;
	}
}

int kubechunk_feed(struct kubechunk *c, const char *data, size_t len, kubechunk_out_fn out,
		   void *ctx)
{
	size_t i = 0, n;
	int ret;

	while (i < len) {
		if (c->state == CH_DONE)
			return 1;
		if (c->state == CH_DATA) {
			n = len - i < c->left ? len - i : (size_t)c->left;
			ret = out(ctx, data + i, n);
			if (ret)
				return ret;
			c->left -= n;
			i += n;
			if (!c->left)
				c->state = CH_DATA_CR;
			continue;
		}
		ret = framing_byte(c, data[i++]);
		if (ret)
			return ret;
	}
	return c->state == CH_DONE;
}
