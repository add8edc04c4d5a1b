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
#define IPS_URI_MAX 2048
#define IPS_HOST_MAX 256

struct ips_span {
	const uint8_t *p;
	uint32_t len;
};

struct ips_app_info {
	int app; /* enum ips_app */
	/* DNS */
	int dns_response;
	uint32_t dns_query_len;
	uint32_t dns_nnames;
	struct mm_addr dns_addrs[IPS_DNS_ANS_MAX];
	uint32_t dns_naddrs;
	/* TLS */
	struct ips_span sni;
	/* HTTP request: uri is the raw request-line URI; the normalized forms
	 * (percent-decoded path without dot segments; host in lower case
	 * without the port) are what http.uri and http.host inspect. */
	struct ips_span method, uri, host, ua, headers;
	struct ips_span uri_norm, host_norm;
	/* Storage, valid as far as the fields above say (not cleared per
	 * packet: clearing kilobytes for every packet shows in throughput). */
	char dns_query[IPS_DNS_NAME_MAX];
	char dns_names[IPS_DNS_ANS_MAX][IPS_DNS_NAME_MAX]; /* CNAME targets */
	uint8_t uri_buf[IPS_URI_MAX];
	uint8_t host_buf[IPS_HOST_MAX];
};

/* Clear the fields of out (not its storage). */
void ips_app_clear(struct ips_app_info *out);

/* Each returns 1 when the payload parsed as that protocol, 0 otherwise. */
int ips_app_dns(struct ips_app_info *out, const uint8_t *p, size_t len);
int ips_app_tls(struct ips_app_info *out, const uint8_t *p, size_t len);
int ips_app_http(struct ips_app_info *out, const uint8_t *p, size_t len);
/* Fill uri_norm/host_norm from uri/host (done by ips_app_http). */
void ips_app_http_normalize(struct ips_app_info *out);
/* Try the parsers that fit the packet (ports, first bytes). */
int ips_app_parse(struct ips_app_info *out, const struct mm_packet *pkt);

#endif
