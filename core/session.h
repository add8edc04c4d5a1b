/*
 * An in-process session: configuration loaded and validated, plugins loaded
 * into this process, modules configured. Used by replay, scan-mail and
 * `run --inproc`, where one process runs several modules on one loop.
 */
#ifndef MM_CORE_SESSION_H
#define MM_CORE_SESSION_H

#include <stddef.h>

#include "host.h"

struct mm_session {
	struct mm_config *cfg;
	struct mm_plugin_info **plugins;
	size_t nplugins;
	struct mm_host host;
	struct mm_module **modules;
	size_t nmodules;
	struct mm_i18n *cat;
};

/* Which modules to load: the named ones (names, n > 0), else every enabled
 * module whose plugin has one of the capability bits in caps (0: any). */
int mm_session_open(struct mm_session *s, const char *const *names, size_t n, unsigned caps);

/* Replace a list key of every loaded module that declares it (e.g. "rules"
 * from --rules), or a string key ("threshold_file"). */
int mm_session_override_list(struct mm_session *s, const char *key, const char *const *items,
                             size_t n);
int mm_session_override_str(struct mm_session *s, const char *key, const char *value);
/* --set MODULE.KEY=VALUE, parsed by the key's declared type. */
int mm_session_set(struct mm_session *s, const char *assignment);

int mm_session_init(struct mm_session *s);   /* init only: operator commands (feed) */
int mm_session_start(struct mm_session *s);  /* init + start every module */
void mm_session_close(struct mm_session *s); /* stop, fini, free */

#endif
