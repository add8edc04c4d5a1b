#!/bin/sh
# Install what building and testing mimamori needs, from Debian's packages.
# Only packages that are missing are installed; nothing else is touched.
# Needs root (or sudo).
set -eu

# Build: compiler, CMake and every library the host and plugins link.
BUILD="gcc g++ make cmake pkg-config libzmq3-dev libmsgpack-dev libconfig-dev libpcap-dev
libpcre2-dev libsqlite3-dev libyara-dev libgmime-3.0-dev libarchive-dev libssl-dev
libnetfilter-queue-dev libmilter-dev"
# Tests: the Check framework, and the real tools and servers tests start.
TEST="check tcpdump iproute2 iptables python3 yara postfix p0f binutils"

# Hyperscan speeds up the IPS's multi-pattern matching; Debian builds it for
# amd64 only, and the IPS falls back to its own matcher elsewhere.
[ "$(dpkg --print-architecture)" = amd64 ] && BUILD="$BUILD libhyperscan-dev"

missing=""
for p in $BUILD $TEST; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing:$missing"
# Postfix is only started by the tests, in their own directories: install it
# without any system-wide mail configuration.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
