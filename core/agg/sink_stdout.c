/*
 * The stdout sink: every event as a JSON line or in the one-line human
 * form, for running the aggregator in a terminal or under a log collector.
 * At-least-once: after a crash the lines since the last stored cursor are
 * printed again.
 *
 * Runs in the aggregator process.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mimamori/error.h"
#include "sink.h"

static const struct mm_cfg_key stdout_keys[] = {
        {"enabled", MM_CFG_BOOL, "false", 0, 0, 0, "Print events on standard output."},
        {"format", MM_CFG_STRING, "json", 0, 0, 0, "\"json\" (JSON lines) or \"pretty\"."},
};

struct stdout_sink {
	int pretty;
	struct mm_buf out;
};

static int
stdout_open(void **out, const struct mm_cfg_values *vals, const struct mm_config *cfg, int64_t pos)
{
	const struct mm_cfg_value *v = mm_cfg_values_find(vals, "format");
	struct stdout_sink *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return MM_ERR_NOMEM;
	s->pretty = v != NULL && v->s != NULL && strcmp(v->s, "pretty") == 0;
	*out = s;
	return MM_OK;
}

static int
stdout_write(void *sink, const struct mm_sink_event *evs, size_t n, int64_t *pos)
{
	struct stdout_sink *s = sink;
	const uint8_t *p;
	size_t i, left;
	int rc;

	mm_buf_reset(&s->out);
	for (i = 0; i < n; i++) {
		struct mm_event_view v;
		struct mm_event *ev = NULL;

		if (!s->pretty && evs[i].json != NULL) {
			if ((rc = mm_buf_append(&s->out, evs[i].json, evs[i].json_len)) != MM_OK)
				return rc;
			continue;
		}
		if (s->pretty) {
			rc = mm_event_decode(&ev, evs[i].raw, evs[i].len);
			if (rc == MM_OK)
				rc = mm_event_to_pretty(ev, &s->out);
			mm_event_free(ev);
		} else
			rc = mm_event_check(&v, evs[i].raw, evs[i].len, &s->out);
		if (rc != MM_OK)
			return rc;
		if ((rc = mm_buf_putc(&s->out, '\n')) != MM_OK)
			return rc;
	}
	p = s->out.data;
	left = s->out.len;
	while (left > 0) {
		ssize_t w = write(STDOUT_FILENO, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return MM_ERR_IO;
		}
		p += w;
		left -= (size_t)w;
	}
	*pos = 0;
	return MM_OK;
}

static void
stdout_close(void *sink)
{
	struct stdout_sink *s = sink;

	if (s == NULL)
		return;
	mm_buf_free(&s->out);
	free(s);
}

const struct mm_sink_ops mm_sink_stdout_ops = {
        "stdout",    stdout_keys,  sizeof(stdout_keys) / sizeof(stdout_keys[0]),
        stdout_open, stdout_write, NULL,
        NULL,        stdout_close, 1,
};
