/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The body of a Kubernetes watch: one JSON object a line,
 * {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}, arriving
 * in pieces of any size (the decoded chunks of an HTTP response). Lines
 * past max_line bytes, lines that are not such an object, and unknown
 * types are skipped and counted; they never stop the stream.
 */
#ifndef KERNO_KUBEWATCH_H
#define KERNO_KUBEWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct kubewatch {
	char *buf;
	size_t len, cap;
	size_t max_line;
	bool skipping; /* inside a line already found too long */
	unsigned long long events, bad, too_long;
};

/* type is one of the five names; object is borrowed. Non-zero stops the feed. */
typedef int (*kubewatch_event_fn)(void *ctx, const char *type, json_t *object);

void kubewatch_init(struct kubewatch *w, size_t max_line);
void kubewatch_free(struct kubewatch *w);

/* Feed bytes; complete lines go to cb. 0, -ENOMEM, or what cb returned. */
int kubewatch_feed(struct kubewatch *w, const void *data, size_t len, kubewatch_event_fn cb,
		   void *ctx);

/* The HTTP status code an ERROR event carries (a metav1.Status), 0 if none. */
int kubewatch_status_code(json_t *object);

/*
 * Decoding "Transfer-Encoding: chunked" incrementally: feed raw bytes, get
 * the payload through out(). Returns 0 while more is expected, 1 after the
 * last (zero-size) chunk, -EBADMSG on malformed framing.
 */
struct kubechunk {
	int state;
	unsigned long long left; /* bytes of the current chunk still to come */
	unsigned int digits;
};

typedef int (*kubechunk_out_fn)(void *ctx, const char *data, size_t len);

int kubechunk_feed(struct kubechunk *c, const char *data, size_t len, kubechunk_out_fn out,
		   void *ctx);

#endif /* KERNO_KUBEWATCH_H */
