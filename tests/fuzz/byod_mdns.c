/*
 * Fuzz target for the name parsers of the byod plugin: the input is one
 * mDNS/LLMNR message, then the same bytes as a NetBIOS name service
 * message, so name compression, record lengths and NetBIOS decoding run on
 * hostile input.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "byod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_name(void *user, const char *name, const uint8_t *ip4)
{
	size_t *n = user;
	*n += strlen(name) + (ip4 ? ip4[3] : 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0;

	byod_dns_names(data, size, 0, on_name, &n);
	byod_dns_names(data, size, 1, on_name, &n);
	return 0;
}
