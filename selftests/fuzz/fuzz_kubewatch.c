// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for what Kerno reads from the Kubernetes API: the
 * chunked framing and the watch stream (kubewatch.c), the objects in it
 * (kubecache.c) and events (k8sevents.c). The first byte picks whether the
 * input is chunk-framed; the next picks the size of the pieces it is fed in,
 * as network reads would cut it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "k8sevents.h"
#include "kubecache.h"
#include "kubewatch.h"

struct fuzz_state {
	struct kubewatch w;
	struct kubecache cache;
	struct k8sevents *events;
};

static int on_event(void *ctx, const char *type, json_t *obj)
{
	struct fuzz_state *s = ctx;
	int kind = kube_kind_of(json_string_value(json_object_get(obj, "kind")));
	struct kube_identity id;
	struct kobj *o;
	bool was_new, changed;
	char ns[64], wl[300];

	kubewatch_status_code(obj);
	if (kind < 0)
		kind = KK_POD;
	o = kobj_parse(kind, obj);
	if (o) {
		if (!strcmp(type, "DELETED")) {
			kubecache_del(&s->cache, kind, o->ns, o->name);
			kobj_free(o);
		} else {
			kubecache_put(&s->cache, kind, o, &was_new, &changed);
		}
	}
	if (kind == KK_EVENT)
		k8sevents_observe(s->events, type, obj);
	kubecache_by_container(
		&s->cache, "0000000000000000000000000000000000000000000000000000000000000000", &id);
	kubecache_by_ip(&s->cache, "10.0.0.1", ns, sizeof(ns), wl, sizeof(wl));
	return 0;
}

static int to_watch(void *ctx, const char *data, size_t len)
{
	struct fuzz_state *s = ctx;

	return kubewatch_feed(&s->w, data, len, on_event, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_state s;
	struct kubechunk ch = {};
	unsigned long long dropped;
	size_t piece, off;
	bool chunked;
	json_t *out;

	if (size < 2)
		return 0;
	chunked = data[0] & 1;
	piece = (data[1] % 64) + 1;
	data += 2;
	size -= 2;
	kubewatch_init(&s.w, 4096);
	kubecache_init(&s.cache, 64);
	s.events = k8sevents_new(32, 16);
	for (off = 0; off < size; off += piece) {
		size_t n = size - off < piece ? size - off : piece;
		int ret = chunked ? kubechunk_feed(&ch, (const char *)data + off, n, to_watch, &s) :
				    to_watch(&s, (const char *)data + off, n);

		if (ret)
			break;
	}
	out = k8sevents_take(s.events, &s.cache, &dropped);
	json_decref(out);
	k8sevents_free(s.events);
	kubecache_free(&s.cache);
	kubewatch_free(&s.w);
	return 0;
}
