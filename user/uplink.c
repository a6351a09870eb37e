// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The local uplink sink: see uplink.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "envelope.h"
#include "uplink.h"

struct uplink {
	struct uplink_ws *ws; /* the cloud sink, when set; the rest is the local one */
	int fd;
	int yday; /* tm_yday and tm_year of the open file: its UTC day */
	int year;
	unsigned long long seq;
	char *dir; /* DATA_DIR/uplink */
	char host[HOST_NAME_MAX + 1];
	char path[PATH_MAX];
};

static int make_dir(const char *path)
{
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int uplink_open_cloud(const char *data_dir, const struct uplink_ws_opts *o, struct uplink **out,
		      char *err, size_t errlen)
{
	struct uplink_ws_opts wo = *o;
	char *queue = NULL, *key = NULL;
	struct uplink *u = calloc(1, sizeof(*u));
	int ret = -ENOMEM;

	if (!u || asprintf(&u->dir, "%s/uplink", data_dir) < 0 ||
	    asprintf(&queue, "%s/queue", u->dir) < 0 ||
	    asprintf(&key, "%s/queue.key", u->dir) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	u->fd = -1;
	ret = make_dir(data_dir);
	if (!ret)
		ret = make_dir(u->dir);
	if (ret) {
		snprintf(err, errlen, "cannot create %s: %s", u->dir, strerror(-ret));
		goto out;
	}
	if (!wo.queue_dir || !*wo.queue_dir)
		wo.queue_dir = queue;
	if (!wo.key_file || !*wo.key_file)
		wo.key_file = key;
	ret = uplink_ws_open(&wo, &u->ws, err, errlen);
	if (!ret) {
		snprintf(u->path, sizeof(u->path), "%s", o->url);
		*out = u;
		u = NULL;
	}
out:
	free(queue);
	free(key);
	uplink_close(u);
	return ret;
}

/* Host names are safe in file names, but the --host-name option may say anything. */
static void safe_name(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < size; i++)
		out[i] = (in[i] >= 'a' && in[i] <= 'z') || (in[i] >= 'A' && in[i] <= 'Z') ||
					 (in[i] >= '0' && in[i] <= '9') || strchr("._-", in[i]) ?
				 in[i] :
				 '_';
	out[i] = '\0';
	if (!i)
		snprintf(out, size, "unknown");
}

/* Open the file of the UTC day of `now`, closing the previous one. */
static int open_day(struct uplink *u, time_t now)
{
	struct tm tm;
	int fd;

	gmtime_r(&now, &tm);
	if (u->fd >= 0 && tm.tm_yday == u->yday && tm.tm_year == u->year)
		return 0;
	if (snprintf(u->path, sizeof(u->path), "%s/uplink-%s-%04d%02d%02d.ndjson", u->dir, u->host,
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) >= (int)sizeof(u->path))
		return -ENAMETOOLONG;
	fd = open(u->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	durable_sync_dir(u->dir);
	if (u->fd >= 0)
		close(u->fd);
	u->fd = fd;
	u->yday = tm.tm_yday;
	u->year = tm.tm_year;
	return 0;
}

int uplink_open(const char *data_dir, const char *host, struct uplink **out)
{
	struct uplink *u = calloc(1, sizeof(*u));
	int err = -ENOMEM;

	if (!u)
		return err;
	u->fd = -1;
	safe_name(host, u->host, sizeof(u->host));
	if (asprintf(&u->dir, "%s/uplink", data_dir) < 0) {
		u->dir = NULL;
		goto fail;
	}
	err = make_dir(data_dir);
	if (!err)
		err = make_dir(u->dir);
	if (!err)
		err = open_day(u, time(NULL));
	if (err)
		goto fail;
	*out = u;
	return 0;
fail:
	uplink_close(u);
	return err;
}

/*
 * Normally one write(2). A short one (disk full, file size limit) is
 * continued to learn why it stopped, and on failure the file is cut back
 * to where the line began, so it never ends in a partial line.
 */
static int write_line(int fd, const char *line, size_t len)
{
	size_t done = 0;
	struct stat st;
	ssize_t n;
	int err = 0;

	while (done < len) {
		n = write(fd, line + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			break;
		}
		done += n;
	}
	if (err && done && !fstat(fd, &st) && ftruncate(fd, st.st_size - done))
		err = -errno;
	if (!err && fdatasync(fd))
		err = -errno;
	return err;
}

int uplink_send_at(struct uplink *u, const char *type, json_t *data, time_t now)
{
	size_t len;
	char *line;
	int err;

	if (!data || !type)
		return -EINVAL;
	if (u->ws)
		return uplink_ws_send(u->ws, type, data, now);
	err = open_day(u, now);
	if (err)
		return err;
	line = envelope_line(type, u->seq + 1, now, data, &len);
	if (!line)
		return -ENOMEM;
	err = write_line(u->fd, line, len);
	free(line);
	if (!err)
		u->seq++;
	return err;
}

int uplink_send(struct uplink *u, const char *type, json_t *data)
{
	return uplink_send_at(u, type, data, time(NULL));
}

unsigned long long uplink_last_seq(const struct uplink *u)
{
	if (u->ws)
		return uplink_ws_last_seq(u->ws);
	return u->seq;
}

const char *uplink_path(const struct uplink *u)
{
	return u->path;
}

void uplink_stop(struct uplink *u)
{
	if (u)
		uplink_ws_stop(u->ws);
}

void uplink_close(struct uplink *u)
{
	if (!u)
		return;
	uplink_ws_close(u->ws);
	if (u->fd >= 0)
		close(u->fd);
	free(u->dir);
	free(u);
}
