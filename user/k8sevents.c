// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kubernetes events classified and grouped: see k8sevents.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "durable.h"
#include "k8sevents.h"

struct seen_event {
	char uid[40];
	unsigned long long count;
	unsigned long long tick;
};

struct group {
	char ns[64], kind[32], name[KUBE_NAME_LEN], reason[128], workload[KUBE_NAME_LEN + 16];
	const char *severity;
	char last_seen[40];
	unsigned long long count;
};

struct k8sevents {
	struct seen_event *seen;
	size_t n_seen, max_seen;
	struct group *groups;
	size_t n_groups, max_groups;
	unsigned long long tick, dropped;
};

static const char *const error_reasons[] = {
	"OOMKilled",
	"OOMKilling",
	"CrashLoopBackOff",
	"Evicted",
	"Failed",
	"FailedScheduling",
	"FailedMount",
	"FailedAttachVolume",
	"FailedCreatePodSandBox",
	"ErrImagePull",
	"ImagePullBackOff",
	"InvalidImageName",
	"NodeNotReady",
	"FailedKillPod",
	"FailedPreStopHook",
	"FailedPostStartHook",
	"DeadlineExceeded",
	"BackoffLimitExceeded",
};

const char *k8sevents_severity(const char *reason, const char *type)
{
	size_t i;

	for (i = 0; reason && i < sizeof(error_reasons) / sizeof(error_reasons[0]); i++)
		if (!strcmp(reason, error_reasons[i]))
			return "Error";
	return type && !strcmp(type, "Warning") ? "Warning" : "Info";
}

struct k8sevents *k8sevents_new(size_t max_events, size_t max_groups)
{
	struct k8sevents *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->max_seen = max_events ? max_events : 65536;
	e->max_groups = max_groups ? max_groups : 4096;
	e->seen = calloc(e->max_seen, sizeof(*e->seen));
	e->groups = calloc(e->max_groups, sizeof(*e->groups));
	if (!e->seen || !e->groups) {
		k8sevents_free(e);
		return NULL;
	}
	return e;
}

void k8sevents_free(struct k8sevents *e)
{
	if (!e)
		return;
	free(e->seen);
	free(e->groups);
	free(e);
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* How many times the event happened, as it says. */
static unsigned long long occurrences(json_t *ev)
{
	json_t *series = json_object_get(json_object_get(ev, "series"), "count");
	json_t *count = json_object_get(ev, "count");

	if (json_is_integer(series) && json_integer_value(series) > 0)
		return (unsigned long long)json_integer_value(series);
	if (json_is_integer(count) && json_integer_value(count) > 0)
		return (unsigned long long)json_integer_value(count);
	return 1;
}

/* Occurrences new since the event was last seen; remembers the count. */
static unsigned long long new_occurrences(struct k8sevents *e, const char *uid,
					  unsigned long long count)
{
	size_t i, old = 0;
	unsigned long long delta;
	struct seen_event *s = NULL;

	for (i = 0; i < e->n_seen; i++) {
		if (!strcmp(e->seen[i].uid, uid)) {
			s = &e->seen[i];
			break;
		}
		if (e->seen[i].tick < e->seen[old].tick)
			old = i;
	}
	if (!s) {
		s = e->n_seen < e->max_seen ? &e->seen[e->n_seen++] : &e->seen[old];
		snprintf(s->uid, sizeof(s->uid), "%s", uid);
		s->count = 0;
	}
	delta = count > s->count ? count - s->count : 0;
	if (count > s->count)
		s->count = count;
	s->tick = ++e->tick;
	return delta;
}

static struct group *find_group(struct k8sevents *e, const char *ns, const char *kind,
				const char *name, const char *reason)
{
	size_t i;

	if (!ns || !kind || !name || !reason)
		return NULL;
	for (i = 0; i < e->n_groups; i++) {
		struct group *g = &e->groups[i];

		if (!strcmp(g->ns, ns) && !strcmp(g->kind, kind) && !strcmp(g->name, name) &&
		    !strcmp(g->reason, reason))
			return g;
	}
	if (e->n_groups == e->max_groups)
		return NULL;
	return &e->groups[e->n_groups++];
}

void k8sevents_observe(struct k8sevents *e, const char *type, json_t *ev)
{
	json_t *meta = json_object_get(ev, "metadata"),
	       *obj = json_object_get(ev, "involvedObject");
	const char *uid = str(meta, "uid"), *reason = str(ev, "reason");
	const char *ns = str(obj, "namespace"), *kind = str(obj, "kind"), *name = str(obj, "name");
	const char *last = str(ev, "lastTimestamp");
	unsigned long long n;
	struct group *g;

	if (!strcmp(type, "DELETED") || !*uid || !*reason || !*kind || !*name)
		return;
	n = new_occurrences(e, uid, occurrences(ev));
	if (!n)
		return;
	g = find_group(e, ns, kind, name, reason);
	if (!g) {
		e->dropped += n;
		return;
	}
	if (!g->count && !g->severity) {
		snprintf(g->ns, sizeof(g->ns), "%s", ns);
		snprintf(g->kind, sizeof(g->kind), "%s", kind);
		snprintf(g->name, sizeof(g->name), "%s", name);
		snprintf(g->reason, sizeof(g->reason), "%s", reason);
	}
	g->severity = k8sevents_severity(reason, str(ev, "type"));
	if (!*last)
		last = str(ev, "eventTime");
	if (strcmp(last, g->last_seen) > 0)
		snprintf(g->last_seen, sizeof(g->last_seen), "%s", last);
	g->count += n;
}

static int cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	int r = strcmp(x->ns, y->ns);

	if (!r)
		r = strcmp(x->kind, y->kind);
	if (!r)
		r = strcmp(x->name, y->name);
	return r ? r : strcmp(x->reason, y->reason);
}

json_t *k8sevents_take(struct k8sevents *e, struct kubecache *cache, unsigned long long *dropped)
{
	json_t *list, *out;
	size_t i;

	*dropped = e->dropped;
	e->dropped = 0;
	if (!e->n_groups)
		return NULL;
	qsort(e->groups, e->n_groups, sizeof(*e->groups), cmp_group);
	list = json_array();
	for (i = 0; i < e->n_groups; i++) {
		struct group *g = &e->groups[i];

		/* Resolved now rather than when the event came: the owners' lists are in by then. */
		if (cache && !g->workload[0])
			kubecache_workload(cache, kube_kind_of(g->kind), g->ns, g->name,
					   g->workload, sizeof(g->workload));
		json_array_append_new(
			list, json_pack("{s:s, s:s, s:s, s:s*, s:s, s:s, s:I, s:s*}", "namespace",
					g->ns, "kind", g->kind, "name", g->name, "workload",
					g->workload[0] ? g->workload : NULL, "reason", g->reason,
					"severity", g->severity, "count", (json_int_t)g->count,
					"last_seen", g->last_seen[0] ? g->last_seen : NULL));
	}
	out = json_pack("{s:o}", "events", list);
	e->n_groups = 0;
	memset(e->groups, 0, e->max_groups * sizeof(*e->groups));
	return out;
}

void k8sevents_restore(struct k8sevents *e, json_t *data)
{
	json_t *g;
	size_t i;

	json_array_foreach(json_object_get(data, "events"), i, g)
	{
		struct group *x = find_group(e, str(g, "namespace"), str(g, "kind"), str(g, "name"),
					     str(g, "reason"));

		if (!x) {
			e->dropped += json_integer_value(json_object_get(g, "count"));
			continue;
		}
		if (!x->severity) {
			snprintf(x->ns, sizeof(x->ns), "%s", str(g, "namespace"));
			snprintf(x->kind, sizeof(x->kind), "%s", str(g, "kind"));
			snprintf(x->name, sizeof(x->name), "%s", str(g, "name"));
			snprintf(x->reason, sizeof(x->reason), "%s", str(g, "reason"));
			snprintf(x->workload, sizeof(x->workload), "%s", str(g, "workload"));
			snprintf(x->last_seen, sizeof(x->last_seen), "%s", str(g, "last_seen"));
		}
		x->severity = k8sevents_severity(x->reason, "");
		if (!strcmp(str(g, "severity"), "Warning"))
			x->severity = "Warning";
		x->count += json_integer_value(json_object_get(g, "count"));
	}
}

int k8sevents_save(struct k8sevents *e, const char *path, json_t *pending, unsigned long long batch)
{
	json_t *seen = json_object(), *state;
	char *text;
	size_t i;
	int ret;

	if (!seen)
		return -ENOMEM;
	for (i = 0; i < e->n_seen; i++)
		json_object_set_new(seen, e->seen[i].uid,
				    json_integer((json_int_t)e->seen[i].count));
	state = json_pack("{s:I, s:O?, s:o}", "batch", (json_int_t)batch, "pending", pending,
			  "seen", seen);
	text = state ? json_dumps(state, JSON_COMPACT) : NULL;
	json_decref(state);
	if (!text)
		return -ENOMEM;
	ret = durable_replace(path, text, strlen(text));
	free(text);
	return ret;
}

/* Whether a k8s_events envelope of that batch is in a file of dir. */
static bool envelope_written(const char *dir, unsigned long long batch)
{
	char needle[64], path[PATH_MAX], *line = NULL;
	bool found = false;
	struct dirent *d;
	size_t cap = 0;
	DIR *dp = opendir(dir);

	if (!dp)
		return false;
	snprintf(needle, sizeof(needle), "\"data\":{\"batch\":%llu,", batch);
	while (!found && (d = readdir(dp))) {
		FILE *f;

		if (d->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", dir, d->d_name) >= (int)sizeof(path))
			continue;
		f = fopen(path, "re");
		if (!f)
			continue;
		while (!found && getline(&line, &cap, f) > 0)
			found = strstr(line, "\"type\":\"k8s_events\"") && strstr(line, needle);
		fclose(f);
	}
	free(line);
	closedir(dp);
	return found;
}

int k8sevents_load(struct k8sevents *e, const char *path, const char *uplink_dir,
		   unsigned long long *batch)
{
	json_t *state = json_load_file(path, 0, NULL), *pending, *v;
	const char *uid;

	if (!state)
		return access(path, F_OK) ? -ENOENT : -EBADMSG;
	*batch = (unsigned long long)json_integer_value(json_object_get(state, "batch"));
	json_object_foreach(json_object_get(state, "seen"), uid, v)
	{
		if (json_is_integer(v) && json_integer_value(v) > 0)
			new_occurrences(e, uid, (unsigned long long)json_integer_value(v));
	}
	pending = json_object_get(state, "pending");
	if (json_is_object(pending) && !envelope_written(uplink_dir, *batch))
		k8sevents_restore(e, pending);
	json_decref(state);
	return 0;
}
