/*
 * Test helper: the access points tcpdump -e printed for a capture (saved
 * next to it as CAPTURE.tcpdump-e.txt), the reference the AP-table tests
 * compare with.
 */
#ifndef BYOD_TEST_TCPDUMP_AP_H
#define BYOD_TEST_TCPDUMP_AP_H

struct exp_ap {
	char bssid[18];
	char ssid[80];
	int channel; /* 0 when tcpdump printed none */
	int privacy;
};

/* Fill up to max entries, one per BSSID seen in a beacon or probe response
 * (the last line wins). Returns the count, or -1 when the file cannot be
 * read or holds more than max access points. */
int read_tcpdump_aps(struct exp_ap *ex, int max, const char *capture);

#endif
