/*
 * The attach plugin: scans mail for dangerous attachments (macro documents,
 * executables in archives, encrypted archives whose password is in the
 * body) and for the sender tricks that come with them. This file is the
 * thin layer over mm_attach_core that reads the configuration, compiles
 * the rules, watches a Maildir or spool directory with inotify, takes
 * files from `mimamori scan-mail` through feed(), answers Postfix as a
 * milter (milter.c hands each message over through a pipe, so the host API
 * is only ever called here, on the plugin's thread), rebuilds SMTP and
 * POP3 sessions from captured packets (smtp.c over the SDK flow table),
 * and turns scan results into Email Activity (4009) and Detection Finding
 * (2004) events. Runs in the attach worker process (or in-process for
 * scan-mail, replay and run --inproc).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mimamori/flow.h>
#include <mimamori/plugin.h>

#include "attach_core.h"

#define MAX_MAIL_BYTES (64u << 20)

struct attach {
	struct mm_rules *rules;
	struct mm_attach_opts opts;
	const char **passwords;
	const char **lures;
	const char **suppliers;
	int scan_record;
	int ino_fd;
	int ino_watch;
	char watch_dir[PATH_MAX];

	/* Milter. */
	int milter_fd;
	int milter_watch;
	int milter_action; /* enum mm_milter_verdict for a bad mail */
	int milter_min_sev;
	int stat_timer;

	/* SMTP/POP3 from packets. */
	int capture;
	struct mm_flow_table *flows;
	size_t sniff_max;
	struct mm_ctx *ctx; /* for the flow table's callbacks */
};

/* Per-flow state of a sniffed session. */
struct sniffed {
	struct mm_smtp *smtp;
	struct attach *a;
	struct mm_flow *flow;
};

/* Marks flows that are not mail, so they are looked at once. */
static char not_mail;

static const struct mm_cfg_key attach_keys[] = {
        {"rules", MM_CFG_STRING_LIST, "attach/rules", 0, 0, 0,
         "Rule files or directories that must compile (relative paths are under the data "
         "directory); an error keeps the previous rules."},
        {"rules_extra", MM_CFG_STRING_LIST, "", 0, 0, 0,
         "Public rule sets loaded as they are: a file that does not compile is reported and "
         "skipped."},
        {"max_depth", MM_CFG_INT, "8", 1, 32, 0, "Deepest nesting of archives and documents."},
        {"max_total_mb", MM_CFG_INT, "256", 1, 4096, 0, "Most bytes unpacked from one mail."},
        {"max_file_mb", MM_CFG_INT, "64", 1, 1024, 0, "Largest single unpacked file."},
        {"max_files", MM_CFG_INT, "1000", 1, 100000, 0, "Most files scanned in one mail."},
        {"max_seconds", MM_CFG_INT, "30", 1, 600, 0, "Most time spent on one mail."},
        {"yara_timeout", MM_CFG_INT, "10", 1, 300, 0, "Seconds of rule matching per file."},
        {"max_passwords", MM_CFG_INT, "32", 0, 256, 0,
         "Password candidates taken from the mail text to open encrypted archives."},
        {"passwords", MM_CFG_STRING_LIST, "infected", 0, 0, 0,
         "Passwords always tried on encrypted archives."},
        {"lure_words", MM_CFG_STRING_LIST,
         "請求書,賞与,ボーナス,支払,振込,送金,見積,納品書,至急,緊急,invoice,payment,bonus,"
         "remittance,overdue,urgent",
         0, 0, 0, "Words in a subject that lures use (Japanese and English)."},
        {"suppliers", MM_CFG_STRING_LIST, "", 0, 0, 0,
         "Domains of known suppliers: mail pretending to be them is reported."},
        {"watch_dir", MM_CFG_STRING, "", 0, 0, 0,
         "A Maildir (its new/ folder is watched) or spool directory to scan as mail arrives; "
         "empty: none."},
        {"scan_record", MM_CFG_BOOL, "false", 0, 0, 0,
         "Also record clean mails (an info-level Email Activity event)."},
        {"milter_socket", MM_CFG_STRING, "", 0, 0, 0,
         "Socket Postfix calls as a milter, \"inet:10025@127.0.0.1\" or a unix socket path; "
         "empty: no milter."},
        {"milter_action", MM_CFG_STRING, "tag", 0, 0, 0,
         "What the milter does with a dangerous mail: \"tag\" (add a header), \"quarantine\" "
         "(Postfix hold queue) or \"reject\" (5xx to the sender)."},
        {"milter_min_severity", MM_CFG_INT, "4", 1, 5, 0,
         "Lowest finding severity (3 medium, 4 high) that makes the milter act."},
        {"milter_max_mb", MM_CFG_INT, "50", 1, 1024, 0,
         "Largest mail the milter collects; a larger one is accepted unscanned and counted."},
        {"sniff", MM_CFG_STRING, "auto", 0, 0, 0,
         "Rebuild SMTP and POP3 mail from captured packets: \"auto\" (on a UTM), \"on\" or "
         "\"off\"."},
        {"sniff_interface", MM_CFG_STRING, "", 0, 0, 0,
         "Interface to capture mail traffic on (replay binds to its file); empty: the default."},
        {"sniff_bpf", MM_CFG_STRING, "tcp port 25 or tcp port 587 or tcp port 2525 or tcp port 110",
         0, 0, 0, "Capture filter for the mail sessions."},
        {"sniff_max_mb", MM_CFG_INT, "32", 1, 256, 0,
         "Largest message kept from one sniffed session; more is cut and reported."},
        {NULL, 0, NULL, 0, 0, 0, NULL},
};

static const char **
cfg_list(struct mm_ctx *ctx, const char *key, size_t *n)
{
	size_t c = ctx->api->cfg_list_count(ctx, key);
	const char **v = calloc(c + 1, sizeof(*v));
	*n = 0;
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < c; i++) {
		const char *s = ctx->api->cfg_list_at(ctx, key, i);
		if (s != NULL && s[0] != 0)
			v[(*n)++] = s;
	}
	return v;
}

static void
report_rule_error(void *user, const char *file, int line, const char *msg)
{
	struct mm_ctx *ctx = user;
	mm_log(ctx, MM_LOG_WARN, "yara: %s:%d: %s", file, line, msg);
	mm_counter_add(ctx, "rules.errors", 1);
}

/* Resolves relative rule paths against the data directory. */
static char **
resolve(struct mm_ctx *ctx, const char *key, size_t *n)
{
	size_t c;
	const char **v = cfg_list(ctx, key, &c);
	char **r = calloc(c + 1, sizeof(*r));
	*n = 0;
	for (size_t i = 0; r != NULL && v != NULL && i < c; i++) {
		char buf[PATH_MAX];
		mm_data_path(ctx, buf, sizeof(buf), v[i]);
		r[*n] = strdup(buf);
		if (r[*n] != NULL)
			(*n)++;
	}
	free(v);
	return r;
}

static void
free_strs(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

static int
load_rules(struct mm_ctx *ctx, struct mm_rules **out)
{
	size_t ns, nl;
	char **strict = resolve(ctx, "rules", &ns);
	char **lenient = resolve(ctx, "rules_extra", &nl);
	int rc = mm_rules_load(out, (const char *const *)strict, ns, (const char *const *)lenient,
	                       nl, report_rule_error, ctx);
	if (rc == MM_OK)
		mm_log(ctx, MM_LOG_INFO, "yara: %zu rules from %zu files", mm_rules_count(*out),
		       mm_rules_files(*out));
	free_strs(strict, ns);
	free_strs(lenient, nl);
	return rc;
}

static int
attach_init(struct mm_ctx *ctx)
{
	struct attach *a = calloc(1, sizeof(*a));
	struct mm_attach_opts *o;
	int rc;

	if (a == NULL)
		return MM_ERR_NOMEM;
	a->ino_fd = -1;
	a->ino_watch = -1;
	a->milter_fd = -1;
	a->milter_watch = -1;
	a->stat_timer = -1;
	a->capture = -1;
	a->ctx = ctx;
	o = &a->opts;
	mm_attach_opts_default(o);
	o->max_depth = (int)mm_cfg_int(ctx, "max_depth");
	o->max_total = (uint64_t)mm_cfg_int(ctx, "max_total_mb") << 20;
	o->max_file = (uint64_t)mm_cfg_int(ctx, "max_file_mb") << 20;
	o->max_files = (int)mm_cfg_int(ctx, "max_files");
	o->max_ms = (int)mm_cfg_int(ctx, "max_seconds") * 1000;
	o->yara_timeout_s = (int)mm_cfg_int(ctx, "yara_timeout");
	o->max_passwords = (int)mm_cfg_int(ctx, "max_passwords");
	a->passwords = cfg_list(ctx, "passwords", &o->npasswords);
	a->lures = cfg_list(ctx, "lure_words", &o->nlures);
	a->suppliers = cfg_list(ctx, "suppliers", &o->nsuppliers);
	o->passwords = a->passwords;
	o->lures = a->lures;
	o->suppliers = a->suppliers;
	a->scan_record = mm_cfg_bool(ctx, "scan_record");
	a->milter_min_sev = (int)mm_cfg_int(ctx, "milter_min_severity");
	a->sniff_max = (size_t)mm_cfg_int(ctx, "sniff_max_mb") << 20;
	ctx->data = a;
	{
		const char *act = mm_cfg_str(ctx, "milter_action");
		if (act == NULL || strcmp(act, "tag") == 0)
			a->milter_action = MM_MILTER_TAG;
		else if (strcmp(act, "quarantine") == 0)
			a->milter_action = MM_MILTER_QUARANTINE;
		else if (strcmp(act, "reject") == 0)
			a->milter_action = MM_MILTER_REJECT;
		else {
			mm_log(ctx, MM_LOG_ERROR,
			       "milter_action must be \"tag\", \"quarantine\" or \"reject\", not "
			       "\"%s\"",
			       act);
			return MM_ERR_CONFIG;
		}
		act = mm_cfg_str(ctx, "sniff");
		if (act != NULL && strcmp(act, "auto") != 0 && strcmp(act, "on") != 0 &&
		    strcmp(act, "off") != 0) {
			mm_log(ctx, MM_LOG_ERROR,
			       "sniff must be \"auto\", \"on\" or \"off\", not \"%s\"", act);
			return MM_ERR_CONFIG;
		}
	}
	rc = load_rules(ctx, &a->rules);
	if (rc != MM_OK) {
		mm_log(ctx, MM_LOG_ERROR, "yara: the rules did not compile: %s", mm_strerror(rc));
		return rc;
	}
	return MM_OK;
}

static uint32_t
rule_id(const char *ns, const char *rule)
{
	/* Stable numeric id for a named rule (FNV-1a over "ns:rule"), since
	 * rule.id is an integer in the schema. */
	uint32_t h = 2166136261u;
	for (const char *p = ns; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ ':') * 16777619u;
	for (const char *p = rule; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h & 0x7fffffffu;
}

static void
set_mail(struct mm_ctx *ctx, struct mm_event *ev, const struct mm_mime_mail *m)
{
	if (m->mid)
		mm_ev_str(ctx, ev, "mail.mid", m->mid);
	mm_ev_str(ctx, ev, "mail.from", m->from_addr ? m->from_addr : (m->from ? m->from : ""));
	for (size_t i = 0; i < m->nto; i++)
		mm_ev_add_str(ctx, ev, "mail.to", m->to[i]);
	mm_ev_str(ctx, ev, "mail.subj", m->subject ? m->subject : "");
	mm_ev_str(ctx, ev, "app", "smtp");
}

static const char *
msg_id(int kind)
{
	switch (kind) {
	case MM_ATT_YARA:
		return "attach.yara";
	case MM_ATT_LIMIT:
		return "attach.limit";
	case MM_ATT_ENCRYPTED:
		return "attach.encrypted";
	case MM_ATT_PASSWORD_BODY:
		return "attach.password_in_body";
	case MM_ATT_MACRO:
		return "attach.macro";
	case MM_ATT_HDR_MISMATCH:
		return "attach.header_mismatch";
	case MM_ATT_LOOKALIKE:
		return "attach.lookalike";
	case MM_ATT_LURE:
		return "attach.lure";
	default:
		return "attach.malformed";
	}
}

/* Emits the events of one scanned mail; source says where it came from
 * ("file", "maildir", "milter"), action what was done with it. Returns the
 * number of findings. */
static void
set_flow(struct mm_ctx *ctx, struct mm_event *ev, const struct mm_flow *fl, const char *app)
{
	if (fl == NULL)
		return;
	mm_ev_addr(ctx, ev, "src.ip", &fl->cli);
	mm_ev_int(ctx, ev, "src.port", fl->cli_port);
	mm_ev_addr(ctx, ev, "dst.ip", &fl->srv);
	mm_ev_int(ctx, ev, "dst.port", fl->srv_port);
	mm_ev_str(ctx, ev, "proto", "tcp");
	mm_ev_str(ctx, ev, "app", app);
}

static int
emit_result(struct mm_ctx *ctx, const struct mm_attach_result *r, const char *source,
            const char *action, const struct mm_flow *fl)
{
	const char *app = strcmp(source, "pop3") == 0 ? "pop3" : "smtp";
	const struct mm_mime_mail *m = r->mail;
	const char *from = m->from_addr ? m->from_addr : "?";
	struct mm_event *ev;
	char cnt[32];

	mm_counter_add(ctx, "mails", 1);
	mm_counter_add(ctx, "objects", r->objects);
	for (size_t i = 0; i < r->nfindings; i++) {
		const struct mm_attach_finding *f = &r->findings[i];
		int yara = f->kind == MM_ATT_YARA;
		int phish = f->kind == MM_ATT_HDR_MISMATCH || f->kind == MM_ATT_LOOKALIKE ||
		            f->kind == MM_ATT_LURE;
		ev = mm_ev_new(ctx, MM_KIND_ALERT);
		if (ev == NULL)
			return -1;
		mm_ev_int(ctx, ev, "ocsf", MM_OCSF_DETECTION_FINDING);
		mm_ev_str(ctx, ev, "cat", phish ? "phishing" : "malware");
		mm_ev_int(ctx, ev, "sev", f->sev);
		mm_ev_str(ctx, ev, "action", action);
		mm_ev_str(ctx, ev, "rule.ns", yara ? "yara" : "attach");
		mm_ev_int(ctx, ev, "rule.id", rule_id(f->rule_ns, f->rule));
		mm_ev_int(ctx, ev, "rule.rev", 1);
		mm_ev_str(ctx, ev, "rule.name", f->rule);
		set_mail(ctx, ev, m);
		set_flow(ctx, ev, fl, app);
		if (f->name != NULL) {
			mm_ev_str(ctx, ev, "file.name", f->name);
			mm_ev_str(ctx, ev, "file.mime", f->mime);
			mm_ev_int(ctx, ev, "file.size", (int64_t)f->size);
			mm_ev_str(ctx, ev, "file.sha256", f->sha256);
			mm_ev_str(ctx, ev, "file.path", f->path);
		}
		mm_ev_str(ctx, ev, "attrs.finding", mm_attach_kind_name(f->kind));
		if (yara)
			mm_ev_str(ctx, ev, "attrs.yara_ns", f->rule_ns);
		if (f->detail)
			mm_ev_str(ctx, ev, "attrs.detail", f->detail);
		mm_ev_str(ctx, ev, "attrs.source", source);
		mm_ev_msg(ctx, ev, msg_id(f->kind),
		          (const char *[]){"file", f->name ? f->name : "", "rule", f->rule, "from",
		                           from, "detail", f->detail ? f->detail : "", NULL});
		mm_emit(ctx, ev);
		mm_counter_add(ctx, "findings", 1);
	}
	{
		struct attach *a = ctx->data;
		if (r->nfindings == 0 && !a->scan_record)
			return 0;
	}
	/* One Email Activity event per mail that had findings (or per mail
	 * when scan records are on): what a provider lists as "mails". */
	ev = mm_ev_new(ctx, r->nfindings ? MM_KIND_ALERT : MM_KIND_STAT);
	if (ev == NULL)
		return -1;
	snprintf(cnt, sizeof(cnt), "%zu", r->nfindings);
	mm_ev_int(ctx, ev, "ocsf", MM_OCSF_EMAIL_ACTIVITY);
	mm_ev_str(ctx, ev, "cat", r->nfindings ? "malware" : "mail");
	mm_ev_int(ctx, ev, "sev", r->nfindings ? r->max_sev : MM_SEV_INFO);
	mm_ev_str(ctx, ev, "action", r->nfindings ? action : "allowed");
	set_mail(ctx, ev, m);
	set_flow(ctx, ev, fl, app);
	mm_ev_int(ctx, ev, "attrs.objects", r->objects);
	mm_ev_int(ctx, ev, "attrs.findings", (int64_t)r->nfindings);
	mm_ev_int(ctx, ev, "attrs.parts", (int64_t)m->nparts);
	mm_ev_str(ctx, ev, "attrs.source", source);
	for (size_t i = 0; i < m->nnames && i < 64; i++)
		mm_ev_add_str(ctx, ev, "attrs.attachments", m->names[i]);
	mm_ev_msg(ctx, ev, r->nfindings ? "attach.mail" : "attach.clean",
	          (const char *[]){"from", from, "subj", m->subject ? m->subject : "", "count", cnt,
	                           NULL});
	mm_emit(ctx, ev);
	return (int)r->nfindings;
}

static int
read_file(uint8_t **out, size_t *len, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	size_t got = 0;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return MM_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return MM_ERR_IO;
	}
	if ((uint64_t)st.st_size > MAX_MAIL_BYTES) {
		close(fd);
		return MM_ERR_TOOBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return MM_ERR_NOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = got;
	return MM_OK;
}

static int
scan_path(struct mm_ctx *ctx, const char *path, const char *source)
{
	struct attach *a = ctx->data;
	struct mm_attach_result *r = NULL;
	uint8_t *data;
	size_t len;
	int rc = read_file(&data, &len, path);

	if (rc != MM_OK) {
		mm_log(ctx, MM_LOG_WARN, "cannot read %s: %s", path, mm_strerror(rc));
		mm_counter_add(ctx, "read_errors", 1);
		return rc;
	}
	rc = mm_attach_scan(&r, a->rules, &a->opts, data, len);
	if (rc == MM_OK)
		emit_result(ctx, r, source, "detected", NULL);
	mm_attach_result_free(r);
	free(data);
	return rc;
}

static int
attach_feed(struct mm_ctx *ctx, const char *kind, const char *path)
{
	if (strcmp(kind, "mail") != 0 && strcmp(kind, "file") != 0)
		return MM_ERR_UNSUPPORTED;
	return scan_path(ctx, path, "file");
}

static void
on_inotify(struct mm_ctx *ctx, int fd, unsigned revents, void *user)
{
	struct attach *a = ctx->data;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(fd, buf, sizeof(buf));
	for (ssize_t p = 0; n > 0 && p + (ssize_t)sizeof(struct inotify_event) <= n;) {
		const struct inotify_event *ie = (const void *)(buf + p);
		p += (ssize_t)sizeof(*ie) + ie->len;
		if (ie->len > 0 && ie->name[0] != '.' && !(ie->mask & IN_ISDIR)) {
			char path[PATH_MAX];
			int w = snprintf(path, sizeof(path), "%s/%s", a->watch_dir, ie->name);
			if (w > 0 && (size_t)w < sizeof(path))
				scan_path(ctx, path, "maildir");
		}
	}
}

/* ---- Milter ----------------------------------------------------------- */

static void
milter_gauges(struct mm_ctx *ctx, void *user)
{
	static const char *names[MM_MILTER_STAT_COUNT] = {
	        "milter.messages", "milter.failopen",    "milter.timeouts", "milter.too_big",
	        "milter.rejected", "milter.quarantined", "milter.tagged",   "milter.errors"};
	(void)user;
	for (int i = 0; i < MM_MILTER_STAT_COUNT; i++)
		ctx->api->gauge_set(ctx, names[i], (int64_t)mm_milter_stat(i));
}

/* The reason given to the MTA: the rules that made the mail dangerous. */
static void
reason_of(char *out, size_t n, const struct mm_attach_result *r, int min_sev)
{
	size_t o = 0;
	out[0] = 0;
	for (size_t i = 0; i < r->nfindings && o + 1 < n; i++) {
		const struct mm_attach_finding *f = &r->findings[i];
		int w;
		if (f->sev < min_sev || (o > 0 && strstr(out, f->rule) != NULL))
			continue;
		w = snprintf(out + o, n - o, "%s%s", o ? "," : "", f->rule);
		if (w < 0 || (size_t)w >= n - o)
			break;
		o += (size_t)w;
	}
}

static void
on_milter(struct mm_ctx *ctx, int fd, unsigned revents, void *user)
{
	struct attach *a = ctx->data;
	struct mm_milter_msg *msg;
	(void)fd;
	(void)revents;
	(void)user;
	/* A bounded batch per wakeup so other sources get their turn. */
	for (int k = 0; k < 16 && (msg = mm_milter_next()) != NULL; k++) {
		struct mm_attach_opts o = a->opts;
		struct mm_attach_result *r = NULL;
		int verdict =
		        a->milter_action == MM_MILTER_TAG ? MM_MILTER_CLEAN : MM_MILTER_ACCEPT;
		char reason[200] = "";
		const char *action = "allowed";
		o.envelope_from = msg->envfrom;
		if (mm_attach_scan(&r, a->rules, &o, msg->data, msg->len) != MM_OK) {
			mm_counter_add(ctx, "milter.scan_errors", 1);
			mm_milter_done(msg, MM_MILTER_ACCEPT, NULL);
			continue;
		}
		if (r->max_sev >= a->milter_min_sev) {
			verdict = a->milter_action;
			reason_of(reason, sizeof(reason), r, a->milter_min_sev);
			action = verdict == MM_MILTER_TAG ? "detected" : "blocked";
		} else if (r->nfindings > 0) {
			action = "detected";
		}
		/* The verdict first: the SMTP client is waiting for it. */
		mm_milter_done(msg, verdict, reason);
		emit_result(ctx, r, "milter", action, NULL);
		mm_attach_result_free(r);
	}
	milter_gauges(ctx, NULL);
}

static int
start_milter(struct mm_ctx *ctx, struct attach *a, const char *sock)
{
	char err[256];
	int wait_ms = a->opts.max_ms + 5000;
	size_t max = (size_t)mm_cfg_int(ctx, "milter_max_mb") << 20;
	int rc = mm_milter_start(&a->milter_fd, sock, wait_ms, max, err, sizeof(err));
	if (rc != MM_OK) {
		mm_log(ctx, MM_LOG_ERROR, "milter: %s", err);
		return rc;
	}
	a->milter_watch = ctx->api->fd_watch(ctx, a->milter_fd, MM_FD_READ, on_milter, NULL);
	if (a->milter_watch < 0) {
		mm_milter_stop();
		a->milter_fd = -1;
		return a->milter_watch;
	}
	a->stat_timer = ctx->api->timer_add(ctx, 5000, 1, milter_gauges, NULL);
	mm_log(ctx, MM_LOG_INFO, "milter listening on %s (action %s)", sock,
	       mm_cfg_str(ctx, "milter_action"));
	return MM_OK;
}

/* ---- SMTP / POP3 from packets ---------------------------------------- */

static void
on_sniffed_mail(void *user, const struct mm_smtp_info *info, const uint8_t *eml, size_t len)
{
	struct sniffed *sn = user;
	struct attach *a = sn->a;
	struct mm_ctx *ctx = a->ctx;
	struct mm_attach_opts o = a->opts;
	struct mm_attach_result *r = NULL;
	const char *src = info->proto == MM_SMTP_PROTO_POP3 ? "pop3" : "smtp";

	mm_counter_add(ctx, "sniff.messages", 1);
	if (info->truncated)
		mm_counter_add(ctx, "sniff.truncated", 1);
	o.envelope_from = info->envfrom;
	if (mm_attach_scan(&r, a->rules, &o, eml, len) == MM_OK)
		emit_result(ctx, r, src, "detected", sn->flow);
	mm_attach_result_free(r);
}

static void
on_sniff_note(void *user, int proto, const char *what)
{
	struct sniffed *sn = user;
	struct mm_ctx *ctx = sn->a->ctx;
	struct mm_event *ev;
	const char *app = proto == MM_SMTP_PROTO_POP3 ? "pop3" : "smtp";
	char port[16];

	if (strcmp(what, "gap") == 0) {
		mm_counter_add(ctx, "sniff.gaps", 1);
		return;
	}
	/* Encrypted from here on: noted, not guessed. */
	mm_counter_add(ctx, "sniff.starttls", 1);
	ev = mm_ev_new(ctx, MM_KIND_STAT);
	if (ev == NULL)
		return;
	snprintf(port, sizeof(port), "%u", sn->flow->srv_port);
	mm_ev_int(ctx, ev, "ocsf", MM_OCSF_EMAIL_ACTIVITY);
	mm_ev_str(ctx, ev, "cat", "mail");
	mm_ev_int(ctx, ev, "sev", MM_SEV_INFO);
	mm_ev_str(ctx, ev, "action", "allowed");
	set_flow(ctx, ev, sn->flow, app);
	mm_ev_str(ctx, ev, "attrs.source", app);
	mm_ev_str(ctx, ev, "attrs.tls", what);
	mm_ev_msg(ctx, ev, "attach.starttls", (const char *[]){"app", app, "port", port, NULL});
	mm_emit(ctx, ev);
}

static int
mail_port(uint16_t port)
{
	if (port == 25 || port == 587 || port == 2525)
		return MM_SMTP_PROTO_SMTP;
	if (port == 110)
		return MM_SMTP_PROTO_POP3;
	return 0;
}

static void
on_flow_data(void *user, struct mm_flow *flow, int dir, const uint8_t *data, size_t len)
{
	struct attach *a = user;
	struct sniffed *sn = flow->user;

	if (sn == (void *)&not_mail)
		return;
	if (sn == NULL) {
		int proto = mail_port(flow->srv_port);
		sn = proto ? calloc(1, sizeof(*sn)) : NULL;
		if (sn == NULL || mm_smtp_new(&sn->smtp, proto, a->sniff_max, on_sniffed_mail,
		                              on_sniff_note, sn) != MM_OK) {
			free(sn);
			flow->user = &not_mail;
			return;
		}
		sn->a = a;
		flow->user = sn;
		mm_counter_add(a->ctx, "sniff.sessions", 1);
	}
	sn->flow = flow;
	if (data == NULL)
		mm_smtp_gap(sn->smtp, dir, len);
	else
		mm_smtp_data(sn->smtp, dir, data, len);
}

static void
on_flow_end(void *user, struct mm_flow *flow, int reason)
{
	struct sniffed *sn = flow->user;
	(void)user;
	(void)reason;
	if (sn == NULL || sn == (void *)&not_mail)
		return;
	sn->flow = flow;
	mm_smtp_free(sn->smtp); /* delivers a message the capture cut short */
	free(sn);
	flow->user = NULL;
}

/* A sender's own capture with TCP segmentation offload shows its large
 * segments with an IPv4 total length of 0 (the NIC fills it in later),
 * which the SDK decoder rightly refuses. For mail sniffed on such a host
 * the frame is decoded again with the length the capture shows, as
 * Wireshark does; only Ethernet/IPv4 frames whose length field is exactly
 * 0 qualify, and each one is counted. */
static int
tso_redecode(struct mm_packet *out, uint8_t *copy, size_t cap, const struct mm_packet *pkt)
{
	size_t off = 14u + 4u * pkt->vlan_count;
	size_t total;
	if (pkt->decode_error != MM_DEC_BAD_IP || pkt->linktype != MM_LINK_ETHERNET ||
	    pkt->ethertype != 0x0800 || pkt->caplen > cap || pkt->caplen < off + 40 ||
	    pkt->caplen != pkt->wirelen)
		return 0;
	if ((pkt->data[off] >> 4) != 4 || pkt->data[off + 2] != 0 || pkt->data[off + 3] != 0)
		return 0;
	total = pkt->caplen - off;
	if (total > 65535)
		return 0;
	memcpy(copy, pkt->data, pkt->caplen);
	copy[off + 2] = (uint8_t)(total >> 8);
	copy[off + 3] = (uint8_t)total;
	return mm_packet_decode(out, pkt->linktype, pkt->ts_ns, copy, pkt->caplen, pkt->wirelen) ==
	               MM_OK &&
	       out->decode_error == 0;
}

static void
on_packet(struct mm_ctx *ctx, const struct mm_packet *pkt, void *user)
{
	struct attach *a = ctx->data;
	static uint8_t copy[65536 + 64];
	struct mm_packet fixed;
	(void)user;
	if (pkt->decode_error == MM_DEC_BAD_IP && tso_redecode(&fixed, copy, sizeof(copy), pkt)) {
		mm_counter_add(ctx, "sniff.tso_frames", 1);
		mm_flow_table_process(a->flows, &fixed, pkt->ts_ns);
		return;
	}
	mm_flow_table_process(a->flows, pkt, pkt->ts_ns);
}

static int
start_sniff(struct mm_ctx *ctx, struct attach *a)
{
	const char *mode = mm_cfg_str(ctx, "sniff");
	const char *ifc = mm_cfg_str(ctx, "sniff_interface");
	const char *bpf = mm_cfg_str(ctx, "sniff_bpf");
	struct mm_flow_table_opts fo;
	struct mm_capture_opts co;
	int automatic = mode == NULL || strcmp(mode, "auto") == 0;
	int rc;

	if (mode != NULL && strcmp(mode, "off") == 0)
		return MM_OK;
	if (automatic && !(ctx->api->role(ctx) & MM_ROLE_UTM))
		return MM_OK;
	memset(&fo, 0, sizeof(fo));
	fo.size = sizeof(fo);
	fo.max_flows = 16384;
	fo.reassemble = 1;
	fo.stream_window = 256 * 1024;
	fo.on_data = on_flow_data;
	fo.on_end = on_flow_end;
	fo.user = a;
	rc = mm_flow_table_new(&a->flows, &fo);
	if (rc != MM_OK)
		return rc;
	memset(&co, 0, sizeof(co));
	co.size = sizeof(co);
	co.interface = ifc && *ifc ? ifc : NULL;
	co.bpf = bpf && *bpf ? bpf : NULL;
	co.promisc = 1;
	a->capture = mm_packets_open(ctx, &co, on_packet, NULL);
	if (a->capture < 0) {
		rc = a->capture;
		mm_flow_table_free(a->flows);
		a->flows = NULL;
		/* "auto" is a wish, not a requirement: a PC or a sensor
		 * without capture rights still scans files and spools. */
		if (automatic) {
			mm_log(ctx, MM_LOG_WARN, "mail sniffing off: cannot capture (%s)",
			       mm_strerror(rc));
			return MM_OK;
		}
		return rc;
	}
	return MM_OK;
}

static int
attach_start(struct mm_ctx *ctx)
{
	struct attach *a = ctx->data;
	const char *dir = mm_cfg_str(ctx, "watch_dir");
	const char *sock = mm_cfg_str(ctx, "milter_socket");
	struct stat st;
	int rc;

	if (sock != NULL && sock[0] != 0) {
		rc = start_milter(ctx, a, sock);
		if (rc != MM_OK)
			return rc;
	}
	rc = start_sniff(ctx, a);
	if (rc != MM_OK)
		return rc;
	if (dir == NULL || dir[0] == 0)
		return MM_OK;
	/* A Maildir delivers into tmp/ and renames into new/; a plain spool
	 * directory gets files written in place. */
	snprintf(a->watch_dir, sizeof(a->watch_dir), "%s/new", dir);
	if (stat(a->watch_dir, &st) != 0 || !S_ISDIR(st.st_mode))
		snprintf(a->watch_dir, sizeof(a->watch_dir), "%s", dir);
	a->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->ino_fd < 0 ||
	    inotify_add_watch(a->ino_fd, a->watch_dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
		mm_log(ctx, MM_LOG_ERROR, "cannot watch %s: %s", a->watch_dir, strerror(errno));
		return MM_ERR_IO;
	}
	a->ino_watch = ctx->api->fd_watch(ctx, a->ino_fd, MM_FD_READ, on_inotify, NULL);
	if (a->ino_watch < 0)
		return a->ino_watch;
	mm_log(ctx, MM_LOG_INFO, "watching %s for new mail", a->watch_dir);
	return MM_OK;
}

static void
attach_stop(struct mm_ctx *ctx)
{
	struct attach *a = ctx->data;
	if (a == NULL)
		return;
	if (a->ino_watch >= 0)
		ctx->api->fd_unwatch(ctx, a->ino_watch);
	a->ino_watch = -1;
	if (a->ino_fd >= 0)
		close(a->ino_fd);
	a->ino_fd = -1;
	if (a->stat_timer >= 0)
		ctx->api->timer_cancel(ctx, a->stat_timer);
	a->stat_timer = -1;
	if (a->milter_watch >= 0) {
		/* Scan what already arrived, then stop taking more. */
		on_milter(ctx, a->milter_fd, MM_FD_READ, NULL);
		ctx->api->fd_unwatch(ctx, a->milter_watch);
		a->milter_watch = -1;
	}
	if (a->milter_fd >= 0) {
		mm_milter_stop();
		milter_gauges(ctx, NULL);
		a->milter_fd = -1;
	}
	if (a->capture >= 0)
		ctx->api->capture_close(ctx, a->capture);
	a->capture = -1;
	/* Sessions the capture ended inside are delivered now. */
	mm_flow_table_free(a->flows);
	a->flows = NULL;
}

static int
attach_reload(struct mm_ctx *ctx)
{
	struct attach *a = ctx->data;
	struct mm_rules *nr = NULL;
	int rc = load_rules(ctx, &nr);
	if (rc != MM_OK) {
		mm_log(ctx, MM_LOG_ERROR, "yara: reload failed, the previous rules stay in use");
		return rc;
	}
	mm_rules_free(a->rules);
	a->rules = nr;
	return MM_OK;
}

static void
attach_fini(struct mm_ctx *ctx)
{
	struct attach *a = ctx->data;
	if (a == NULL)
		return;
	attach_stop(ctx);
	mm_rules_free(a->rules);
	free(a->passwords);
	free(a->lures);
	free(a->suppliers);
	free(a);
	ctx->data = NULL;
}

static const struct mm_plugin attach_plugin = {
        .abi_version = MM_ABI_VERSION,
        .size = sizeof(struct mm_plugin),
        .name = "attach",
        .version = "0.1.0",
        .vendor = "mimamori",
        .description = "Scans mail attachments for macro documents, malware in archives and "
                       "sender tricks.",
        .roles = MM_ROLE_UTM | MM_ROLE_PC,
        .caps = MM_CAP_MAIL | MM_CAP_FILES | MM_CAP_PACKETS,
        .config = attach_keys,
        .init = attach_init,
        .start = attach_start,
        .stop = attach_stop,
        .fini = attach_fini,
        .reload = attach_reload,
        .feed = attach_feed,
};

MM_PLUGIN_EXPORT const struct mm_plugin *mm_plugin_entry(void);

MM_PLUGIN_EXPORT const struct mm_plugin *
mm_plugin_entry(void)
{
	return &attach_plugin;
}
