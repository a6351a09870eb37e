// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* S3 requests: addressing, signing, error replies, clock skew: see s3.h. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "creds.h"
#include "httpc.h"
#include "s3.h"
#include "sigv4.h"
#include "xml_lite.h"

#define MAX_EXTRA 4
/* Skews under this are normal clock noise against a 1-second Date. */
#define SKEW_MIN_SECS 30

struct s3 {
	struct s3_config cfg;
	char bucket[64], region[64], sse[16], kms[2048];
	struct url ep;
	bool path_style;
	char host_header[300];
	struct tls_client *tls;
	struct httpc *http;
	struct creds *creds;
	atomic_long skew;
};

struct s3_op {
	const char *method;
	const char *key; /* NULL: the bucket itself */
	const char *query;
	struct sigv4_header extra[MAX_EXTRA];
	size_t n_extra;
	const void *body;
	size_t len;
};

static const char *const alpn[] = { "h2", "http/1.1", NULL };

static int setup_endpoint(struct s3 *s, char *err, size_t errlen)
{
	bool dotted = strchr(s->bucket, '.') != NULL;
	char url[512];

	if (s->cfg.endpoint && *s->cfg.endpoint) {
		if (url_parse(s->cfg.endpoint, &s->ep)) {
			snprintf(err, errlen, "--s3-endpoint '%s': expected https://HOST[:PORT]",
				 s->cfg.endpoint);
			return -1;
		}
		if (!s->ep.tls) {
			snprintf(err, errlen,
				 "--s3-endpoint '%s': expected https://HOST[:PORT] (plain HTTP is "
				 "refused)",
				 s->cfg.endpoint);
			return -1;
		}
		s->path_style = true;
	} else {
		if (dotted)
			snprintf(url, sizeof(url), "https://s3.%s.amazonaws.com", s->region);
		else
			snprintf(url, sizeof(url), "https://%s.s3.%s.amazonaws.com", s->bucket,
				 s->region);
		url_parse(url, &s->ep);
		s->path_style = dotted;
	}
	snprintf(s->host_header, sizeof(s->host_header), "%s%s%s", s->ep.host,
		 strcmp(s->ep.port, "443") ? ":" : "", strcmp(s->ep.port, "443") ? s->ep.port : "");
	return 0;
}

struct s3 *s3_new(const struct s3_config *cfg, char *err, size_t errlen)
{
	struct tls_client_opts to = { .ca_file = cfg->ca_file, .alpn = alpn };
	struct s3 *s = calloc(1, sizeof(*s));
	struct httpc_opts ho;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	if (snprintf(s->bucket, sizeof(s->bucket), "%s", cfg->bucket) >= (int)sizeof(s->bucket) ||
	    !s->bucket[0]) {
		snprintf(err, errlen, "--s3-bucket '%s': 1 to 63 characters expected", cfg->bucket);
		goto fail;
	}
	snprintf(s->region, sizeof(s->region), "%s",
		 cfg->region && *cfg->region ? cfg->region : "us-east-1");
	snprintf(s->sse, sizeof(s->sse), "%s", cfg->sse ? cfg->sse : "");
	snprintf(s->kms, sizeof(s->kms), "%s", cfg->kms_key_id ? cfg->kms_key_id : "");
	if (setup_endpoint(s, err, errlen))
		goto fail;
	s->tls = tls_client_new(&to, err, errlen);
	if (!s->tls)
		goto fail;
	ho = (struct httpc_opts){ s->ep.host, s->ep.port, s->tls, cfg->max_conns, cfg->timeout_ms };
	s->http = httpc_new(&ho);
	s->creds = creds_new(s->region, err, errlen);
	if (!s->http || !s->creds)
		goto fail;
	return s;
fail:
	s3_free(s);
	return NULL;
}

void s3_free(struct s3 *s)
{
	if (!s)
		return;
	httpc_free(s->http);
	tls_client_free(s->tls);
	creds_free(s->creds);
	free(s);
}

const char *s3_protocol(const struct s3 *s)
{
	return httpc_protocol(s->http);
}

long s3_clock_skew(const struct s3 *s)
{
	return atomic_load(&s->skew);
}

unsigned int s3_backoff_ms(unsigned int attempt, unsigned int cap_ms)
{
	unsigned long long ceiling = 200ULL << (attempt > 16 ? 16 : attempt);
	uint32_t r = 0;

	if (ceiling > cap_ms)
		ceiling = cap_ms;
	RAND_bytes((uint8_t *)&r, sizeof(r));
	return (unsigned int)(ceiling / 2 + r % (ceiling / 2 + 1));
}

/* The unencoded path of an operation, for signing; its encoded form goes on the wire. */
static void op_path(const struct s3 *s, const struct s3_op *op, struct strbuf *raw)
{
	sb_addc(raw, '/');
	if (s->path_style) {
		sb_adds(raw, s->bucket);
		if (op->key)
			sb_addc(raw, '/');
	}
	if (op->key)
		sb_adds(raw, op->key);
}

struct signed_req {
	struct sigv4_output sig;
	struct sigv4_header hdrs[MAX_EXTRA + 4];
	struct strbuf target;
	char payload_hash[65];
};

static int sign_op(struct s3 *s, const struct s3_op *op, const struct aws_creds *c,
		   struct signed_req *sr, struct httpc_request *rq)
{
	struct sigv4_header sh[MAX_EXTRA + 1];
	struct strbuf raw = { 0 };
	size_t n = 0, i;
	int r;

	op_path(s, op, &raw);
	sigv4_sha256_hex(op->body ? op->body : "", op->len, sr->payload_hash);
	sh[n++] = (struct sigv4_header){ "host", s->host_header };
	for (i = 0; i < op->n_extra; i++)
		sh[n++] = op->extra[i];
	struct sigv4_input in = {
		.method = op->method,
		.path = sb_str(&raw),
		.query = op->query,
		.headers = sh,
		.n_headers = n,
		.payload_hash = sr->payload_hash,
		.region = s->region,
		.service = "s3",
		.when = time(NULL) + atomic_load(&s->skew),
		.content_sha256_header = true,
		.sign_token = true,
	};
	struct sigv4_creds sc = { c->access_key, c->secret_key, c->token };

	r = sigv4_sign(&in, &sc, &sr->sig);
	sigv4_uri_encode(&sr->target, raw.s, raw.len, true);
	if (op->query && *op->query)
		sb_addf(&sr->target, "?%s", op->query);
	sb_free(&raw);
	n = 0;
	for (i = 0; i < op->n_extra; i++)
		sr->hdrs[n++] = op->extra[i];
	sr->hdrs[n++] = (struct sigv4_header){ "X-Amz-Date", sr->sig.amz_date };
	sr->hdrs[n++] = (struct sigv4_header){ "X-Amz-Content-SHA256", sr->payload_hash };
	if (c->token[0])
		sr->hdrs[n++] = (struct sigv4_header){ "X-Amz-Security-Token", c->token };
	sr->hdrs[n++] = (struct sigv4_header){ "Authorization", sr->sig.authorization };
	*rq = (struct httpc_request){ op->method, sb_str(&sr->target), sr->hdrs, n, op->body,
				      op->len };
	return r || sr->target.oom ? -1 : 0;
}

static void note_date(struct s3 *s, const struct httpc_response *rs)
{
	char date[64];
	struct tm tm = { 0 };
	long d;

	if (httpc_header(rs, "Date", date, sizeof(date)) ||
	    !strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm))
		return;
	d = (long)(timegm(&tm) - time(NULL));
	atomic_store(&s->skew, d > SKEW_MIN_SECS || d < -SKEW_MIN_SECS ? d : 0);
}

static bool retryable_code(const char *code)
{
	static const char *const codes[] = {
		"SlowDown",	"RequestTimeout",      "RequestTimeTooSkewed",
		"ExpiredToken", "InternalError",       "ServiceUnavailable",
		"Throttling",	"RequestLimitExceeded"
	};
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!strcmp(code, codes[i]))
			return true;
	return false;
}

/* Code and Message of an S3 <Error> body into res. */
static void parse_error(const struct strbuf *body, struct s3_result *res)
{
	struct strbuf code = { 0 }, msg = { 0 };

	if (!xml_text(sb_str(body), body->len, "Code", &code))
		snprintf(res->code, sizeof(res->code), "%s", sb_str(&code));
	xml_text(sb_str(body), body->len, "Message", &msg);
	if (res->code[0])
		snprintf(res->msg, sizeof(res->msg), "%s: %s (HTTP %d)", res->code,
			 msg.len ? sb_str(&msg) : "no message", res->status);
	else
		snprintf(res->msg, sizeof(res->msg), "HTTP %d without an S3 error code",
			 res->status);
	sb_free(&code);
	sb_free(&msg);
}

static void classify(struct s3 *s, const struct httpc_response *rs, struct s3_result *res)
{
	char etag[sizeof(res->etag)];
	const struct strbuf *b = &rs->body;

	memset(res, 0, sizeof(*res));
	res->status = rs->status;
	if (!rs->status) {
		res->retryable = true;
		snprintf(res->msg, sizeof(res->msg), "%s", rs->errmsg);
		return;
	}
	note_date(s, rs);
	/* CompleteMultipartUpload can answer 200 and an <Error> body. */
	if (rs->status / 100 == 2 && !(b->len && strstr(sb_str(b), "<Error>"))) {
		res->ok = true;
		if (!httpc_header(rs, "ETag", etag, sizeof(etag)))
			snprintf(res->etag, sizeof(res->etag), "%s", etag);
		return;
	}
	parse_error(b, res);
	res->retryable = rs->status >= 500 || rs->status == 429 || retryable_code(res->code);
	if (!strcmp(res->code, "ExpiredToken") || !strcmp(res->code, "InvalidToken"))
		creds_expire(s->creds);
}

static void run_ops(struct s3 *s, const struct s3_op *ops, size_t n, struct s3_result *res,
		    struct strbuf *bodies)
{
	struct signed_req *sr = calloc(n ? n : 1, sizeof(*sr));
	struct httpc_request *rq = calloc(n ? n : 1, sizeof(*rq));
	struct httpc_response *rs = calloc(n ? n : 1, sizeof(*rs));
	struct aws_creds c;
	char err[300];
	size_t i;

	if (!sr || !rq || !rs) {
		for (i = 0; i < n; i++)
			res[i] = (struct s3_result){ .retryable = true, .msg = "out of memory" };
		goto out;
	}
	if (creds_get(s->creds, &c, err, sizeof(err))) {
		for (i = 0; i < n; i++) {
			memset(&res[i], 0, sizeof(res[i]));
			res[i].retryable = true;
			snprintf(res[i].msg, sizeof(res[i].msg), "credentials: %s", err);
		}
		goto out;
	}
	for (i = 0; i < n; i++)
		sign_op(s, &ops[i], &c, &sr[i], &rq[i]);
	httpc_run(s->http, rq, rs, n);
	for (i = 0; i < n; i++) {
		classify(s, &rs[i], &res[i]);
		if (bodies) {
			bodies[i] = rs[i].body;
			memset(&rs[i].body, 0, sizeof(rs[i].body));
		}
	}
out:
	for (i = 0; sr && rs && i < n; i++) {
		sigv4_output_free(&sr[i].sig);
		sb_free(&sr[i].target);
		httpc_response_free(&rs[i]);
	}
	explicit_bzero(&c, sizeof(c));
	free(sr);
	free(rq);
	free(rs);
}

/* SSE headers for the requests that create objects. */
static void add_sse(const struct s3 *s, struct s3_op *op)
{
	if (!s->sse[0])
		return;
	op->extra[op->n_extra++] = (struct sigv4_header){ "x-amz-server-side-encryption", s->sse };
	if (s->kms[0] && !strcmp(s->sse, "aws:kms"))
		op->extra[op->n_extra++] =
			(struct sigv4_header){ "x-amz-server-side-encryption-aws-kms-key-id",
					       s->kms };
}

struct put_stream {
	struct s3 *s;
	const struct s3_put_feed *f;
	void *arg;
	struct aws_creds c;
	const char *creds_err; /* set: every object fails with it */
};

struct put_one {
	struct s3_op op;
	struct signed_req sr;
	struct httpc_request rq;
	struct httpc_response rs;
	void *token;
};

static int put_next(void *arg, const struct httpc_request **rq, struct httpc_response **rs,
		    void **token)
{
	struct put_stream *ps = arg;
	struct put_one *p;
	struct s3_result res = { .retryable = true };

	for (;;) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return -1;
		p->op = (struct s3_op){ .method = "PUT" };
		if (ps->f->next(ps->arg, &p->op.key, &p->op.body, &p->op.len, &p->token)) {
			free(p);
			return -1;
		}
		p->op.extra[p->op.n_extra++] =
			(struct sigv4_header){ "Content-Type", "application/gzip" };
		add_sse(ps->s, &p->op);
		if (!ps->creds_err && !sign_op(ps->s, &p->op, &ps->c, &p->sr, &p->rq)) {
			*rq = &p->rq;
			*rs = &p->rs;
			*token = p;
			return 0;
		}
		/* Not sent: the object fails at once and the feed moves on. */
		snprintf(res.msg, sizeof(res.msg), "%s",
			 ps->creds_err ? ps->creds_err : "cannot sign");
		ps->f->done(ps->arg, p->token, &res);
		sigv4_output_free(&p->sr.sig);
		sb_free(&p->sr.target);
		free(p);
	}
}

static void put_done(void *arg, void *token)
{
	struct put_stream *ps = arg;
	struct put_one *p = token;
	struct s3_result res;

	classify(ps->s, &p->rs, &res);
	ps->f->done(ps->arg, p->token, &res);
	sigv4_output_free(&p->sr.sig);
	sb_free(&p->sr.target);
	httpc_response_free(&p->rs);
	free(p);
}

void s3_put_stream(struct s3 *s, const struct s3_put_feed *f, void *arg, size_t max_inflight)
{
	static const struct httpc_feed ops = { put_next, put_done };
	struct put_stream ps = { s, f, arg };
	char err[300], msg[340];

	if (creds_get(s->creds, &ps.c, err, sizeof(err))) {
		snprintf(msg, sizeof(msg), "credentials: %s", err);
		ps.creds_err = msg;
	}
	httpc_stream(s->http, &ops, &ps, max_inflight);
	explicit_bzero(&ps.c, sizeof(ps.c));
}

void s3_create_upload(struct s3 *s, const char *key, struct s3_result *res)
{
	struct s3_op op = { .method = "POST", .key = key, .query = "uploads" };
	struct strbuf body = { 0 }, id = { 0 };

	op.extra[op.n_extra++] = (struct sigv4_header){ "Content-Type", "application/gzip" };
	add_sse(s, &op);
	run_ops(s, &op, 1, res, &body);
	if (res->ok && (xml_text(sb_str(&body), body.len, "UploadId", &id) || !id.len ||
			id.len >= sizeof(res->upload_id))) {
		res->ok = false;
		res->retryable = true;
		snprintf(res->msg, sizeof(res->msg),
			 "CreateMultipartUpload reply without UploadId");
	} else if (res->ok) {
		memcpy(res->upload_id, id.s, id.len + 1);
	}
	sb_free(&body);
	sb_free(&id);
}

void s3_upload_parts(struct s3 *s, const char *key, const char *upload_id, const int *numbers,
		     const void *const *data, const size_t *lens, size_t n, struct s3_result *res)
{
	struct s3_op *ops = calloc(n ? n : 1, sizeof(*ops));
	struct strbuf *q = calloc(n ? n : 1, sizeof(*q));
	size_t i;

	for (i = 0; ops && q && i < n; i++) {
		sb_addf(&q[i], "partNumber=%d&uploadId=", numbers[i]);
		sigv4_uri_encode(&q[i], upload_id, strlen(upload_id), false);
		ops[i] = (struct s3_op){ .method = "PUT",
					 .key = key,
					 .query = sb_str(&q[i]),
					 .body = data[i],
					 .len = lens[i] };
	}
	if (ops && q)
		run_ops(s, ops, n, res, NULL);
	for (i = 0; i < n; i++) {
		if (!ops || !q)
			res[i] = (struct s3_result){ .retryable = true, .msg = "out of memory" };
		else if (res[i].ok && !res[i].etag[0])
			res[i] = (struct s3_result){ .retryable = true,
						     .msg = "UploadPart reply without ETag" };
		if (q)
			sb_free(&q[i]);
	}
	free(ops);
	free(q);
}

void s3_complete_upload(struct s3 *s, const char *key, const char *upload_id,
			const struct s3_part *parts, size_t n, struct s3_result *res)
{
	struct s3_op op = { .method = "POST", .key = key };
	struct strbuf q = { 0 }, body = { 0 };
	size_t i;

	sb_adds(&q, "uploadId=");
	sigv4_uri_encode(&q, upload_id, strlen(upload_id), false);
	sb_adds(&body,
		"<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (i = 0; i < n; i++)
		sb_addf(&body, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
			parts[i].number, parts[i].etag);
	sb_adds(&body, "</CompleteMultipartUpload>");
	op.query = sb_str(&q);
	op.body = body.s;
	op.len = body.len;
	op.extra[op.n_extra++] = (struct sigv4_header){ "Content-Type", "application/xml" };
	if (q.oom || body.oom)
		*res = (struct s3_result){ .retryable = true, .msg = "out of memory" };
	else
		run_ops(s, &op, 1, res, NULL);
	sb_free(&q);
	sb_free(&body);
}

void s3_abort_upload(struct s3 *s, const char *key, const char *upload_id, struct s3_result *res)
{
	struct s3_op op = { .method = "DELETE", .key = key };
	struct strbuf q = { 0 };

	sb_adds(&q, "uploadId=");
	sigv4_uri_encode(&q, upload_id, strlen(upload_id), false);
	op.query = sb_str(&q);
	run_ops(s, &op, 1, res, NULL);
	sb_free(&q);
}

void s3_head_object(struct s3 *s, const char *key, struct s3_result *res)
{
	struct s3_op op = { .method = "HEAD", .key = key };

	run_ops(s, &op, 1, res, NULL);
	if (res->status == 404) {
		snprintf(res->code, sizeof(res->code), "NoSuchKey");
		snprintf(res->msg, sizeof(res->msg), "NoSuchKey: %s (HTTP 404)", key);
	}
}

static int parse_uploads(const struct strbuf *body, struct s3_upload *out, int max)
{
	const char *inner;
	size_t pos = 0, ilen;
	int n = 0;

	while (n < max && !xml_next(sb_str(body), body->len, "Upload", &pos, &inner, &ilen)) {
		struct strbuf k = { 0 }, id = { 0 }, t = { 0 };
		struct tm tm = { 0 };

		if (!xml_text(inner, ilen, "Key", &k) && !xml_text(inner, ilen, "UploadId", &id) &&
		    k.len < sizeof(out[n].key) && id.len < sizeof(out[n].upload_id) && k.len &&
		    id.len) {
			memcpy(out[n].key, k.s, k.len + 1);
			memcpy(out[n].upload_id, id.s, id.len + 1);
			out[n].initiated = 0;
			if (!xml_text(inner, ilen, "Initiated", &t) &&
			    strptime(sb_str(&t), "%Y-%m-%dT%H:%M:%S", &tm))
				out[n].initiated = (long long)timegm(&tm);
			n++;
		}
		sb_free(&k);
		sb_free(&id);
		sb_free(&t);
	}
	return n;
}

int s3_list_uploads(struct s3 *s, const char *prefix, struct s3_upload *out, int max,
		    struct s3_result *res)
{
	struct s3_op op = { .method = "GET" };
	struct strbuf q = { 0 }, body = { 0 };
	int n = -1;

	sb_adds(&q, "prefix=");
	sigv4_uri_encode(&q, prefix, strlen(prefix), false);
	sb_adds(&q, "&uploads=");
	op.query = sb_str(&q);
	run_ops(s, &op, 1, res, &body);
	if (res->ok)
		n = parse_uploads(&body, out, max);
	sb_free(&q);
	sb_free(&body);
	return n;
}
