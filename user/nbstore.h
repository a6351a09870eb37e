/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Nanobe's durability: a journal of what it accepted and has not yet sent
 * on, and the batch ids it has seen, so that a restart neither loses nor
 * repeats anything downstream.
 *
 * DATA_DIR/nanobe/journal.ndjson holds one JSON record a line:
 *   {"t":"state","flush":F,"seen":{"<spool id>":SEQ,...},"open":REQ|null}
 *   {"t":"batch","id":"<spool id>-<seq>"|null,"body":REQ}
 * A batch is appended and fdatasync'ed before Nanobe answers 2xx. A flush
 * that sends windows on: nbstore_rotate() writes journal.next (a state
 * record with flush F+1, the ids seen, and what is still held), then the
 * caller writes the uplink envelope marked with F+1 (see
 * NBSTORE_MARK_FMT), then nbstore_commit() renames journal.next over the
 * journal. Found at start, a journal.next is kept only if the uplink shows
 * its mark (the envelope was written); otherwise the old journal stands and
 * is replayed.
 *
 * Ids: a Preon sends its batches in order, so a batch "<sid>-<seq>" with
 * seq at or below the highest seen for sid is a repeat. At most
 * NBSTORE_MAX_SPOOLS spools are remembered (the least recently heard from
 * is forgotten).
 */
#ifndef KERNO_NBSTORE_H
#define KERNO_NBSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define NBSTORE_MAX_SPOOLS 4096
/* The resource attribute, as the uplink writes it, that marks flush F. */
#define NBSTORE_MARK_KEY "kerno.nanobe.flush"
#define NBSTORE_MARK_FMT "{\"key\":\"kerno.nanobe.flush\",\"value\":{\"intValue\":\"%llu\"}}"

struct nbstore;

/* Called for every request replayed from the journal. 0, or a negative errno to stop. */
typedef int (*nbstore_replay_fn)(void *ctx, json_t *req);

/*
 * Open DATA_DIR/nanobe, settle an interrupted flush by looking for its mark
 * in the files under uplink_dir, and replay the journal. Lines that do not
 * parse (a write cut by a crash, never acknowledged) are skipped and
 * counted. 0, or a negative errno with a reason in err.
 */
int nbstore_open(const char *data_dir, const char *uplink_dir, nbstore_replay_fn replay, void *ctx,
		 struct nbstore **out, char *err, size_t errlen);
void nbstore_close(struct nbstore *s);

/* Whether batch id (may be NULL or "") was accepted before. */
bool nbstore_seen(const struct nbstore *s, const char *id);

/* Journal an accepted batch durably and remember its id. 0 or a negative errno. */
int nbstore_append(struct nbstore *s, const char *id, json_t *body);

/*
 * nbstore_append() without the fdatasync: the caller answers only after
 * nbstore_sync(), which makes every batch appended so far durable at once.
 */
int nbstore_append_nosync(struct nbstore *s, const char *id, json_t *body);
int nbstore_sync(struct nbstore *s);

/* Write journal.next carrying `still_open` (may be NULL); *flush gets its number. */
int nbstore_rotate(struct nbstore *s, json_t *still_open, unsigned long long *flush);
/* The flush's envelope is written: journal.next becomes the journal. */
int nbstore_commit(struct nbstore *s);
/* The flush's envelope could not be written: journal.next is dropped. */
void nbstore_abort(struct nbstore *s);

/* Journal lines skipped at open (cut or corrupt). */
unsigned long long nbstore_skipped(const struct nbstore *s);

#endif /* KERNO_NBSTORE_H */
