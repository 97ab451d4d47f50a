#!/usr/bin/env bash
# skiff's patch series on lwIP (stack/lwip-patches/series), applied to a
# pristine lwIP tree. Used by tests/host/setup.sh; the build checks the
# marker it writes (stack/CMakeLists.txt computes the same hash).
#
#   lwip-series.sh hash SERIES_DIR
#       the series' identity: SHA-256 over "<sha256 of patch>  <name>\n"
#       for each patch named in SERIES_DIR/series, in order
#   lwip-series.sh upstream LWIP_TREE
#       the upstream version the tree's headers declare (e.g. 2.2.1)
#   lwip-series.sh apply PRISTINE OUT SERIES_DIR
#       OUT := a copy of PRISTINE with every patch applied, and the marker
#       OUT/.skiff-series holding the series hash; on a patch that does not
#       apply, says which and why, leaves OUT alone and exits 1
set -euo pipefail

die() { printf 'lwip-series: %s\n' "$*" >&2; exit 1; }

patches() {
	local dir=$1 name
	[[ -f $dir/series ]] || die "no series file in $dir"
	while IFS= read -r name || [[ -n $name ]]; do
		name=${name%%#*}
		name=${name//[[:space:]]/}
		[[ -n $name ]] || continue
		[[ -f $dir/$name ]] || die "$dir/series names $name, which is not there"
		printf '%s\n' "$name"
	done <"$dir/series"
}

series_hash() {
	local dir=$1 name
	for name in $(patches "$dir"); do
		printf '%s  %s\n' "$(sha256sum <"$dir/$name" | cut -d' ' -f1)" "$name"
	done | sha256sum | cut -d' ' -f1
}

upstream() {
	local h=$1/src/include/lwip/init.h major minor rev
	[[ -f $h ]] || die "$1 is not an lwIP tree (no src/include/lwip/init.h)"
	major=$(awk '/#define LWIP_VERSION_MAJOR/ {print $3}' "$h")
	minor=$(awk '/#define LWIP_VERSION_MINOR/ {print $3}' "$h")
	rev=$(awk '/#define LWIP_VERSION_REVISION/ {print $3}' "$h")
	printf '%s.%s.%s\n' "$major" "$minor" "$rev"
}

apply_series() {
	local pristine=$1 out=$2 dir=$3 tmp name log
	[[ -f $pristine/src/Filelists.cmake ]] || die "$pristine is not an lwIP tree"
	tmp="$out.new.$$"
	rm -rf "$tmp"
	cp -a "$pristine" "$tmp"
	rm -f "$tmp/.skiff-series"
	log=$(mktemp)
	for name in $(patches "$dir"); do
		if ! patch -p1 -N -s --no-backup-if-mismatch -r - -d "$tmp" <"$dir/$name" >"$log" 2>&1; then
			rm -rf "$tmp"
			printf 'lwip-series: %s does not apply to the lwIP tree from %s:\n' "$name" "$pristine" >&2
			sed 's/^/  /' "$log" >&2
			rm -f "$log"
			printf 'lwip-series: the tree changed where this patch works; refresh the patch against it (stack/lwip-patches/README.md)\n' >&2
			exit 1
		fi
	done
	rm -f "$log"
	series_hash "$dir" >"$tmp/.skiff-series"
	rm -rf "$out"
	mv "$tmp" "$out"
}

case "${1:-}" in
hash) series_hash "$2" ;;
upstream) upstream "$2" ;;
apply) apply_series "$2" "$3" "$4" ;;
*) die "usage: lwip-series.sh hash SERIES_DIR | upstream TREE | apply PRISTINE OUT SERIES_DIR" ;;
esac
