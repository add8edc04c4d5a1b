/*
 * The mail scan of the attach plugin: parses a mail, unpacks every part
 * (ZIP, OOXML, RAR, 7z, gzip through libarchive; OLE2 and its VBA macros
 * through ole.c) within limits, runs YARA on every object and applies the
 * heuristics YARA cannot express (password in the body, header mismatch,
 * look-alike supplier domains, lure words). Produces a list of findings;
 * attach.c turns them into events. Runs in the attach worker and in the
 * milter thread; it keeps no global state.
 *
 * A limit that stops unpacking is a finding of its own: a mail is never
 * reported clean because something was too deep, too big or too slow to
 * look at.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>
#include <mimamori/error.h>
#include <mimamori/event.h>
#include <openssl/evp.h>

#include "attach_core.h"

#define MAX_FINDINGS 256
#define PATH_MAX_LEN 1024

struct scan {
	const struct mm_attach_opts *o;
	struct mm_rules *rules;
	struct mm_attach_result *res;
	uint64_t total;
	uint64_t deadline;
	unsigned limits_hit; /* bit per limit, each reported once */
	int stop;
	int harvested; /* passwords taken from the text (on the first archive) */
};

/* Facts about the object being scanned, for the findings made on it. */
struct obj {
	const char *name;
	const char *mime;
	const char *path;
	const uint8_t *data;
	size_t len;
	int from_body_pw;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *
mm_attach_kind_name(int kind)
{
	switch (kind) {
	case MM_ATT_YARA:
		return "yara";
	case MM_ATT_LIMIT:
		return "limit";
	case MM_ATT_ENCRYPTED:
		return "encrypted";
	case MM_ATT_PASSWORD_BODY:
		return "password_in_body";
	case MM_ATT_MACRO:
		return "macro";
	case MM_ATT_HDR_MISMATCH:
		return "header_mismatch";
	case MM_ATT_LOOKALIKE:
		return "lookalike";
	case MM_ATT_LURE:
		return "lure";
	case MM_ATT_MALFORMED:
		return "malformed";
	default:
		return "unknown";
	}
}

void
mm_attach_opts_default(struct mm_attach_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_depth = 8;
	o->max_total = 256u << 20;
	o->max_file = 64u << 20;
	o->max_files = 1000;
	o->max_ms = 30000;
	o->yara_timeout_s = 10;
	o->max_passwords = 32;
}

static void
sha256_hex(char out[65], const uint8_t *d, size_t n)
{
	unsigned char md[32];
	unsigned int l = 0;
	EVP_Digest(d, n, md, &l, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void
add_finding(struct scan *s, int kind, int sev, const char *ns, const char *rule, const char *detail,
            const struct obj *ob)
{
	struct mm_attach_result *r = s->res;
	struct mm_attach_finding *nf, *f;
	if (r->nfindings >= MAX_FINDINGS)
		return;
	nf = realloc(r->findings, (r->nfindings + 1) * sizeof(*nf));
	if (nf == NULL)
		return;
	r->findings = nf;
	f = &r->findings[r->nfindings++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->sev = sev;
	f->rule_ns = strdup(ns ? ns : "attach");
	f->rule = strdup(rule ? rule : mm_attach_kind_name(kind));
	f->detail = detail ? strdup(detail) : NULL;
	if (ob != NULL) {
		f->name = strdup(ob->name ? ob->name : "");
		f->mime = strdup(ob->mime ? ob->mime : "application/octet-stream");
		f->path = strdup(ob->path ? ob->path : "");
		f->size = ob->len;
		sha256_hex(f->sha256, ob->data, ob->len);
	}
	if (sev > r->max_sev)
		r->max_sev = sev;
}

enum { LIM_DEPTH = 1, LIM_TOTAL = 2, LIM_FILES = 4, LIM_TIME = 8, LIM_FILE = 16 };

static void
limit_hit(struct scan *s, unsigned which, const char *what, const struct obj *ob)
{
	if (s->limits_hit & which)
		return;
	s->limits_hit |= which;
	add_finding(s, MM_ATT_LIMIT, MM_SEV_MEDIUM, "attach", "unpack_limit", what, ob);
}

static void scan_object(struct scan *s, const struct obj *ob, int depth);

struct match_ctx {
	struct scan *s;
	const struct obj *ob;
};

static void
on_match(void *user, const char *ns, const char *rule, const char *tags, const char *desc)
{
	struct match_ctx *m = user;
	add_finding(m->s, MM_ATT_YARA, MM_SEV_HIGH, ns, rule, desc ? desc : tags, m->ob);
}

static void
child(struct scan *s, const struct obj *parent, const char *name, const uint8_t *data, size_t len,
      int depth, int from_body_pw)
{
	char path[PATH_MAX_LEN];
	struct obj ob;
	snprintf(path, sizeof(path), "%s>%s", parent->path, name);
	memset(&ob, 0, sizeof(ob));
	ob.name = name;
	ob.mime = "application/octet-stream";
	ob.path = path;
	ob.data = data;
	ob.len = len;
	ob.from_body_pw = from_body_pw;
	s->total += len;
	scan_object(s, &ob, depth);
}

/* ---- OLE2: VBA modules, XLM macro sheets, embedded packages ---------- */

struct vba_ctx {
	struct scan *s;
	const struct obj *ob;
	int depth;
	int modules;
};

static int
on_module(void *user, const char *name, const uint8_t *src, size_t len)
{
	struct vba_ctx *v = user;
	char n[200];
	snprintf(n, sizeof(n), "VBA/%s", name);
	v->modules++;
	child(v->s, v->ob, n, src, len, v->depth + 1, 0);
	return v->s->stop ? MM_ERR_TIMEOUT : MM_OK;
}

/* BIFF8 BOUNDSHEET records (0x0085) whose sheet type byte is 1 are Excel 4
 * macro sheets: the XLM macros Emotet also used. */
static int
has_xlm_sheet(const uint8_t *w, size_t n)
{
	size_t p = 0;
	for (int i = 0; p + 4 <= n && i < 100000; i++) {
		uint16_t type = (uint16_t)(w[p] | w[p + 1] << 8);
		uint16_t sz = (uint16_t)(w[p + 2] | w[p + 3] << 8);
		if (type == 0x0085 && sz >= 6 && p + 4 + 6 <= n && w[p + 4 + 5] == 0x01)
			return 1;
		p += 4u + sz;
	}
	return 0;
}

static void
scan_ole(struct scan *s, const struct obj *ob, int depth)
{
	struct mm_ole *ole = NULL;
	struct vba_ctx v = {s, ob, depth, 0};
	int xlm = 0;

	if (mm_ole_open(&ole, ob->data, ob->len) != MM_OK) {
		add_finding(s, MM_ATT_MALFORMED, MM_SEV_LOW, "attach", "malformed_ole",
		            "OLE2 header present but the file could not be read", ob);
		return;
	}
	mm_vba_extract(ole, (size_t)s->o->max_file, on_module, &v);
	for (size_t i = 0; i < mm_ole_count(ole) && !s->stop; i++) {
		const char *p = mm_ole_path(ole, i);
		uint8_t *d = NULL;
		size_t n = 0;
		if (p == NULL || !mm_ole_is_stream(ole, i))
			continue;
		if (strcasecmp(p, "Workbook") == 0 || strcasecmp(p, "Book") == 0) {
			if (mm_ole_read(&d, &n, ole, i, (size_t)s->o->max_file) == MM_OK)
				xlm = has_xlm_sheet(d, n);
			free(d);
		} else if (strstr(p, "Ole10Native") != NULL || strcasecmp(p, "Package") == 0) {
			/* Embedded files (OLE packages) are files of their own. */
			if (mm_ole_read(&d, &n, ole, i, (size_t)s->o->max_file) == MM_OK)
				child(s, ob, p, d, n, depth + 1, 0);
			free(d);
		}
	}
	if (v.modules > 0) {
		char det[64];
		snprintf(det, sizeof(det), "%d VBA module(s)", v.modules);
		add_finding(s, MM_ATT_MACRO, MM_SEV_HIGH, "attach", "office_vba_macro", det, ob);
	}
	if (xlm)
		add_finding(s, MM_ATT_MACRO, MM_SEV_HIGH, "attach", "office_xlm_macro",
		            "Excel 4 (XLM) macro sheet", ob);
	mm_ole_free(ole);
}

/* ---- Archives through libarchive ------------------------------------- */

static void
add_passwords(struct scan *s, struct archive *a)
{
	/* The text is searched for passwords only once a mail turns out to
	 * carry an archive: most mails do not. */
	if (!s->harvested && s->res->mail != NULL) {
		s->harvested = 1;
		s->res->npasswords =
		        mm_attach_passwords(&s->res->passwords, s->res->mail->text,
		                            s->res->mail->text_len, (size_t)s->o->max_passwords);
	}
	for (size_t i = 0; i < s->o->npasswords; i++)
		archive_read_add_passphrase(a, s->o->passwords[i]);
	for (size_t i = 0; i < s->res->npasswords; i++)
		archive_read_add_passphrase(a, s->res->passwords[i]);
}

static void
scan_archive(struct scan *s, const struct obj *ob, int depth, int raw)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int members = 0, xlm = 0, encrypted_failed = 0, encrypted_opened = 0;

	if (a == NULL)
		return;
	if (raw) {
		archive_read_support_filter_all(a);
		archive_read_support_format_raw(a);
	} else {
		archive_read_support_filter_all(a);
		archive_read_support_format_zip(a);
		archive_read_support_format_rar(a);
		archive_read_support_format_rar5(a);
		archive_read_support_format_7zip(a);
		archive_read_support_format_tar(a);
		archive_read_support_format_cab(a);
		archive_read_support_format_iso9660(a);
	}
	add_passwords(s, a);
	if (archive_read_open_memory(a, ob->data, ob->len) != ARCHIVE_OK) {
		add_finding(s, MM_ATT_MALFORMED, MM_SEV_LOW, "attach", "malformed_archive",
		            archive_error_string(a), ob);
		goto out;
	}
	for (;;) {
		int r = archive_read_next_header(a, &e);
		const char *name;
		char nbuf[512];
		uint8_t *buf = NULL;
		size_t cap = 0, n = 0;
		int64_t want;
		int enc, failed = 0;

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			add_finding(s, MM_ATT_MALFORMED, MM_SEV_LOW, "attach", "malformed_archive",
			            archive_error_string(a), ob);
			break;
		}
		if (s->stop || mono_ms() > s->deadline) {
			s->stop = 1;
			limit_hit(s, LIM_TIME, "time limit reached while unpacking", ob);
			break;
		}
		name = archive_entry_pathname_utf8(e);
		if (name == NULL)
			name = archive_entry_pathname(e);
		if (raw) {
			/* gzip and friends have one member: the name minus the suffix. */
			const char *dot = ob->name ? strrchr(ob->name, '.') : NULL;
			snprintf(nbuf, sizeof(nbuf), "%.*s",
			         dot ? (int)(dot - ob->name)
			             : (int)strlen(ob->name ? ob->name : "data"),
			         ob->name ? ob->name : "data");
			name = nbuf;
		}
		if (name == NULL)
			name = "?";
		if (archive_entry_filetype(e) == AE_IFDIR)
			continue;
		if (strncmp(name, "xl/macrosheets/", 15) == 0)
			xlm = 1;
		if (++members > s->o->max_files) {
			limit_hit(s, LIM_FILES, "too many files in an archive", ob);
			break;
		}
		enc = archive_entry_is_data_encrypted(e);
		want = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
		if (want > (int64_t)s->o->max_file) {
			limit_hit(s, LIM_FILE, "a file in an archive is larger than the limit", ob);
			continue;
		}
		for (;;) {
			ssize_t got;
			if (n + 65536 > cap) {
				uint8_t *nb;
				cap = cap ? cap * 2 : 65536;
				nb = realloc(buf, cap);
				if (nb == NULL) {
					failed = 1;
					break;
				}
				buf = nb;
			}
			got = archive_read_data(a, buf + n, cap - n);
			if (got == 0)
				break;
			if (got < 0) {
				failed = 1;
				break;
			}
			n += (size_t)got;
			if (n > s->o->max_file) {
				limit_hit(s, LIM_FILE,
				          "a file in an archive is larger than the limit", ob);
				failed = 2;
				break;
			}
			if (s->total + n > s->o->max_total) {
				limit_hit(s, LIM_TOTAL, "total unpacked size limit reached", ob);
				failed = 2;
				s->stop = 1;
				break;
			}
		}
		if (failed == 1 && enc) {
			encrypted_failed++;
		} else if (failed == 0) {
			if (enc)
				encrypted_opened++;
			child(s, ob, name, buf, n, depth + 1, enc);
		} else if (failed == 1) {
			add_finding(s, MM_ATT_MALFORMED, MM_SEV_LOW, "attach", "malformed_archive",
			            archive_error_string(a), ob);
		}
		free(buf);
		if (s->stop || failed == 1)
			break;
	}
	if (encrypted_failed > 0)
		add_finding(s, MM_ATT_ENCRYPTED, MM_SEV_MEDIUM, "attach", "encrypted_archive",
		            "an encrypted archive could not be opened with any known password", ob);
	if (encrypted_opened > 0 && s->res->npasswords > 0)
		add_finding(s, MM_ATT_PASSWORD_BODY, MM_SEV_HIGH, "attach", "password_in_body",
		            "an encrypted archive opened with a password written in the mail", ob);
	if (xlm)
		add_finding(s, MM_ATT_MACRO, MM_SEV_HIGH, "attach", "office_xlm_macro",
		            "Excel 4 (XLM) macro sheet", ob);
out:
	archive_read_free(a);
}

static int
has_magic(const struct obj *ob, const void *m, size_t n)
{
	return ob->len >= n && memcmp(ob->data, m, n) == 0;
}

static void
scan_object(struct scan *s, const struct obj *ob, int depth)
{
	struct match_ctx mc = {s, ob};
	struct mm_rules_vars vars;
	int rc;

	if (s->stop)
		return;
	if (mono_ms() > s->deadline) {
		s->stop = 1;
		limit_hit(s, LIM_TIME, "time limit reached", ob);
		return;
	}
	if (s->res->objects >= (unsigned)s->o->max_files) {
		limit_hit(s, LIM_FILES, "too many files in one mail", ob);
		s->stop = 1;
		return;
	}
	s->res->objects++;
	s->res->bytes += ob->len;
	memset(&vars, 0, sizeof(vars));
	vars.filename = ob->name;
	vars.mime = ob->mime;
	vars.path = ob->path;
	vars.subject = s->res->mail->subject;
	rc = mm_rules_scan(s->rules, ob->data, ob->len, &vars, s->o->yara_timeout_s, on_match, &mc);
	if (rc == MM_ERR_TIMEOUT)
		add_finding(s, MM_ATT_LIMIT, MM_SEV_MEDIUM, "attach", "yara_timeout",
		            "rule matching took longer than the per-file limit", ob);

	if (depth >= s->o->max_depth) {
		static const uint8_t pk[] = {'P', 'K', 3, 4};
		static const uint8_t cf[] = {0xd0, 0xcf, 0x11, 0xe0};
		if (has_magic(ob, pk, 4) || has_magic(ob, cf, 4))
			limit_hit(s, LIM_DEPTH, "archives nested deeper than the limit", ob);
		return;
	}
	{
		static const uint8_t pk[] = {'P', 'K', 3, 4};
		static const uint8_t pk_empty[] = {'P', 'K', 5, 6};
		static const uint8_t pk_span[] = {'P', 'K', 7, 8};
		static const uint8_t cf[] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
		static const uint8_t rar[] = {'R', 'a', 'r', '!', 0x1a, 0x07};
		static const uint8_t sz[] = {'7', 'z', 0xbc, 0xaf, 0x27, 0x1c};
		static const uint8_t gz[] = {0x1f, 0x8b};
		static const uint8_t bz[] = {'B', 'Z', 'h'};
		static const uint8_t xz[] = {0xfd, '7', 'z', 'X', 'Z', 0};
		static const uint8_t cab[] = {'M', 'S', 'C', 'F'};
		if (has_magic(ob, cf, 8))
			scan_ole(s, ob, depth);
		else if (has_magic(ob, pk, 4) || has_magic(ob, pk_span, 4) ||
		         has_magic(ob, rar, 6) || has_magic(ob, sz, 6) || has_magic(ob, cab, 4))
			scan_archive(s, ob, depth, 0);
		else if (has_magic(ob, gz, 2) || has_magic(ob, bz, 3) || has_magic(ob, xz, 6))
			scan_archive(s, ob, depth, 1);
		else if (has_magic(ob, pk_empty, 4))
			return;
	}
}

/* ---- Password harvesting --------------------------------------------- */

static int
pw_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\'' && c != '<' && c != '>' && c != '(' &&
	       c != ')' && c != '[' && c != ']';
}

static void
push_pw(char ***out, size_t *n, size_t max, const char *p, size_t l)
{
	char **nv;
	while (l > 0 && strchr(".,;:", p[l - 1]) != NULL)
		l--;
	if (l == 0 || l > 64 || *n >= max)
		return;
	for (size_t i = 0; i < *n; i++)
		if (strlen((*out)[i]) == l && memcmp((*out)[i], p, l) == 0)
			return;
	nv = realloc(*out, (*n + 1) * sizeof(*nv));
	if (nv == NULL)
		return;
	*out = nv;
	nv[*n] = strndup(p, l);
	if (nv[*n] != NULL)
		(*n)++;
}

size_t
mm_attach_passwords(char ***out, const char *text, size_t len, size_t max)
{
	/* Words after which mails state a password, in the languages the
	 * lures came in. */
	static const char *keys[] = {"password",   "passwort", "passcode", "pass", "pwd",  "pw",
	                             "パスワード", "暗証番号", "解凍キー", "解凍", "密码", NULL};
	size_t n = 0;
	uint8_t first[256];
	*out = NULL;
	if (text == NULL)
		return 0;
	/* Bytes a keyword can start with, so most positions cost one lookup. */
	memset(first, 0, sizeof(first));
	for (int k = 0; keys[k]; k++) {
		first[(uint8_t)keys[k][0]] = 1;
		first[(uint8_t)toupper((unsigned char)keys[k][0])] = 1;
	}
	/* Pass 1: a token right after a keyword and separators. */
	for (size_t i = 0; i < len && n < max; i++) {
		if (!first[(uint8_t)text[i]])
			continue;
		for (int k = 0; keys[k]; k++) {
			size_t kl = strlen(keys[k]), j;
			if (i + kl > len || strncasecmp(text + i, keys[k], kl) != 0)
				continue;
			if ((unsigned char)keys[k][0] < 0x80 && i > 0 &&
			    isalpha((unsigned char)text[i - 1]))
				continue;
			j = i + kl;
			for (int guard = 0; j < len && guard < 16; guard++) {
				unsigned char c = (unsigned char)text[j];
				if (c == ' ' || c == '\t' || c == ':' || c == '=' || c == '\r' ||
				    c == '\n' || c == '"' || c == '\'' || c == '(' || c == '[') {
					j++;
				} else if (c >= 0xe0 && j + 3 <= len &&
				           (memcmp(text + j, "\xef\xbc\x9a", 3) == 0 ||  /* ： */
				            memcmp(text + j, "\xe3\x80\x8c", 3) == 0 ||  /* 「 */
				            memcmp(text + j, "\xe3\x80\x90", 3) == 0 ||  /* 【 */
				            memcmp(text + j, "\xe3\x81\xaf", 3) == 0 ||  /* は */
				            memcmp(text + j, "\xe3\x80\x80", 3) == 0)) { /* 　 */
					j += 3;
				} else if (isalpha(c) && k < 6 &&
				           (strncasecmp(text + j, "word", 4) == 0 ||
				            strncasecmp(text + j, "is", 2) == 0)) {
					j += (strncasecmp(text + j, "is", 2) == 0) ? 2 : 4;
				} else {
					break;
				}
			}
			{
				size_t st = j;
				while (j < len && pw_char((unsigned char)text[j]))
					j++;
				if (j > st)
					push_pw(out, &n, max, text + st, j - st);
			}
			i += kl - 1;
			break;
		}
	}
	/* Pass 2: every other plausible token, shortest mails first tried
	 * in order of appearance. */
	for (size_t i = 0; i < len && n < max;) {
		size_t st;
		while (i < len && !pw_char((unsigned char)text[i]))
			i++;
		st = i;
		while (i < len && pw_char((unsigned char)text[i]))
			i++;
		if (i - st >= 4 && i - st <= 32)
			push_pw(out, &n, max, text + st, i - st);
	}
	return n;
}

/* ---- Header heuristics ----------------------------------------------- */

/* The registrable part of a domain: example.co.jp, example.com. */
static const char *
org_domain(const char *d)
{
	const char *last = strrchr(d, '.'), *p;
	int labels = 2;
	if (last == NULL)
		return d;
	if (strlen(last + 1) == 2) {
		/* Second-level labels of country domains (co.jp, ne.jp, co.uk). */
		const char *prev = last;
		while (prev > d && prev[-1] != '.')
			prev--;
		if ((size_t)(last - prev) <= 3 && last - prev >= 2)
			labels = 3;
	}
	p = d + strlen(d);
	for (int k = 0; k < labels; k++) {
		while (p > d && p[-1] != '.')
			p--;
		if (k + 1 < labels && p > d)
			p--;
	}
	return p;
}

static void
normalize_glyphs(char *out, size_t n, const char *in)
{
	size_t o = 0;
	for (size_t i = 0; in[i] && o + 1 < n; i++) {
		char c = (char)tolower((unsigned char)in[i]);
		if (c == '0')
			c = 'o';
		else if (c == '1' || c == 'i')
			c = 'l';
		else if (c == 'r' && in[i + 1] == 'n') {
			c = 'm';
			i++;
		} else if (c == 'v' && in[i + 1] == 'v') {
			c = 'w';
			i++;
		}
		out[o++] = c;
	}
	out[o] = 0;
}

static int
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int row[256];
	if (la > 255 || lb > 255)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int prev = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cur = row[j];
			int best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

int
mm_attach_lookalike(const char *domain, const char *supplier)
{
	char a[256], b[256];
	const char *oa = org_domain(domain), *ob = org_domain(supplier);
	if (strcasecmp(oa, ob) == 0)
		return 0;
	normalize_glyphs(a, sizeof(a), oa);
	normalize_glyphs(b, sizeof(b), ob);
	if (strcmp(a, b) == 0)
		return 1;
	return strlen(b) >= 6 && edit_distance(a, b) <= 2;
}

static void
heuristics(struct scan *s)
{
	struct mm_mime_mail *m = s->res->mail;
	char from[256], other[256], det[600];
	const char *checks[3][2] = {{"Reply-To", m->reply_to_addr},
	                            {"Return-Path", m->return_path_addr},
	                            {"envelope sender", s->o->envelope_from}};

	mm_mime_domain(from, sizeof(from), m->from_addr);
	for (int i = 0; i < 3 && from[0]; i++) {
		if (checks[i][1] == NULL || checks[i][1][0] == 0)
			continue;
		mm_mime_domain(other, sizeof(other), checks[i][1]);
		if (other[0] && strcmp(org_domain(from), org_domain(other)) != 0) {
			snprintf(det, sizeof(det), "From %s, %s %s", m->from_addr, checks[i][0],
			         checks[i][1]);
			add_finding(s, MM_ATT_HDR_MISMATCH, i == 0 ? MM_SEV_MEDIUM : MM_SEV_LOW,
			            "attach", "header_mismatch", det, NULL);
		}
	}
	for (size_t i = 0; i < s->o->nsuppliers && from[0]; i++) {
		const char *sup = s->o->suppliers[i];
		int hit = 0;
		if (strcasecmp(org_domain(from), org_domain(sup)) == 0)
			continue;
		if (m->from_name != NULL && strcasestr(m->from_name, sup) != NULL)
			hit = 1; /* "someone@supplier.co.jp" <x@elsewhere> */
		else if (mm_attach_lookalike(from, sup))
			hit = 2;
		if (hit) {
			snprintf(det, sizeof(det), "%s <%s> resembles %s",
			         m->from_name ? m->from_name : "", m->from_addr, sup);
			add_finding(s, MM_ATT_LOOKALIKE, MM_SEV_HIGH, "attach",
			            hit == 1 ? "supplier_display_name" : "lookalike_domain", det,
			            NULL);
			break;
		}
	}
	for (size_t i = 0; i < s->o->nlures && m->subject; i++) {
		if (s->o->lures[i][0] && strcasestr(m->subject, s->o->lures[i]) != NULL) {
			snprintf(det, sizeof(det), "%s", s->o->lures[i]);
			add_finding(s, MM_ATT_LURE, MM_SEV_LOW, "attach", "lure_subject", det,
			            NULL);
			break;
		}
	}
}

int
mm_attach_scan(struct mm_attach_result **out, struct mm_rules *rules,
               const struct mm_attach_opts *opts, const void *eml, size_t len)
{
	struct mm_attach_result *res;
	struct scan s;
	int rc;

	*out = NULL;
	res = calloc(1, sizeof(*res));
	if (res == NULL)
		return MM_ERR_NOMEM;
	rc = mm_mime_parse(&res->mail, eml, len);
	if (rc != MM_OK) {
		free(res);
		return rc;
	}
	memset(&s, 0, sizeof(s));
	s.o = opts;
	s.rules = rules;
	s.res = res;
	s.deadline = mono_ms() + (uint64_t)(opts->max_ms > 0 ? opts->max_ms : 30000);
	for (size_t i = 0; i < res->mail->nparts && !s.stop; i++) {
		const struct mm_mime_part *p = &res->mail->parts[i];
		struct obj ob;
		char path[PATH_MAX_LEN];
		snprintf(path, sizeof(path), "%s", p->name ? p->name : p->mime);
		memset(&ob, 0, sizeof(ob));
		ob.name = p->name;
		ob.mime = p->mime;
		ob.path = path;
		ob.data = p->data;
		ob.len = p->len;
		scan_object(&s, &ob, 0);
	}
	heuristics(&s);
	*out = res;
	return MM_OK;
}

int
mm_attach_scan_file(struct mm_attach_result **out, struct mm_rules *rules,
                    const struct mm_attach_opts *opts, const char *name, const void *data,
                    size_t len)
{
	struct mm_attach_result *res;
	struct scan s;
	struct obj ob;

	*out = NULL;
	res = calloc(1, sizeof(*res));
	if (res == NULL)
		return MM_ERR_NOMEM;
	res->mail = calloc(1, sizeof(*res->mail));
	if (res->mail == NULL) {
		free(res);
		return MM_ERR_NOMEM;
	}
	memset(&s, 0, sizeof(s));
	s.o = opts;
	s.rules = rules;
	s.res = res;
	s.deadline = mono_ms() + (uint64_t)(opts->max_ms > 0 ? opts->max_ms : 30000);
	memset(&ob, 0, sizeof(ob));
	ob.name = name;
	ob.mime = "application/octet-stream";
	ob.path = name;
	ob.data = data;
	ob.len = len;
	scan_object(&s, &ob, 0);
	*out = res;
	return MM_OK;
}

void
mm_attach_result_free(struct mm_attach_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->nfindings; i++) {
		struct mm_attach_finding *f = &res->findings[i];
		free(f->rule_ns);
		free(f->rule);
		free(f->detail);
		free(f->name);
		free(f->mime);
		free(f->path);
	}
	free(res->findings);
	for (size_t i = 0; i < res->npasswords; i++)
		free(res->passwords[i]);
	free(res->passwords);
	mm_mime_free(res->mail);
	free(res);
}
