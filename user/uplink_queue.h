/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The WebSocket uplink's disk queue: every envelope is stored here, sealed
 * (AES-256-GCM, seal.h) and fsync'ed, before it is sent, and removed only
 * once the server has acknowledged it, so nothing is lost across
 * reconnects, agent restarts or power loss. Layout of the directory (0700):
 *
 *   <20-digit seq>.env  one sealed envelope (JSON text, no newline); the
 *                       sequence number is authenticated with the data
 *                       (it is inside the sealed envelope and checked)
 *   last-seq            the highest sequence number ever assigned, written
 *                       (atomically) before the newest file is removed, so
 *                       numbering goes on after the queue empties
 *   stream              this queue's stream id: 32 hex digits, made once
 *
 * The queue is bounded in sealed bytes: a push past the bound is refused
 * (the caller counts and reports it) rather than dropping older data.
 * Thread-safe: the agent's thread pushes, the uplink's thread reads and
 * acknowledges.
 */
#ifndef KERNO_UPLINK_QUEUE_H
#define KERNO_UPLINK_QUEUE_H

#include <stddef.h>

#include "seal.h"

#define UPLINK_STREAM_ID_LEN 32

struct uplink_queue;

struct uplink_queue_stats {
	unsigned long long first_seq; /* oldest held; 0 when empty */
	unsigned long long last_seq; /* highest assigned (held or not) */
	unsigned long long envelopes; /* held */
	unsigned long long bytes; /* sealed bytes held */
	unsigned long long max_bytes;
};

/*
 * Open (creating as needed) the queue in dir, sealing with key (copied).
 * Leftover temporary files are removed. 0, or a negative errno with one
 * line in err.
 */
int uplink_queue_open(const char *dir, const struct seal_key *key, unsigned long long max_bytes,
		      struct uplink_queue **out, char *err, size_t errlen);
void uplink_queue_close(struct uplink_queue *q);

/*
 * Assign the next sequence number, have `build` make the envelope text
 * for it (malloc'ed), seal and store it durably. `reserve` extra bytes
 * over the bound may be used (heartbeats use a little). Returns the
 * sequence number (> 0); -ENOSPC when the queue is full (no number is
 * used); another negative errno on failure.
 */
typedef char *(*uplink_queue_build)(void *ctx, unsigned long long seq, size_t *len);
long long uplink_queue_push(struct uplink_queue *q, uplink_queue_build build, void *ctx,
			    unsigned long long reserve);

/*
 * The held envelope with the smallest sequence number >= seq: 0 with a
 * malloc'ed, NUL-terminated copy in *text, its length in *len and its
 * number in *got; -ENOENT when none; -EBADMSG when its file is corrupt,
 * sealed with another key or renamed (the caller drops it).
 */
int uplink_queue_get(struct uplink_queue *q, unsigned long long seq, unsigned long long *got,
		     char **text, size_t *len);

/* Remove every envelope with a number <= seq. Returns how many went. */
unsigned long long uplink_queue_ack(struct uplink_queue *q, unsigned long long seq);

/* Remove one envelope that cannot be read (counted by the caller as lost). */
void uplink_queue_drop(struct uplink_queue *q, unsigned long long seq);

void uplink_queue_stats(struct uplink_queue *q, struct uplink_queue_stats *s);

/* The stream id (NUL-terminated, UPLINK_STREAM_ID_LEN hex digits). */
const char *uplink_queue_stream(const struct uplink_queue *q);

#endif /* KERNO_UPLINK_QUEUE_H */
