// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Timestamps at the start of log messages: see log_parse_time() in log_parse.h. */
#include <string.h>

#include "log_parse.h"

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long long days_from_civil(long long y, unsigned int m, unsigned int d)
{
	long long era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

/* n decimal digits at s, or -1. */
static int digits(const char *s, size_t len, size_t n)
{
	int v = 0;
	size_t i;

	if (len < n)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static bool valid(int y, int mo, int d, int h, int mi, int sec)
{
	return y >= 1970 && y < 2200 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 &&
	       h < 24 && mi >= 0 && mi < 60 && sec >= 0 && sec <= 60;
}

static uint64_t to_ns(int y, int mo, int d, int h, int mi, int sec, uint64_t frac_ns,
		      long long off_s)
{
	long long t = days_from_civil(y, mo, d) * 86400LL + h * 3600 + mi * 60 + sec - off_s;

	return t < 0 ? 0 : (uint64_t)t * 1000000000ULL + frac_ns;
}

/* ".123456789" or ",123": fraction in ns; *used the bytes. */
static uint64_t fraction(const char *s, size_t len, size_t *used)
{
	uint64_t ns = 0, scale = 100000000ULL;
	size_t i = 1;

	*used = 0;
	if (len < 2 || (s[0] != '.' && s[0] != ',') || s[1] < '0' || s[1] > '9')
		return 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		ns += (uint64_t)(s[i] - '0') * scale;
		scale /= 10;
	}
	*used = i;
	return ns;
}

/* "Z", "+hh:mm", "+hhmm", "-hh": offset in seconds; *used the bytes (0: none). */
static long long zone(const char *s, size_t len, size_t *used)
{
	int h, m = 0, sign;

	*used = 0;
	if (len >= 1 && (s[0] == 'Z' || s[0] == 'z')) {
		*used = 1;
		return 0;
	}
	if (len < 3 || (s[0] != '+' && s[0] != '-'))
		return 0;
	sign = s[0] == '-' ? -1 : 1;
	h = digits(s + 1, len - 1, 2);
	if (h < 0 || h > 23)
		return 0;
	*used = 3;
	if (len >= 6 && s[3] == ':' && (m = digits(s + 4, len - 4, 2)) >= 0)
		*used = 6;
	else if ((m = digits(s + 3, len - 3, 2)) >= 0)
		*used = 5;
	else
		m = 0;
	return sign * (h * 3600LL + m * 60LL);
}

static size_t iso_time(const char *s, size_t len, uint64_t *ns)
{
	int y, mo, d, h, mi, sec;
	size_t used, i = 19;
	uint64_t frac;
	long long off;

	if (len < 19 || (s[4] != '-' && s[4] != '/') || s[7] != s[4] ||
	    (s[10] != 'T' && s[10] != ' ' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return 0;
	y = digits(s, len, 4);
	mo = digits(s + 5, 2, 2);
	d = digits(s + 8, 2, 2);
	h = digits(s + 11, 2, 2);
	mi = digits(s + 14, 2, 2);
	sec = digits(s + 17, 2, 2);
	if (!valid(y, mo, d, h, mi, sec))
		return 0;
	frac = fraction(s + i, len - i, &used);
	i += used;
	off = zone(s + i, len - i, &used);
	i += used;
	*ns = to_ns(y, mo, d, h, mi, sec, frac, off);
	return i;
}

static int month(const char *s)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int i;

	for (i = 0; i < 12; i++)
		if (!memcmp(s, names + 3 * i, 3))
			return i + 1;
	return -1;
}

/* "26/Nov/2026:12:00:00 +0000" */
static size_t clf_time(const char *s, size_t len, uint64_t *ns)
{
	int y, mo, d, h, mi, sec;
	long long off = 0;
	size_t used, i = 20;

	if (len < 20 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':')
		return 0;
	d = digits(s, 2, 2);
	mo = month(s + 3);
	y = digits(s + 7, 4, 4);
	h = digits(s + 12, 2, 2);
	mi = digits(s + 15, 2, 2);
	sec = digits(s + 18, 2, 2);
	if (!valid(y, mo, d, h, mi, sec))
		return 0;
	if (len > 21 && s[20] == ' ') {
		off = zone(s + 21, len - 21, &used);
		if (used)
			i = 21 + used;
	}
	*ns = to_ns(y, mo, d, h, mi, sec, 0, off);
	return i;
}

size_t log_parse_time(const char *s, size_t len, uint64_t *ns)
{
	size_t n = iso_time(s, len, ns);

	return n ? n : clf_time(s, len, ns);
}
