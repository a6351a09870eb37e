// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The template miner: see log_drain.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_drain.h"

#define VAR 0 /* a variable position's token hash */
#define SAMPLE_LEN 240 /* bytes of the first message kept, for the template's text */
#define MAX_CHAIN 64 /* templates compared within one group at most */

struct tmpl {
	uint64_t tok[LOG_DRAIN_MAX_TOKENS];
	uint64_t count;
	uint64_t fp;
	uint64_t group_tok; /* the first token, which a template never generalises */
	uint32_t gen;
	uint32_t next; /* next in the group's chain, slot + 1; 0 ends it */
	uint32_t group;
	uint8_t ntok;
	uint8_t live;
	uint8_t ref; /* CLOCK's second chance */
	uint8_t sample_len;
	uint8_t off[LOG_DRAIN_MAX_TOKENS], tlen[LOG_DRAIN_MAX_TOKENS];
	char sample[SAMPLE_LEN];
};

struct seq_entry {
	uint64_t hash;
	uint32_t id;
	uint32_t gen;
};

struct log_drain {
	struct tmpl *t;
	uint32_t max, used, hand;
	uint32_t *groups; /* slot + 1 of a chain's head */
	uint32_t groups_mask;
	struct seq_entry *seq;
	uint32_t seq_mask;
	unsigned int similarity;
	struct log_drain_stats stats;
};

struct tokens {
	uint64_t h[LOG_DRAIN_MAX_TOKENS];
	uint16_t off[LOG_DRAIN_MAX_TOKENS], len[LOG_DRAIN_MAX_TOKENS];
	unsigned int n;
	uint64_t seq;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

struct log_drain *log_drain_new(unsigned int max_templates, unsigned int similarity)
{
	struct log_drain *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->max = max_templates ? max_templates : 1;
	d->similarity = similarity ? similarity : 1;
	d->groups_mask = pow2_at_least(2 * d->max) - 1;
	d->seq_mask = pow2_at_least(8 * d->max) - 1;
	d->t = calloc(d->max, sizeof(*d->t));
	d->groups = calloc(d->groups_mask + 1, sizeof(*d->groups));
	d->seq = calloc(d->seq_mask + 1, sizeof(*d->seq));
	if (!d->t || !d->groups || !d->seq) {
		log_drain_free(d);
		return NULL;
	}
	return d;
}

void log_drain_free(struct log_drain *d)
{
	if (!d)
		return;
	free(d->t);
	free(d->groups);
	free(d->seq);
	free(d);
}

/* Split the first line; tokens with digits are variables; past the cap, the last is a variable. */
static void tokenize(const char *s, size_t len, struct tokens *tk)
{
	size_t i = 0, start;
	uint64_t h;
	bool digit;

	tk->n = 0;
	tk->seq = 0;
	while (i < len && s[i] != '\n') {
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i >= len || s[i] == '\n')
			break;
		start = i;
		h = 0xcbf29ce484222325ULL;
		digit = false;
		for (; i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\n'; i++) {
			h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
			digit |= s[i] >= '0' && s[i] <= '9';
		}
		if (tk->n == LOG_DRAIN_MAX_TOKENS) {
			tk->h[tk->n - 1] = VAR;
			continue;
		}
		tk->h[tk->n] = digit ? VAR : (h ? h : 1);
		tk->off[tk->n] = start < 0xffff ? start : 0xffff;
		tk->len[tk->n] = i - start < 0xffff ? i - start : 0xffff;
		tk->n++;
	}
	for (i = 0; i < tk->n; i++)
		tk->seq = mix(tk->seq, tk->h[i]);
	tk->seq = mix(tk->seq, tk->n);
}

static uint32_t group_of(const struct log_drain *d, const struct tokens *tk)
{
	return (uint32_t)mix(tk->n, tk->n ? tk->h[0] : 0) & d->groups_mask;
}

static void fingerprint(struct tmpl *t)
{
	uint64_t h = 0x6b65726e6fULL; /* "kerno" */
	unsigned int i;

	for (i = 0; i < t->ntok; i++)
		h = mix(h, t->tok[i]);
	t->fp = mix(h, t->ntok);
}

static void seq_put(struct log_drain *d, uint64_t hash, uint32_t id)
{
	struct seq_entry *e = &d->seq[hash & d->seq_mask];

	e->hash = hash;
	e->id = id;
	e->gen = d->t[id].gen;
}

static struct tmpl *seq_get(struct log_drain *d, uint64_t hash)
{
	struct seq_entry *e = &d->seq[hash & d->seq_mask];
	struct tmpl *t;

	if (e->hash != hash || e->id >= d->max)
		return NULL;
	t = &d->t[e->id];
	return t->live && t->gen == e->gen ? t : NULL;
}

/* Positions equal or variable in t, as a share of n, compared with the threshold. */
static bool similar(const struct log_drain *d, const struct tmpl *t, const struct tokens *tk,
		    unsigned int *score)
{
	unsigned int i, same = 0;

	for (i = 0; i < tk->n; i++)
		same += t->tok[i] == VAR || t->tok[i] == tk->h[i];
	*score = same;
	return same * 100 >= d->similarity * tk->n;
}

static struct tmpl *best_in_group(struct log_drain *d, uint32_t g, const struct tokens *tk)
{
	struct tmpl *best = NULL, *t;
	unsigned int score, best_score = 0, walked = 0;
	uint32_t id;

	for (id = d->groups[g]; id && walked < MAX_CHAIN; id = t->next, walked++) {
		t = &d->t[id - 1];
		/* The group is a hash bucket: its chain may hold other first tokens. */
		if (t->ntok != tk->n || (tk->n && t->group_tok != tk->h[0]))
			continue;
		if (similar(d, t, tk, &score) && (!best || score > best_score)) {
			best = t;
			best_score = score;
		}
	}
	return best;
}

static void unlink_group(struct log_drain *d, struct tmpl *t)
{
	uint32_t self = (uint32_t)(t - d->t) + 1, *link = &d->groups[t->group];

	while (*link && *link != self)
		link = &d->t[*link - 1].next;
	if (*link)
		*link = t->next;
}

/* A free slot, or the least recently matched one emptied (CLOCK). */
static struct tmpl *take_slot(struct log_drain *d)
{
	struct tmpl *t;

	if (d->used < d->max)
		return &d->t[d->used++];
	for (;;) {
		t = &d->t[d->hand];
		d->hand = (d->hand + 1) % d->max;
		if (t->ref) {
			t->ref = 0;
			continue;
		}
		unlink_group(d, t);
		d->stats.evicted++;
		d->stats.templates--;
		return t;
	}
}

static struct tmpl *create(struct log_drain *d, const char *s, size_t len, const struct tokens *tk,
			   uint32_t g)
{
	struct tmpl *t = take_slot(d);
	uint32_t gen = t->gen + 1;
	unsigned int i;

	memset(t, 0, sizeof(*t));
	t->gen = gen;
	t->live = 1;
	t->ntok = tk->n;
	t->group = g;
	t->group_tok = tk->n ? tk->h[0] : 0;
	memcpy(t->tok, tk->h, tk->n * sizeof(tk->h[0]));
	t->sample_len = len < SAMPLE_LEN ? len : SAMPLE_LEN;
	memcpy(t->sample, s, t->sample_len);
	for (i = 0; i < tk->n; i++) {
		t->off[i] = tk->off[i] < SAMPLE_LEN ? tk->off[i] : SAMPLE_LEN;
		t->tlen[i] = tk->off[i] + tk->len[i] <= SAMPLE_LEN ? tk->len[i] : 0;
	}
	t->next = d->groups[g];
	d->groups[g] = (uint32_t)(t - d->t) + 1;
	fingerprint(t);
	d->stats.created++;
	d->stats.templates++;
	return t;
}

/* Positions where the message differs become variables. */
static void merge(struct tmpl *t, const struct tokens *tk)
{
	bool changed = false;
	unsigned int i;

	for (i = 0; i < tk->n; i++) {
		if (t->tok[i] != VAR && t->tok[i] != tk->h[i]) {
			t->tok[i] = VAR;
			changed = true;
		}
	}
	if (changed)
		fingerprint(t);
}

void log_drain_match(struct log_drain *d, const char *msg, size_t len, struct log_template_hit *out)
{
	struct tokens tk;
	struct tmpl *t;
	uint32_t g;
	bool created = false;

	tokenize(msg, len, &tk);
	t = seq_get(d, tk.seq);
	if (!t) {
		g = group_of(d, &tk);
		t = best_in_group(d, g, &tk);
		if (t) {
			merge(t, &tk);
		} else {
			t = create(d, msg, len, &tk, g);
			created = true;
		}
		seq_put(d, tk.seq, (uint32_t)(t - d->t));
	}
	t->count++;
	t->ref = 1;
	out->id = (uint32_t)(t - d->t);
	out->gen = t->gen;
	out->count = t->count;
	out->fingerprint = t->fp;
	out->created = created;
}

size_t log_drain_template(const struct log_drain *d, uint32_t id, char *out, size_t size)
{
	const struct tmpl *t;
	size_t n = 0;
	unsigned int i;
	int w;

	if (!size)
		return 0;
	out[0] = '\0';
	if (id >= d->max || !d->t[id].live)
		return 0;
	t = &d->t[id];
	for (i = 0; i < t->ntok && n < size; i++) {
		if (t->tok[i] == VAR || !t->tlen[i])
			w = snprintf(out + n, size - n, "%s<*>", i ? " " : "");
		else
			w = snprintf(out + n, size - n, "%s%.*s", i ? " " : "", (int)t->tlen[i],
				     t->sample + t->off[i]);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	return n < size ? n : size - 1;
}

void log_drain_get_stats(const struct log_drain *d, struct log_drain_stats *out)
{
	*out = d->stats;
}
