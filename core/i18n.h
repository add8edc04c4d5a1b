/*
 * The message catalogue: the plain sentences events carry in English
 * ("msg") and Japanese ("msg_ja"). Each plugin and the host own a file
 * data/i18n/<name>.tsv of lines `id<TAB>English<TAB>日本語`, where {name}
 * marks a placeholder filled when the message is set on an event.
 */
#ifndef MM_CORE_I18N_H
#define MM_CORE_I18N_H

#include <stddef.h>

#include "buf.h"
#include "event.h"

struct mm_i18n;

/**
 * Load every *.tsv file of dir (in name order) into a new catalogue.
 * Blank lines and lines starting with '#' are ignored. A malformed line
 * (not three non-empty tab-separated fields, a bad id, invalid UTF-8, too
 * long) is skipped; for a duplicate id the first definition wins. Both are
 * counted and described by mm_i18n_problems()/mm_i18n_problem(), never
 * fatal. Returns MM_OK, MM_ERR_NOTFOUND or MM_ERR_IO when dir cannot be
 * read, MM_ERR_NOMEM. The caller frees *out with mm_i18n_free().
 */
int mm_i18n_load(struct mm_i18n **out, const char *dir);
void mm_i18n_free(struct mm_i18n *cat);

/** Number of messages loaded. */
size_t mm_i18n_count(const struct mm_i18n *cat);
/** Number of lines skipped or ignored (malformed, duplicate, unreadable file). */
size_t mm_i18n_problems(const struct mm_i18n *cat);
/** "file:line: reason" for problem i (the first 64 are kept), or NULL. */
const char *mm_i18n_problem(const struct mm_i18n *cat, size_t i);

/** The template for id in lang ("ja" selects Japanese, anything else
 * English), or NULL when id is unknown. Owned by the catalogue. */
const char *mm_i18n_get(const struct mm_i18n *cat, const char *id, const char *lang);

/**
 * Append tmpl to out with each {name} replaced by its value from args, a
 * NULL-terminated list of name, value pairs (args may be NULL). A
 * placeholder without a value stays as written, so that nothing is lost.
 */
int mm_i18n_format(struct mm_buf *out, const char *tmpl, const char *const *args);

/**
 * Set msg (English), msg_ja (Japanese) and msg_id on ev from the catalogue
 * entry id, placeholders filled from args as for mm_i18n_format(). When id
 * is unknown (or cat is NULL) msg and msg_id are set to id, msg_ja is
 * removed and MM_ERR_NOTFOUND is returned.
 */
int mm_event_set_msg(struct mm_event *ev, const struct mm_i18n *cat, const char *id,
                     const char *const *args);

#endif
