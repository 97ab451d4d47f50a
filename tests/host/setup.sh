#!/usr/bin/env bash
# Host set-up for skiff on Debian 12, as root: installs every build and test
# dependency, fetches lwIP 2.2.1 from Debian's source package (whichever
# Debian revision of upstream 2.2.1 the archive has) and applies skiff's
# patch series (stack/lwip-patches) to it.
# Idempotent: a second run checks and returns without touching the network.
#
#   tests/host/setup.sh [--lwip-dir DIR] [--pick-lwip-version]
#
# The patched lwIP tree lands in .deps/lwip (git-ignored) unless --lwip-dir
# says otherwise; CMake finds it there without flags and refuses a tree
# patched with another series. The pristine trees are kept in
# .deps/lwip-src/<Debian version>, so a changed series re-applies without
# the network. --pick-lwip-version prints which Debian version of the
# archive's (or SKIFF_LWIP_VERSIONS') would be taken, and exits.
#
# For tests: SKIFF_LWIP_PRISTINE=DIR takes DIR as the fetched source tree
# (its .skiff-version names its Debian version), SKIFF_LWIP_SERIES=DIR
# another series folder, SKIFF_LWIP_VERSIONS="V1 V2 ..." the versions the
# archive offers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
lwip_dir="$top/.deps/lwip"
lwip_src="$top/.deps/lwip-src"
lwip_upstream="2.2.1"
series_dir=${SKIFF_LWIP_SERIES:-$top/stack/lwip-patches}
series_sh="$here/lwip-series.sh"
src_list=/etc/apt/sources.list.d/skiff-trixie-src.sources
pick_only=0

while (($#)); do
	case "$1" in
	--lwip-dir) lwip_dir=$2; shift 2 ;;
	--pick-lwip-version) pick_only=1; shift ;;
	-h | --help) sed -n '2,21p' "$0"; exit 0 ;;
	*) echo "setup.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# The newest of the Debian versions on stdin whose upstream version is
# $lwip_upstream ("2.2.1+dfsg1-1+deb13u1": epoch, repack suffix and Debian
# revision aside).
pick_version() {
	local best="" v up
	while read -r v; do
		[[ -n $v ]] || continue
		up=${v#*:}
		up=${up%-*}
		up=${up%%+*}
		up=${up%%~*}
		[[ $up == "$lwip_upstream" ]] || continue
		if [[ -z $best ]] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done
	[[ -n $best ]] && printf '%s\n' "$best"
}

archive_versions() {
	if [[ -n ${SKIFF_LWIP_VERSIONS:-} ]]; then
		tr ' ' '\n' <<<"$SKIFF_LWIP_VERSIONS"
	else
		apt-cache showsrc lwip 2>/dev/null | awk '/^Version:/ {print $2}'
	fi
}

if ((pick_only)); then
	v=$(archive_versions | pick_version) || die "the archive offers no lwIP $lwip_upstream (versions: $(archive_versions | tr '\n' ' '))"
	echo "$v"
	exit 0
fi

packages=(
	build-essential cmake pkg-config git ca-certificates
	clang llvm lld libclang-rt-14-dev
	libxdp-dev libbpf-dev libelf-dev zlib1g-dev libcunit1-dev libssl-dev
	xdp-tools iproute2 iputils-ping iptables ethtool
	dpkg-dev patch python3-scapy iperf3 valgrind tshark
	libnetfilter-queue-dev
	redis-server redis-tools
	nginx-light curl wrk memcached libmemcached-tools python3-pymemcache
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

# --- lwIP 2.2.1 from trixie's source package, patched ---------------------------
want=$(bash "$series_sh" hash "$series_dir")
if [[ -z ${SKIFF_LWIP_PRISTINE:-} && -f $lwip_dir/src/Filelists.cmake && -f $lwip_dir/.skiff-series ]] &&
	[[ $(cat "$lwip_dir/.skiff-series") == "$want" ]]; then
	say "lwIP $(cat "$lwip_dir/.skiff-version" 2>/dev/null) with skiff's series: present in $lwip_dir"
	exit 0
fi

# A pristine tree: the one a test names, one fetched before, or a new fetch.
pristine=""
if [[ -n ${SKIFF_LWIP_PRISTINE:-} ]]; then
	pristine=$SKIFF_LWIP_PRISTINE
	[[ -f $pristine/src/Filelists.cmake ]] || die "SKIFF_LWIP_PRISTINE=$pristine is not an lwIP tree"
elif [[ -d $lwip_src ]]; then
	v=$(find "$lwip_src" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | pick_version || true)
	[[ -n $v ]] && pristine="$lwip_src/$v"
fi

# Derive a source entry for trixie from the machine's own Debian archive
# entry: same mirror, same keyring, deb-src only (never binaries from trixie).
derive_uri() {
	local f uri want_security=$1
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		# deb822 stanzas: first URIs line of a stanza whose Suites name a
		# Debian release (the security suite, or another one).
		uri=$(awk -v sec="$want_security" 'BEGIN{RS=""; FS="\n"}
			{ u=""; s=""; for (i=1;i<=NF;i++) {
				if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, a, " "); u=a[1] }
				if ($i ~ /^Suites:/) s=$i }
			  is_sec = (s ~ /security/)
			  if (u != "" && s ~ /(bookworm|trixie|stable)/ && is_sec == sec) { print u; exit } }' "$f")
		[[ -n $uri ]] && { echo "$uri"; return 0; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		if ((want_security)); then
			uri=$(awk '$1=="deb" && $0 ~ /security/ { for (i=2;i<=NF;i++) if ($i ~ /:\/\//) { print $i; exit } }' "$f")
		else
			uri=$(awk '$1=="deb" && $0 !~ /security/ { for (i=2;i<=NF;i++) if ($i ~ /:\/\//) { print $i; exit } }' "$f")
		fi
		[[ -n $uri ]] && { echo "$uri"; return 0; }
	done
	return 1
}

fetch() {
	local uri sec_uri keyring=/usr/share/keyrings/debian-archive-keyring.gpg work unpacked v
	(($(id -u) == 0)) || die "lwIP is missing in $lwip_dir: run this script as root (it adds a deb-src entry)"
	if ! grep -qs 'Suites: trixie-security' "$src_list"; then
		uri=$(derive_uri 0) || die "no Debian archive entry in /etc/apt/sources.list{,.d} to derive a trixie deb-src entry from"
		sec_uri=$(derive_uri 1 || true)
		say "adding deb-src entries for trixie from $uri ($src_list)"
		{
			cat <<SRC
# Added by skiff's tests/host/setup.sh: source packages only, for lwIP 2.2.1.
Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: $keyring
SRC
			if [[ -n $sec_uri ]]; then
				cat <<SRC

# Security fixes of the same (a newer Debian revision of lwIP 2.2.1).
Types: deb-src
URIs: $sec_uri
Suites: trixie-security
Components: main
Signed-By: $keyring
SRC
			fi
		} >"$src_list"
		apt_updated=0
	fi
	apt_update
	v=$(archive_versions | pick_version) ||
		die "the archive offers no Debian revision of lwIP $lwip_upstream (it has: $(archive_versions | tr '\n' ' ')); skiff's patch series is written for $lwip_upstream"
	work=$(mktemp -d)
	chown _apt "$work" 2>/dev/null || true
	# The path is expanded now: work is local and gone when the trap runs.
	# shellcheck disable=SC2064
	trap "rm -rf '$work'" EXIT
	say "fetching lwip=$v (apt-get source)"
	(cd "$work" && apt-get source -qq "lwip=$v") || die "apt-get source lwip=$v failed (is the archive reachable? try: apt-get update)"
	unpacked=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'lwip-*' | head -1)
	[[ -n $unpacked && -f $unpacked/src/Filelists.cmake ]] || die "the lwIP source package did not unpack as expected"
	mkdir -p "$lwip_src"
	rm -rf "${lwip_src:?}/$v"
	mv "$unpacked" "$lwip_src/$v"
	echo "$v" >"$lwip_src/$v/.skiff-version"
	pristine="$lwip_src/$v"
	rm -rf "$work"
	trap - EXIT
}

[[ -n $pristine ]] || fetch
version=$(cat "$pristine/.skiff-version" 2>/dev/null || basename "$pristine")
up=$(bash "$series_sh" upstream "$pristine")
[[ $up == "$lwip_upstream" ]] || die "$pristine is lwIP $up, not $lwip_upstream: skiff's patch series is written for $lwip_upstream"
say "applying skiff's patch series ($(grep -c . "$series_dir/series") patches) to lwIP $version"
bash "$series_sh" apply "$pristine" "$lwip_dir" "$series_dir" ||
	die "skiff's patch series does not apply to lwIP $version (above: which patch, and where)"
echo "$version" >"$lwip_dir/.skiff-version"
say "lwIP $version with skiff's series ready in $lwip_dir"
