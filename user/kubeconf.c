// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* In-cluster configuration and kubeconfig files: see kubeconf.h. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/base64.h>
#include <yaml.h>

#include "kubeconf.h"

#define MAX_YAML_BYTES (4 << 20)
#define MAX_DEPTH 32

/* YAML node -> JSON value; scalars all become strings (a kubeconfig needs no more). */
static json_t *yaml_to_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	yaml_node_item_t *it;
	yaml_node_pair_t *p;
	json_t *out;

	if (!n || depth > MAX_DEPTH)
		return NULL;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return json_stringn((const char *)n->data.scalar.value, n->data.scalar.length);
	case YAML_SEQUENCE_NODE:
		out = json_array();
		for (it = n->data.sequence.items.start; out && it < n->data.sequence.items.top;
		     it++)
			json_array_append_new(out,
					      yaml_to_json(doc, yaml_document_get_node(doc, *it),
							   depth + 1));
		return out;
	case YAML_MAPPING_NODE:
		out = json_object();
		for (p = n->data.mapping.pairs.start; out && p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			json_t *v =
				yaml_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);

			if (k && k->type == YAML_SCALAR_NODE && v)
				json_object_set_new(out, (const char *)k->data.scalar.value, v);
			else
				json_decref(v);
		}
		return out;
	default:
		return NULL;
	}
}

static json_t *load_yaml(const char *path, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	json_t *out = NULL;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(err, errlen, "cannot read the kubeconfig %s: %s", path, strerror(errno));
		return NULL;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (yaml_parser_load(&parser, &doc)) {
		out = yaml_to_json(&doc, yaml_document_get_root_node(&doc), 0);
		yaml_document_delete(&doc);
	}
	if (!out)
		snprintf(err, errlen, "the kubeconfig %s is not valid YAML: %s", path,
			 parser.problem ? parser.problem : "empty");
	yaml_parser_delete(&parser);
	fclose(f);
	return out;
}

/* The entry of list `name` (clusters, users, contexts) whose name is `key`: its `field`. */
static json_t *named(json_t *root, const char *list, const char *key, const char *field)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(root, list), i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));

		if (n && key && !strcmp(n, key))
			return json_object_get(e, field);
	}
	return NULL;
}

/* "https://host[:port][/]" into host and port. */
static int parse_server(const char *url, struct kubeconf *c)
{
	const char *h, *end, *colon;
	size_t hl;

	if (!url || strncmp(url, "https://", 8))
		return -1;
	h = url + 8;
	end = h + strcspn(h, "/");
	if (*h == '[') {
		const char *rb = memchr(h, ']', end - h);

		if (!rb)
			return -1;
		colon = rb[1] == ':' ? rb + 1 : NULL;
		hl = rb - h - 1;
		h++;
	} else {
		colon = memchr(h, ':', end - h);
		hl = (colon ? colon : end) - h;
	}
	if (!hl || hl >= sizeof(c->host))
		return -1;
	memcpy(c->host, h, hl);
	c->host[hl] = '\0';
	if (colon) {
		size_t pl = end - colon - 1;

		if (!pl || pl >= sizeof(c->port))
			return -1;
		memcpy(c->port, colon + 1, pl);
		c->port[pl] = '\0';
	} else {
		snprintf(c->port, sizeof(c->port), "443");
	}
	return 0;
}

static int write_ca_data(struct kubeconf *c, const char *b64, char *err, size_t errlen)
{
	size_t len = strlen(b64), out_len;
	uint8_t *pem = malloc(len);
	int fd, ret = -1;

	if (!pem)
		return -1;
	if (!EVP_DecodeBase64(pem, &out_len, len, (const uint8_t *)b64, len)) {
		snprintf(err, errlen, "certificate-authority-data in the kubeconfig is not base64");
		goto out;
	}
	snprintf(c->ca_tmp, sizeof(c->ca_tmp), "/tmp/kerno-kube-ca-XXXXXX");
	fd = mkstemp(c->ca_tmp);
	if (fd < 0 || write(fd, pem, out_len) != (ssize_t)out_len) {
		snprintf(err, errlen, "cannot write the kubeconfig's CA to /tmp: %s",
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	snprintf(c->ca_file, sizeof(c->ca_file), "%s", c->ca_tmp);
	ret = 0;
out:
	free(pem);
	return ret;
}

static int from_kubeconfig(const char *path, struct kubeconf *c, char *err, size_t errlen)
{
	json_t *root = load_yaml(path, err, errlen), *ctx, *cluster, *user;
	const char *cur, *v;
	int ret = -1;

	if (!root)
		return -1;
	cur = json_string_value(json_object_get(root, "current-context"));
	ctx = named(root, "contexts", cur, "context");
	cluster = named(root, "clusters", json_string_value(json_object_get(ctx, "cluster")),
			"cluster");
	user = named(root, "users", json_string_value(json_object_get(ctx, "user")), "user");
	if (!ctx || !cluster) {
		snprintf(err, errlen, "the kubeconfig %s has no usable current-context", path);
		goto out;
	}
	if (parse_server(json_string_value(json_object_get(cluster, "server")), c)) {
		snprintf(err, errlen, "the kubeconfig's server must be https://HOST[:PORT]");
		goto out;
	}
	if ((v = json_string_value(json_object_get(cluster, "certificate-authority"))))
		snprintf(c->ca_file, sizeof(c->ca_file), "%s", v);
	else if ((v = json_string_value(json_object_get(cluster, "certificate-authority-data"))) &&
		 write_ca_data(c, v, err, errlen))
		goto out;
	if ((v = json_string_value(json_object_get(user, "token"))))
		snprintf(c->token, sizeof(c->token), "%s", v);
	else if ((v = json_string_value(json_object_get(user, "tokenFile"))))
		snprintf(c->token_file, sizeof(c->token_file), "%s", v);
	else {
		snprintf(err, errlen,
			 "the kubeconfig's user has no token or tokenFile (client certificates "
			 "and exec plugins are not supported)");
		goto out;
	}
	ret = 0;
out:
	json_decref(root);
	return ret;
}

int kubeconf_load(const char *mode, const char *kubeconfig, struct kubeconf *c, char *err,
		  size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	bool has_kc = kubeconfig && *kubeconfig;

	memset(c, 0, sizeof(*c));
	if (!mode || !strcmp(mode, "off"))
		return 0;
	if (!strcmp(mode, "auto"))
		mode = host && *host ? "in-cluster" : has_kc ? "kubeconfig" : "off";
	if (!strcmp(mode, "off"))
		return 0;
	if (!strcmp(mode, "kubeconfig")) {
		if (!has_kc) {
			snprintf(err, errlen, "--kube-api kubeconfig needs --kubeconfig FILE");
			return -1;
		}
		return from_kubeconfig(kubeconfig, c, err, errlen) ? -1 : 1;
	}
	if (strcmp(mode, "in-cluster")) {
		snprintf(err, errlen, "--kube-api must be auto, in-cluster, kubeconfig or off");
		return -1;
	}
	if (!host || !*host) {
		snprintf(err, errlen, "--kube-api in-cluster: KUBERNETES_SERVICE_HOST is not set");
		return -1;
	}
	snprintf(c->host, sizeof(c->host), "%s", host);
	snprintf(c->port, sizeof(c->port), "%s", port && *port ? port : "443");
	snprintf(c->ca_file, sizeof(c->ca_file), "%s/ca.crt", KUBE_SA_DIR);
	snprintf(c->token_file, sizeof(c->token_file), "%s/token", KUBE_SA_DIR);
	if (access(c->token_file, R_OK)) {
		snprintf(err, errlen, "cannot read the service account token %s: %s", c->token_file,
			 strerror(errno));
		return -1;
	}
	return 1;
}

void kubeconf_free(struct kubeconf *c)
{
	if (c->ca_tmp[0])
		unlink(c->ca_tmp);
	c->ca_tmp[0] = '\0';
}

int kubeconf_token(const struct kubeconf *c, char *out, size_t size, char *err, size_t errlen)
{
	size_t n;
	FILE *f;

	if (!c->token_file[0]) {
		snprintf(out, size, "%s", c->token);
		return 0;
	}
	f = fopen(c->token_file, "re");
	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", c->token_file, strerror(errno));
		return -1;
	}
	n = fread(out, 1, size - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n && isspace((unsigned char)out[n - 1]))
		out[--n] = '\0';
	return 0;
}
