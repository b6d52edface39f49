#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Installs everything the build, the tests, the demo and the benchmark need on Debian 12.
# Idempotent and quiet: packages already installed are not asked for again, so a second run
# does no network traffic and prints nothing. On failure it prints apt's log and exits non-zero.
set -euo pipefail

PACKAGES=(
	# build
	build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
	libwolfssl-dev libnl-3-dev libnl-route-3-dev libmnl-dev libnftnl-dev
	libcmocka-dev libsqlite3-dev libsodium-dev liblwip-dev
	# UPnP IGD port mappings (daemon/direct/portmap_upnp.c)
	libminiupnpc-dev
	# integration tests, demo, benchmark
	iproute2 iputils-ping nftables openssh-server openssh-client iperf3 jq procps
	wireguard-tools wireguard-go tcpdump coreutils util-linux
	# SOCKS5 clients of userspace mode (tests/integration/userspace.sh): ssh through nc -X 5,
	# curl --socks5-hostname
	netcat-openbsd curl
	# certificates forged by an attacker (tests/integration/impersonation.sh)
	openssl
	# dnsmasq without its system service (which would listen on the host's port 53): the DNS of
	# the two-domain lab, tests/integration/lib_domains.sh
	dnsmasq-base
	# script lint
	shellcheck
)

if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: must run as root (apt-get)" >&2
	exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
	# "ii" = wanted install, installed; anything else (absent, half-configured) is missing.
	if [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) != ii* ]]; then
		missing+=("$p")
	fi
done
# miniupnpd for the NAT lab's UPnP/NAT-PMP/PCP router (tests/integration/lib_nat.sh), not
# installed as a package: miniupnpd-nftables would start a system service and ask debconf
# questions, which fail on a machine without systemd. Its files are unpacked instead (the
# lab runs the binary with a config of its own); its libraries (libnftnl, libmnl) come with
# the build's packages above.
MINIUPNPD_PKG=miniupnpd-nftables
MINIUPNPD_DIR=/usr/local/lib/vertex-lab/miniupnpd
need_miniupnpd=0
[[ -x $MINIUPNPD_DIR/usr/sbin/miniupnpd ]] || need_miniupnpd=1

[[ ${#missing[@]} -eq 0 && $need_miniupnpd -eq 0 ]] && exit 0

log=$(mktemp /tmp/vertex-install-deps.XXXXXX)
debs=$(mktemp -d /tmp/vertex-install-debs.XXXXXX)
trap 'rm -rf "$log" "$debs"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -q >"$log" 2>&1; then
	cat "$log" >&2
	echo "install-deps: apt-get update failed" >&2
	exit 1
fi
if [[ ${#missing[@]} -gt 0 ]] &&
	! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
	cat "$log" >&2
	echo "install-deps: apt-get failed installing: ${missing[*]}" >&2
	exit 1
fi
if [[ $need_miniupnpd -eq 1 ]]; then
	# apt-get download writes into the current directory, as the _apt user when it can.
	chmod 0777 "$debs"
	if ! (cd "$debs" && apt-get download -q "$MINIUPNPD_PKG") >"$log" 2>&1 ||
		! mkdir -p "$MINIUPNPD_DIR" ||
		! dpkg-deb -x "$debs"/"$MINIUPNPD_PKG"_*.deb "$MINIUPNPD_DIR" >>"$log" 2>&1 ||
		[[ ! -x $MINIUPNPD_DIR/usr/sbin/miniupnpd ]]; then
		cat "$log" >&2
		echo "install-deps: could not unpack $MINIUPNPD_PKG into $MINIUPNPD_DIR" >&2
		exit 1
	fi
fi
