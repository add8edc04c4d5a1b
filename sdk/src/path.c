/*
 * Paths relative to the data directory, for plugins' configuration keys
 * (rule files, tables, demo captures). Part of the SDK support library;
 * runs in whatever process loaded the plugin.
 */
#include <stdio.h>

#include "mimamori/plugin.h"

int
mm_data_path(struct mm_ctx *ctx, char *out, size_t n, const char *path)
{
	int w;

	if (out == NULL || n == 0)
		return MM_ERR_INVAL;
	if (path == NULL || path[0] == '\0' || path[0] == '/')
		w = snprintf(out, n, "%s", path ? path : "");
	else
		w = snprintf(out, n, "%s/%s", ctx->api->data_dir(ctx), path);
	return w < 0 || (size_t)w >= n ? MM_ERR_TOOBIG : MM_OK;
}
