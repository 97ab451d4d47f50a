#!/usr/bin/env bash
# Host set-up for skiff on Debian 12, as root: installs every build and test
# dependency and fetches lwIP 2.2.1 from its Debian source package.
# Idempotent: a second run checks and returns without touching the network.
#
#   tests/host/setup.sh [--lwip-dir DIR]
#
# The lwIP source lands in .deps/lwip (git-ignored) unless --lwip-dir says
# otherwise; CMake finds it there without flags.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
lwip_dir="$top/.deps/lwip"
lwip_version="2.2.1+dfsg1-1+deb13u1"
src_list=/etc/apt/sources.list.d/skiff-trixie-src.sources

while (($#)); do
	case "$1" in
	--lwip-dir) lwip_dir=$2; shift 2 ;;
	-h | --help) sed -n '2,10p' "$0"; exit 0 ;;
	*) echo "setup.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

packages=(
	build-essential cmake pkg-config git ca-certificates
	clang llvm lld libclang-rt-14-dev
	libxdp-dev libbpf-dev libelf-dev zlib1g-dev libcunit1-dev
	xdp-tools iproute2 iputils-ping iptables ethtool
	dpkg-dev python3-scapy iperf3 valgrind
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

apt_updated=0
apt_update() {
	((apt_updated)) && return 0
	say "apt-get update"
	apt-get update -qq || die "apt-get update failed"
	apt_updated=1
}

if ((${#missing[@]})); then
	(($(id -u) == 0)) || die "packages missing (${missing[*]}): run this script as root"
	apt_update
	say "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
		|| die "apt-get install failed"
else
	say "packages: all present"
fi

# --- lwIP 2.2.1 from trixie's source package ---------------------------------
if [[ -f $lwip_dir/src/Filelists.cmake && -f $lwip_dir/.skiff-version ]] &&
	[[ $(cat "$lwip_dir/.skiff-version") == "$lwip_version" ]]; then
	say "lwIP $lwip_version: present in $lwip_dir"
	exit 0
fi
(($(id -u) == 0)) || die "lwIP is missing in $lwip_dir: run this script as root (it adds a deb-src entry)"

# Derive a source entry for trixie from the machine's own Debian archive
# entry: same mirror, same keyring, deb-src only (never binaries from trixie).
derive_uri() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		# deb822 stanzas: first URIs line of a stanza whose Suites name a
		# Debian release other than the security suite.
		uri=$(awk 'BEGIN{RS=""; FS="\n"}
			{ u=""; s=""; for (i=1;i<=NF;i++) {
				if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, a, " "); u=a[1] }
				if ($i ~ /^Suites:/) s=$i }
			  if (u != "" && s !~ /security/ && s ~ /(bookworm|trixie|stable)/) { print u; exit } }' "$f")
		[[ -n $uri ]] && { echo "$uri"; return 0; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		uri=$(awk '$1=="deb" && $0 !~ /security/ { for (i=2;i<=NF;i++) if ($i ~ /:\/\//) { print $i; exit } }' "$f")
		[[ -n $uri ]] && { echo "$uri"; return 0; }
	done
	return 1
}

if ! grep -qs 'Suites: trixie' "$src_list"; then
	uri=$(derive_uri) || die "no Debian archive entry in /etc/apt/sources.list{,.d} to derive a trixie deb-src entry from"
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	say "adding deb-src entry for trixie from $uri ($src_list)"
	cat >"$src_list" <<SRC
# Added by skiff's tests/host/setup.sh: source packages only, for lwIP 2.2.1.
Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: $keyring
SRC
	apt_updated=0
fi
apt_update

work=$(mktemp -d)
chown _apt "$work" 2>/dev/null || true
trap 'rm -rf "$work"' EXIT
say "fetching lwip=$lwip_version (apt-get source)"
(cd "$work" && apt-get source -qq "lwip=$lwip_version") || die "apt-get source lwip=$lwip_version failed"
unpacked=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'lwip-*' | head -1)
[[ -n $unpacked && -f $unpacked/src/Filelists.cmake ]] || die "the lwIP source package did not unpack as expected"
rm -rf "$lwip_dir"
mkdir -p "$(dirname "$lwip_dir")"
mv "$unpacked" "$lwip_dir"
echo "$lwip_version" >"$lwip_dir/.skiff-version"
say "lwIP $lwip_version ready in $lwip_dir"
