/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * AWS credentials, looked up in the AWS SDKs' order; the first source that
 * is configured is the one used:
 *
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
 *   2. shared credentials file: AWS_SHARED_CREDENTIALS_FILE or
 *      ~/.aws/credentials, profile AWS_PROFILE or "default";
 *   3. IRSA web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN
 *      (AWS_ROLE_SESSION_NAME), STS AssumeRoleWithWebIdentity at
 *      AWS_ENDPOINT_URL_STS or https://sts.REGION.amazonaws.com;
 *   4. EKS Pod Identity / container credentials:
 *      AWS_CONTAINER_CREDENTIALS_FULL_URI (or _RELATIVE_URI on
 *      169.254.170.2) with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (or _TOKEN);
 *   5. IMDSv2 at AWS_EC2_METADATA_SERVICE_ENDPOINT or 169.254.169.254,
 *      unless AWS_EC2_METADATA_DISABLED=true.
 *
 * Temporary credentials are fetched again once they are within
 * CREDS_REFRESH_SECS of expiring; if that fails while the old ones still
 * hold, the old ones are used and the failure is logged.
 */
#ifndef KERNO_CREDS_H
#define KERNO_CREDS_H

#include <stddef.h>
#include <time.h>

#include "tls.h"

#define CREDS_REFRESH_SECS 300

struct aws_creds {
	char access_key[128];
	char secret_key[256];
	char token[4096];
	time_t expires; /* 0: does not expire */
	const char *source; /* "environment", "shared-file", "web-identity", "container", "imds" */
};

struct creds;

/* NULL with a one-line message when no source is configured or the first one is unusable. */
struct creds *creds_new(const char *region, char *err, size_t errlen);
void creds_free(struct creds *c);

/* Current credentials (thread-safe): 0, or -1 with a one-line message. */
int creds_get(struct creds *c, struct aws_creds *out, char *err, size_t errlen);

/* The store refused the current credentials (ExpiredToken): fetch anew on the next get. */
void creds_expire(struct creds *c);

/* Times the source was asked (for tests and stats). */
unsigned long creds_fetches(const struct creds *c);

#endif /* KERNO_CREDS_H */
