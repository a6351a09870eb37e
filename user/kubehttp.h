/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One HTTP/1.1 GET to the Kubernetes API over TLS (tls.h), its body
 * streamed to a callback as it arrives (Content-Length, chunked, or until
 * close), so a watch is read while it lasts. One connection per request:
 * watches are long and lists are rare.
 */
#ifndef KERNO_KUBEHTTP_H
#define KERNO_KUBEHTTP_H

#include <stddef.h>

#include "kubeconf.h"
#include "tls.h"

/* Body bytes as they come: 0, or a negative value that stops the request (returned as is). */
typedef int (*kubehttp_body_fn)(void *ctx, const char *data, size_t len);

/*
 * GET path with the bearer token. *status is set once the head is read;
 * the body goes to cb whatever the status. idle_ms bounds every wait.
 * 0 at the end of the body, what cb returned, or a negative errno with a
 * reason in err. stop, when not NULL, is polled between reads.
 */
int kubehttp_get(struct tls_client *tls, const struct kubeconf *kc, const char *path, int idle_ms,
		 int *status, kubehttp_body_fn cb, void *ctx, volatile int *stop, char *err,
		 size_t errlen);

#endif /* KERNO_KUBEHTTP_H */
