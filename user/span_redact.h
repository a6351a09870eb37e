/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Credentials out of span payloads, before anything is written (DESIGN.md,
 * privacy). The input is the first bytes of a message as the kernel kept
 * them: possibly cut anywhere, possibly not text. The output is printable
 * ASCII (other bytes become '.'), with every value that may carry a secret
 * replaced by SPAN_REDACTED:
 *
 *   - header values whose name says credential: Authorization,
 *     Proxy-Authorization, Cookie, Set-Cookie, and any name containing
 *     auth, cookie, token, key, secret, passw, session, signature,
 *     credential (X-Api-Key, Api-Key, X-Auth-Token, X-Amz-Security-Token...),
 *     including their folded continuation lines;
 *   - in URLs (the request target, Location, Referer, Content-Location,
 *     Origin): the userinfo's password, every query value and the fragment;
 *   - the values of an application/x-www-form-urlencoded body (a query
 *     string by another name);
 *   - header-block lines that are not "name: value" (nothing says what they
 *     hold).
 *
 * Every query value goes, not only those named like a secret: tokens travel
 * under any name (sig, code, X-Amz-Signature, access_token, state), and no
 * list of names is ever complete; the keys stay, which is what explains a
 * request. Bodies of other types stay as they are: they are what explains
 * an error, and they only go to the customer's own object store.
 *
 * SQL: span_redact_sql() replaces string literals (quoted, E'', $$...$$),
 * numbers and comments by '?'; span_redact_db_request() finds the statement
 * in a PostgreSQL or MySQL request and redacts it so.
 */
#ifndef KERNO_SPAN_REDACT_H
#define KERNO_SPAN_REDACT_H

#include <stddef.h>

#include "strbuf.h"

#define SPAN_REDACTED "[redacted]"

/* Append the redacted form of an HTTP/1.x message head (and body bytes) to out. */
void span_redact_http(const char *in, size_t len, struct strbuf *out);

/* Append a URL (or request target) with password, query values and fragment redacted. */
void span_redact_url(const char *in, size_t len, struct strbuf *out);

/* Append a query string (without its '?') with every value redacted. */
void span_redact_query(const char *in, size_t len, struct strbuf *out);

/* Append SQL with its literals and comments replaced by '?'. */
void span_redact_sql(const char *in, size_t len, struct strbuf *out);

/*
 * Append the redacted statement of a database request's first bytes (a
 * PostgreSQL Query or Parse message, a MySQL COM_QUERY or COM_STMT_PREPARE
 * packet; proto is enum kerno_proto), or nothing when they hold none: a
 * Redis command's arguments are never shown (AUTH carries a password).
 */
void span_redact_db_request(unsigned int proto, const char *in, size_t len, struct strbuf *out);

#endif /* KERNO_SPAN_REDACT_H */
