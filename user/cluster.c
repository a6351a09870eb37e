// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Shared helpers of the cluster roles: see cluster.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

int cluster_read_token(const char *path, char *out, size_t size, char *err, size_t errlen)
{
	char buf[CLUSTER_TOKEN_MAX + 64];
	size_t n, b = 0, i;
	FILE *f;

	if (!path || !*path) {
		snprintf(err, errlen, "no --token-file: give the file holding the shared token");
		return -1;
	}
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "cannot read the token file %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	while (b < n && isspace((unsigned char)buf[b]))
		b++;
	for (i = b; i < n; i++)
		if (!isgraph((unsigned char)buf[i]))
			break;
	if (i < n || n - b < 16 || n - b >= size || n - b > CLUSTER_TOKEN_MAX) {
		snprintf(err, errlen,
			 "the token in %s must be one word of 16 to %d printable characters", path,
			 CLUSTER_TOKEN_MAX);
		return -1;
	}
	memcpy(out, buf + b, n - b + 1);
	return 0;
}

int cluster_split_addr(const char *addr, char *host, size_t hsize, char *port, size_t psize)
{
	const char *colon, *h = addr;
	size_t hl;

	if (!addr)
		return -1;
	colon = strrchr(addr, ':');
	if (!colon || !colon[1] || strlen(colon + 1) >= psize)
		return -1;
	hl = colon - addr;
	if (*addr == '[') {
		if (hl < 2 || addr[hl - 1] != ']')
			return -1;
		h++;
		hl -= 2;
	}
	if (hl >= hsize)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, psize, "%s", colon + 1);
	for (h = port; *h; h++)
		if (!isdigit((unsigned char)*h))
			return -1;
	return 0;
}

bool cluster_auth_ok(const char *authorization, const char *token)
{
	size_t tl = strlen(token), al = strlen(authorization), i;
	unsigned char diff = 0;

	if (al != tl + 7 || strncmp(authorization, "Bearer ", 7))
		return false;
	for (i = 0; i < tl; i++)
		diff |= (unsigned char)authorization[7 + i] ^ (unsigned char)token[i];
	return diff == 0;
}

json_t *cluster_delta_sum(const char *name, const char *unit, const char *attr,
			  const char *const *labels, const unsigned long long *values, size_t n,
			  unsigned long long start_ns, unsigned long long end_ns)
{
	char start[24], end[24], v[24];
	json_t *dps = json_array();
	size_t i;

	if (!dps)
		return NULL;
	snprintf(start, sizeof(start), "%llu", start_ns);
	snprintf(end, sizeof(end), "%llu", end_ns);
	for (i = 0; i < n; i++) {
		snprintf(v, sizeof(v), "%llu", values[i]);
		json_array_append_new(dps, json_pack("{s:[{s:s, s:{s:s}}], s:s, s:s, s:s}",
						     "attributes", "key", attr, "value",
						     "stringValue", labels[i], "startTimeUnixNano",
						     start, "timeUnixNano", end, "asInt", v));
	}
	return json_pack("{s:s, s:s, s:{s:i, s:b, s:o}}", "name", name, "unit", unit, "sum",
			 "aggregationTemporality", 1, "isMonotonic", 1, "dataPoints", dps);
}
