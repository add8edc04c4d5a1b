#!/bin/sh
# End-to-end: `mimamori replay` with the ips plugin over real captures.
# Exit 77 (skipped) when the host binary has not been built.
set -eu
[ -x "${MIMAMORI:-}" ] || exit 77
conf=$(mktemp -d)
trap 'rm -rf "$conf"' EXIT
cp "$MM_SOURCE_DIR/conf.d/00-sensor.conf" "$MM_SOURCE_DIR/conf.d/20-ips.conf" "$conf/"
run() { "$MIMAMORI" replay -c "$conf" --plugin-dir "$MM_PLUGIN_DIR" --module ips "$@" 2>/dev/null; }

# One scan alert from 172.16.0.8 with the 1000 ports tcpdump counts.
out=$(run --pcap "$MM_TEST_DATA/chrissanders-packets/synscan.pcapng")
n=$(printf '%s\n' "$out" | grep -c '"cat":"scan"' || true)
[ "$n" = 1 ] || { echo "scan alerts: $n"; exit 1; }
printf '%s\n' "$out" | grep '"cat":"scan"' | grep -q '"src":{"ip":"172.16.0.8"' || exit 1
printf '%s\n' "$out" | grep '"cat":"scan"' | grep -q '"ports":1000,' || exit 1

# --rules replaces the configured rules: the TLS SNI shows in attrs.
rules="$conf/t.rules"
echo 'alert tls any any -> any any (msg:"sni"; tls.sni; content:"ftp.nluug.nl"; sid:1; rev:1;)' >"$rules"
out=$(run --pcap "$MM_TEST_DATA/suricata-verify/tests/bug-5758/input.pcap" --rules "$rules")
printf '%s\n' "$out" | grep '"rule":{"ns":"ips","id":1,' | grep -q '"sni":"ftp.nluug.nl"' || exit 1

# A threshold file suppressing the rule removes the alert.
echo 'suppress gen_id 1, sig_id 1' >"$conf/threshold.config"
out=$(run --pcap "$MM_TEST_DATA/suricata-verify/tests/bug-5758/input.pcap" --rules "$rules" \
	--threshold "$conf/threshold.config")
if printf '%s\n' "$out" | grep -q '"rule":{"ns":"ips","id":1,'; then exit 1; fi
echo "ips replay: ok"
