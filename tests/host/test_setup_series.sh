#!/usr/bin/env bash
# tests/host/setup.sh with lwIP sources the archive might offer tomorrow,
# without the network: a newer Debian revision of 2.2.1 (the series
# applies), a newer upstream release (refused), and a series with a patch
# that does not apply (a clear error naming it). Uses the pristine tree the
# real set-up fetched (.deps/lwip-src). Prints "ok" lines; exits 1 on the
# first failure.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
setup="$top/tests/host/setup.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

pristine=$(find "$top/.deps/lwip-src" -mindepth 1 -maxdepth 1 -type d | sort | tail -1)
[[ -n $pristine && -f $pristine/src/Filelists.cmake ]] || { echo "SKIP: no pristine lwIP in .deps/lwip-src (run tests/host/setup.sh)"; exit 77; }

# 1. Which version the archive's list yields.
v=$(SKIFF_LWIP_VERSIONS="2.2.1+dfsg1-1+deb13u1 2.2.1+dfsg1-1+deb13u3 2.3.0-1 2.2.0-4" bash "$setup" --pick-lwip-version)
[[ $v == 2.2.1+dfsg1-1+deb13u3 ]] || fail "picked '$v' from a list with deb13u3"
ok "the newest Debian revision of 2.2.1 is taken ($v), 2.3.0 and 2.2.0 are not"
if out=$(SKIFF_LWIP_VERSIONS="2.3.0-1 2.2.0-4" bash "$setup" --pick-lwip-version 2>&1); then
	fail "an archive without 2.2.1 was accepted: $out"
fi
grep -q "no lwIP 2.2.1" <<<"$out" || fail "unclear message: $out"
ok "an archive without 2.2.1: $out"

# 2. A newer revision of 2.2.1 (same code, new changelog): the series applies.
cp -a "$pristine" "$work/deb13u3"
echo "2.2.1+dfsg1-1+deb13u3" >"$work/deb13u3/.skiff-version"
echo "/* a Debian security fix elsewhere */" >>"$work/deb13u3/src/core/ipv4/etharp.c"
SKIFF_LWIP_PRISTINE="$work/deb13u3" bash "$setup" --lwip-dir "$work/out" >"$work/log" 2>&1 ||
	fail "the series did not apply to a newer revision: $(cat "$work/log")"
[[ $(cat "$work/out/.skiff-version") == 2.2.1+dfsg1-1+deb13u3 ]] || fail "wrong version recorded"
[[ $(cat "$work/out/.skiff-series") == $(bash "$top/tests/host/lwip-series.sh" hash "$top/stack/lwip-patches") ]] ||
	fail "the marker does not match the series"
grep -q "LWIP_HOOK_TCP_DEMUX" "$work/out/src/core/tcp_in.c" || fail "the demux patch is not in the tree"
ok "a newer Debian revision of 2.2.1: the series applies ($(grep -c . "$top/stack/lwip-patches/series") patches)"

# 3. A newer upstream release: refused, and said so.
cp -a "$pristine" "$work/up"
sed -i 's/#define LWIP_VERSION_REVISION   1/#define LWIP_VERSION_REVISION   2/' "$work/up/src/include/lwip/init.h"
grep -q "LWIP_VERSION_REVISION   2" "$work/up/src/include/lwip/init.h" || fail "could not fake 2.2.2"
if SKIFF_LWIP_PRISTINE="$work/up" bash "$setup" --lwip-dir "$work/out2" >"$work/log" 2>&1; then
	fail "lwIP 2.2.2 was accepted"
fi
grep -q "is lwIP 2.2.2, not 2.2.1" "$work/log" || fail "unclear message: $(cat "$work/log")"
ok "another upstream release: $(grep -o 'is lwIP 2.2.2, not 2.2.1[^:]*' "$work/log")"

# 4. A series whose patch does not apply: the patch is named, the tree untouched.
cp -a "$top/stack/lwip-patches" "$work/series"
cat >"$work/series/0099-does-not-apply.patch" <<'PATCH'
a patch against code this tree does not have

diff --git a/src/core/tcp.c b/src/core/tcp.c
--- a/src/core/tcp.c
+++ b/src/core/tcp.c
@@ -1,3 +1,3 @@
-this line is not in tcp.c
+nor is this one
 and neither is this
PATCH
echo "0099-does-not-apply.patch" >>"$work/series/series"
mkdir -p "$work/out3" && echo keep >"$work/out3/marker"
if SKIFF_LWIP_PRISTINE="$work/deb13u3" SKIFF_LWIP_SERIES="$work/series" bash "$setup" --lwip-dir "$work/out3" >"$work/log" 2>&1; then
	fail "a series that does not apply was accepted"
fi
grep -q "0099-does-not-apply.patch does not apply" "$work/log" || fail "the patch is not named: $(cat "$work/log")"
[[ -f $work/out3/marker ]] || fail "the tree was touched"
ok "a patch that does not apply: $(grep -m1 'does not apply' "$work/log")"

# 5. The build refuses a tree patched otherwise.
if cmake -S "$top" -B "$work/build" -DLWIP_DIR="$pristine" >"$work/log" 2>&1; then
	fail "CMake accepted an unpatched tree"
fi
grep -q "is unpatched" "$work/log" || fail "unclear CMake message: $(tail -5 "$work/log")"
ok "CMake refuses an unpatched tree"
