/*
 * Small application-layer parsers of the ips plugin: DNS query and answers,
 * TLS ClientHello SNI and HTTP/1 request line and headers. They read only
 * inside the buffer they are given and fill struct ips_app_info; strings
 * are either pointers into that buffer (HTTP, SNI) or copies (DNS names).
 */
#ifndef MM_IPS_APP_H
#define MM_IPS_APP_H

#include <stddef.h>
#include <stdint.h>

#include "mimamori/packet.h"

#define IPS_DNS_NAME_MAX 256
#define IPS_DNS_ANS_MAX 8

struct ips_span {
	const uint8_t *p;
	uint32_t len;
};

struct ips_app_info {
	int app; /* enum ips_app */
	/* DNS */
	int dns_response;
	char dns_query[IPS_DNS_NAME_MAX];
	uint32_t dns_query_len;
	char dns_names[IPS_DNS_ANS_MAX][IPS_DNS_NAME_MAX]; /* CNAME targets */
	uint32_t dns_nnames;
	struct mm_addr dns_addrs[IPS_DNS_ANS_MAX];
	uint32_t dns_naddrs;
	/* TLS */
	struct ips_span sni;
	/* HTTP request */
	struct ips_span method, uri, host, ua, headers;
};

/* Each returns 1 when the payload parsed as that protocol, 0 otherwise. */
int ips_app_dns(struct ips_app_info *out, const uint8_t *p, size_t len);
int ips_app_tls(struct ips_app_info *out, const uint8_t *p, size_t len);
int ips_app_http(struct ips_app_info *out, const uint8_t *p, size_t len);
/* Try the parsers that fit the packet (ports, first bytes). */
int ips_app_parse(struct ips_app_info *out, const struct mm_packet *pkt);

#endif
