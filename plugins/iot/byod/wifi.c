/*
 * 802.11 management frame parsing for the rogue Wi-Fi monitor: SSID,
 * channel, beacon interval and encryption (RSN and WPA information
 * elements, privacy bit) of beacons and probe responses, and the SSID
 * similarity used for look-alike networks. Runs on the packet path of the
 * byod worker; every element read is bounded by the frame body.
 */
#include "byod.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define IE_SSID 0
#define IE_DS 3
#define IE_RSN 48
#define IE_HT_OP 61
#define IE_VENDOR 221

const char *
byod_enc_name(int enc)
{
	static const char *const n[] = {"OPEN", "WEP", "WPA", "WPA2", "WPA3"};
	return enc >= 0 && enc <= BYOD_ENC_WPA3 ? n[enc] : "?";
}

/* The SSID as tcpdump -e prints it (its "M-" / "^" escapes for bytes
 * that are not printable ASCII), so tables and tests compare directly. */
void
byod_ssid_text(char *out, size_t outsz, const uint8_t *s, size_t len)
{
	size_t o = 0, i;

	/* Most names are plain ASCII: copy them in one go. */
	for (i = 0; i < len && s[i] >= 0x20 && s[i] < 0x7f; i++)
		;
	if (i == len && len < outsz) {
		memcpy(out, s, len);
		out[len] = '\0';
		return;
	}
	for (i = 0; i < len && o + 1 < outsz; i++) {
		uint8_t c = s[i];
		char tmp[5];
		size_t k = 0, j;

		if (c & 0x80) {
			tmp[k++] = 'M';
			tmp[k++] = '-';
			c &= 0x7f;
		}
		if (c < 0x20 || c == 0x7f) {
			tmp[k++] = '^';
			tmp[k++] = c == 0x7f ? '?' : (char)(c + '@');
		} else {
			tmp[k++] = (char)c;
		}
		if (o + k + 1 > outsz)
			break;
		for (j = 0; j < k; j++)
			out[o++] = tmp[j];
	}
	out[o] = '\0';
}

/* Encryption from an RSN element: SAE (AKM 8) or OWE-less WPA3 suites make
 * it WPA3, anything else WPA2. */
static int
rsn_enc(const uint8_t *ie, uint8_t len)
{
	uint32_t off = 2 + 4; /* version, group cipher */
	uint16_t n, i;

	if (len < off + 2)
		return BYOD_ENC_WPA2;
	n = (uint16_t)(ie[off] | ie[off + 1] << 8);
	off += 2;
	if ((uint32_t)n * 4 > (uint32_t)len - off)
		return BYOD_ENC_WPA2;
	off += (uint32_t)n * 4;
	if (len < off + 2)
		return BYOD_ENC_WPA2;
	n = (uint16_t)(ie[off] | ie[off + 1] << 8);
	off += 2;
	for (i = 0; i < n && off + 4 <= len; i++, off += 4) {
		if (ie[off] == 0x00 && ie[off + 1] == 0x0f && ie[off + 2] == 0xac &&
		    (ie[off + 3] == 8 || ie[off + 3] == 24))
			return BYOD_ENC_WPA3;
	}
	return BYOD_ENC_WPA2;
}

/* Which element ids the parser looks at: one table load per element
 * instead of a chain of compares, as most elements (rates, TIM, country,
 * HT capabilities...) are skipped. */
static const uint8_t ie_wanted[256] = {
        [IE_SSID] = 1,
        [IE_DS] = 1,
        [IE_RSN] = 1,
        [IE_VENDOR] = 1,
};

void
byod_beacon_parse(struct byod_beacon *out, const uint8_t *b, uint32_t len)
{
	uint32_t off = 12, left = 256;
	uint16_t cap;
	int has_rsn = 0, has_wpa = 0, rsn = BYOD_ENC_WPA2;

	memset(out, 0, sizeof(*out));
	out->beacon_int = (uint16_t)(b[8] | b[9] << 8);
	cap = (uint16_t)(b[10] | b[11] << 8);
	out->privacy = (cap & 0x0010) != 0;
	/* Elements: each step advances by at least 2 bytes, and at most 256
	 * elements are read, so a frame full of empty elements stays cheap. */
	while (off + 2 <= len && left-- > 0) {
		uint8_t id = b[off], l = b[off + 1];
		const uint8_t *v = b + off + 2;
		uint32_t next = off + 2u + l;

		if (next > len)
			break;
		off = next;
		if (!ie_wanted[id])
			continue;
		switch (id) {
		case IE_SSID:
			if (!out->has_ssid && l <= 32) {
				out->has_ssid = 1;
				memcpy(out->ssid_raw, v, l);
				out->ssid_len = l;
			}
			break;
		case IE_DS:
			/* The DS element names the channel the AP sends on;
			 * radiotap's channel is where the radio listened. */
			if (l >= 1) {
				out->has_ds = 1;
				out->ds_channel = v[0];
			}
			break;
		case IE_RSN:
			has_rsn = 1;
			rsn = rsn_enc(v, l);
			break;
		default: /* IE_VENDOR */
			if (l >= 4 && v[0] == 0x00 && v[1] == 0x50 && v[2] == 0xf2 && v[3] == 1)
				has_wpa = 1;
			break;
		}
	}
	if (has_rsn)
		out->enc = (uint8_t)rsn;
	else if (has_wpa)
		out->enc = BYOD_ENC_WPA;
	else if (out->privacy)
		out->enc = BYOD_ENC_WEP;
	else
		out->enc = BYOD_ENC_OPEN;
}

int
byod_wlan_parse(struct byod_ap *out, const struct mm_packet *pkt)
{
	struct byod_beacon bc;

	/* Only the part of the entry a frame describes is cleared (the table
	 * fields after it are the caller's). */
	memset(out, 0, offsetof(struct byod_ap, vendor));
	if (!byod_beacon_frame(pkt))
		return -1;
	byod_beacon_parse(&bc, pkt->wlan_body, pkt->wlan_body_len);
	memcpy(out->bssid, pkt->wlan_bssid, 6);
	out->beacon_int = bc.beacon_int;
	out->privacy = bc.privacy;
	out->channel = bc.has_ds ? bc.ds_channel : pkt->channel;
	out->signal = pkt->has_signal ? pkt->signal_dbm : 0;
	out->enc = bc.enc;
	if (!bc.has_ssid)
		return 1;
	memcpy(out->ssid_raw, bc.ssid_raw, bc.ssid_len);
	out->ssid_len = bc.ssid_len;
	byod_ssid_text(out->ssid, sizeof(out->ssid), bc.ssid_raw, bc.ssid_len);
	return 0;
}

double
byod_ssid_similarity(const char *a, const char *b)
{
	/* Normalized Levenshtein distance over case-folded text, with the
	 * usual look-alike substitutions (0/o, 1/l/i, 5/s) folded too, so
	 * "C0mpany-WiFi" scores 1.0 against "Company-WiFi" before the caller
	 * rules out the exact match. Names are at most 32 bytes. */
	char x[34], y[34];
	unsigned d[34][34];
	size_t n = 0, m = 0, i, j, mx;

	for (i = 0; a[i] && n < 33; i++) {
		int c = tolower((unsigned char)a[i]);
		x[n++] = (char)(c == '0' ? 'o' : c == '1' || c == 'i' ? 'l' : c == '5' ? 's' : c);
	}
	for (i = 0; b[i] && m < 33; i++) {
		int c = tolower((unsigned char)b[i]);
		y[m++] = (char)(c == '0' ? 'o' : c == '1' || c == 'i' ? 'l' : c == '5' ? 's' : c);
	}
	mx = n > m ? n : m;
	if (mx == 0)
		return 1.0;
	for (i = 0; i <= n; i++)
		d[i][0] = (unsigned)i;
	for (j = 0; j <= m; j++)
		d[0][j] = (unsigned)j;
	for (i = 1; i <= n; i++) {
		for (j = 1; j <= m; j++) {
			unsigned sub = d[i - 1][j - 1] + (x[i - 1] != y[j - 1]);
			unsigned del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
			unsigned best = sub < del ? sub : del;
			d[i][j] = best < ins ? best : ins;
		}
	}
	return 1.0 - (double)d[n][m] / (double)mx;
}
