/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The uplink envelope's bytes, the same for every sink (docs/uplink.md):
 *
 *   {"v":1,"type":"metrics","seq":3,"ts":"2026-11-26T12:00:10Z","data":{...}}
 *
 * keys in that order, compact, reals with 15 significant digits.
 */
#ifndef KERNO_ENVELOPE_H
#define KERNO_ENVELOPE_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>

#define ENVELOPE_VERSION 1

/*
 * The envelope as one malloc'ed string with a trailing newline (included
 * in *len), or NULL when out of memory. data is borrowed.
 */
char *envelope_line(const char *type, unsigned long long seq, time_t now, json_t *data,
		    size_t *len);

#endif /* KERNO_ENVELOPE_H */
