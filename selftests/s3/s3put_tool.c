// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Drives the S3 backend through its obj_backend interface, as the object
 * store writer does, for the host tests and the upload benchmark:
 *
 *   s3put_tool [kerno options] -- put KEY FILE [KEY FILE...]
 *   s3put_tool [kerno options] -- drain
 *   s3put_tool [kerno options] -- exists KEY...
 *
 * put() each file (waiting while the spool is full: backpressure), then
 * wait up to KERNO_TEST_WAIT seconds (default 120) for the spool to empty,
 * close the backend and print one JSON line of counters. Exit 0 when the
 * spool emptied, 1 when not, 2 for a bad configuration. `exists` prints
 * exists()'s answer for each key, one a line, and does not wait.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "objstore_s3.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int put_all(struct obj_backend *b, int argc, char **argv, unsigned long *full_waits)
{
	int i, r;

	for (i = 0; i + 1 < argc; i += 2) {
		size_t len;
		char *data = slurp(argv[i + 1], &len);

		if (!data) {
			fprintf(stderr, "s3put_tool: %s: %s\n", argv[i + 1], strerror(errno));
			return -1;
		}
		while ((r = b->put(b, argv[i], data, len)) == -ENOSPC || r == -EAGAIN) {
			(*full_waits)++;
			usleep(20000);
		}
		free(data);
		if (r) {
			fprintf(stderr, "s3put_tool: put %s: %s\n", argv[i], strerror(-r));
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *w = getenv("KERNO_TEST_WAIT");
	double t0, t_put, deadline;
	struct objstore_s3_stats st;
	struct kerno_config cfg;
	unsigned long full_waits = 0;
	struct obj_backend *b;
	unsigned long long left;
	char err[512];
	int sep, rc;

	for (sep = 1; sep < argc && strcmp(argv[sep], "--"); sep++)
		;
	if (sep + 1 >= argc) {
		fprintf(stderr, "usage: s3put_tool [options] -- put KEY FILE... | drain\n");
		return 2;
	}
	rc = kerno_config_load(&cfg, sep - 1, argv + 1, err, sizeof(err));
	if (rc || !cfg.s3_bucket) {
		fprintf(stderr, "s3put_tool: %s\n", rc ? err : "--s3-bucket is required");
		kerno_config_free(&cfg);
		return 2;
	}
	b = objstore_s3_new(&cfg, err, sizeof(err));
	if (!b) {
		fprintf(stderr, "kerno: %s\n", err);
		kerno_config_free(&cfg);
		return 2;
	}
	if (!strcmp(argv[sep + 1], "exists")) {
		for (rc = sep + 2; rc < argc; rc++)
			printf("%d\n", b->exists(b, argv[rc]));
		fflush(stdout);
		b->close(b);
		kerno_config_free(&cfg);
		return 0;
	}
	t0 = now();
	rc = !strcmp(argv[sep + 1], "put") ?
		     put_all(b, argc - sep - 2, argv + sep + 2, &full_waits) :
		     0;
	t_put = now();
	deadline = t_put + (w ? atof(w) : 120);
	for (;;) {
		objstore_s3_stats(b, &st);
		if (rc || (!b->pending_bytes(b) && st.swept) || now() >= deadline)
			break;
		usleep(5000);
	}
	left = b->pending_bytes(b);
	objstore_s3_stats(b, &st);
	printf("{\"objects\":%llu,\"bytes\":%llu,\"multipart\":%llu,\"retries\":%llu,"
	       "\"corrupt\":%llu,\"stale_aborted\":%llu,\"protocol\":\"%s\",\"seconds\":%.3f,"
	       "\"put_seconds\":%.3f,\"full_waits\":%lu,\"left_bytes\":%llu}\n",
	       st.objects, st.bytes, st.multipart, st.retries, st.corrupt, st.stale_aborted,
	       objstore_s3_protocol(b), now() - t0, t_put - t0, full_waits, left);
	fflush(stdout);
	b->close(b);
	kerno_config_free(&cfg);
	return rc ? 1 : left ? 1 : 0;
}
