/*
 * The JSON-lines file sink: one event per line (mm_event_to_json's form,
 * rendered straight from the stored bytes by mm_event_check), rotated
 * by size and keeping N old files (events.jsonl.1 is the newest). The
 * resume position is the file length after the last persisted batch, so
 * lines written after it (a crash before the cursor was stored) are cut off
 * at start-up and written again: every event lands exactly once.
 *
 * Runs in the aggregator process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mimamori/error.h"
#include "sink.h"
#include "util.h"

static const struct mm_cfg_key file_keys[] = {
        {"enabled", MM_CFG_BOOL, "true", 0, 0, 0, "Write events to a JSON-lines file."},
        {"path", MM_CFG_STRING, "", 0, 0, 0,
         "File to write; empty means <state_dir>/events/events.jsonl."},
        {"rotate_kb", MM_CFG_INT, "65536", 1, 1073741824.0, 0,
         "Rotate the file when it grows past this many KiB."},
        {"keep", MM_CFG_INT, "5", 0, 1000, 0, "Rotated files to keep."},
        {"fsync", MM_CFG_BOOL, "true", 0, 0, 0,
         "Flush the file to disk before its cursor is stored."},
};

struct file_sink {
	char path[MM_PATH_MAX];
	int fd;
	int64_t size, rotate_bytes;
	int keep, fsync;
	struct mm_buf line;
};

static int
render(struct file_sink *f, const struct mm_sink_event *evs, size_t n)
{
	size_t i;
	int rc;

	mm_buf_reset(&f->line);
	for (i = 0; i < n; i++) {
		struct mm_event_view v;

		if (evs[i].json != NULL) {
			if ((rc = mm_buf_append(&f->line, evs[i].json, evs[i].json_len)) != MM_OK)
				return rc;
			continue;
		}
		if ((rc = mm_event_check(&v, evs[i].raw, evs[i].len, &f->line)) != MM_OK)
			return rc;
		if ((rc = mm_buf_putc(&f->line, '\n')) != MM_OK)
			return rc;
	}
	return MM_OK;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return MM_ERR_IO;
		}
		p += w;
		n -= (size_t)w;
	}
	return MM_OK;
}

static int
open_file(struct file_sink *f, int64_t pos)
{
	struct stat st;

	f->fd = open(f->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (f->fd < 0)
		return MM_ERR_IO;
	if (fstat(f->fd, &st) != 0)
		return MM_ERR_IO;
	f->size = st.st_size;
	/* Longer than the stored position: lines of a batch whose cursor never
	 * became durable; they will be written again. Shorter: the file was
	 * rotated after that cursor, and what it covered is in .1. */
	if (f->size > pos && pos >= 0) {
		if (ftruncate(f->fd, pos) != 0)
			return MM_ERR_IO;
		f->size = pos;
	}
	return MM_OK;
}

static int
file_open(void **out, const struct mm_cfg_values *vals, const struct mm_config *cfg, int64_t pos)
{
	const struct mm_cfg_value *v;
	struct file_sink *f;
	char dir[MM_PATH_MAX], *slash;
	int rc;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return MM_ERR_NOMEM;
	f->fd = -1;
	v = mm_cfg_values_find(vals, "path");
	if (v != NULL && v->s != NULL && v->s[0] != '\0')
		rc = mm_strlcpy(f->path, v->s, sizeof(f->path));
	else
		rc = snprintf(f->path, sizeof(f->path), "%s/events/events.jsonl",
		              cfg->state_dir ? cfg->state_dir : ".") < (int)sizeof(f->path)
		             ? MM_OK
		             : MM_ERR_TOOBIG;
	if (rc != MM_OK)
		goto out;
	v = mm_cfg_values_find(vals, "rotate_kb");
	f->rotate_bytes = (v ? v->i : 65536) * 1024;
	v = mm_cfg_values_find(vals, "keep");
	f->keep = v ? (int)v->i : 5;
	v = mm_cfg_values_find(vals, "fsync");
	f->fsync = v ? (int)v->i : 1;
	mm_strlcpy(dir, f->path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if ((rc = mm_mkdir_p(dir, 0750)) != MM_OK)
			goto out;
	}
	if ((rc = open_file(f, pos)) != MM_OK)
		goto out;
	*out = f;
	return MM_OK;
out:
	if (f->fd >= 0)
		close(f->fd);
	free(f);
	return rc;
}

/* The lines of evs when they lie back to back in memory, as those of a
 * group fed on the aggregator's hot path do: NULL otherwise. */
static const uint8_t *
contiguous(const struct mm_sink_event *evs, size_t n, size_t *len)
{
	size_t i;

	*len = 0;
	for (i = 0; i < n; i++) {
		if (evs[i].json == NULL || evs[i].json_len == 0 ||
		    (i > 0 && evs[i].json != evs[i - 1].json + evs[i - 1].json_len))
			return NULL;
		*len += evs[i].json_len;
	}
	return n > 0 ? evs[0].json : NULL;
}

static int
file_write(void *sink, const struct mm_sink_event *evs, size_t n, int64_t *pos)
{
	struct file_sink *f = sink;
	const uint8_t *out;
	size_t len;
	int rc;

	if (f->fd < 0 && (rc = open_file(f, -1)) != MM_OK)
		return rc;
	/* One write() per batch: straight from the caller's lines when they
	 * are one block, else every line goes into one buffer first. */
	if ((out = contiguous(evs, n, &len)) == NULL) {
		if ((rc = render(f, evs, n)) != MM_OK)
			return rc;
		out = f->line.data;
		len = f->line.len;
	}
	if ((rc = write_all(f->fd, out, len)) != MM_OK) {
		/* A partial batch would be written twice after the retry:
		 * cut back to where the batch started. */
		if (ftruncate(f->fd, f->size) != 0) {
			close(f->fd);
			f->fd = -1;
		}
		return rc;
	}
	f->size += (int64_t)len;
	*pos = f->size;
	return MM_OK;
}

static int
file_sync(void *sink)
{
	struct file_sink *f = sink;

	if (f->fd < 0 || !f->fsync)
		return MM_OK;
	return fdatasync(f->fd) == 0 ? MM_OK : MM_ERR_IO;
}

/* Rotate only here, right after the cursor that covers the whole file is
 * durable, so that a stored position always refers to the current file. */
static int
file_checkpoint(void *sink, int64_t *pos)
{
	struct file_sink *f = sink;
	char from[MM_PATH_MAX + 16], to[MM_PATH_MAX + 16];
	int i;

	if (f->size < f->rotate_bytes)
		return MM_OK;
	for (i = f->keep; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", f->path);
		else
			snprintf(from, sizeof(from), "%s.%d", f->path, i - 1);
		snprintf(to, sizeof(to), "%s.%d", f->path, i);
		if (rename(from, to) != 0 && errno != ENOENT)
			return MM_ERR_IO;
	}
	if (f->keep == 0 && unlink(f->path) != 0 && errno != ENOENT)
		return MM_ERR_IO;
	close(f->fd);
	f->fd = -1;
	f->size = 0;
	*pos = 0;
	return open_file(f, 0);
}

static void
file_close(void *sink)
{
	struct file_sink *f = sink;

	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	mm_buf_free(&f->line);
	free(f);
}

const struct mm_sink_ops mm_sink_file_ops = {
        "file",          file_keys,  sizeof(file_keys) / sizeof(file_keys[0]),
        file_open,       file_write, file_sync,
        file_checkpoint, file_close, 1,
};
