/*
 * SMTP and POP3 sessions rebuilt from reassembled TCP streams, for the
 * attach plugin on a UTM: the message a client sends with DATA (dot-
 * unstuffed up to the lone "." line) or BDAT chunks, and the message a POP3
 * server returns for RETR or TOP, each handed to a callback as one RFC 5322
 * buffer. A session that switches to TLS (STARTTLS, STLS) is reported once
 * and not parsed further: what follows is encrypted, nothing is guessed.
 * Runs in the attach worker on the plugin's thread (the packet callback);
 * it touches no host API and keeps no global state.
 *
 * Every buffer is bounded: a command line longer than MAX_LINE is cut, a
 * message beyond max_msg is cut and flagged truncated (its end is still
 * found so the session stays in step), and at most MAX_PENDING POP3
 * commands wait for their answers.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mimamori/error.h>

#include "attach_core.h"

#define MAX_LINE 1024
#define MAX_PENDING 64
#define MAX_RCPTS 100

enum body_state { B_BOL = 0, B_LINE, B_DOT, B_DOT_CR };

/* POP3 commands whose answers are multi-line on +OK. */
enum pop_cmd { P_SINGLE = 0, P_MULTI, P_MESSAGE, P_STLS };

struct dir_state {
	char line[MAX_LINE];
	size_t llen;
	int overlong;
};

struct mm_smtp {
	int proto;
	size_t max_msg;
	mm_smtp_msg_cb on_msg;
	mm_smtp_note_cb on_note;
	void *user;
	struct dir_state d[2];
	int tls;
	int tls_pending;
	int dead; /* gave up (gap inside a message, TLS) */

	/* The message being collected. */
	int in_msg;
	int bstate;
	uint8_t *msg;
	size_t mlen;
	size_t mcap;
	int truncated;
	uint64_t bdat_left;
	int bdat_last;

	/* SMTP envelope. */
	char *envfrom;
	char *rcpts[MAX_RCPTS];
	size_t nrcpts;

	/* POP3: commands waiting for their answers. */
	uint8_t pending[MAX_PENDING];
	size_t npending;
	int pop_greeted;
	int pop_multi; /* reading a multi-line answer: 1 discard, 2 message */
	uint64_t messages;
};

int
mm_smtp_new(struct mm_smtp **out, int proto, size_t max_msg, mm_smtp_msg_cb on_msg,
            mm_smtp_note_cb on_note, void *user)
{
	struct mm_smtp *s;
	*out = NULL;
	if (proto != MM_SMTP_PROTO_SMTP && proto != MM_SMTP_PROTO_POP3)
		return MM_ERR_INVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return MM_ERR_NOMEM;
	s->proto = proto;
	s->max_msg = max_msg ? max_msg : (32u << 20);
	s->on_msg = on_msg;
	s->on_note = on_note;
	s->user = user;
	*out = s;
	return MM_OK;
}

static void
clear_envelope(struct mm_smtp *s)
{
	free(s->envfrom);
	s->envfrom = NULL;
	for (size_t i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	s->nrcpts = 0;
}

static void
msg_reset(struct mm_smtp *s)
{
	s->in_msg = 0;
	s->bstate = B_BOL;
	s->mlen = 0;
	s->truncated = 0;
	s->bdat_left = 0;
	s->bdat_last = 0;
}

static void
put(struct mm_smtp *s, const uint8_t *d, size_t n)
{
	if (s->truncated)
		return;
	if (s->mlen + n > s->max_msg) {
		s->truncated = 1;
		return;
	}
	if (s->mlen + n > s->mcap) {
		size_t nc = s->mcap ? s->mcap : 16384;
		uint8_t *nb;
		while (nc < s->mlen + n)
			nc *= 2;
		if (nc > s->max_msg)
			nc = s->max_msg;
		nb = realloc(s->msg, nc);
		if (nb == NULL) {
			s->truncated = 1;
			return;
		}
		s->msg = nb;
		s->mcap = nc;
	}
	memcpy(s->msg + s->mlen, d, n);
	s->mlen += n;
}

static void
deliver(struct mm_smtp *s, int complete)
{
	struct mm_smtp_info info;
	memset(&info, 0, sizeof(info));
	info.proto = s->proto;
	info.envfrom = s->envfrom;
	info.rcpts = (const char *const *)s->rcpts;
	info.nrcpts = s->nrcpts;
	info.truncated = s->truncated || !complete;
	if (s->on_msg != NULL && s->mlen > 0)
		s->on_msg(s->user, &info, s->msg, s->mlen);
	s->messages++;
	msg_reset(s);
}

/* Feeds dot-stuffed body bytes; returns how many were used and sets
 * *ended when the terminating "." line was among them. */
static size_t
body_bytes(struct mm_smtp *s, const uint8_t *d, size_t n, int *ended)
{
	*ended = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = d[i];
		switch (s->bstate) {
		case B_BOL:
			if (c == '.') {
				s->bstate = B_DOT;
				break;
			}
			s->bstate = c == '\n' ? B_BOL : B_LINE;
			put(s, &c, 1);
			break;
		case B_LINE: {
			/* Copy the rest of the line in one go. */
			const uint8_t *nl = memchr(d + i, '\n', n - i);
			size_t k = nl ? (size_t)(nl - (d + i)) + 1 : n - i;
			put(s, d + i, k);
			i += k - 1;
			if (nl != NULL)
				s->bstate = B_BOL;
			break;
		}
		case B_DOT:
			if (c == '\r') {
				s->bstate = B_DOT_CR;
			} else if (c == '\n') {
				*ended = 1; /* a lone "." ended with a bare LF */
				return i + 1;
			} else {
				/* A stuffed dot: the first one is dropped. */
				put(s, &c, 1);
				s->bstate = c == '\n' ? B_BOL : B_LINE;
			}
			break;
		case B_DOT_CR:
			if (c == '\n') {
				*ended = 1;
				return i + 1;
			}
			put(s, (const uint8_t *)"\r", 1);
			s->bstate = B_LINE;
			i--; /* look at c again as part of the line */
			break;
		}
	}
	return n;
}

static char *
angle_addr(const char *p)
{
	const char *lt = strchr(p, '<');
	size_t n;
	if (lt != NULL)
		p = lt + 1;
	while (*p == ' ')
		p++;
	n = strcspn(p, "> \r\n");
	return strndup(p, n);
}

static void
note(struct mm_smtp *s, const char *what)
{
	if (s->on_note != NULL)
		s->on_note(s->user, s->proto, what);
}

static void
smtp_command(struct mm_smtp *s, const char *l)
{
	if (strncasecmp(l, "MAIL FROM:", 10) == 0) {
		clear_envelope(s);
		s->envfrom = angle_addr(l + 10);
	} else if (strncasecmp(l, "RCPT TO:", 8) == 0) {
		if (s->nrcpts < MAX_RCPTS) {
			s->rcpts[s->nrcpts] = angle_addr(l + 8);
			if (s->rcpts[s->nrcpts] != NULL)
				s->nrcpts++;
		}
	} else if (strncasecmp(l, "DATA", 4) == 0 && (l[4] == 0 || l[4] == ' ')) {
		msg_reset(s);
		s->in_msg = 1;
	} else if (strncasecmp(l, "BDAT ", 5) == 0) {
		char *end;
		unsigned long long n = strtoull(l + 5, &end, 10);
		if (end == l + 5)
			return;
		if (!s->in_msg) {
			msg_reset(s);
			s->in_msg = 2;
		}
		s->bdat_left = n;
		while (*end == ' ')
			end++;
		s->bdat_last = strncasecmp(end, "LAST", 4) == 0;
		if (n == 0 && s->bdat_last)
			deliver(s, 1);
	} else if (strncasecmp(l, "STARTTLS", 8) == 0) {
		s->tls_pending = 1;
	} else if (strncasecmp(l, "RSET", 4) == 0) {
		clear_envelope(s);
		msg_reset(s);
	}
}

static void
pop_command(struct mm_smtp *s, const char *l)
{
	int kind = P_SINGLE;
	if (strncasecmp(l, "RETR ", 5) == 0 || strncasecmp(l, "TOP ", 4) == 0)
		kind = P_MESSAGE;
	else if (strcasecmp(l, "LIST") == 0 || strcasecmp(l, "UIDL") == 0 ||
	         strcasecmp(l, "CAPA") == 0)
		kind = P_MULTI;
	else if (strcasecmp(l, "STLS") == 0)
		kind = P_STLS;
	if (s->npending < MAX_PENDING)
		s->pending[s->npending++] = (uint8_t)kind;
}

/* Collects one line of direction dir; returns 1 with the line (CRLF
 * removed) in s->d[dir].line when complete, and how many bytes it used. */
static size_t
take_line(struct mm_smtp *s, int dir, const uint8_t *d, size_t n, int *complete)
{
	struct dir_state *ds = &s->d[dir];
	const uint8_t *nl = memchr(d, '\n', n);
	size_t k = nl ? (size_t)(nl - d) + 1 : n;
	size_t copy = k;
	*complete = nl != NULL;
	if (nl != NULL)
		copy--;
	if (ds->llen + copy >= sizeof(ds->line)) {
		copy = sizeof(ds->line) - 1 - ds->llen;
		ds->overlong = 1;
	}
	memcpy(ds->line + ds->llen, d, copy);
	ds->llen += copy;
	if (*complete) {
		if (ds->llen > 0 && ds->line[ds->llen - 1] == '\r')
			ds->llen--;
		ds->line[ds->llen] = 0;
		ds->llen = 0;
	}
	return k;
}

static void
smtp_client(struct mm_smtp *s, const uint8_t *d, size_t n)
{
	while (n > 0 && !s->dead) {
		size_t used;
		if (s->tls_pending && n >= 2 && d[0] == 0x16 && d[1] == 0x03) {
			/* A TLS ClientHello: the server's 220 may not have been
			 * seen, but the session is encrypted from here. */
			s->tls = 1;
			s->dead = 1;
			note(s, "starttls");
			return;
		}
		if (s->in_msg == 1) {
			int ended;
			used = body_bytes(s, d, n, &ended);
			if (ended)
				deliver(s, 1);
		} else if (s->in_msg == 2 && s->bdat_left > 0) {
			used = n < s->bdat_left ? n : (size_t)s->bdat_left;
			put(s, d, used);
			s->bdat_left -= used;
			if (s->bdat_left == 0 && s->bdat_last)
				deliver(s, 1);
		} else {
			int complete;
			used = take_line(s, MM_SMTP_CLIENT, d, n, &complete);
			if (complete) {
				if (!s->d[MM_SMTP_CLIENT].overlong)
					smtp_command(s, s->d[MM_SMTP_CLIENT].line);
				s->d[MM_SMTP_CLIENT].overlong = 0;
			}
		}
		d += used;
		n -= used;
	}
}

static void
smtp_server(struct mm_smtp *s, const uint8_t *d, size_t n)
{
	while (n > 0 && !s->dead) {
		int complete;
		size_t used = take_line(s, MM_SMTP_SERVER, d, n, &complete);
		if (complete && s->tls_pending) {
			const char *l = s->d[MM_SMTP_SERVER].line;
			if (strncmp(l, "220", 3) == 0) {
				s->tls = 1;
				s->dead = 1;
				note(s, "starttls");
				return;
			}
			if (l[0] == '4' || l[0] == '5')
				s->tls_pending = 0;
		}
		d += used;
		n -= used;
	}
}

static void
pop_line(struct mm_smtp *s, const char *l)
{
	int kind;
	if (!s->pop_greeted) {
		s->pop_greeted = 1;
		return;
	}
	if (s->npending == 0)
		return; /* an answer to something we did not see asked */
	kind = s->pending[0];
	memmove(s->pending, s->pending + 1, --s->npending);
	if (strncmp(l, "+OK", 3) != 0)
		return;
	if (kind == P_STLS) {
		s->tls = 1;
		s->dead = 1;
		note(s, "stls");
		return;
	}
	if (kind == P_MULTI || kind == P_MESSAGE) {
		msg_reset(s);
		s->in_msg = kind == P_MESSAGE;
		s->truncated = kind == P_MULTI; /* a listing is not kept */
		s->pop_multi = 1;
	}
}

static void
pop_server(struct mm_smtp *s, const uint8_t *d, size_t n)
{
	while (n > 0 && !s->dead) {
		size_t used;
		if (s->pop_multi) {
			int ended;
			used = body_bytes(s, d, n, &ended);
			if (ended) {
				if (s->in_msg)
					deliver(s, 1);
				msg_reset(s);
				s->pop_multi = 0;
			}
		} else {
			int complete;
			used = take_line(s, MM_SMTP_SERVER, d, n, &complete);
			if (complete) {
				if (!s->d[MM_SMTP_SERVER].overlong)
					pop_line(s, s->d[MM_SMTP_SERVER].line);
				s->d[MM_SMTP_SERVER].overlong = 0;
			}
		}
		d += used;
		n -= used;
	}
}

static void
pop_client(struct mm_smtp *s, const uint8_t *d, size_t n)
{
	while (n > 0 && !s->dead) {
		int complete;
		size_t used = take_line(s, MM_SMTP_CLIENT, d, n, &complete);
		if (complete) {
			if (!s->d[MM_SMTP_CLIENT].overlong)
				pop_command(s, s->d[MM_SMTP_CLIENT].line);
			s->d[MM_SMTP_CLIENT].overlong = 0;
		}
		d += used;
		n -= used;
	}
}

void
mm_smtp_data(struct mm_smtp *s, int dir, const uint8_t *data, size_t len)
{
	if (s == NULL || s->dead || data == NULL)
		return;
	if (s->proto == MM_SMTP_PROTO_SMTP) {
		if (dir == MM_SMTP_CLIENT)
			smtp_client(s, data, len);
		else
			smtp_server(s, data, len);
	} else {
		if (dir == MM_SMTP_CLIENT)
			pop_client(s, data, len);
		else
			pop_server(s, data, len);
	}
}

void
mm_smtp_gap(struct mm_smtp *s, int dir, size_t len)
{
	(void)dir;
	(void)len;
	if (s == NULL || s->dead)
		return;
	/* Bytes are missing: a message being collected cannot be trusted to
	 * end where the stream says, so it is handed over as it is (flagged
	 * truncated) and the session is given up. */
	if (s->in_msg && s->mlen > 0)
		deliver(s, 0);
	s->dead = 1;
	note(s, "gap");
}

int
mm_smtp_tls(const struct mm_smtp *s)
{
	return s ? s->tls : 0;
}

uint64_t
mm_smtp_messages(const struct mm_smtp *s)
{
	return s ? s->messages : 0;
}

void
mm_smtp_free(struct mm_smtp *s)
{
	if (s == NULL)
		return;
	/* A capture that ends inside a message still shows what was sent. */
	if (s->in_msg && s->mlen > 0 && !s->dead)
		deliver(s, 0);
	clear_envelope(s);
	free(s->msg);
	free(s);
}
