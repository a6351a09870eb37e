/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The uplink: where envelopes for the cloud go (docs/uplink.md).
 *
 *   {"v":1,"type":"metrics","seq":3,"ts":"2026-11-26T12:00:10Z","data":{...}}
 *
 * Two sinks behind the same calls:
 *   - local (no --cloud-url): appended to
 *     DATA_DIR/uplink/uplink-<host>-<YYYYMMDD>.ndjson, one envelope a line;
 *   - cloud (--cloud-url wss://...): queued, sealed, under
 *     DATA_DIR/uplink/queue/ and delivered over one WebSocket by a thread of
 *     its own (uplink_ws.h).
 */
#ifndef KERNO_UPLINK_H
#define KERNO_UPLINK_H

#include <time.h>
#include <jansson.h>

#include "uplink_ws.h"

struct uplink;

/*
 * Create DATA_DIR and DATA_DIR/uplink (mode 0700) as needed and open today's
 * (UTC) file for appending. Characters of `host` outside [A-Za-z0-9._-]
 * become '_' in the file name. Returns 0 with *out set, or a negative errno.
 */
int uplink_open(const char *data_dir, const char *host, struct uplink **out);

/*
 * The cloud sink. o->queue_dir and o->key_file may be NULL: they default
 * to DATA_DIR/uplink/queue and DATA_DIR/uplink/queue.key. Returns 0, or a
 * negative errno with one line in err (-EINVAL for a bad option).
 */
int uplink_open_cloud(const char *data_dir, const struct uplink_ws_opts *o, struct uplink **out,
		      char *err, size_t errlen);

/*
 * Local sink: append one envelope of `type` ("hello", "metrics", "errors", "k8s_events",
 * "heartbeat") carrying `data` (borrowed, not stolen). The line goes out in
 * one write(2) and is fdatasync'ed; should writing fail part way (disk
 * full), the file is cut back so it never ends in a partial line. seq starts
 * at 1 and counts the envelopes written by this run: a failed send uses no
 * number. Moves to a new file when the UTC day changes.
 * Cloud sink: see uplink_ws_send() (numbering goes on across runs, and an
 * envelope refused by a full queue is counted and reported, returning 0).
 * Returns 0 or a negative errno.
 */
int uplink_send(struct uplink *u, const char *type, json_t *data);

/* uplink_send() stamped with `now` instead of the clock (tests, replays). */
int uplink_send_at(struct uplink *u, const char *type, json_t *data, time_t now);

/* seq of the last envelope written, 0 before the first. */
unsigned long long uplink_last_seq(const struct uplink *u);

/* Path of the file being written (valid until the next send or close), or the cloud URL. */
const char *uplink_path(const struct uplink *u);

/*
 * Cloud sink: start the shutdown flush (uplink_ws_stop()) so it runs beside
 * the rest of the agent's stop. Nothing may be sent after. Local sink: nothing.
 */
void uplink_stop(struct uplink *u);

/* Close the file or stop the cloud sink (flushing within its bound); free u (NULL is fine). */
void uplink_close(struct uplink *u);

#endif /* KERNO_UPLINK_H */
