/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Name resolution within a deadline, and cancellable: getaddrinfo() is
 * neither (glibc's resolver waits 5 s per attempt and server when a DNS
 * server does not answer), so a connection attempt, and the stop of the
 * agent that waits for it, could hang there. The lookup runs on a thread of
 * its own; the caller waits for it with tls_wait(), so the calling thread's
 * cancel fd (tls_cancel_on()) ends the wait too. A lookup left that way
 * finishes on its own thread and frees itself.
 */
#ifndef KERNO_RESOLVE_H
#define KERNO_RESOLVE_H

#include <netdb.h>

#include <stddef.h>

/*
 * getaddrinfo(host, port, hints) by deadline (mono_ms() time). Returns 0
 * with the list in *out (freeaddrinfo() it), or a negative errno with why
 * it failed, in words, in why: -ENOENT when getaddrinfo() itself failed
 * (gai_strerror()), -ETIMEDOUT, -ECANCELED, -ENOMEM or -EAGAIN.
 */
int resolve(const char *host, const char *port, const struct addrinfo *hints, long long deadline,
	    struct addrinfo **out, char *why, size_t whylen);

#endif /* KERNO_RESOLVE_H */
