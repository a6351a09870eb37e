/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A minimal JSON scanner for log parsers: enough to walk a flat object and
 * unescape strings, bounded by `end`, allocation-free. Not a validator.
 */
#ifndef KERNO_LOG_JSON_H
#define KERNO_LOG_JSON_H

#include <stddef.h>

/* Past blanks. */
const char *log_json_ws(const char *p, const char *end);

/*
 * The string whose opening quote is just before p. With out set, the
 * unescaped bytes go there (never more bytes than the escaped form) and
 * *olen gets their count. Returns the byte after the closing quote, or NULL.
 */
const char *log_json_string(const char *p, const char *end, char *out, size_t *olen);

/* Past one value of any kind at p (nesting and strings honoured); NULL if it does not end. */
const char *log_json_skip(const char *p, const char *end);

/*
 * Walk the top-level members of the object at p, calling fn(key, klen,
 * value, vend, ctx) with value..vend the raw value (strings with quotes).
 * Returns 0 when the object parsed to its closing brace, -1 otherwise.
 */
typedef void (*log_json_member_fn)(const char *key, size_t klen, const char *v, const char *vend,
				   void *ctx);
int log_json_object(const char *p, const char *end, log_json_member_fn fn, void *ctx);

#endif /* KERNO_LOG_JSON_H */
