/*
 * Finding and loading plugins safely: file checks, dlopen with ABI checks,
 * the descriptor copied into a struct mm_plugin_info, and probing a file in
 * a child process so that the supervisor never maps vendor code itself.
 */
#ifndef MM_CORE_LOADER_H
#define MM_CORE_LOADER_H

#include <stddef.h>

#include "buf.h"
#include "plugin_info.h"

/* The smallest struct mm_plugin the host accepts: ABI 1.0's. */
#define MM_PLUGIN_MIN_SIZE (offsetof(struct mm_plugin, feed) + sizeof(void *))

/* Refuse a file (or its directory) that is not a regular file, is writable
 * by group or others, or is owned by someone other than root or the service
 * user (uid; pass (unsigned)-1 for "this process's uid"). */
/* Trust files of this user too (host.user); NULL or "" for none. */
void mm_loader_set_service_user(const char *user);

int mm_plugin_check_file(const char *path, unsigned service_uid, char *reason, size_t n);

/* dlopen(RTLD_NOW | RTLD_LOCAL) and check the descriptor. On success *out_dl
 * is the handle and *out the descriptor; on failure reason says why. */
int mm_plugin_open(const char *path, void **out_dl, const struct mm_plugin **out, char *reason,
                   size_t n);

/* Copy what the host needs from a descriptor (reads no member past size). */
int mm_plugin_describe(struct mm_plugin_info **out, const char *path, const struct mm_plugin *p);

/* A refused file as an info with only path and reason. */
struct mm_plugin_info *mm_plugin_info_refused(const char *path, const char *reason);

/* Probe wire format (msgpack), child -> parent. */
int mm_plugin_info_encode(const struct mm_plugin_info *info, struct mm_buf *out);
int mm_plugin_info_decode(struct mm_plugin_info **out, const void *data, size_t len);

/* `mimamori probe FILE`: open, describe, write the encoding to stdout. */
int mm_probe_main(int argc, char **argv);

/*
 * Every *.so in dir, in lexical order: checked, probed (in a child process
 * running `exe probe FILE` when probe_exe is set, in this process
 * otherwise), duplicates refused. *out is an array of *out_n infos.
 */
int mm_plugins_scan(struct mm_plugin_info ***out, size_t *out_n, const char *dir,
                    const char *probe_exe);
void mm_plugins_free(struct mm_plugin_info **infos, size_t n);
struct mm_plugin_info *mm_plugins_find(struct mm_plugin_info **infos, size_t n, const char *name);

#endif
