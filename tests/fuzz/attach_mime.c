/*
 * libFuzzer target: the attach plugin's MIME parser (GMime plus our
 * handling of broken structure and uuencode) on arbitrary mail bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <mimamori/error.h>

#include "attach_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_mime_mail *m = NULL;
	char **pw = NULL;
	size_t n;
	if (mm_mime_parse(&m, data, size) != MM_OK)
		return 0;
	n = mm_attach_passwords(&pw, m->text, m->text_len, 16);
	for (size_t i = 0; i < n; i++)
		free(pw[i]);
	free(pw);
	mm_mime_free(m);
	return 0;
}
