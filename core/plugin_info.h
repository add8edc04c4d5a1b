/*
 * What the host knows about a plugin file without keeping it loaded: the
 * descriptor's fields and a deep copy of its configuration key table, or the
 * reason the file was refused. The supervisor gets these from a probe child
 * (it never dlopens a plugin itself); in-process modes fill them directly.
 */
#ifndef MM_CORE_PLUGIN_INFO_H
#define MM_CORE_PLUGIN_INFO_H

#include <stddef.h>
#include <stdint.h>

#include "mimamori/plugin.h"

struct mm_plugin_info {
	char *path;
	char *name;
	char *version;
	char *vendor;
	char *description;
	uint32_t abi_version;
	uint32_t size;
	uint32_t roles;          /* enum mm_role bits */
	uint32_t caps;           /* enum mm_capability bits */
	struct mm_cfg_key *keys; /* deep copy, nkeys entries (no terminator) */
	size_t nkeys;
	char *refused; /* why the file cannot be used, or NULL */
};

void mm_plugin_info_free(struct mm_plugin_info *info);

#endif
