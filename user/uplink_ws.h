/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The WebSocket uplink (docs/uplink.md): envelopes go to the sealed disk
 * queue first (uplink_queue.h), and one thread of its own delivers them to
 * the cloud over a single outbound wss:// connection, in sequence order,
 * replaying what was not acknowledged after every reconnect. It reconnects
 * with exponential backoff and full jitter (first retry within 1 s, at most
 * 60 s), pings an idle connection and drops one that stays silent, and
 * writes a heartbeat envelope (queue state, overflow, reconnects) every
 * heartbeat period.
 */
#ifndef KERNO_UPLINK_WS_H
#define KERNO_UPLINK_WS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

struct uplink_ws_opts {
	const char *url; /* wss://... */
	const char *token_file; /* bearer token, re-read at every connect; NULL: none */
	const char *ca_file; /* NULL: the system bundle */
	const char *queue_dir;
	const char *key_file; /* created 0600 when absent */
	unsigned long long queue_bytes;
	long long ping_secs; /* ping after this long without a frame; dead after twice it */
	long long heartbeat_secs;
	long long close_secs; /* how long to wait for the server's close frame */
	long long flush_secs; /* at shutdown, how long to wait for acknowledgements */
	bool deflate;
	bool verbose;
};

struct uplink_ws;

/*
 * Check the options (URL, token file, CA file, key), open the queue and
 * start the delivery thread. 0, or a negative errno with one line in err
 * (-EINVAL: a bad option, the caller exits 2).
 */
int uplink_ws_open(const struct uplink_ws_opts *o, struct uplink_ws **out, char *err,
		   size_t errlen);

/*
 * Queue one envelope (durable on return) and wake the thread. A full queue
 * refuses it: the envelope and its bytes are counted, reported in the next
 * heartbeat, and 0 is returned (the agent goes on). A negative errno means
 * the disk failed.
 */
int uplink_ws_send(struct uplink_ws *w, const char *type, json_t *data, time_t now);

/* The sequence number of the last envelope queued. */
unsigned long long uplink_ws_last_seq(struct uplink_ws *w);

/*
 * Start the shutdown flush without waiting for it: from now on the thread
 * has flush_secs to get the queue acknowledged, while the caller tears the
 * rest down. uplink_ws_close() then waits for it. Nothing may be sent after.
 */
void uplink_ws_stop(struct uplink_ws *w);

/*
 * The reconnect delay after the attempt-th failure in a row (1 for the
 * first), full jitter: r (uniform over 32 bits) scaled into
 * [0, min(60 s, 1 s * 2^(attempt-1))).
 */
long long uplink_ws_backoff_ms(unsigned int attempt, uint32_t r);

/* Wait up to flush_secs for outstanding acknowledgements, close, stop the thread, free. */
void uplink_ws_close(struct uplink_ws *w);

#endif /* KERNO_UPLINK_WS_H */
