/*
 * libFuzzer target for the ips application-layer parsers (DNS, TLS
 * ClientHello, HTTP request): the input is given to each parser as a
 * payload, and every span they return is read to the last byte.
 */
#include <stdint.h>
#include <string.h>

#include "ips_app.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
touch(const struct ips_span *s)
{
	size_t sum = 0, i;

	for (i = 0; s->p && i < s->len; i++)
		sum += s->p[i];
	return sum;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ips_app_info ai;
	size_t sum = 0;

	memset(&ai, 0, sizeof(ai));
	if (ips_app_dns(&ai, data, size))
		sum += strlen(ai.dns_query) + ai.dns_naddrs + ai.dns_nnames;
	memset(&ai, 0, sizeof(ai));
	if (ips_app_tls(&ai, data, size))
		sum += touch(&ai.sni);
	memset(&ai, 0, sizeof(ai));
	if (ips_app_http(&ai, data, size))
		sum += touch(&ai.method) + touch(&ai.uri) + touch(&ai.host) + touch(&ai.ua) +
		       touch(&ai.headers);
	return (int)(sum & 0);
}
