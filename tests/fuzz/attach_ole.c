/*
 * libFuzzer target: the attach plugin's OLE2 compound file reader, stream
 * reads, VBA project extraction and MS-OVBA decompression.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <mimamori/error.h>

#include "attach_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
on_module(void *user, const char *name, const uint8_t *src, size_t len)
{
	size_t *total = user;
	(void)name;
	for (size_t i = 0; i < len; i++)
		*total += src[i];
	return MM_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_ole *ole = NULL;
	size_t total = 0;
	uint8_t *out = NULL;
	size_t olen = 0;

	/* The decompressor alone, on the raw input. */
	if (mm_ovba_decompress(&out, &olen, data, size, 1u << 20) == MM_OK)
		free(out);
	if (mm_ole_open(&ole, data, size) != MM_OK)
		return 0;
	for (size_t i = 0; i < mm_ole_count(ole); i++) {
		uint8_t *s = NULL;
		size_t n = 0;
		if (mm_ole_path(ole, i) != NULL && mm_ole_is_stream(ole, i) &&
		    mm_ole_read(&s, &n, ole, i, 1u << 22) == MM_OK)
			free(s);
	}
	mm_vba_extract(ole, 1u << 22, on_module, &total);
	mm_ole_free(ole);
	return 0;
}
