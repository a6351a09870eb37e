// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Drives user/creds.c for the host tests: `creds_tool REGION GETS` asks for
 * credentials GETS times and prints one JSON line: the source, the keys,
 * the expiry and how many times the source was fetched. Exit 2 when no
 * source is configured, 1 when a get fails (the message on stderr).
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "creds.h"

int main(int argc, char **argv)
{
	struct aws_creds c;
	struct creds *p;
	char err[512];
	int i, n;
	json_t *j;
	char *s;

	if (argc != 3) {
		fprintf(stderr, "usage: creds_tool REGION GETS\n");
		return 2;
	}
	p = creds_new(argv[1], err, sizeof(err));
	if (!p) {
		fprintf(stderr, "kerno: %s\n", err);
		return 2;
	}
	n = atoi(argv[2]);
	for (i = 0; i < n; i++) {
		if (creds_get(p, &c, err, sizeof(err))) {
			fprintf(stderr, "kerno: %s\n", err);
			creds_free(p);
			return 1;
		}
	}
	j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "source", c.source, "access_key",
		      c.access_key, "secret_key", c.secret_key, "token", c.token, "expires",
		      (json_int_t)c.expires, "fetches", (json_int_t)creds_fetches(p));
	s = json_dumps(j, JSON_COMPACT);
	puts(s);
	free(s);
	json_decref(j);
	creds_free(p);
	return 0;
}
