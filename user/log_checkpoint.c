// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Log checkpoints, saved atomically: see log_checkpoint.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"
#include "log_checkpoint.h"

#define MAGIC "kerno-log-checkpoints 2"

int log_ckpt_add(struct log_ckpt *c, const struct log_ckpt_entry *e)
{
	struct log_ckpt_entry *n;
	size_t cap;

	if (c->n == c->cap) {
		cap = c->cap ? c->cap * 2 : 64;
		n = realloc(c->e, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->e = n;
		c->cap = cap;
	}
	c->e[c->n] = *e;
	c->e[c->n].path = strdup(e->path ? e->path : "");
	if (!c->e[c->n].path)
		return -ENOMEM;
	c->n++;
	return 0;
}

static int parse_line(struct log_ckpt *c, char *line)
{
	struct log_ckpt_entry e = {};
	unsigned long long dev, ino, fp, off, poff;
	unsigned int fp_len;
	int used = 0;

	line[strcspn(line, "\n")] = '\0';
	if (!strncmp(line, "pending ", 8) && !c->pending_key) {
		c->pending_key = strdup(line + 8);
		return c->pending_key ? 0 : -ENOMEM;
	}
	if (sscanf(line, "%llu %llu %u %llx %llu %llu %n", &dev, &ino, &fp_len, &fp, &off, &poff,
		   &used) != 6 ||
	    !used) {
		c->bad_lines++;
		return 0;
	}
	e.dev = dev;
	e.ino = ino;
	e.fp_len = fp_len;
	e.fp = fp;
	e.off = off;
	e.pending_off = poff;
	e.path = line + used;
	return log_ckpt_add(c, &e);
}

int log_ckpt_load(const char *path, struct log_ckpt *c)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = 0, first = 1;

	memset(c, 0, sizeof(*c));
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (!ret && getline(&line, &cap, f) >= 0) {
		if (first) {
			first = 0;
			if (strncmp(line, MAGIC, strlen(MAGIC))) {
				c->bad_lines++;
				break;
			}
			continue;
		}
		ret = parse_line(c, line);
	}
	free(line);
	fclose(f);
	return ret;
}

int log_ckpt_save(const char *path, const struct log_ckpt *c)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	size_t i;
	int ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", MAGIC);
	if (c->pending_key)
		fprintf(f, "pending %s\n", c->pending_key);
	for (i = 0; i < c->n; i++) {
		const struct log_ckpt_entry *e = &c->e[i];

		fprintf(f, "%llu %llu %u %llx %llu %llu %s\n", (unsigned long long)e->dev,
			(unsigned long long)e->ino, e->fp_len, (unsigned long long)e->fp,
			(unsigned long long)e->off,
			(unsigned long long)(c->pending_key ? e->pending_off : e->off),
			e->path && !strchr(e->path, '\n') ? e->path : "?");
	}
	if (fflush(f) || fsync(fileno(f)))
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	return durable_sync_dir_of(path);
}

void log_ckpt_clear(struct log_ckpt *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->e[i].path);
	c->n = 0;
	free(c->pending_key);
	c->pending_key = NULL;
}

void log_ckpt_settle(struct log_ckpt *c, bool stored)
{
	size_t i;

	if (!c->pending_key)
		return;
	for (i = 0; i < c->n; i++) {
		if (stored)
			c->e[i].off = c->e[i].pending_off;
		c->e[i].pending_off = c->e[i].off;
	}
	free(c->pending_key);
	c->pending_key = NULL;
}

struct log_ckpt_entry *log_ckpt_find(struct log_ckpt *c, uint64_t dev, uint64_t ino)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->e[i].dev == dev && c->e[i].ino == ino)
			return &c->e[i];
	return NULL;
}

void log_ckpt_free(struct log_ckpt *c)
{
	log_ckpt_clear(c);
	free(c->e);
	c->e = NULL;
	c->cap = 0;
}
