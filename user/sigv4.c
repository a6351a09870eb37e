// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* AWS Signature Version 4 header signing: see sigv4.h. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "sigv4.h"

static const char hexd[] = "0123456789abcdef";

static void hex(const uint8_t *in, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hexd[in[i] >> 4];
		out[2 * i + 1] = hexd[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	hex(md, sizeof(md), out);
}

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

void sigv4_uri_encode(struct strbuf *b, const char *s, size_t len, bool keep_slash)
{
	static const char up[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			sb_addc(b, (char)c);
		} else {
			char e[3] = { '%', up[c >> 4], up[c & 15] };

			sb_add(b, e, 3);
		}
	}
}

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..len) then encode it canonically; '+' stays a literal '+'. */
static void reencode(struct strbuf *b, const char *s, size_t len)
{
	struct strbuf raw = { 0 };
	size_t i;

	for (i = 0; i < len; i++) {
		int hi = -1, lo = -1;

		if (s[i] == '%' && i + 2 < len) {
			hi = unhex((unsigned char)s[i + 1]);
			lo = unhex((unsigned char)s[i + 2]);
		}
		if (hi >= 0 && lo >= 0) {
			sb_addc(&raw, (char)(hi << 4 | lo));
			i += 2;
		} else {
			sb_addc(&raw, s[i]);
		}
	}
	sigv4_uri_encode(b, sb_str(&raw), raw.len, false);
	sb_free(&raw);
}

/* RFC 3986 dot-segment removal plus collapsing of empty segments. */
static void normalize_path(struct strbuf *out, const char *path)
{
	const char *segs[256];
	size_t lens[256], n = 0, i, l;
	const char *p = path, *e;
	bool trailing;

	l = strlen(path);
	trailing = l && (path[l - 1] == '/' || (l >= 2 && !strcmp(path + l - 2, "/.")) ||
			 (l >= 3 && !strcmp(path + l - 3, "/..")));
	while (*p) {
		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		l = (size_t)(e - p);
		if (l == 2 && !strncmp(p, "..", 2)) {
			if (n)
				n--;
		} else if (l && !(l == 1 && *p == '.') && n < 256) {
			segs[n] = p;
			lens[n++] = l;
		}
		p = e;
	}
	for (i = 0; i < n; i++) {
		sb_addc(out, '/');
		sb_add(out, segs[i], lens[i]);
	}
	if (!n || trailing)
		sb_addc(out, '/');
}

static void canonical_path(struct strbuf *b, const struct sigv4_input *in)
{
	struct strbuf norm = { 0 };

	if (!in->normalize_path) {
		sigv4_uri_encode(b, in->path, strlen(in->path), true);
		return;
	}
	normalize_path(&norm, in->path);
	sigv4_uri_encode(b, sb_str(&norm), norm.len, true);
	sb_free(&norm);
}

struct kv {
	char *k, *v;
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

static int canonical_query(struct strbuf *b, const char *q)
{
	struct kv *kv = NULL;
	size_t n = 0, i, cap = 0;
	const char *p = q, *amp, *eq;
	int r = 0;

	if (!q || !*q)
		return 0;
	for (;;) {
		struct strbuf k = { 0 }, v = { 0 };

		amp = strchrnul(p, '&');
		eq = memchr(p, '=', (size_t)(amp - p));
		reencode(&k, p, (size_t)((eq ? eq : amp) - p));
		if (eq)
			reencode(&v, eq + 1, (size_t)(amp - eq - 1));
		if (n == cap) {
			struct kv *nk = realloc(kv, (cap = cap ? 2 * cap : 8) * sizeof(*kv));

			if (!nk) {
				sb_free(&k);
				sb_free(&v);
				r = -1;
				break;
			}
			kv = nk;
		}
		kv[n].k = strdup(sb_str(&k));
		kv[n++].v = strdup(sb_str(&v));
		sb_free(&k);
		sb_free(&v);
		if (!kv[n - 1].k || !kv[n - 1].v)
			r = -1;
		if (!*amp || r)
			break;
		p = amp + 1;
	}
	if (!r)
		qsort(kv, n, sizeof(*kv), kv_cmp);
	for (i = 0; i < n; i++) {
		if (!r) {
			if (i)
				sb_addc(b, '&');
			sb_adds(b, kv[i].k);
			sb_addc(b, '=');
			sb_adds(b, kv[i].v);
		}
		free(kv[i].k);
		free(kv[i].v);
	}
	free(kv);
	return r;
}

struct hdr {
	char *name; /* lower case */
	struct strbuf value; /* trimmed, squeezed, repeated values joined with ',' */
	size_t order;
};

static int hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->order > y->order) - (x->order < y->order);
}

static void squeeze(struct strbuf *b, const char *v)
{
	bool blank = false, any = false;

	for (; *v; v++) {
		if (isspace((unsigned char)*v)) {
			blank = any;
			continue;
		}
		if (blank)
			sb_addc(b, ' ');
		sb_addc(b, *v);
		blank = false;
		any = true;
	}
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s), *p;

	for (p = d; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* Sorted, merged headers; *n_out entries. NULL when out of memory. */
static struct hdr *collect_headers(const struct sigv4_input *in, const struct sigv4_creds *c,
				   const char *amz_date, size_t *n_out)
{
	size_t n = 0, i, total = in->n_headers + 3;
	struct hdr *h = calloc(total, sizeof(*h));
	struct sigv4_header extra[3];
	size_t n_extra = 0;

	if (!h)
		return NULL;
	extra[n_extra++] = (struct sigv4_header){ "x-amz-date", amz_date };
	if (in->content_sha256_header)
		extra[n_extra++] =
			(struct sigv4_header){ "x-amz-content-sha256", in->payload_hash };
	if (c->token && *c->token && in->sign_token)
		extra[n_extra++] = (struct sigv4_header){ "x-amz-security-token", c->token };
	for (i = 0; i < in->n_headers + n_extra; i++) {
		const struct sigv4_header *src = i < in->n_headers ? &in->headers[i] :
								     &extra[i - in->n_headers];

		h[n].name = lower_dup(src->name);
		h[n].order = i;
		squeeze(&h[n].value, src->value);
		n++;
	}
	qsort(h, n, sizeof(*h), hdr_cmp);
	/* Merge runs of one name into the first of them. */
	for (i = 1, total = n ? 1 : 0; i < n; i++) {
		if (h[total - 1].name && h[i].name && !strcmp(h[total - 1].name, h[i].name)) {
			sb_addc(&h[total - 1].value, ',');
			sb_add(&h[total - 1].value, sb_str(&h[i].value), h[i].value.len);
			free(h[i].name);
			sb_free(&h[i].value);
		} else {
			h[total++] = h[i];
		}
	}
	*n_out = total;
	return h;
}

static void free_headers(struct hdr *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(h[i].name);
		sb_free(&h[i].value);
	}
	free(h);
}

static void hmac(const void *key, size_t klen, const char *msg, uint8_t out[32])
{
	unsigned int olen = 32;

	HMAC(EVP_sha256(), key, klen, (const uint8_t *)msg, strlen(msg), out, &olen);
}

/* Signature of the string to sign with the key derived from secret, date, region, service. */
static void derive_and_sign(const struct sigv4_input *in, const char *secret, const char *date,
			    const char *sts, char sig[65])
{
	struct strbuf k = { 0 };
	uint8_t a[32], b[32];

	sb_addf(&k, "AWS4%s", secret);
	hmac(sb_str(&k), k.len, date, a);
	hmac(a, 32, in->region, b);
	hmac(b, 32, in->service, a);
	hmac(a, 32, "aws4_request", b);
	hmac(b, 32, sts, a);
	hex(a, 32, sig);
	sb_free(&k);
}

static int build_canonical(const struct sigv4_input *in, struct hdr *h, size_t n, struct strbuf *cr,
			   struct strbuf *signed_names)
{
	size_t i;

	sb_addf(cr, "%s\n", in->method);
	canonical_path(cr, in);
	sb_addc(cr, '\n');
	if (canonical_query(cr, in->query))
		return -1;
	sb_addc(cr, '\n');
	for (i = 0; i < n; i++) {
		if (!h[i].name)
			return -1;
		sb_addf(cr, "%s:%s\n", h[i].name, sb_str(&h[i].value));
		if (i)
			sb_addc(signed_names, ';');
		sb_adds(signed_names, h[i].name);
	}
	sb_addf(cr, "\n%s\n%s", sb_str(signed_names), in->payload_hash);
	return cr->oom || signed_names->oom ? -1 : 0;
}

int sigv4_sign(const struct sigv4_input *in, const struct sigv4_creds *creds,
	       struct sigv4_output *out)
{
	struct strbuf names = { 0 };
	char date[9], crhash[65], scope[256];
	struct hdr *h = NULL;
	struct tm tm;
	size_t n = 0;
	int r = -1;

	memset(out, 0, sizeof(*out));
	gmtime_r(&in->when, &tm);
	strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, out->amz_date, 8);
	date[8] = '\0';
	if (snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, in->region,
		     in->service) >= (int)sizeof(scope))
		return -1;
	h = collect_headers(in, creds, out->amz_date, &n);
	if (!h || build_canonical(in, h, n, &out->canonical, &names))
		goto out;
	sigv4_sha256_hex(out->canonical.s, out->canonical.len, crhash);
	sb_addf(&out->string_to_sign, "AWS4-HMAC-SHA256\n%s\n%s\n%s", out->amz_date, scope, crhash);
	if (out->string_to_sign.oom)
		goto out;
	derive_and_sign(in, creds->secret_key, date, out->string_to_sign.s, out->signature);
	if (snprintf(out->authorization, sizeof(out->authorization),
		     "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		     creds->access_key, scope, sb_str(&names),
		     out->signature) < (int)sizeof(out->authorization))
		r = 0;
out:
	if (h)
		free_headers(h, n);
	sb_free(&names);
	return r;
}

void sigv4_output_free(struct sigv4_output *out)
{
	sb_free(&out->canonical);
	sb_free(&out->string_to_sign);
}
