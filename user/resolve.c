// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Name resolution by a deadline, cancellable: see resolve.h. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "resolve.h"
#include "tls.h"

/* One lookup, shared by the caller and the thread that runs it: the last one out frees it. */
struct lookup {
	char *host, *port;
	struct addrinfo hints;
	struct addrinfo *res;
	int gai; /* getaddrinfo()'s return */
	int done_fd; /* an eventfd, written once the lookup is done */
	int refs;
};

static void lookup_put(struct lookup *l)
{
	if (__atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL))
		return;
	if (l->res)
		freeaddrinfo(l->res);
	if (l->done_fd >= 0)
		close(l->done_fd);
	free(l->host);
	free(l->port);
	free(l);
}

static void *lookup_main(void *arg)
{
	struct lookup *l = arg;

	l->gai = getaddrinfo(l->host, l->port, &l->hints, &l->res);
	eventfd_write(l->done_fd, 1);
	lookup_put(l);
	return NULL;
}

static struct lookup *lookup_new(const char *host, const char *port, const struct addrinfo *hints)
{
	struct lookup *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->refs = 1;
	l->hints = *hints;
	l->hints.ai_canonname = NULL;
	l->hints.ai_addr = NULL;
	l->hints.ai_next = NULL;
	l->host = host ? strdup(host) : NULL;
	l->port = port ? strdup(port) : NULL;
	l->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if ((host && !l->host) || (port && !l->port) || l->done_fd < 0) {
		lookup_put(l);
		return NULL;
	}
	return l;
}

/* The lookup's own thread, detached; false if none could be started. */
static bool lookup_start(struct lookup *l)
{
	pthread_attr_t attr;
	pthread_t t;
	int r;

	if (pthread_attr_init(&attr))
		return false;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	r = pthread_create(&t, &attr, lookup_main, l);
	pthread_attr_destroy(&attr);
	if (r)
		__atomic_sub_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	return !r;
}

int resolve(const char *host, const char *port, const struct addrinfo *hints, long long deadline,
	    struct addrinfo **out, char *why, size_t whylen)
{
	struct lookup *l = lookup_new(host, port, hints);
	int r;

	*out = NULL;
	if (!l) {
		snprintf(why, whylen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (!lookup_start(l)) {
		lookup_put(l);
		snprintf(why, whylen, "cannot start a thread for it");
		return -EAGAIN;
	}
	r = tls_wait(l->done_fd, POLLIN, deadline);
	if (r == -ETIMEDOUT) {
		snprintf(why, whylen, "timed out");
	} else if (r == -ECANCELED) {
		snprintf(why, whylen, "abandoned: stopping");
	} else if (r) {
		snprintf(why, whylen, "%s", strerror(-r));
	} else if (l->gai) {
		snprintf(why, whylen, "%s", gai_strerror(l->gai));
		r = -ENOENT;
	} else {
		*out = l->res;
		l->res = NULL;
	}
	lookup_put(l);
	return r;
}
