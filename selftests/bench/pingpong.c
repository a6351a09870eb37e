// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A deterministic cost probe for `make bench`: one thread plays an HTTP/1.1
 * client and server over one loopback TCP connection (write, read, writev,
 * read per exchange) and prints the nanoseconds one exchange takes. Run with
 * and without the agent, the difference is what the capture adds per
 * request, without the scheduling noise of a two-process load test.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static const char request[] = "GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: pingpong\r\n"
			      "Accept: */*\r\n\r\n";
static const char head[] = "HTTP/1.1 200 OK\r\nServer: pingpong\r\nDate: Thu, 26 Nov 2026 "
			   "12:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
			   "Connection: keep-alive\r\n\r\n";

static int connected_pair(int *client, int *server)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (void *)&a, &len))
		return -1;
	*client = socket(AF_INET, SOCK_STREAM, 0);
	if (*client < 0 || connect(*client, (void *)&a, sizeof(a)))
		return -1;
	*server = accept(l, NULL, NULL);
	close(l);
	setsockopt(*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return *server < 0 ? -1 : 0;
}

static int exchange(int c, int s, char *buf, size_t size)
{
	struct iovec iov[2] = { { (void *)head, sizeof(head) - 1 }, { "ok", 2 } };
	size_t want = sizeof(head) - 1 + 2;
	ssize_t n;

	if (write(c, request, sizeof(request) - 1) != sizeof(request) - 1)
		return -1;
	if (read(s, buf, size) != sizeof(request) - 1)
		return -1;
	if (writev(s, iov, 2) != (ssize_t)want)
		return -1;
	for (n = 0; n < (ssize_t)want;) {
		ssize_t r = read(c, buf, size);

		if (r <= 0)
			return -1;
		n += r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long i, n = argc > 1 ? atol(argv[1]) : 200000;
	struct timespec t0, t1;
	char buf[4096];
	int c, s;

	if (connected_pair(&c, &s)) {
		perror("pingpong: loopback connection");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		if (exchange(c, s, buf, sizeof(buf))) {
			perror("pingpong: exchange");
			return 1;
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
	return 0;
}
