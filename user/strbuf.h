/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A growable byte string for building requests, canonical forms and
 * bodies. Allocation failure is sticky: `oom` is set, later appends do
 * nothing, and the builder's caller checks once at the end.
 */
#ifndef KERNO_STRBUF_H
#define KERNO_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *s; /* always NUL-terminated once anything was appended */
	size_t len, cap;
	bool oom;
};

void sb_add(struct strbuf *b, const void *data, size_t len);
void sb_adds(struct strbuf *b, const char *s);
void sb_addc(struct strbuf *b, char c);
void sb_addf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A string never NULL: "" for an empty builder. */
const char *sb_str(const struct strbuf *b);
void sb_reset(struct strbuf *b);
void sb_free(struct strbuf *b);

#endif /* KERNO_STRBUF_H */
