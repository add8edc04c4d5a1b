/*
 * The attach plugin's milter: lets Postfix (or Sendmail) hand every mail to
 * the scanner before it is queued, and applies the verdict (add a header,
 * quarantine into Postfix's hold queue, or reject with a 5xx). Runs in the
 * attach worker process, in threads of its own: libmilter's smfi_main runs
 * its listener and one thread per SMTP session, started from a dedicated
 * thread. Those threads never call the host API: a complete message is
 * passed to the plugin's thread through a pipe (the plugin watches the read
 * end with fd_watch), and the session thread waits, bounded, for the
 * verdict to come back. Every internal problem (no answer in time, a full
 * pipe, a message larger than the limit, out of memory) accepts the mail
 * unchanged, so a fault here never stops mail, and is counted.
 *
 * libmilter keeps process-wide state, so there is one milter per process;
 * its state here is static and never freed, because libmilter's session
 * threads may outlive smfi_main's return by a little.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <mimamori/error.h>

#include "attach_core.h"

/* How the session thread and the plugin thread share one message. */
struct mm_milter_msg_priv {
	struct mm_milter_msg pub;
	int refs;
	int done;
};

/* Per SMTP session: the message being collected. */
struct session {
	uint8_t *buf;
	size_t len;
	size_t cap;
	char *envfrom;
	char **rcpts;
	size_t nrcpts;
	int too_big;
};

#define MAX_RCPTS 1000

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int running;
	int started_once;
	int stopping;
	int pipe_rd;
	int pipe_wr;
	int wait_ms;
	size_t max_bytes;
	char conn[512];
	atomic_uint_fast64_t stats[MM_MILTER_STAT_COUNT];
} M = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .cond = PTHREAD_COND_INITIALIZER,
        .pipe_rd = -1,
        .pipe_wr = -1,
};

static void
count(int which)
{
	atomic_fetch_add(&M.stats[which], 1);
}

static void
msg_unref(struct mm_milter_msg_priv *p)
{
	int last;
	pthread_mutex_lock(&M.lock);
	last = --p->refs == 0;
	pthread_mutex_unlock(&M.lock);
	if (!last)
		return;
	free(p->pub.data);
	free(p->pub.envfrom);
	for (size_t i = 0; i < p->pub.nrcpts; i++)
		free(p->pub.rcpts[i]);
	free(p->pub.rcpts);
	free(p);
}

static void
session_reset(struct session *s)
{
	free(s->buf);
	free(s->envfrom);
	for (size_t i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	memset(s, 0, sizeof(*s));
}

static int
append(struct session *s, const void *d, size_t n)
{
	if (s->too_big)
		return 0;
	if (s->len + n > M.max_bytes) {
		s->too_big = 1;
		return 0;
	}
	if (s->len + n > s->cap) {
		size_t nc = s->cap ? s->cap : 65536;
		uint8_t *nb;
		while (nc < s->len + n)
			nc *= 2;
		nb = realloc(s->buf, nc);
		if (nb == NULL)
			return -1;
		s->buf = nb;
		s->cap = nc;
	}
	memcpy(s->buf + s->len, d, n);
	s->len += n;
	return 0;
}

static struct session *
get_session(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s != NULL)
			smfi_setpriv(ctx, s);
	}
	return s;
}

static char *
strip_angle(const char *a)
{
	size_t n;
	if (a == NULL)
		return strdup("");
	if (*a == '<')
		a++;
	n = strcspn(a, ">");
	return strndup(a, n);
}

static sfsistat
on_envfrom(SMFICTX *ctx, char **argv)
{
	struct session *s = get_session(ctx);
	if (s == NULL)
		return SMFIS_ACCEPT;
	session_reset(s);
	s->envfrom = strip_angle(argv ? argv[0] : NULL);
	return SMFIS_CONTINUE;
}

static sfsistat
on_envrcpt(SMFICTX *ctx, char **argv)
{
	struct session *s = get_session(ctx);
	char **nr;
	if (s == NULL)
		return SMFIS_CONTINUE;
	if (s->nrcpts >= MAX_RCPTS)
		return SMFIS_CONTINUE;
	nr = realloc(s->rcpts, (s->nrcpts + 1) * sizeof(*nr));
	if (nr == NULL)
		return SMFIS_CONTINUE;
	s->rcpts = nr;
	nr[s->nrcpts] = strip_angle(argv ? argv[0] : NULL);
	if (nr[s->nrcpts] != NULL)
		s->nrcpts++;
	return SMFIS_CONTINUE;
}

static sfsistat
on_header(SMFICTX *ctx, char *name, char *value)
{
	struct session *s = get_session(ctx);
	if (s == NULL)
		return SMFIS_CONTINUE;
	/* libmilter gives folded values with bare LF: mail parsers take
	 * them as they are, so the header is rebuilt as it came. */
	if (append(s, name, strlen(name)) != 0 || append(s, ": ", 2) != 0 ||
	    append(s, value, strlen(value)) != 0 || append(s, "\r\n", 2) != 0)
		s->too_big = 1;
	return SMFIS_CONTINUE;
}

static sfsistat
on_eoh(SMFICTX *ctx)
{
	struct session *s = get_session(ctx);
	if (s != NULL && append(s, "\r\n", 2) != 0)
		s->too_big = 1;
	return SMFIS_CONTINUE;
}

static sfsistat
on_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	struct session *s = get_session(ctx);
	if (s != NULL && append(s, data, len) != 0)
		s->too_big = 1;
	return SMFIS_CONTINUE;
}

static void
deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Hands the message to the plugin's thread and waits for its verdict.
 * Returns the verdict, MM_MILTER_ACCEPT on any failure (counted). */
static int
ask_verdict(struct session *s, char *reason, size_t rn)
{
	struct mm_milter_msg_priv *p = calloc(1, sizeof(*p));
	struct timespec until;
	int verdict = MM_MILTER_ACCEPT, rc = 0;
	ssize_t w;

	if (p == NULL) {
		count(MM_MILTER_STAT_FAILOPEN);
		return verdict;
	}
	/* The message moves to the shared record: the session starts over. */
	p->pub.data = s->buf;
	p->pub.len = s->len;
	p->pub.envfrom = s->envfrom;
	p->pub.rcpts = s->rcpts;
	p->pub.nrcpts = s->nrcpts;
	s->buf = NULL;
	s->envfrom = NULL;
	s->rcpts = NULL;
	s->nrcpts = s->len = s->cap = 0;
	p->refs = 2; /* this thread, and the pipe's reader */
	pthread_mutex_lock(&M.lock);
	if (M.stopping || M.pipe_wr < 0) {
		p->refs = 1;
		pthread_mutex_unlock(&M.lock);
		count(MM_MILTER_STAT_FAILOPEN);
		msg_unref(p);
		return verdict;
	}
	w = write(M.pipe_wr, &p, sizeof(p));
	if (w != (ssize_t)sizeof(p)) {
		/* The pipe is full (the scanner is far behind) or gone. */
		p->refs = 1;
		pthread_mutex_unlock(&M.lock);
		count(MM_MILTER_STAT_FAILOPEN);
		msg_unref(p);
		return verdict;
	}
	deadline_in(&until, M.wait_ms);
	while (!p->done && !M.stopping && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&M.cond, &M.lock, &until);
	if (p->done) {
		verdict = p->pub.verdict;
		snprintf(reason, rn, "%s", p->pub.reason);
	} else {
		count(MM_MILTER_STAT_TIMEOUT);
		count(MM_MILTER_STAT_FAILOPEN);
	}
	pthread_mutex_unlock(&M.lock);
	msg_unref(p);
	return verdict;
}

static sfsistat
on_eom(SMFICTX *ctx)
{
	struct session *s = get_session(ctx);
	char reason[256] = "";
	char hname[] = "X-Mimamori-Scan";
	char hval[300];
	int verdict;

	count(MM_MILTER_STAT_MESSAGES);
	if (s == NULL) {
		count(MM_MILTER_STAT_FAILOPEN);
		return SMFIS_ACCEPT;
	}
	if (s->too_big) {
		count(MM_MILTER_STAT_TOO_BIG);
		count(MM_MILTER_STAT_FAILOPEN);
		session_reset(s);
		return SMFIS_ACCEPT;
	}
	verdict = ask_verdict(s, reason, sizeof(reason));
	switch (verdict) {
	case MM_MILTER_REJECT: {
		char code[] = "550", xcode[] = "5.7.1";
		char text[300];
		snprintf(text, sizeof(text), "Message rejected: %s",
		         reason[0] ? reason : "malware");
		/* A reply text may not carry CR/LF or %. */
		for (char *c = text; *c; c++)
			if (*c == '\r' || *c == '\n' || *c == '%')
				*c = ' ';
		smfi_setreply(ctx, code, xcode, text);
		count(MM_MILTER_STAT_REJECTED);
		return SMFIS_REJECT;
	}
	case MM_MILTER_QUARANTINE: {
		char q[300];
		snprintf(q, sizeof(q), "mimamori: %s", reason[0] ? reason : "malware");
		if (smfi_quarantine(ctx, q) != MI_SUCCESS) {
			count(MM_MILTER_STAT_FAILOPEN);
			return SMFIS_ACCEPT;
		}
		count(MM_MILTER_STAT_QUARANTINED);
		return SMFIS_CONTINUE;
	}
	case MM_MILTER_TAG:
		snprintf(hval, sizeof(hval), "alert; %s", reason[0] ? reason : "malware");
		if (smfi_addheader(ctx, hname, hval) == MI_SUCCESS)
			count(MM_MILTER_STAT_TAGGED);
		return SMFIS_CONTINUE;
	case MM_MILTER_CLEAN:
		snprintf(hval, sizeof(hval), "clean");
		smfi_addheader(ctx, hname, hval);
		return SMFIS_CONTINUE;
	default:
		return SMFIS_CONTINUE;
	}
}

static sfsistat
on_abort(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);
	if (s != NULL)
		session_reset(s);
	return SMFIS_CONTINUE;
}

static sfsistat
on_close(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);
	if (s != NULL) {
		session_reset(s);
		free(s);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

static void *
milter_thread(void *arg)
{
	(void)arg;
	if (smfi_main() != MI_SUCCESS)
		count(MM_MILTER_STAT_ERRORS);
	pthread_mutex_lock(&M.lock);
	M.running = 0;
	pthread_mutex_unlock(&M.lock);
	return NULL;
}

int
mm_milter_start(int *out_fd, const char *conn, int wait_ms, size_t max_bytes, char *err,
                size_t errn)
{
	static char name[] = "mimamori-attach";
	struct smfiDesc desc;
	int fds[2];
	sigset_t all, old;
	int rc;

	*out_fd = -1;
	if (M.started_once) {
		snprintf(err, errn, "a milter was already started in this process");
		return MM_ERR_STATE;
	}
	if (conn == NULL || conn[0] == 0) {
		snprintf(err, errn, "no milter socket");
		return MM_ERR_INVAL;
	}
	/* "inet:port@host", "inet6:…", "unix:/path" or a bare path. */
	if (conn[0] == '/')
		snprintf(M.conn, sizeof(M.conn), "unix:%s", conn);
	else
		snprintf(M.conn, sizeof(M.conn), "%s", conn);
	M.wait_ms = wait_ms > 0 ? wait_ms : 30000;
	M.max_bytes = max_bytes ? max_bytes : (50u << 20);
	memset(&desc, 0, sizeof(desc));
	desc.xxfi_name = name;
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_QUARANTINE;
	desc.xxfi_envfrom = on_envfrom;
	desc.xxfi_envrcpt = on_envrcpt;
	desc.xxfi_header = on_header;
	desc.xxfi_eoh = on_eoh;
	desc.xxfi_body = on_body;
	desc.xxfi_eom = on_eom;
	desc.xxfi_abort = on_abort;
	desc.xxfi_close = on_close;
	if (smfi_register(desc) != MI_SUCCESS) {
		snprintf(err, errn, "smfi_register failed");
		return MM_ERR_IO;
	}
	if (smfi_setconn(M.conn) != MI_SUCCESS) {
		snprintf(err, errn, "bad milter socket '%s'", M.conn);
		return MM_ERR_INVAL;
	}
	/* Binding here makes a busy port an error of start(), not a silent
	 * thread exit. */
	if (smfi_opensocket(1) != MI_SUCCESS) {
		snprintf(err, errn, "cannot listen on %s", M.conn);
		return MM_ERR_IO;
	}
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(err, errn, "pipe: %s", strerror(errno));
		return MM_ERR_IO;
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	M.pipe_rd = fds[0];
	M.pipe_wr = fds[1];
	M.stopping = 0;
	/* libmilter's threads must not take the host's signals: they start
	 * with every signal blocked (its own signal thread still sigwaits for
	 * HUP/TERM/INT, but Linux delivers a process signal to the main thread
	 * when that thread does not block it). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&M.thread, NULL, milter_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errn, "cannot start the milter thread: %s", strerror(rc));
		close(fds[0]);
		close(fds[1]);
		M.pipe_rd = M.pipe_wr = -1;
		return MM_ERR_IO;
	}
	M.running = 1;
	M.started_once = 1;
	*out_fd = M.pipe_rd;
	return MM_OK;
}

struct mm_milter_msg *
mm_milter_next(void)
{
	struct mm_milter_msg_priv *p = NULL;
	ssize_t r;
	if (M.pipe_rd < 0)
		return NULL;
	r = read(M.pipe_rd, &p, sizeof(p));
	if (r != (ssize_t)sizeof(p))
		return NULL;
	return &p->pub;
}

void
mm_milter_done(struct mm_milter_msg *msg, int verdict, const char *reason)
{
	struct mm_milter_msg_priv *p = (struct mm_milter_msg_priv *)msg;
	if (msg == NULL)
		return;
	pthread_mutex_lock(&M.lock);
	p->pub.verdict = verdict;
	snprintf(p->pub.reason, sizeof(p->pub.reason), "%s", reason ? reason : "");
	p->done = 1;
	pthread_cond_broadcast(&M.cond);
	pthread_mutex_unlock(&M.lock);
	msg_unref(p);
}

uint64_t
mm_milter_stat(int which)
{
	if (which < 0 || which >= MM_MILTER_STAT_COUNT)
		return 0;
	return atomic_load(&M.stats[which]);
}

void
mm_milter_stop(void)
{
	struct mm_milter_msg *msg;
	int wr;

	if (!M.started_once || M.pipe_rd < 0)
		return;
	pthread_mutex_lock(&M.lock);
	M.stopping = 1;
	wr = M.pipe_wr;
	M.pipe_wr = -1;
	pthread_cond_broadcast(&M.cond);
	pthread_mutex_unlock(&M.lock);
	smfi_stop();
	/* smfi_main returns once its listener sees the stop flag (it polls
	 * about once a second). */
	pthread_join(M.thread, NULL);
	/* Messages nobody will scan now: their sessions already accepted. */
	while ((msg = mm_milter_next()) != NULL)
		mm_milter_done(msg, MM_MILTER_ACCEPT, NULL);
	if (wr >= 0)
		close(wr);
	close(M.pipe_rd);
	M.pipe_rd = -1;
}
