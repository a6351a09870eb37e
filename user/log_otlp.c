// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* OTLP/JSON log records, written by hand: see log_otlp.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_otlp.h"

#ifndef KERNO_VERSION
#define KERNO_VERSION "dev"
#endif

static bool reserve(struct log_otlp *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 64 * 1024;
	char *p;

	if (b->failed)
		return false;
	if (b->len + more <= b->cap)
		return true;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void put(struct log_otlp *b, const char *s, size_t len)
{
	if (!reserve(b, len))
		return;
	memcpy(b->p + b->len, s, len);
	b->len += len;
}

#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

/* Length of the valid UTF-8 sequence at s (2-4), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

void log_otlp_string(struct log_otlp *b, const char *str, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run, n;
	char *o;

	/* Worst case: every byte an invalid one, six bytes each. */
	if (!reserve(b, len * 6 + 2))
		return;
	o = b->p + b->len;
	*o++ = '"';
	while (i < len) {
		for (run = i; run < len && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' &&
			      s[run] != '\\';
		     run++)
			;
		memcpy(o, s + i, run - i);
		o += run - i;
		i = run;
		if (i >= len)
			break;
		if (s[i] == '"' || s[i] == '\\') {
			*o++ = '\\';
			*o++ = s[i++];
		} else if (s[i] == '\n') {
			*o++ = '\\';
			*o++ = 'n';
			i++;
		} else if (s[i] == '\t') {
			*o++ = '\\';
			*o++ = 't';
			i++;
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[s[i] >> 4];
			o[5] = hex[s[i] & 15];
			o += 6;
			i++;
		} else if ((n = utf8_seq(s + i, len - i))) {
			memcpy(o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(o, "\\ufffd", 6);
			o += 6;
			i++;
		}
	}
	*o++ = '"';
	b->len = o - b->p;
}

static void attr(struct log_otlp *b, bool *first, const char *key, const char *val)
{
	if (!val)
		return;
	if (!*first)
		PUT_LIT(b, ",");
	*first = false;
	PUT_LIT(b, "{\"key\":");
	log_otlp_string(b, key, strlen(key));
	PUT_LIT(b, ",\"value\":{\"stringValue\":");
	log_otlp_string(b, val, strlen(val));
	PUT_LIT(b, "}}");
}

char *log_otlp_resource(const struct log_resource *r)
{
	struct log_otlp b = {};
	bool first = true;

	PUT_LIT(&b, "[");
	attr(&b, &first, "host.name", r->host);
	attr(&b, &first, "k8s.namespace.name", r->k8s_namespace);
	attr(&b, &first, "k8s.pod.name", r->k8s_pod);
	attr(&b, &first, "k8s.pod.uid", r->k8s_pod_uid);
	attr(&b, &first, "k8s.container.name", r->k8s_container);
	attr(&b, &first, "k8s.container.restart_count", r->restart_count);
	attr(&b, &first, "container.id", r->container_id);
	attr(&b, &first, "log.file.path", r->path);
	PUT_LIT(&b, "]");
	put(&b, "", 1);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

void log_otlp_begin(struct log_otlp *b, const char *attrs)
{
	b->len = 0;
	b->records = 0;
	b->failed = false;
	PUT_LIT(b, "{\"resourceLogs\":[{\"resource\":{\"attributes\":");
	put(b, attrs, strlen(attrs));
	PUT_LIT(b,
		"},\"scopeLogs\":[{\"scope\":{\"name\":\"kerno.logs\",\"version\":\"" KERNO_VERSION
		"\"},\"logRecords\":[");
}

/* Decimal, by hand: snprintf was a tenth of the encoding's time. */
static void put_u64(struct log_otlp *b, uint64_t v)
{
	char buf[24], *p = buf + sizeof(buf);

	do {
		*--p = '0' + v % 10;
		v /= 10;
	} while (v);
	put(b, p, buf + sizeof(buf) - p);
}

void log_otlp_record(struct log_otlp *b, const struct log_record *r, uint64_t observed_ns)
{
	bool attrs = false;

	if (b->records++)
		PUT_LIT(b, ",");
	PUT_LIT(b, "{\"timeUnixNano\":\"");
	put_u64(b, r->time_ns ? r->time_ns : observed_ns);
	PUT_LIT(b, "\",\"observedTimeUnixNano\":\"");
	put_u64(b, observed_ns);
	PUT_LIT(b, "\",\"severityNumber\":");
	put_u64(b, r->severity);
	PUT_LIT(b, ",\"severityText\":\"");
	put(b, log_severity_text(r->severity), strlen(log_severity_text(r->severity)));
	PUT_LIT(b, "\",\"body\":{\"stringValue\":");
	log_otlp_string(b, r->body, r->len);
	PUT_LIT(b, "},\"attributes\":[");
	if (r->stream != LOG_STREAM_NONE) {
		PUT_LIT(b, "{\"key\":\"log.iostream\",\"value\":{\"stringValue\":\"");
		if (r->stream == LOG_STREAM_STDERR)
			PUT_LIT(b, "stderr\"}}");
		else
			PUT_LIT(b, "stdout\"}}");
		attrs = true;
	}
	if (r->truncated) {
		if (attrs)
			PUT_LIT(b, ",");
		PUT_LIT(b, "{\"key\":\"kerno.log.truncated\",\"value\":{\"boolValue\":true}}");
		attrs = true;
	}
	if (r->weight > 1) {
		if (attrs)
			PUT_LIT(b, ",");
		PUT_LIT(b, "{\"key\":\"kerno.log.sample_weight\",\"value\":{\"intValue\":\"");
		put_u64(b, r->weight);
		PUT_LIT(b, "\"}}");
	}
	PUT_LIT(b, "]}");
}

void log_otlp_end(struct log_otlp *b)
{
	PUT_LIT(b, "]}]}]}");
}

void log_otlp_reset(struct log_otlp *b)
{
	b->len = 0;
	b->records = 0;
	b->failed = false;
}

void log_otlp_free(struct log_otlp *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
