/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A Drain-style template miner with bounded memory. A message's first line
 * is split into blank-separated tokens; tokens holding a digit (ids, times,
 * addresses, sizes) are variables from the start. Messages with the same
 * token count and first token form a group; within it a message joins the
 * template it shares at least `similarity` percent of its positions with,
 * and positions where they differ become variables. A template is found
 * again in O(tokens) through a hash of its message's token sequence, so the
 * common case never compares against templates.
 *
 * At most `max_templates` are kept; when full, the least recently matched
 * template (CLOCK) makes room and the eviction is counted. A template's id
 * plus generation names it for as long as it lives; its fingerprint is a
 * hash of the template itself (variables as placeholders), stable across
 * agents and restarts for the same template.
 */
#ifndef KERNO_LOG_DRAIN_H
#define KERNO_LOG_DRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_DRAIN_MAX_TOKENS 32

struct log_template_hit {
	uint32_t id; /* slot */
	uint32_t gen; /* bumped when the slot is reused */
	uint64_t count; /* messages matched, this one included */
	uint64_t fingerprint;
	bool created; /* this message made a new template */
};

struct log_drain_stats {
	unsigned long long templates; /* live */
	unsigned long long created;
	unsigned long long evicted;
};

struct log_drain;

/* NULL when out of memory. similarity in percent (1-100). */
struct log_drain *log_drain_new(unsigned int max_templates, unsigned int similarity);
void log_drain_free(struct log_drain *d);

/* Match (or create) the template of a message; only its first line counts. */
void log_drain_match(struct log_drain *d, const char *msg, size_t len,
		     struct log_template_hit *out);

/* The template of a live slot as text, variables as "<*>" ("" if the slot is not live). */
size_t log_drain_template(const struct log_drain *d, uint32_t id, char *out, size_t size);

void log_drain_get_stats(const struct log_drain *d, struct log_drain_stats *out);

#endif /* KERNO_LOG_DRAIN_H */
