// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Structured messages: JSON lines and logfmt, whose explicit level and time
 * fields win over any heuristic.
 */
#include <string.h>
#include <strings.h>

#include "log_json.h"
#include "log_parse.h"

static bool name_in(const char *k, size_t klen, const char *const *names)
{
	for (; *names; names++)
		if (strlen(*names) == klen && !strncasecmp(k, *names, klen))
			return true;
	return false;
}

static const char *const level_keys[] = { "level",	   "lvl",	"severity",
					  "loglevel",	   "log.level", "levelname",
					  "severity_text", "status",	NULL };
static const char *const time_keys[] = { "time",     "ts",   "timestamp", "@timestamp",
					 "datetime", "date", "t",	  NULL };

#define EPOCH_2200_NS (7258118400ULL * 1000000000ULL)

/* "1732622400", "1732622400.123", "1732622400123" (ms): Unix time as ns. */
static uint64_t epoch_number(const char *s, size_t len)
{
	uint64_t v = 0, frac = 0, scale = 100000000ULL;
	size_t i = 0, digits;

	for (; i < len && s[i] >= '0' && s[i] <= '9' && i < 20; i++)
		v = v * 10 + (s[i] - '0');
	digits = i;
	if (digits > 19)
		return 0;
	if (i < len && s[i] == '.')
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
			frac += (uint64_t)(s[i] - '0') * scale;
	if (digits == 10)
		v = v * 1000000000ULL + frac;
	else if (digits == 13)
		v *= 1000000ULL;
	else if (digits == 16)
		v *= 1000ULL;
	else if (digits != 19)
		return 0;
	/* Years 1970 to 2200, as log_parse_time accepts. */
	return v < EPOCH_2200_NS ? v : 0;
}

struct fields {
	struct log_record *r;
	enum log_severity sev;
	uint64_t time_ns;
};

static void field(struct fields *f, const char *k, size_t klen, const char *v, size_t vlen)
{
	uint64_t ns = 0;

	if (!f->sev && name_in(k, klen, level_keys)) {
		f->sev = log_severity_from_name(v, vlen);
	} else if (!f->time_ns && name_in(k, klen, time_keys)) {
		if (!log_parse_time(v, vlen, &ns))
			ns = epoch_number(v, vlen);
		f->time_ns = ns;
	}
}

static void json_member(const char *key, size_t klen, const char *v, const char *vend, void *arg)
{
	if (*v == '"' && vend - v >= 2)
		field(arg, key, klen, v + 1, vend - v - 2);
	else
		field(arg, key, klen, v, vend - v);
}

static void apply(struct fields *f)
{
	if (f->sev)
		f->r->severity = f->sev;
	if (f->time_ns && !f->r->time_ns)
		f->r->time_ns = f->time_ns;
}

bool log_parse_json(const char *s, size_t len, struct log_record *r)
{
	struct fields f = { .r = r };

	if (!len || *s != '{' || log_json_object(s, s + len, json_member, &f))
		return false;
	apply(&f);
	return true;
}

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-' || c == '@';
}

/* key=value key="quoted value" ...: at least two pairs, or one that names the level. */
bool log_parse_logfmt(const char *s, size_t len, struct log_record *r)
{
	struct fields f = { .r = r };
	const char *p = s, *end = s + len, *k, *v;
	size_t klen, vlen, pairs = 0;

	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		if (p >= end)
			break;
		for (k = p; p < end && key_char(*p); p++)
			;
		klen = p - k;
		if (!klen || p >= end || *p != '=')
			return false;
		p++;
		if (p < end && *p == '"') {
			for (v = ++p; p < end && *p != '"'; p++)
				if (*p == '\\' && p + 1 < end)
					p++;
			if (p >= end)
				return false;
			vlen = p++ - v;
		} else {
			for (v = p; p < end && *p != ' '; p++)
				;
			vlen = p - v;
		}
		field(&f, k, klen, v, vlen);
		pairs++;
	}
	if (pairs < 2 && !f.sev)
		return false;
	apply(&f);
	return true;
}
