/*
 * Fuzz target of the legacy plugin's packet-payload extractors: the first
 * byte picks SMB (NBSS + SMB1/2), HTTP User-Agent, DHCP, TCP options, the
 * ClamAV header or a firewall ruleset; the rest is the input. Runs in the
 * fuzzer process.
 */
#include "legacy.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct legacy_smb_info smb;
	struct legacy_dhcp_info dhcp;
	struct legacy_tcp_obs obs;
	char ua[200], kind[16];
	int64_t t;
	int total, sec;

	if (size < 1)
		return 0;
	switch (data[0] % 6) {
	case 0:
		legacy_smb_extract(&smb, data + 1, size - 1);
		break;
	case 1:
		legacy_http_user_agent(ua, sizeof(ua), data + 1, size - 1);
		break;
	case 2:
		legacy_dhcp_extract(&dhcp, data + 1, size - 1);
		break;
	case 3:
		memset(&obs, 0, sizeof(obs));
		legacy_tcp_parse_options(&obs, data + 1, size - 1, data[0] & 0x80);
		break;
	case 4:
		legacy_clamav_header_time(&t, (const char *)data + 1, size - 1);
		break;
	default:
		legacy_fw_parse(kind, sizeof(kind), (const char *)data + 1, size - 1);
		legacy_apt_count(&total, &sec, (const char *)data + 1, size - 1);
		break;
	}
	return 0;
}
