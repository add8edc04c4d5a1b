/*
 * Text forms of IP and MAC addresses for events and logs. Part of the SDK
 * library: runs in workers (plugins), the host and the test tools.
 */
#include "mimamori/error.h"
#include "mimamori/packet.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

char *
mm_addr_format(char *out, const struct mm_addr *addr)
{
	if (out == NULL)
		return NULL;
	out[0] = '\0';
	if (addr == NULL)
		return out;
	/* An absent or unknown family formats as an empty string, so callers
	 * can print the result unconditionally. */
	if (addr->family == 4) {
		if (inet_ntop(AF_INET, addr->addr, out, MM_ADDR_STRLEN) == NULL)
			out[0] = '\0';
	} else if (addr->family == 6) {
		if (inet_ntop(AF_INET6, addr->addr, out, MM_ADDR_STRLEN) == NULL)
			out[0] = '\0';
	}
	return out;
}

int
mm_addr_parse(struct mm_addr *out, const char *text)
{
	struct mm_addr a;

	if (out == NULL)
		return MM_ERR_INVAL;
	if (text == NULL)
		return MM_ERR_PARSE;
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, text, a.addr) == 1) {
		a.family = 4;
	} else if (inet_pton(AF_INET6, text, a.addr) == 1) {
		a.family = 6;
	} else {
		/* Leave *out untouched so a failed parse keeps the old value. */
		return MM_ERR_PARSE;
	}
	*out = a;
	return MM_OK;
}

char *
mm_mac_format(char *out, const uint8_t *mac)
{
	if (out == NULL)
		return NULL;
	if (mac == NULL) {
		out[0] = '\0';
		return out;
	}
	snprintf(out, MM_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
	         mac[3], mac[4], mac[5]);
	return out;
}
