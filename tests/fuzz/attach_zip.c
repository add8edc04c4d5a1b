/*
 * libFuzzer target: the attach plugin's unpacking of one attachment (ZIP,
 * OOXML, RAR, 7z, gzip through libarchive, nested OLE2) without rules,
 * with small limits so that every input finishes quickly.
 */
#include <stddef.h>
#include <stdint.h>

#include <mimamori/error.h>

#include "attach_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *pw[] = {"infected", "Xk29pQ7"};
	struct mm_attach_opts o;
	struct mm_attach_result *r = NULL;
	mm_attach_opts_default(&o);
	o.max_total = 8u << 20;
	o.max_file = 4u << 20;
	o.max_files = 64;
	o.max_ms = 2000;
	o.passwords = pw;
	o.npasswords = 2;
	if (mm_attach_scan_file(&r, NULL, &o, "fuzz.zip", data, size) == MM_OK)
		mm_attach_result_free(r);
	return 0;
}
