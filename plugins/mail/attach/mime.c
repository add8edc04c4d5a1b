/*
 * MIME parsing for the attach plugin, on top of GMime 3: turns one raw
 * message into the list of decoded leaf parts a scanner must look at, plus
 * the header fields the heuristics need. Runs in the attach worker and in
 * the milter thread (GMime is initialized once, parsing is reentrant).
 *
 * Mail clients show what they can make of broken mail, so an attacker can
 * hide content where a strict parser gives up. Here every leaf is kept
 * whatever its disposition, a multipart whose boundary never appears keeps
 * its raw body as a part, and uuencoded blocks inside text bodies are
 * decoded into parts of their own.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>
#include <mimamori/error.h>

#include "attach_core.h"

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void
gmime_setup(void)
{
	g_mime_init();
}

struct walk {
	struct mm_mime_mail *mail;
	GMimeParserOptions *opts;
	size_t text_cap;
	int nomem;
};

static char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void
add_name(struct walk *w, const char *name)
{
	struct mm_mime_mail *m = w->mail;
	char **nn;
	if (name == NULL || m->nnames >= MM_MIME_MAX_PARTS)
		return;
	nn = realloc(m->names, (m->nnames + 1) * sizeof(*nn));
	if (nn == NULL) {
		w->nomem = 1;
		return;
	}
	m->names = nn;
	m->names[m->nnames] = strdup(name);
	if (m->names[m->nnames] != NULL)
		m->nnames++;
}

static void
add_text(struct walk *w, const char *s, size_t n, int html)
{
	struct mm_mime_mail *m = w->mail;
	int intag = 0;
	if (m->text_len + n + 2 > w->text_cap) {
		size_t cap = w->text_cap ? w->text_cap : 4096;
		char *nt;
		while (cap < m->text_len + n + 2)
			cap *= 2;
		if (cap > MM_MIME_MAX_TEXT + 2)
			cap = MM_MIME_MAX_TEXT + 2;
		if (m->text_len + 2 >= cap)
			return;
		nt = realloc(m->text, cap);
		if (nt == NULL) {
			w->nomem = 1;
			return;
		}
		m->text = nt;
		w->text_cap = cap;
	}
	for (size_t i = 0; i < n && m->text_len + 2 < w->text_cap; i++) {
		char c = s[i];
		/* HTML tags become spaces so a password in <b>…</b> stays a word. */
		if (html && c == '<') {
			intag = 1;
			continue;
		}
		if (html && intag) {
			if (c == '>') {
				intag = 0;
				m->text[m->text_len++] = ' ';
			}
			continue;
		}
		m->text[m->text_len++] = c;
	}
	m->text[m->text_len++] = '\n';
	m->text[m->text_len] = 0;
}

static int
add_part(struct walk *w, const char *name, const char *mime, uint8_t *data, size_t len,
         int attachment, int body, int depth)
{
	struct mm_mime_mail *m = w->mail;
	struct mm_mime_part *np, *p;
	if (m->nparts >= MM_MIME_MAX_PARTS) {
		m->defects++;
		free(data);
		return MM_ERR_FULL;
	}
	np = realloc(m->parts, (m->nparts + 1) * sizeof(*np));
	if (np == NULL) {
		free(data);
		w->nomem = 1;
		return MM_ERR_NOMEM;
	}
	m->parts = np;
	p = &m->parts[m->nparts++];
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	p->mime = xstrdup(mime ? mime : "application/octet-stream");
	p->data = data;
	p->len = len;
	p->attachment = attachment;
	p->body = body;
	p->depth = depth;
	return MM_OK;
}

static int
uudec(int c)
{
	return (c - ' ') & 0x3f;
}

/* Finds "begin NNN name" ... "end" blocks in a text and adds each decoded
 * file as a part, as Outlook Express and many clients still do. */
static void
find_uuencode(struct walk *w, const char *t, size_t n, int depth)
{
	size_t p = 0;
	int blocks = 0;
	while (p < n && blocks < 32) {
		const char *line = t + p;
		const char *eol = memchr(line, '\n', n - p);
		size_t ll = eol ? (size_t)(eol - line) : n - p;
		p += ll + (eol ? 1 : 0);
		if (ll > 10 && strncmp(line, "begin ", 6) == 0 && line[6] >= '0' &&
		    line[6] <= '7' && line[7] >= '0' && line[7] <= '7' && line[8] >= '0' &&
		    line[8] <= '7' && line[9] == ' ') {
			char name[256];
			size_t nl = ll - 10, cap = 1024, o = 0;
			uint8_t *buf = malloc(cap);
			if (buf == NULL)
				return;
			while (nl > 0 && (line[10 + nl - 1] == '\r' || line[10 + nl - 1] == ' '))
				nl--;
			snprintf(name, sizeof(name), "%.*s", (int)(nl < 255 ? nl : 255), line + 10);
			while (p < n) {
				const char *l2 = t + p;
				const char *e2 = memchr(l2, '\n', n - p);
				size_t len2 = e2 ? (size_t)(e2 - l2) : n - p, cnt;
				p += len2 + (e2 ? 1 : 0);
				if (len2 >= 3 && strncmp(l2, "end", 3) == 0)
					break;
				if (len2 == 0)
					continue;
				cnt = (size_t)uudec(l2[0]);
				if (o + cnt + 3 > cap) {
					uint8_t *nb;
					cap = (cap + cnt + 3) * 2;
					nb = realloc(buf, cap);
					if (nb == NULL) {
						free(buf);
						return;
					}
					buf = nb;
				}
				for (size_t i = 1, got = 0; i + 3 < len2 + 1 && got < cnt; i += 4) {
					int c0 = uudec(l2[i]);
					int c1 = i + 1 < len2 ? uudec(l2[i + 1]) : 0;
					int c2 = i + 2 < len2 ? uudec(l2[i + 2]) : 0;
					int c3 = i + 3 < len2 ? uudec(l2[i + 3]) : 0;
					uint8_t b[3] = {(uint8_t)(c0 << 2 | c1 >> 4),
					                (uint8_t)(c1 << 4 | c2 >> 2),
					                (uint8_t)(c2 << 6 | c3)};
					for (int k = 0; k < 3 && got < cnt; k++, got++)
						buf[o++] = b[k];
				}
			}
			blocks++;
			add_name(w, name);
			add_part(w, name, "application/octet-stream", buf, o, 1, 0, depth);
		}
	}
}

static char *
lower_mime(GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	char *s, *r;
	if (ct == NULL)
		return strdup("text/plain");
	s = g_mime_content_type_get_mime_type(ct);
	r = strdup(s ? s : "application/octet-stream");
	g_free(s);
	for (char *c = r; c && *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return r;
}

static const char *
object_filename(GMimeObject *obj)
{
	const char *n = g_mime_object_get_content_disposition_parameter(obj, "filename");
	if (n == NULL || *n == 0)
		n = g_mime_object_get_content_type_parameter(obj, "name");
	return n && *n ? n : NULL;
}

static void walk_object(struct walk *w, GMimeObject *obj, int depth, int level);

static void
walk_message(struct walk *w, GMimeMessage *msg, int depth, int level)
{
	GMimeObject *body;
	if (msg == NULL)
		return;
	body = g_mime_message_get_mime_part(msg);
	if (body != NULL)
		walk_object(w, body, depth, level + 1);
	if (depth > 0) {
		/* The headers of a forwarded mail are text a user reads. */
		const char *s = g_mime_message_get_subject(msg);
		if (s != NULL)
			add_text(w, s, strlen(s), 0);
	}
}

static void
walk_leaf(struct walk *w, GMimeObject *obj, int depth)
{
	GMimePart *part = GMIME_PART(obj);
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	const char *name = object_filename(obj);
	const char *disp = g_mime_object_get_disposition(obj);
	char *mime = lower_mime(obj);
	int attachment = name != NULL || (disp && strcasecmp(disp, "attachment") == 0);
	int body = !attachment && mime &&
	           (strcmp(mime, "text/plain") == 0 || strcmp(mime, "text/html") == 0);
	GByteArray *arr;
	GMimeStream *ms;
	uint8_t *data = NULL;
	size_t len = 0;

	add_name(w, name);
	if (dw != NULL) {
		ms = g_mime_stream_mem_new();
		g_mime_data_wrapper_write_to_stream(dw, ms);
		arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
		len = arr ? arr->len : 0;
		data = malloc(len ? len : 1);
		if (data != NULL && len > 0)
			memcpy(data, arr->data, len);
		g_object_unref(ms);
	}
	if (data == NULL) {
		data = malloc(1);
		len = 0;
	}
	if (GMIME_IS_TEXT_PART(obj) && !attachment) {
		char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
		if (t != NULL) {
			add_text(w, t, strlen(t), strcmp(mime, "text/html") == 0);
			g_free(t);
		}
	}
	if (data != NULL && strncmp(mime, "text/", 5) == 0)
		find_uuencode(w, (const char *)data, len, depth);
	if (data != NULL)
		add_part(w, name, mime, data, len, attachment, body, depth);
	free(mime);
}

static void
walk_object(struct walk *w, GMimeObject *obj, int depth, int level)
{
	if (obj == NULL || w->nomem)
		return;
	if (level > 64 || depth > MM_MIME_MAX_DEPTH) {
		w->mail->defects++;
		return;
	}
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		add_name(w, object_filename(obj));
		for (int i = 0; i < n; i++)
			walk_object(w, g_mime_multipart_get_part(mp, i), depth, level + 1);
		if (n == 0) {
			/* No boundary was found: what a client would show is the raw
			 * body, so that is what gets scanned. */
			const char *pro = g_mime_multipart_get_prologue(mp);
			w->mail->defects++;
			if (pro != NULL && *pro) {
				size_t l = strlen(pro);
				uint8_t *d = malloc(l + 1);
				if (d != NULL) {
					memcpy(d, pro, l + 1);
					find_uuencode(w, pro, l, depth);
					add_text(w, pro, l, 0);
					add_part(w, NULL, "text/plain", d, l, 0, 1, depth);
				}
			}
		}
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		add_name(w, object_filename(obj));
		walk_message(w, inner, depth + 1, level);
	} else if (GMIME_IS_PART(obj)) {
		walk_leaf(w, obj, depth);
	}
}

static char *
first_addr(InternetAddressList *l, char **name)
{
	int n = l ? internet_address_list_length(l) : 0;
	for (int i = 0; i < n; i++) {
		InternetAddress *a = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
			const char *addr =
			        internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
			if (name != NULL && *name == NULL)
				*name = xstrdup(internet_address_get_name(a));
			return xstrdup(addr);
		}
	}
	return NULL;
}

static void
collect_to(struct mm_mime_mail *m, InternetAddressList *l)
{
	int n = l ? internet_address_list_length(l) : 0;
	for (int i = 0; i < n && m->nto < 256; i++) {
		InternetAddress *a = internet_address_list_get_address(l, i);
		char **nt;
		if (!INTERNET_ADDRESS_IS_MAILBOX(a))
			continue;
		nt = realloc(m->to, (m->nto + 1) * sizeof(*nt));
		if (nt == NULL)
			return;
		m->to = nt;
		m->to[m->nto] =
		        xstrdup(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
		if (m->to[m->nto] != NULL)
			m->nto++;
	}
}

int
mm_mime_parse(struct mm_mime_mail **out, const void *data, size_t len)
{
	static const char *fallback[] = {"UTF-8",  "ISO-2022-JP",  "Shift_JIS",
	                                 "EUC-JP", "windows-1252", NULL};
	struct mm_mime_mail *m;
	struct walk w;
	GMimeStream *st;
	GMimeParser *parser;
	GMimeMessage *msg;
	int rc = MM_OK;

	*out = NULL;
	pthread_once(&gmime_once, gmime_setup);
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return MM_ERR_NOMEM;
	memset(&w, 0, sizeof(w));
	w.mail = m;
	w.opts = g_mime_parser_options_new();
	g_mime_parser_options_set_fallback_charsets(w.opts, fallback);
	g_mime_parser_options_set_rfc2047_compliance_mode(w.opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(w.opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(w.opts, GMIME_RFC_COMPLIANCE_LOOSE);

	st = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(st);
	msg = g_mime_parser_construct_message(parser, w.opts);
	if (msg == NULL) {
		/* Not even a header block: keep the bytes as one part. */
		uint8_t *d = malloc(len ? len : 1);
		m->defects++;
		if (d != NULL) {
			memcpy(d, data, len);
			add_part(&w, NULL, "application/octet-stream", d, len, 0, 0, 0);
		}
	} else {
		GMimeObject *o = GMIME_OBJECT(msg);
		const char *rp = g_mime_object_get_header(o, "Return-Path");
		const char *subj = g_mime_message_get_subject(msg);
		InternetAddressList *from = g_mime_message_get_from(msg);
		m->mid = xstrdup(g_mime_message_get_message_id(msg));
		m->subject = xstrdup(subj ? subj : "");
		if (from != NULL && internet_address_list_length(from) > 0)
			m->from = internet_address_list_to_string(from, NULL, FALSE);
		m->from_addr = first_addr(from, &m->from_name);
		m->reply_to_addr = first_addr(g_mime_message_get_reply_to(msg), NULL);
		if (rp != NULL) {
			InternetAddressList *l = internet_address_list_parse(w.opts, rp);
			m->return_path_addr = first_addr(l, NULL);
			if (l != NULL)
				g_object_unref(l);
		}
		collect_to(m, g_mime_message_get_to(msg));
		collect_to(m, g_mime_message_get_cc(msg));
		if (m->subject[0])
			add_text(&w, m->subject, strlen(m->subject), 0);
		walk_message(&w, msg, 0, 0);
		g_object_unref(msg);
	}
	g_object_unref(parser);
	g_object_unref(st);
	g_mime_parser_options_free(w.opts);
	if (m->text == NULL)
		m->text = calloc(1, 1);
	if (w.nomem || m->text == NULL) {
		rc = MM_ERR_NOMEM;
		mm_mime_free(m);
		return rc;
	}
	*out = m;
	return rc;
}

void
mm_mime_free(struct mm_mime_mail *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nparts; i++) {
		free(m->parts[i].name);
		free(m->parts[i].mime);
		free(m->parts[i].data);
	}
	for (size_t i = 0; i < m->nnames; i++)
		free(m->names[i]);
	for (size_t i = 0; i < m->nto; i++)
		free(m->to[i]);
	free(m->parts);
	free(m->names);
	free(m->to);
	free(m->mid);
	free(m->subject);
	g_free(m->from);
	free(m->from_name);
	free(m->from_addr);
	free(m->reply_to_addr);
	free(m->return_path_addr);
	free(m->text);
	free(m);
}

void
mm_mime_domain(char *out, size_t n, const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	size_t o = 0;
	if (n == 0)
		return;
	if (at != NULL) {
		for (const char *c = at + 1; *c && *c != '>' && o + 1 < n; c++)
			out[o++] = (char)tolower((unsigned char)*c);
	}
	out[o] = 0;
}
