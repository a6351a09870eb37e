// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Drives user/sigv4.c from outside, for the host tests:
 *
 *   sigv4_tool suite DIR   every case of AWS's SigV4 test suite under DIR
 *                          (DIR/<case>/request.txt, context.json): the
 *                          canonical request, string to sign and signature
 *                          compared with the suite's; one line per failure,
 *                          then "N passed, M failed".
 *   sigv4_tool sign        S3 requests as JSON lines on stdin, one
 *                          Authorization value per line on stdout.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "sigv4.h"
#include "strbuf.h"

static char *slurp(const char *dir, const char *name)
{
	char path[1024];
	struct strbuf b = { 0 };
	char buf[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_add(&b, buf, n);
	fclose(f);
	if (!b.s)
		sb_adds(&b, "");
	return b.s;
}

#define MAX_HDRS 32

struct parsed {
	char method[16];
	struct strbuf path, query, body;
	char *names[MAX_HDRS];
	struct strbuf values[MAX_HDRS];
	size_t n;
};

/* request.txt: request line, headers (continuation lines fold into the previous), body. */
static int parse_request(char *text, struct parsed *p)
{
	char *line = text, *next, *sp, *proto, *q, *colon;

	next = strchr(line, '\n');
	if (!next)
		return -1;
	*next++ = '\0';
	sp = strchr(line, ' ');
	proto = strstr(line, " HTTP/");
	if (!sp || !proto || (size_t)(sp - line) >= sizeof(p->method))
		return -1;
	memcpy(p->method, line, (size_t)(sp - line));
	*proto = '\0';
	q = strchr(sp + 1, '?');
	sb_add(&p->path, sp + 1, q ? (size_t)(q - sp - 1) : strlen(sp + 1));
	if (q)
		sb_adds(&p->query, q + 1);
	for (line = next; line && *line && *line != '\n'; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if ((*line == ' ' || *line == '\t') && p->n) {
			sb_addc(&p->values[p->n - 1], ' ');
			sb_adds(&p->values[p->n - 1], line);
			continue;
		}
		colon = strchr(line, ':');
		if (!colon || p->n == MAX_HDRS)
			return -1;
		*colon = '\0';
		p->names[p->n] = line;
		sb_adds(&p->values[p->n++], colon + 1);
	}
	if (line && *line == '\n')
		sb_adds(&p->body, line + 1);
	return 0;
}

static time_t parse_time(const char *s)
{
	struct tm tm = { 0 };

	strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return timegm(&tm);
}

static bool same(const char *what, const char *name, const char *got, const char *want)
{
	size_t wl = strlen(want);

	while (wl && want[wl - 1] == '\n')
		wl--;
	if (strlen(got) == wl && !memcmp(got, want, wl))
		return true;
	printf("%s: %s differs\n--- got\n%s\n--- want\n%.*s\n", name, what, got, (int)wl, want);
	return false;
}

static bool run_case(const char *dir, const char *name)
{
	char *req = slurp(dir, "request.txt"), *ctxt = slurp(dir, "context.json");
	char *want_cr = slurp(dir, "header-canonical-request.txt");
	char *want_sts = slurp(dir, "header-string-to-sign.txt");
	char *want_sig = slurp(dir, "header-signature.txt");
	struct sigv4_header hdrs[MAX_HDRS];
	struct sigv4_output out = { 0 };
	struct parsed p = { 0 };
	json_t *ctx = NULL, *cred;
	char body_hash[65];
	bool ok = false;
	size_t i;

	if (!req || !ctxt || !want_cr || !want_sts || !want_sig || parse_request(req, &p)) {
		printf("%s: missing or unreadable files\n", name);
		goto out;
	}
	ctx = json_loads(ctxt, 0, NULL);
	cred = json_object_get(ctx, "credentials");
	for (i = 0; i < p.n; i++)
		hdrs[i] = (struct sigv4_header){ p.names[i], sb_str(&p.values[i]) };
	sigv4_sha256_hex(sb_str(&p.body), p.body.len, body_hash);
	struct sigv4_input in = {
		.method = p.method,
		.path = sb_str(&p.path),
		.query = sb_str(&p.query),
		.headers = hdrs,
		.n_headers = p.n,
		.payload_hash = body_hash,
		.region = json_string_value(json_object_get(ctx, "region")),
		.service = json_string_value(json_object_get(ctx, "service")),
		.when = parse_time(json_string_value(json_object_get(ctx, "timestamp"))),
		.normalize_path = json_is_true(json_object_get(ctx, "normalize")),
		.content_sha256_header = json_is_true(json_object_get(ctx, "sign_body")),
		.sign_token = !json_is_true(json_object_get(ctx, "omit_session_token")),
	};
	struct sigv4_creds c = {
		.access_key = json_string_value(json_object_get(cred, "access_key_id")),
		.secret_key = json_string_value(json_object_get(cred, "secret_access_key")),
		.token = json_string_value(json_object_get(cred, "token")),
	};
	if (!in.region || !in.service || !c.access_key || !c.secret_key ||
	    sigv4_sign(&in, &c, &out)) {
		printf("%s: cannot sign\n", name);
		goto out;
	}
	ok = same("canonical request", name, sb_str(&out.canonical), want_cr) &&
	     same("string to sign", name, sb_str(&out.string_to_sign), want_sts) &&
	     same("signature", name, out.signature, want_sig);
out:
	sigv4_output_free(&out);
	json_decref(ctx);
	for (i = 0; i < MAX_HDRS; i++)
		sb_free(&p.values[i]);
	sb_free(&p.path);
	sb_free(&p.query);
	sb_free(&p.body);
	free(req);
	free(ctxt);
	free(want_cr);
	free(want_sts);
	free(want_sig);
	return ok;
}

static int suite(const char *root)
{
	struct dirent **ents;
	int n, i, passed = 0, failed = 0;
	char dir[1024];

	n = scandir(root, &ents, NULL, alphasort);
	if (n < 0) {
		perror(root);
		return 2;
	}
	for (i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", root, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && ents[i]->d_type == DT_DIR) {
			if (run_case(dir, ents[i]->d_name))
				passed++;
			else
				failed++;
		}
		free(ents[i]);
	}
	free(ents);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

/* One JSON request a line: method, path, query, headers [[n, v]...], payload_hash,
 * region, time (epoch), ak, sk, token. */
static int sign_lines(void)
{
	char line[1 << 16];

	while (fgets(line, sizeof(line), stdin)) {
		json_t *j = json_loads(line, 0, NULL), *h = json_object_get(j, "headers");
		struct sigv4_header hdrs[64];
		struct sigv4_output out = { 0 };
		size_t i, n = json_array_size(h);

		if (!j || n > 64) {
			puts("ERROR bad input");
			json_decref(j);
			continue;
		}
		for (i = 0; i < n; i++)
			hdrs[i] = (struct sigv4_header){
				json_string_value(json_array_get(json_array_get(h, i), 0)),
				json_string_value(json_array_get(json_array_get(h, i), 1)),
			};
		struct sigv4_input in = {
			.method = json_string_value(json_object_get(j, "method")),
			.path = json_string_value(json_object_get(j, "path")),
			.query = json_string_value(json_object_get(j, "query")),
			.headers = hdrs,
			.n_headers = n,
			.payload_hash = json_string_value(json_object_get(j, "payload_hash")),
			.region = json_string_value(json_object_get(j, "region")),
			.service = "s3",
			.when = (time_t)json_integer_value(json_object_get(j, "time")),
			.content_sha256_header = true,
			.sign_token = true,
		};
		struct sigv4_creds c = {
			.access_key = json_string_value(json_object_get(j, "ak")),
			.secret_key = json_string_value(json_object_get(j, "sk")),
			.token = json_string_value(json_object_get(j, "token")),
		};
		if (sigv4_sign(&in, &c, &out))
			puts("ERROR cannot sign");
		else
			puts(out.authorization);
		sigv4_output_free(&out);
		json_decref(j);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "suite"))
		return suite(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "sign"))
		return sign_lines();
	fprintf(stderr, "usage: sigv4_tool suite DIR | sigv4_tool sign < requests.jsonl\n");
	return 2;
}
