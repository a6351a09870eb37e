/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Credentials out of log records before they are stored (DESIGN.md:
 * credentials are redacted in logs written to object storage too, by
 * default). Replaced by "[REDACTED]":
 *
 *   - the value after a key that names a secret (password, passwd, secret,
 *     token, api_key / apikey / api-key, authorization, cookie, session,
 *     credential, private_key, in any case, as part of a longer key too:
 *     db_password, X-Api-Key), whether written key=value, key: value or
 *     "key":"value"; after an auth scheme (Bearer, Basic, Token) the scheme
 *     stays and what follows goes;
 *   - the password of a URL's user information (scheme://user:PASSWORD@host).
 */
#ifndef KERNO_LOG_REDACT_H
#define KERNO_LOG_REDACT_H

#include <stddef.h>

struct log_redactor {
	char *buf;
	size_t cap;
	unsigned long long redacted; /* values replaced */
};

/*
 * The text with credentials replaced: `in` itself when there are none,
 * else r->buf (valid until the next call); *out_len its length. NULL when
 * memory ran out with a credential found: the caller must drop the record.
 */
const char *log_redact(struct log_redactor *r, const char *in, size_t len, size_t *out_len);

void log_redactor_free(struct log_redactor *r);

#endif /* KERNO_LOG_REDACT_H */
