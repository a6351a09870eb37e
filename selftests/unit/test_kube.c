// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Watch streams, chunked framing, kubeconfig, owner chains and event grouping. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "k8sevents.h"
#include "kubecache.h"
#include "kubeconf.h"
#include "kubewatch.h"

struct seen {
	char log[1024];
};

static int record(void *ctx, const char *type, json_t *obj)
{
	struct seen *s = ctx;
	const char *name =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	size_t n = strlen(s->log);

	snprintf(s->log + n, sizeof(s->log) - n, "%s:%s:%d;", type, name ? name : "-",
		 kubewatch_status_code(obj));
	return 0;
}

static void test_watch_lines(void **state)
{
	static const char stream[] =
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"
		"not json\n"
		"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"7\"}}}\r\n"
		"{\"type\":\"ODD\",\"object\":{}}\n"
		"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"" /* long line follows */;
	static const char tail[] =
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}}\n"
		"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}\n";
	struct kubewatch w;
	struct seen s = {};
	size_t i;

	kubewatch_init(&w, 100);
	/* One byte at a time: lines are put together across pieces. */
	for (i = 0; i < sizeof(stream) - 1; i++)
		assert_int_equal(kubewatch_feed(&w, stream + i, 1, record, &s), 0);
	assert_int_equal(kubewatch_feed(&w, tail, sizeof(tail) - 1, record, &s), 0);
	assert_string_equal(s.log, "ADDED:a:0;BOOKMARK:-:0;ERROR:-:410;");
	assert_int_equal(w.events, 3);
	assert_int_equal(w.bad, 2);
	assert_int_equal(w.too_long, 1);
	kubewatch_free(&w);
}

static char chunk_out[256];

static int collect(void *ctx, const char *data, size_t len)
{
	strncat(chunk_out, data, len);
	return 0;
}

static void test_chunked(void **state)
{
	static const char body[] = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
	struct kubechunk c = {};
	size_t i;
	int ret = 0;

	chunk_out[0] = '\0';
	for (i = 0; i < sizeof(body) - 1 && !ret; i++)
		ret = kubechunk_feed(&c, body + i, 1, collect, NULL);
	assert_int_equal(ret, 1);
	assert_int_equal(i, sizeof(body) - 1);
	assert_string_equal(chunk_out, "hello, world");
	memset(&c, 0, sizeof(c));
	assert_int_equal(kubechunk_feed(&c, "zz\r\n", 4, collect, NULL), -EBADMSG);
	memset(&c, 0, sizeof(c));
	assert_int_equal(kubechunk_feed(&c, "2\r\nabX\n", 7, collect, NULL), -EBADMSG);
}

static void test_kubeconfig(void **state)
{
	char path[] = "/tmp/kerno-kubeconfig-XXXXXX", err[256];
	struct kubeconf c;
	char token[64];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	/* "-----BEGIN X-----\n" in base64, as certificate-authority-data holds PEM. */
	fputs("apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n"
	      "    server: https://other:1\n- name: c1\n  cluster:\n"
	      "    server: https://10.1.2.3:6443/\n"
	      "    certificate-authority-data: LS0tLS1CRUdJTiBYLS0tLS0K\n"
	      "contexts:\n- name: ctx\n  context: {cluster: c1, user: u1}\n"
	      "current-context: ctx\nusers:\n- name: u1\n  user:\n    token: abc.def\n",
	      f);
	fclose(f);
	assert_int_equal(kubeconf_load("auto", path, &c, err, sizeof(err)), 1);
	assert_string_equal(c.host, "10.1.2.3");
	assert_string_equal(c.port, "6443");
	assert_string_equal(c.ca_file, c.ca_tmp);
	assert_int_equal(kubeconf_token(&c, token, sizeof(token), err, sizeof(err)), 0);
	assert_string_equal(token, "abc.def");
	f = fopen(c.ca_file, "r");
	assert_non_null(f);
	assert_non_null(fgets(token, sizeof(token), f));
	fclose(f);
	assert_string_equal(token, "-----BEGIN X-----\n");
	kubeconf_free(&c);
	assert_int_equal(kubeconf_load("off", path, &c, err, sizeof(err)), 0);
	assert_int_equal(kubeconf_load("sideways", path, &c, err, sizeof(err)), -1);
	f = fopen(path, "w");
	fputs("current-context: [unclosed\n", f);
	fclose(f);
	assert_int_equal(kubeconf_load("kubeconfig", path, &c, err, sizeof(err)), -1);
	unlink(path);
}

static void put(struct kubecache *c, enum kube_kind kind, const char *json)
{
	json_t *j = json_loads(json, 0, NULL);
	struct kobj *o = kobj_parse(kind, j);
	bool was_new, changed;

	assert_non_null(o);
	assert_int_equal(kubecache_put(c, kind, o, &was_new, &changed), 0);
	json_decref(j);
}

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_owner_chain(void **state)
{
	struct kubecache c;
	struct kube_identity id;
	char ns[64], wl[300];

	kubecache_init(&c, 10);
	put(&c, KK_POD,
	    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"n\",\"uid\":\"u\",\"ownerReferences\":"
	    "[{\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"controller\":true}]},"
	    "\"spec\":{\"nodeName\":\"node\"},\"status\":{\"podIP\":\"10.0.0.9\","
	    "\"containerStatuses\":[{\"name\":\"app\",\"containerID\":\"containerd://" CID
	    "\"}]}}");
	put(&c, KK_REPLICASET,
	    "{\"metadata\":{\"name\":\"rs\",\"namespace\":\"n\",\"ownerReferences\":"
	    "[{\"kind\":\"Deployment\",\"name\":\"web\",\"controller\":true}]}}");
	put(&c, KK_SERVICE,
	    "{\"metadata\":{\"name\":\"svc\",\"namespace\":\"n\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.5\"}}");
	assert_int_equal(kubecache_by_container(&c, CID, &id), 0);
	assert_string_equal(id.pod, "p");
	assert_string_equal(id.container, "app");
	assert_string_equal(id.node, "node");
	assert_int_equal(id.kinds[0], KK_REPLICASET);
	assert_string_equal(id.names[0], "rs");
	assert_int_equal(id.kinds[1], KK_DEPLOYMENT);
	assert_string_equal(id.names[1], "web");
	assert_int_equal(id.kinds[2], -1);
	assert_int_equal(kubecache_by_ip(&c, "10.0.0.9", ns, sizeof(ns), wl, sizeof(wl)), 0);
	assert_string_equal(wl, "deployment/web");
	assert_int_equal(kubecache_by_ip(&c, "10.96.0.5", ns, sizeof(ns), wl, sizeof(wl)), 0);
	assert_string_equal(wl, "service/svc");
	assert_int_equal(kubecache_by_ip(&c, "10.0.0.1", ns, sizeof(ns), wl, sizeof(wl)), -ENOENT);
	assert_int_equal(kubecache_del(&c, KK_REPLICASET, "n", "rs"), 0);
	kubecache_workload(&c, KK_POD, "n", "p", wl, sizeof(wl));
	assert_string_equal(wl, "replicaset/rs");
	kubecache_free(&c);
}

static void observe(struct k8sevents *e, const char *uid, const char *reason, const char *type,
		    int count)
{
	json_t *ev = json_pack("{s:{s:s}, s:{s:s, s:s, s:s}, s:s, s:s, s:i}", "metadata", "uid",
			       uid, "involvedObject", "kind", "Pod", "namespace", "n", "name", "p",
			       "reason", reason, "type", type, "count", count);

	k8sevents_observe(e, "MODIFIED", ev);
	json_decref(ev);
}

static void test_events(void **state)
{
	struct k8sevents *e = k8sevents_new(0, 0);
	unsigned long long dropped;
	json_t *out;
	char *text;

	assert_string_equal(k8sevents_severity("OOMKilled", "Warning"), "Error");
	assert_string_equal(k8sevents_severity("CrashLoopBackOff", "Warning"), "Error");
	assert_string_equal(k8sevents_severity("BackOff", "Warning"), "Warning");
	assert_string_equal(k8sevents_severity("Unhealthy", "Warning"), "Warning");
	assert_string_equal(k8sevents_severity("Scheduled", "Normal"), "Info");
	observe(e, "u1", "BackOff", "Warning", 1);
	observe(e, "u1", "BackOff", "Warning", 4); /* three more */
	observe(e, "u1", "BackOff", "Warning", 4); /* seen again: nothing */
	observe(e, "u2", "BackOff", "Warning", 2); /* another event, same group */
	out = k8sevents_take(e, NULL, &dropped);
	text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"events\":[{\"count\":6,\"kind\":\"Pod\",\"name\":\"p\","
				  "\"namespace\":\"n\",\"reason\":\"BackOff\",\"severity\":"
				  "\"Warning\"}]}");
	free(text);
	json_decref(out);
	observe(e, "u1", "BackOff", "Warning", 4);
	assert_null(k8sevents_take(e, NULL, &dropped));
	assert_int_equal(dropped, 0);
	k8sevents_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_lines), cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_kubeconfig),  cmocka_unit_test(test_owner_chain),
		cmocka_unit_test(test_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
