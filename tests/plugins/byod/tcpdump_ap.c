/*
 * Parses the access points out of saved `tcpdump -e` output (test helper,
 * runs in the byod test processes).
 */
#include "tcpdump_ap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcap_walk.h"

int
read_tcpdump_aps(struct exp_ap *ex, int max, const char *capture)
{
	char path[4200], line[2048];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s.tcpdump-e.txt", test_data(capture));
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *bs = strstr(line, "BSSID:"), *fr, *o, *c;
		struct exp_ap *e = NULL;
		if (bs == NULL)
			continue;
		fr = strstr(line, "Beacon (");
		if (fr == NULL)
			fr = strstr(line, "Probe Response (");
		if (fr == NULL)
			continue;
		o = strchr(fr, '(');
		c = strstr(o, ") [");
		if (c == NULL || c == o + 1)
			continue;
		for (int i = 0; i < n; i++)
			if (strncmp(ex[i].bssid, bs + 6, 17) == 0)
				e = &ex[i];
		if (e == NULL) {
			if (n >= max) {
				fclose(f);
				return -1;
			}
			e = &ex[n++];
			memset(e, 0, sizeof(*e));
			memcpy(e->bssid, bs + 6, 17);
		}
		snprintf(e->ssid, sizeof(e->ssid), "%.*s", (int)(c - o - 1), o + 1);
		e->channel = strstr(c, "CH: ") ? atoi(strstr(c, "CH: ") + 4) : 0;
		e->privacy = strstr(c, "PRIVACY") != NULL;
	}
	fclose(f);
	return n;
}
