/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where the Kubernetes API is and how to authenticate to it:
 * - in the cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
 *   the service account's CA and token under
 *   /var/run/secrets/kubernetes.io/serviceaccount/ (the token is read again
 *   for every connection: kubelet rotates it);
 * - outside: a kubeconfig (YAML), its current context's cluster (server,
 *   certificate-authority or certificate-authority-data) and user (token
 *   or tokenFile). Client certificates are not supported: the message
 *   says so.
 */
#ifndef KERNO_KUBECONF_H
#define KERNO_KUBECONF_H

#include <limits.h>
#include <stddef.h>

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kubeconf {
	char host[256];
	char port[8];
	char ca_file[PATH_MAX]; /* "" : the system bundle */
	char token_file[PATH_MAX]; /* re-read on every connection when set */
	char token[4096]; /* a token given inline */
	char ca_tmp[PATH_MAX]; /* certificate-authority-data written out, removed at free */
};

/*
 * mode: "auto" (in-cluster when KUBERNETES_SERVICE_HOST is set, else the
 * kubeconfig if given, else off), "in-cluster", "kubeconfig" or "off".
 * 1 with *c filled, 0 when off, -1 with a one-line message in err.
 */
int kubeconf_load(const char *mode, const char *kubeconfig, struct kubeconf *c, char *err,
		  size_t errlen);
void kubeconf_free(struct kubeconf *c);

/* The bearer token now (from the file when there is one). 0 or -1 with err. */
int kubeconf_token(const struct kubeconf *c, char *out, size_t size, char *err, size_t errlen);

#endif /* KERNO_KUBECONF_H */
