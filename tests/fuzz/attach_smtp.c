/*
 * libFuzzer target: the attach plugin's SMTP/POP3 session parser (smtp.c)
 * on arbitrary interleavings of client and server bytes. The first byte
 * picks the protocol and the message size limit; then each record is a
 * header byte (bit 0: direction, bits 1-6: length - 1, bit 7: a gap
 * instead of data) followed by that many bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mimamori/error.h>

#include "attach_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_msg(void *user, const struct mm_smtp_info *info, const uint8_t *eml, size_t len)
{
	size_t *total = user;
	/* Touch every byte so a read past the end shows. */
	for (size_t i = 0; i < len; i++)
		*total += eml[i];
	if (info->envfrom != NULL)
		*total += strlen(info->envfrom);
	for (size_t i = 0; i < info->nrcpts; i++)
		*total += strlen(info->rcpts[i]);
}

static void
on_note(void *user, int proto, const char *what)
{
	size_t *total = user;
	*total += (size_t)proto + strlen(what);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_smtp *s = NULL;
	size_t total = 0, i = 1;
	if (size < 1)
		return 0;
	if (mm_smtp_new(&s, (data[0] & 1) ? MM_SMTP_PROTO_POP3 : MM_SMTP_PROTO_SMTP,
	                (data[0] & 2) ? 64 : 1u << 20, on_msg, on_note, &total) != MM_OK)
		return 0;
	while (i < size) {
		uint8_t h = data[i++];
		size_t n = (size_t)((h >> 1) & 0x3f) + 1;
		if (n > size - i)
			n = size - i;
		if (h & 0x80)
			mm_smtp_gap(s, h & 1, n);
		else
			mm_smtp_data(s, h & 1, data + i, n);
		i += n;
	}
	mm_smtp_free(s);
	return total == 1 ? 1 : 0;
}
