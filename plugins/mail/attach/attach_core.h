/*
 * Internal interfaces of the attach plugin's core library (mm_attach_core):
 * MIME parsing, OLE2/VBA extraction, archive unpacking, YARA rules and the
 * mail heuristics. Nothing here touches the host API, so the tests drive
 * every piece directly; attach.c is the thin layer that turns results into
 * events. Whoever allocates frees, *_free(NULL) is a no-op.
 */
#ifndef MM_ATTACH_CORE_H
#define MM_ATTACH_CORE_H

#include <stddef.h>
#include <stdint.h>

/* ---- MIME (mime.c) ---------------------------------------------------- */

/* One decoded leaf part of a mail (or a uuencoded block found in a text). */
struct mm_mime_part {
	char *name;    /* decoded UTF-8 file name, or NULL */
	char *mime;    /* lower-case type/subtype */
	uint8_t *data; /* transfer-decoded content */
	size_t len;
	int attachment; /* has a file name or Content-Disposition: attachment */
	int body;       /* a text/plain or text/html part without a name */
	int depth;      /* message/rfc822 nesting level, 0 for the top mail */
};

struct mm_mime_mail {
	char *mid;
	char *subject; /* decoded UTF-8 */
	char *from;    /* full From header, decoded */
	char *from_name;
	char *from_addr;
	char *reply_to_addr;
	char *return_path_addr;
	char **to; /* addresses of To and Cc */
	size_t nto;
	struct mm_mime_part *parts; /* every leaf part, in document order */
	size_t nparts;
	char **names; /* every named part in order, message/rfc822 included */
	size_t nnames;
	char *text; /* body text (plain, and html with tags removed) */
	size_t text_len;
	unsigned defects; /* structural problems the parser worked around */
};

/* Limits on what the parser keeps. */
#define MM_MIME_MAX_PARTS 512
#define MM_MIME_MAX_DEPTH 16
#define MM_MIME_MAX_TEXT (1u << 20)

/* Parses one RFC 5322 message. Never fails on malformed input (the worst
 * case is one text part); MM_ERR_NOMEM only. */
int mm_mime_parse(struct mm_mime_mail **out, const void *data, size_t len);
void mm_mime_free(struct mm_mime_mail *mail);
/* Lower-cases the domain of an address into out (size n); "" if none. */
void mm_mime_domain(char *out, size_t n, const char *addr);

/* ---- OLE2 compound files and VBA (ole.c) ------------------------------ */

struct mm_ole;

int mm_ole_open(struct mm_ole **out, const uint8_t *data, size_t len);
void mm_ole_free(struct mm_ole *ole);
size_t mm_ole_count(const struct mm_ole *ole);
/* UTF-8 path of entry i ("VBA/dir", "Workbook"), NULL for unused entries. */
const char *mm_ole_path(const struct mm_ole *ole, size_t i);
/* 1 when entry i is a stream. */
int mm_ole_is_stream(const struct mm_ole *ole, size_t i);
/* Reads stream i (at most max bytes; more is MM_ERR_TOOBIG). */
int mm_ole_read(uint8_t **out, size_t *out_len, const struct mm_ole *ole, size_t i, size_t max);
/* MS-OVBA 2.4.1 decompression of a CompressedContainer. */
int mm_ovba_decompress(uint8_t **out, size_t *out_len, const uint8_t *in, size_t len, size_t max);

typedef int (*mm_vba_module_cb)(void *user, const char *name, const uint8_t *src, size_t len);
/* Calls cb with the decompressed source of every VBA module of the file.
 * Returns the number of modules found, or a negative error. */
int mm_vba_extract(const struct mm_ole *ole, size_t max, mm_vba_module_cb cb, void *user);

/* ---- YARA rules (rules.c) --------------------------------------------- */

struct mm_rules;

/* Reports a problem found while compiling: file, line (0 if unknown) and
 * message. Called once per problem. */
typedef void (*mm_rules_report_cb)(void *user, const char *file, int line, const char *msg);

/* Compiles every .yar/.yara file under the given files or directories.
 * A problem in a strict path fails the whole load (nothing is returned);
 * a file from a lenient path that does not compile is reported and
 * skipped. Returns MM_OK and *out, or an error with the reports made. */
int mm_rules_load(struct mm_rules **out, const char *const *strict, size_t nstrict,
                  const char *const *lenient, size_t nlenient, mm_rules_report_cb report,
                  void *user);
struct mm_rules *mm_rules_ref(struct mm_rules *rules);
void mm_rules_free(struct mm_rules *rules); /* drops one reference */
size_t mm_rules_count(const struct mm_rules *rules);
size_t mm_rules_files(const struct mm_rules *rules);

struct mm_rules_vars {
	const char *filename;
	const char *mime;
	const char *path; /* container chain */
	const char *subject;
};

typedef void (*mm_rules_match_cb)(void *user, const char *ns, const char *rule, const char *tags,
                                  const char *desc);
/* Scans one buffer. MM_ERR_TIMEOUT when the per-file time ran out (the
 * matches found so far were reported). */
int mm_rules_scan(struct mm_rules *rules, const uint8_t *data, size_t len,
                  const struct mm_rules_vars *vars, int timeout_s, mm_rules_match_cb cb,
                  void *user);

/* ---- The mail scan (scan.c) ------------------------------------------- */

enum mm_attach_kind {
	MM_ATT_YARA = 1,      /* a rule matched */
	MM_ATT_LIMIT,         /* an unpacking limit was hit */
	MM_ATT_ENCRYPTED,     /* an encrypted entry could not be opened */
	MM_ATT_PASSWORD_BODY, /* an archive opened with a password from the body */
	MM_ATT_MACRO,         /* an Office document carries VBA or XLM macros */
	MM_ATT_HDR_MISMATCH,  /* From / Reply-To / Return-Path / envelope differ */
	MM_ATT_LOOKALIKE,     /* supplier name or look-alike domain on another address */
	MM_ATT_LURE,          /* lure words in the subject */
	MM_ATT_MALFORMED      /* a part could not be parsed (archive, OLE) */
};

struct mm_attach_finding {
	int kind; /* enum mm_attach_kind */
	int sev;  /* enum mm_severity */
	char *rule_ns;
	char *rule;
	char *detail; /* what matched: the limit, the words, the addresses */
	/* The file it is about; name NULL for mail-level findings. */
	char *name;
	char *mime;
	char *path;
	uint64_t size;
	char sha256[65];
};

struct mm_attach_opts {
	int max_depth;
	uint64_t max_total; /* bytes unpacked per mail */
	uint64_t max_file;  /* bytes of one unpacked file */
	int max_files;      /* objects scanned per mail */
	int max_ms;         /* wall time per mail */
	int yara_timeout_s; /* per object */
	int max_passwords;
	const char *const *passwords; /* always tried, from config */
	size_t npasswords;
	const char *const *lures;
	size_t nlures;
	const char *const *suppliers; /* domains */
	size_t nsuppliers;
	const char *envelope_from; /* from the milter, or NULL */
};

struct mm_attach_result {
	struct mm_mime_mail *mail;
	struct mm_attach_finding *findings;
	size_t nfindings;
	int max_sev;
	unsigned objects; /* objects scanned (parts, members, streams) */
	uint64_t bytes;   /* bytes given to YARA */
	char **passwords; /* candidates harvested from the body */
	size_t npasswords;
};

void mm_attach_opts_default(struct mm_attach_opts *opts);
/* Scans one mail. rules may be NULL (heuristics and unpacking only). */
int mm_attach_scan(struct mm_attach_result **out, struct mm_rules *rules,
                   const struct mm_attach_opts *opts, const void *eml, size_t len);
/* Scans one file that is not a mail (an attachment saved to disk). */
int mm_attach_scan_file(struct mm_attach_result **out, struct mm_rules *rules,
                        const struct mm_attach_opts *opts, const char *name, const void *data,
                        size_t len);
void mm_attach_result_free(struct mm_attach_result *res);
/* Harvests password candidates from a text (exposed for tests). */
size_t mm_attach_passwords(char ***out, const char *text, size_t len, size_t max);
/* Edit distance with a bound, for look-alike domains (exposed for tests). */
int mm_attach_lookalike(const char *domain, const char *supplier);
const char *mm_attach_kind_name(int kind);

/* ---- Milter (milter.c) ------------------------------------------------ */

/* What the plugin's thread decides for a mail the milter passed to it. */
enum mm_milter_verdict {
	MM_MILTER_ACCEPT = 0,     /* pass unchanged */
	MM_MILTER_CLEAN = 1,      /* pass, with an X-Mimamori-Scan: clean header */
	MM_MILTER_TAG = 2,        /* pass, with an X-Mimamori-Scan: alert header */
	MM_MILTER_QUARANTINE = 3, /* into the MTA's hold queue */
	MM_MILTER_REJECT = 4      /* 550 5.7.1 to the sending client */
};

enum mm_milter_stat {
	MM_MILTER_STAT_MESSAGES = 0, /* messages that reached end of data */
	MM_MILTER_STAT_FAILOPEN,     /* accepted because of an internal problem */
	MM_MILTER_STAT_TIMEOUT,      /* no verdict in time */
	MM_MILTER_STAT_TOO_BIG,      /* larger than the limit */
	MM_MILTER_STAT_REJECTED,
	MM_MILTER_STAT_QUARANTINED,
	MM_MILTER_STAT_TAGGED,
	MM_MILTER_STAT_ERRORS, /* smfi_main ended with an error */
	MM_MILTER_STAT_COUNT
};

/* One complete message from the MTA. */
struct mm_milter_msg {
	uint8_t *data; /* headers and body as received */
	size_t len;
	char *envfrom; /* MAIL FROM without <> */
	char **rcpts;
	size_t nrcpts;
	int verdict; /* set through mm_milter_done */
	char reason[256];
};

/* Starts libmilter on conn ("inet:PORT@HOST", "unix:/path" or a path) in a
 * thread of its own. *out_fd becomes readable when messages wait for
 * mm_milter_next. wait_ms bounds how long an SMTP session waits for a
 * verdict before it accepts the mail; max_bytes bounds one message. One
 * milter per process. */
int mm_milter_start(int *out_fd, const char *conn, int wait_ms, size_t max_bytes, char *err,
                    size_t errn);
/* The next waiting message, or NULL. Hand it back with mm_milter_done. */
struct mm_milter_msg *mm_milter_next(void);
/* Gives the verdict (enum mm_milter_verdict) and releases msg. */
void mm_milter_done(struct mm_milter_msg *msg, int verdict, const char *reason);
/* Counters since start (enum mm_milter_stat); safe from any thread. */
uint64_t mm_milter_stat(int which);
/* Stops libmilter and accepts whatever was still waiting. */
void mm_milter_stop(void);

/* ---- SMTP / POP3 sessions from packets (smtp.c) ---------------------- */

enum { MM_SMTP_PROTO_SMTP = 1, MM_SMTP_PROTO_POP3 = 2 };
enum { MM_SMTP_CLIENT = 0, MM_SMTP_SERVER = 1 }; /* same values as enum mm_flow_dir */

struct mm_smtp_info {
	int proto;
	const char *envfrom; /* SMTP MAIL FROM, or NULL */
	const char *const *rcpts;
	size_t nrcpts;
	int truncated; /* cut at the size limit, by a gap or by the end of the capture */
};

struct mm_smtp;
typedef void (*mm_smtp_msg_cb)(void *user, const struct mm_smtp_info *info, const uint8_t *eml,
                               size_t len);
/* what: "starttls", "stls" (the session is encrypted from here) or "gap". */
typedef void (*mm_smtp_note_cb)(void *user, int proto, const char *what);

int mm_smtp_new(struct mm_smtp **out, int proto, size_t max_msg, mm_smtp_msg_cb on_msg,
                mm_smtp_note_cb on_note, void *user);
/* In-order stream bytes of one direction (MM_SMTP_CLIENT: client to server). */
void mm_smtp_data(struct mm_smtp *s, int dir, const uint8_t *data, size_t len);
/* len bytes of direction dir were lost. */
void mm_smtp_gap(struct mm_smtp *s, int dir, size_t len);
int mm_smtp_tls(const struct mm_smtp *s);
uint64_t mm_smtp_messages(const struct mm_smtp *s);
/* Frees the session; a message still being collected is delivered first. */
void mm_smtp_free(struct mm_smtp *s);

#endif
