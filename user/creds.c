// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* AWS credential providers in the SDKs' order, cached and refreshed: see creds.h. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "creds.h"
#include "httpc.h"
#include "sigv4.h"
#include "xml_lite.h"

#define FETCH_TIMEOUT_MS 5000

enum source { SRC_ENV, SRC_FILE, SRC_WEB_IDENTITY, SRC_CONTAINER, SRC_IMDS };

static const char *const source_names[] = { "environment", "shared-file", "web-identity",
					    "container", "imds" };

struct creds {
	enum source src;
	char region[64];
	struct tls_client *tls; /* system bundle, for https sources; made when first needed */
	pthread_mutex_t lock;
	struct aws_creds cached;
	bool have;
	unsigned long fetches;
};

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* Read a small file whole, trailing white space trimmed. */
static int read_small(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(out, 1, size - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n && isspace((unsigned char)out[n - 1]))
		out[--n] = '\0';
	return 0;
}

static int copy(char *dst, size_t size, const char *src)
{
	return snprintf(dst, size, "%s", src ? src : "") >= (int)size ? -1 : 0;
}

static int from_env(struct aws_creds *out, char *err, size_t errlen)
{
	if (copy(out->access_key, sizeof(out->access_key), env("AWS_ACCESS_KEY_ID")) ||
	    copy(out->secret_key, sizeof(out->secret_key), env("AWS_SECRET_ACCESS_KEY")) ||
	    copy(out->token, sizeof(out->token), env("AWS_SESSION_TOKEN"))) {
		snprintf(err, errlen, "AWS_* credentials in the environment are too long");
		return -1;
	}
	if (!out->secret_key[0]) {
		snprintf(err, errlen, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
		return -1;
	}
	return 0;
}

static void shared_file_path(char *out, size_t size)
{
	const char *f = env("AWS_SHARED_CREDENTIALS_FILE"), *home = env("HOME");

	if (f)
		snprintf(out, size, "%s", f);
	else
		snprintf(out, size, "%s/.aws/credentials", home ? home : "/root");
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* The profile's keys from an INI file: [profile] then key = value lines. */
static int from_file(struct aws_creds *out, char *err, size_t errlen)
{
	const char *profile = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
	char path[1024], line[4352], *l, *eq;
	bool in = false, found = false;
	FILE *f;

	shared_file_path(path, sizeof(path));
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		l = trim(line);
		if (*l == '[') {
			char *close = strchr(l, ']');

			if (close)
				*close = '\0';
			in = !strcmp(trim(l + 1), profile);
			found |= in;
			continue;
		}
		eq = strchr(l, '=');
		if (!in || !eq || *l == '#' || *l == ';')
			continue;
		*eq = '\0';
		l = trim(l);
		if (!strcmp(l, "aws_access_key_id"))
			copy(out->access_key, sizeof(out->access_key), trim(eq + 1));
		else if (!strcmp(l, "aws_secret_access_key"))
			copy(out->secret_key, sizeof(out->secret_key), trim(eq + 1));
		else if (!strcmp(l, "aws_session_token"))
			copy(out->token, sizeof(out->token), trim(eq + 1));
	}
	fclose(f);
	if (!found || !out->access_key[0] || !out->secret_key[0]) {
		snprintf(err, errlen, "%s: no aws_access_key_id and aws_secret_access_key in [%s]",
			 path, profile);
		return -1;
	}
	return 0;
}

/* ISO 8601 UTC ("2026-11-26T15:04:05Z", fractions allowed) to epoch seconds. */
static time_t parse_expiration(const char *s)
{
	struct tm tm = { 0 };

	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return -1;
	return timegm(&tm);
}

/* One request to a URL; the response is the caller's to free. */
static int fetch(struct creds *c, const char *url, const char *method, const struct sigv4_header *h,
		 size_t nh, const char *body, struct httpc_response *rs, char *err, size_t errlen)
{
	struct httpc_request rq = { method, NULL, h, nh, body, body ? strlen(body) : 0 };
	struct httpc_opts o = { .max_conns = 1, .timeout_ms = FETCH_TIMEOUT_MS };
	struct tls_client_opts to = { 0 };
	struct httpc *hc;
	struct url u;

	c->fetches++;
	if (url_parse(url, &u)) {
		snprintf(err, errlen, "bad credentials URL '%s'", url);
		return -1;
	}
	if (u.tls && !c->tls && !(c->tls = tls_client_new(&to, err, errlen)))
		return -1;
	o.host = u.host;
	o.port = u.port;
	o.tls = u.tls ? c->tls : NULL;
	rq.target = u.path;
	hc = httpc_new(&o);
	if (!hc) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	httpc_run(hc, &rq, rs, 1);
	httpc_free(hc);
	if (rs->status == 200)
		return 0;
	if (rs->status)
		snprintf(err, errlen, "%s: HTTP %d: %.*s", url, rs->status,
			 (int)(rs->body.len < 160 ? rs->body.len : 160), sb_str(&rs->body));
	else
		snprintf(err, errlen, "%s: %s", url, rs->errmsg);
	return -1;
}

static void form_add(struct strbuf *b, const char *k, const char *v)
{
	if (b->len)
		sb_addc(b, '&');
	sb_adds(b, k);
	sb_addc(b, '=');
	sigv4_uri_encode(b, v, strlen(v), false);
}

static int xml_field(const struct strbuf *body, const char *name, char *out, size_t size)
{
	struct strbuf v = { 0 };
	int r = xml_text(sb_str(body), body->len, name, &v);

	if (!r)
		r = copy(out, size, sb_str(&v));
	sb_free(&v);
	return r;
}

static int from_web_identity(struct creds *c, struct aws_creds *out, char *err, size_t errlen)
{
	static const struct sigv4_header h[] = {
		{ "Content-Type", "application/x-www-form-urlencoded" },
		{ "Accept", "application/xml" },
	};
	const char *tf = env("AWS_WEB_IDENTITY_TOKEN_FILE"), *arn = env("AWS_ROLE_ARN");
	const char *session = env("AWS_ROLE_SESSION_NAME");
	struct httpc_response rs = { 0 };
	struct strbuf form = { 0 };
	char token[8192] = "", url[512], exp[64] = "";
	int r = -1;

	if (!arn) {
		snprintf(err, errlen, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
		return -1;
	}
	if (read_small(tf, token, sizeof(token)) || !token[0]) {
		snprintf(err, errlen, "web identity token %s: %s", tf,
			 token[0] ? strerror(errno) : "empty");
		return -1;
	}
	if (env("AWS_ENDPOINT_URL_STS"))
		snprintf(url, sizeof(url), "%s", env("AWS_ENDPOINT_URL_STS"));
	else
		snprintf(url, sizeof(url), "https://sts.%s.amazonaws.com/", c->region);
	form_add(&form, "Action", "AssumeRoleWithWebIdentity");
	form_add(&form, "Version", "2011-06-15");
	form_add(&form, "RoleArn", arn);
	form_add(&form, "RoleSessionName", session ? session : "kerno");
	form_add(&form, "WebIdentityToken", token);
	if (form.oom || fetch(c, url, "POST", h, 2, form.s, &rs, err, errlen))
		goto out;
	if (xml_field(&rs.body, "AccessKeyId", out->access_key, sizeof(out->access_key)) ||
	    xml_field(&rs.body, "SecretAccessKey", out->secret_key, sizeof(out->secret_key)) ||
	    xml_field(&rs.body, "SessionToken", out->token, sizeof(out->token)) ||
	    xml_field(&rs.body, "Expiration", exp, sizeof(exp)) ||
	    (out->expires = parse_expiration(exp)) < 0) {
		snprintf(err, errlen, "%s: AssumeRoleWithWebIdentity reply without credentials",
			 url);
		goto out;
	}
	r = 0;
out:
	sb_free(&form);
	httpc_response_free(&rs);
	return r;
}

/* The JSON shape of the container endpoint and of IMDS. */
static int parse_json_creds(const struct strbuf *body, struct aws_creds *out, const char *url,
			    char *err, size_t errlen)
{
	json_t *j = json_loadb(sb_str(body), body->len, 0, NULL);
	const char *exp;
	int r = -1;

	exp = json_string_value(json_object_get(j, "Expiration"));
	if (!j ||
	    copy(out->access_key, sizeof(out->access_key),
		 json_string_value(json_object_get(j, "AccessKeyId"))) ||
	    copy(out->secret_key, sizeof(out->secret_key),
		 json_string_value(json_object_get(j, "SecretAccessKey"))) ||
	    copy(out->token, sizeof(out->token), json_string_value(json_object_get(j, "Token"))) ||
	    !out->access_key[0] || !out->secret_key[0]) {
		snprintf(err, errlen, "%s: reply without AccessKeyId and SecretAccessKey", url);
		goto out;
	}
	out->expires = exp ? parse_expiration(exp) : 0;
	if (out->expires < 0) {
		snprintf(err, errlen, "%s: bad Expiration '%s'", url, exp);
		goto out;
	}
	r = 0;
out:
	json_decref(j);
	return r;
}

static int from_container(struct creds *c, struct aws_creds *out, char *err, size_t errlen)
{
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *tf = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	struct sigv4_header h = { "Authorization", NULL };
	struct httpc_response rs = { 0 };
	char url[1024], token[4096] = "";
	int r = -1;

	if (full)
		snprintf(url, sizeof(url), "%s", full);
	else
		snprintf(url, sizeof(url), "http://169.254.170.2%s", rel);
	if (tf && read_small(tf, token, sizeof(token))) {
		snprintf(err, errlen, "container token %s: %s", tf, strerror(errno));
		return -1;
	}
	if (!tf && env("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
		snprintf(token, sizeof(token), "%s", env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
	h.value = token;
	if (!fetch(c, url, "GET", &h, token[0] ? 1 : 0, NULL, &rs, err, errlen))
		r = parse_json_creds(&rs.body, out, url, err, errlen);
	httpc_response_free(&rs);
	return r;
}

static int from_imds(struct creds *c, struct aws_creds *out, char *err, size_t errlen)
{
	const char *base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	struct sigv4_header ttl = { "X-aws-ec2-metadata-token-ttl-seconds", "21600" };
	struct sigv4_header tok = { "X-aws-ec2-metadata-token", NULL };
	struct httpc_response rs = { 0 };
	char url[1024], token[1024], role[256];
	size_t bl;
	int r = -1;

	if (!base)
		base = "http://169.254.169.254";
	bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	snprintf(url, sizeof(url), "%.*s/latest/api/token", (int)bl, base);
	if (fetch(c, url, "PUT", &ttl, 1, NULL, &rs, err, errlen) ||
	    copy(token, sizeof(token), trim(rs.body.s ? rs.body.s : "")))
		goto out;
	tok.value = token;
	httpc_response_free(&rs);
	memset(&rs, 0, sizeof(rs));
	snprintf(url, sizeof(url), "%.*s/latest/meta-data/iam/security-credentials/", (int)bl,
		 base);
	if (fetch(c, url, "GET", &tok, 1, NULL, &rs, err, errlen))
		goto out;
	snprintf(role, sizeof(role), "%.*s", (int)strcspn(sb_str(&rs.body), "\r\n"),
		 sb_str(&rs.body));
	if (!role[0] || strchr(role, '/')) {
		snprintf(err, errlen, "%s: no instance role", url);
		goto out;
	}
	httpc_response_free(&rs);
	memset(&rs, 0, sizeof(rs));
	snprintf(url, sizeof(url), "%.*s/latest/meta-data/iam/security-credentials/%s", (int)bl,
		 base, role);
	if (!fetch(c, url, "GET", &tok, 1, NULL, &rs, err, errlen))
		r = parse_json_creds(&rs.body, out, url, err, errlen);
out:
	httpc_response_free(&rs);
	return r;
}

static bool imds_disabled(void)
{
	const char *d = env("AWS_EC2_METADATA_DISABLED");

	return d && !strcasecmp(d, "true");
}

static int pick_source(enum source *src, char *err, size_t errlen)
{
	char path[1024];

	if (env("AWS_ACCESS_KEY_ID")) {
		*src = SRC_ENV;
	} else if (env("AWS_SHARED_CREDENTIALS_FILE") ||
		   (shared_file_path(path, sizeof(path)), !access(path, R_OK))) {
		*src = SRC_FILE;
	} else if (env("AWS_WEB_IDENTITY_TOKEN_FILE")) {
		*src = SRC_WEB_IDENTITY;
	} else if (env("AWS_CONTAINER_CREDENTIALS_FULL_URI") ||
		   env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
		*src = SRC_CONTAINER;
	} else if (!imds_disabled()) {
		*src = SRC_IMDS;
	} else {
		snprintf(err, errlen,
			 "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a "
			 "credentials file, IRSA, EKS Pod Identity, or run with an instance role");
		return -1;
	}
	return 0;
}

struct creds *creds_new(const char *region, char *err, size_t errlen)
{
	struct creds *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(c->region, sizeof(c->region), "%s", region);
	pthread_mutex_init(&c->lock, NULL);
	if (pick_source(&c->src, err, errlen)) {
		creds_free(c);
		return NULL;
	}
	return c;
}

void creds_free(struct creds *c)
{
	if (!c)
		return;
	tls_client_free(c->tls);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int fetch_source(struct creds *c, struct aws_creds *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->source = source_names[c->src];
	switch (c->src) {
	case SRC_ENV:
		return from_env(out, err, errlen);
	case SRC_FILE:
		return from_file(out, err, errlen);
	case SRC_WEB_IDENTITY:
		return from_web_identity(c, out, err, errlen);
	case SRC_CONTAINER:
		return from_container(c, out, err, errlen);
	case SRC_IMDS:
		return from_imds(c, out, err, errlen);
	}
	return -1;
}

int creds_get(struct creds *c, struct aws_creds *out, char *err, size_t errlen)
{
	time_t now = time(NULL);
	struct aws_creds fresh;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->have || (c->cached.expires && c->cached.expires - now <= CREDS_REFRESH_SECS)) {
		if (!fetch_source(c, &fresh, err, errlen)) {
			c->cached = fresh;
			c->have = true;
		} else if (c->have && c->cached.expires > now) {
			fprintf(stderr,
				"kerno: credentials refresh failed, using the current ones "
				"until they expire: %s\n",
				err);
		} else {
			r = -1;
		}
	}
	if (!r)
		*out = c->cached;
	pthread_mutex_unlock(&c->lock);
	return r;
}

void creds_expire(struct creds *c)
{
	pthread_mutex_lock(&c->lock);
	c->have = false;
	pthread_mutex_unlock(&c->lock);
}

unsigned long creds_fetches(const struct creds *c)
{
	return c->fetches;
}
