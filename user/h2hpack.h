/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HPACK header blocks of one direction of an HTTP/2 connection, decoded with
 * nghttp2's inflater, keeping only the fields Kerno measures by.
 *
 * Tolerant of a dynamic table that missed entries (the agent joined late, or
 * a block was lost): each field representation is checked against the
 * inflater's table before it is fed to it, and one that names an entry the
 * table does not hold loses that field only (an indexed field is left out;
 * a literal keeps its place in the table under a placeholder name). After a
 * lost block (h2_hpack_gap()) only the entries added since are known to sit
 * where the peer's table has them: one older may be another field now, so a
 * reference to it is a lost field too, never a wrong one. A block the
 * inflater still refuses costs that block: the inflater starts afresh.
 */
#ifndef KERNO_H2HPACK_H
#define KERNO_H2HPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of :path kept (the template is built from them). */
#define H2_PATH_MAX 256
#define H2_METHOD_MAX 16

/* What a header block said (fields absent stay zero/false). */
struct h2_fields {
	char method[H2_METHOD_MAX]; /* :method, NUL-terminated ("" when absent) */
	char path[H2_PATH_MAX]; /* :path, cut at H2_PATH_MAX - 1 bytes */
	uint16_t status; /* :status, 0 when absent */
	bool grpc; /* content-type application/grpc (or application/grpc+...) */
	bool has_grpc_status;
	uint8_t grpc_status; /* grpc-status (0..255) */
	bool has_traceparent; /* a valid W3C traceparent, version 00: the two ids below */
	uint8_t trace_id[16];
	uint64_t parent_id; /* the caller's span */
};

struct h2_hpack;

struct h2_hpack *h2_hpack_new(void);
void h2_hpack_free(struct h2_hpack *h);

/*
 * Decode one whole header block into out (fields found are set, others left
 * as they are). Returns the number of fields lost (0: the block decoded
 * whole), or -1 when the block was refused and the table started afresh.
 */
int h2_hpack_block(struct h2_hpack *h, const uint8_t *in, size_t len, struct h2_fields *out);

/* A block of this direction was lost: what it added to the peer's table is not in ours. */
void h2_hpack_gap(struct h2_hpack *h);

/* Blocks the inflater refused so far (each one a fresh start). */
uint64_t h2_hpack_resets(const struct h2_hpack *h);

#endif /* KERNO_H2HPACK_H */
