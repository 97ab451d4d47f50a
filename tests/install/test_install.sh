#!/bin/bash
# The installed package (docs/building.md, "Installing"): `cmake --install`
# into a temporary prefix, then what a user of it sees:
#   - the public headers only, each one compiling on its own;
#   - libskiff.so exporting only the modules' public names (no lwIP, no
#     libxdp or libbpf symbol), libskiff.a, libskiff-preload.so, skiff.pc,
#     find_package(skiff);
#   - a program built out of tree with `pkg-config --cflags --libs skiff`
#     and with find_package(skiff) (shared and static), running an echo
#     round trip over memlink;
#   - the installed programs running from there: skiff-echo over memlink,
#     skiff-stat, skiff-bench finding its helper and skiff-run its library
#     relative to themselves.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -u
build=$1
src=$2
tmp=$(mktemp -d /tmp/skiff-install-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fails=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
ok() {
	echo "ok: $*"
}

if ! cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	echo "FAIL: cmake --install"
	exit 1
fi
libdir=$(dirname "$(find "$prefix" -name skiff.pc -path '*/pkgconfig/*' | head -1)")
libdir=${libdir%/pkgconfig}
[ -n "$libdir" ] || { echo "FAIL: no skiff.pc installed"; exit 1; }

# ---- what is installed
for f in include/skiff/skiff.h include/skiff/zc.h include/skiff/stat.h \
	include/skiff/hostloop.h bin/skiff-echo bin/skiff-proxy bin/skiff-bench bin/skiff-stat \
	bin/skiff-run; do
	[ -e "$prefix/$f" ] || fail "$f not installed"
done
for f in libskiff.so libskiff.a libskiff-preload.so pkgconfig/skiff.pc \
	cmake/skiff/skiffConfig.cmake cmake/skiff/skiffConfigVersion.cmake; do
	[ -e "$libdir/$f" ] || fail "${libdir#"$prefix"/}/$f not installed"
done
if [ -x "$build/tests/net/nfq_impair" ] && [ ! -x "$prefix/libexec/skiff/nfq_impair" ]; then
	fail "libexec/skiff/nfq_impair (skiff-bench's loss run helper) not installed"
fi
# Public headers only: nothing of lwIP, no module-internal header.
extra=$(cd "$prefix/include" && find . -type f ! -path './skiff/*.h')
[ -z "$extra" ] || fail "unexpected files under include/: $extra"
ls "$prefix/include/skiff" | grep -E '^(lwip|lwipopts|.*_internal)' && fail "private header installed"
for h in "$prefix"/include/skiff/*.h; do
	echo "#include <skiff/$(basename "$h")>" >"$tmp/h.c"
	cc -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -I"$prefix/include" "$tmp/h.c" \
		2>"$tmp/h.err" || fail "<skiff/$(basename "$h")> does not compile on its own: $(head -3 "$tmp/h.err")"
done
ok "files in place ($(find "$prefix" -type f | wc -l) files)"

# ---- exported symbols
syms=$(nm -D --defined-only "$libdir/libskiff.so" | awk '{print $3}')
[ -n "$syms" ] || fail "libskiff.so exports nothing"
leaks=$(echo "$syms" | grep -Ev '^(skiff|umem|pkb|zc)_' | head -5)
[ -z "$leaks" ] || fail "libskiff.so exports names outside skiff's modules: $leaks"
plleaks=$(nm -D --defined-only "$libdir/libskiff-preload.so" | awk '{print $3}' |
	grep -E '^(tcp_|pbuf_|lwip_|netif_|xsk_|xdp_|bpf_|libbpf_|ip4_|ip6_|mem_|memp_|sys_)' | head -5)
[ -z "$plleaks" ] || fail "libskiff-preload.so exports lwIP/libxdp names: $plleaks"
ok "libskiff.so exports $(echo "$syms" | wc -l) symbols, all skiff_/umem_/pkb_/zc_"

# ---- an out-of-tree program with pkg-config
export PKG_CONFIG_PATH=$libdir/pkgconfig
cflags=$(pkg-config --cflags skiff) && libs=$(pkg-config --libs skiff) ||
	fail "pkg-config --cflags --libs skiff"
if cc -std=gnu11 -Wall -Wextra -Werror -o "$tmp/consumer_pc" "$src/tests/install/consumer/consumer.c" \
	$cflags $libs -Wl,-rpath,"$(pkg-config --variable=libdir skiff)" 2>"$tmp/cc.err"; then
	ldd "$tmp/consumer_pc" | grep -q "$prefix" || fail "consumer_pc does not load the installed libskiff"
	timeout 60 "$tmp/consumer_pc" || fail "consumer built with pkg-config: exit $?"
else
	cat "$tmp/cc.err"
	fail "consumer does not build with pkg-config"
fi

# ---- and with find_package(skiff), shared and static
if cmake -S "$src/tests/install/consumer" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
	>"$tmp/cmake.log" 2>&1 && cmake --build "$tmp/cmake" -j2 >>"$tmp/cmake.log" 2>&1; then
	for v in shared static; do
		timeout 60 "$tmp/cmake/consumer_$v" || fail "consumer_$v (find_package): exit $?"
	done
	ldd "$tmp/cmake/consumer_static" | grep -q libskiff && fail "consumer_static loads libskiff.so"
else
	cat "$tmp/cmake.log"
	fail "consumer does not build with find_package(skiff)"
fi

# ---- the installed programs, run from there
before=$fails
export SKIFF_STAT_DIR=$tmp/stat
mkdir -p "$SKIFF_STAT_DIR"
out=$(timeout 120 "$prefix/bin/skiff-echo" --memlink --conns 2 --requests 50 2>&1)
echo "$out" | grep -q "verdict: PASS" || fail "installed skiff-echo --memlink: $(echo "$out" | tail -3)"
out=$("$prefix/bin/skiff-stat" 2>&1) || fail "installed skiff-stat: $out"
out=$("$prefix/bin/skiff-bench" --runs loss --dry-run 2>&1) || fail "skiff-bench --dry-run: $out"
if [ -x "$prefix/libexec/skiff/nfq_impair" ]; then
	echo "$out" | grep -q "impairment helper $prefix/bin/../libexec/skiff/nfq_impair" ||
		fail "installed skiff-bench does not take the installed helper: $(echo "$out" | grep helper)"
fi
if [ "$(id -u)" = 0 ]; then
	# skiff-run sets LD_PRELOAD to the library beside it; sh opens no
	# socket, so skiff never starts.
	out=$("$prefix/bin/skiff-run" -i lo --ip 10.254.0.2/24 -- /bin/sh -c 'echo "$LD_PRELOAD"' 2>&1)
	case "$out" in
	"$prefix"/lib*/libskiff-preload.so | "$prefix"/bin/../lib*/libskiff-preload.so) ;;
	*) fail "installed skiff-run preloads '$out', not the installed library" ;;
	esac
fi
[ "$fails" = "$before" ] && ok "installed programs run"

[ "$fails" = 0 ] && echo "PASS" && exit 0
echo "$fails check(s) failed"
exit 1
