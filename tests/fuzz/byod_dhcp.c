/*
 * Fuzz target for the SDK DHCPv4 parser: parse the input as a UDP payload,
 * walk every option with the iterator and format the fingerprint and text
 * fields, so each path that reads option bytes runs under the sanitizers.
 */
#include <stddef.h>
#include <stdint.h>

#include <mimamori/dhcp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_dhcp_msg m;
	struct mm_dhcp_iter it;
	struct mm_dhcp_opt o;
	char buf[MM_DHCP_FINGERPRINT_MAX];
	char small[12];
	volatile unsigned sink = 0;
	int r;

	if (mm_dhcp_parse(&m, data, size) != MM_OK)
		return 0;
	for (r = mm_dhcp_opt_first(&o, &it, &m); r == 1; r = mm_dhcp_opt_next(&o, &it))
		if (o.len > 0)
			sink += o.value[o.len - 1];
	mm_dhcp_fingerprint(buf, sizeof(buf), &m);
	mm_dhcp_fingerprint(small, sizeof(small), &m);
	mm_dhcp_text(buf, sizeof(buf), &m.hostname);
	mm_dhcp_text(small, sizeof(small), &m.vendor_class);
	mm_dhcp_text(buf, sizeof(buf), &m.client_id);
	mm_dhcp_find(&o, &m, MM_DHCP_OPT_END);
	(void)sink;
	return 0;
}
