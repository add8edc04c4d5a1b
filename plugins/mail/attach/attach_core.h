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

#endif
