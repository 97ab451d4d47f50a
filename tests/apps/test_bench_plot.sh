#!/bin/bash
# skiff-bench --plot DIR: a short run (skiff_memlink, and kernel_veth as
# root for the ratios) writes one SVG bar chart per figure and index.html;
# each chart is well-formed XML (python3's parser), has a bar per pair and
# shows the very value its `bench` line prints (and, as root, the ratio
# its `bench ratio.` line prints). The `bench` lines are unchanged by
# --plot. Without a terminal, no progress line (no carriage return) is
# printed. Usage: test_bench_plot.sh SKIFF_BENCH
set -u
bench=$1
tmp=$(mktemp -d /tmp/skiff-bench-plot.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pairs=skiff_memlink
[ "$(id -u)" = 0 ] && pairs=skiff_memlink,kernel_veth
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

"$bench" --pairs "$pairs" --runs c1,c64 --reps 1 --echo-s 0.3 --warmup-s 0 \
	--plot "$tmp/plots" --plot-note "test run" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
# 77: not root, kernel_veth skipped (not asked for here); 0 measured.
[ "$rc" = 0 ] || fail "skiff-bench exit $rc"
grep -q $'\r' "$tmp/out" && fail "a progress line on a non-terminal"
grep -q '^plots: ' "$tmp/out" || fail "no 'plots:' line"
[ -s "$tmp/plots/index.html" ] || fail "no index.html"

python3 - "$tmp/plots" "$tmp/out" "$pairs" <<'PY' || fails=$((fails + 1))
import os, re, sys
import xml.etree.ElementTree as ET
d, out, pairs = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
ns = "{http://www.w3.org/2000/svg}"
lines = open(out).read().splitlines()
values, ratios = {}, {}
for l in lines:
    m = re.match(r"bench ratio\.(\S+?)\.(echo64\.\S+) (\S+) x$", l)
    if m:
        ratios[(m.group(1), m.group(2))] = float(m.group(3))
        continue
    m = re.match(r"bench (\S+?)\.(echo64\.\S+) (\S+) (\S+)$", l)
    if m:
        values[(m.group(1), m.group(2))] = m.group(3)
bad = 0
def no(msg):
    global bad
    print("FAIL:", msg)
    bad += 1
metrics = sorted({m for (_, m) in values})
want = {"echo64.%s.%s" % (c, f) for c in ("c1", "c64")
        for f in ("rps", "p50_us", "p99_us", "cpu_s_per_mreq")}
if not want <= set(metrics):
    no("expected the 8 echo figures at least, got %s" % metrics)
# Every pair has these (copies only the pairs with a skiff server).
for m in sorted(want):
    path = os.path.join(d, m + ".svg")
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        no("%s missing or empty" % path)
        continue
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        no("%s is not well-formed: %s" % (path, e))
        continue
    if root.tag != ns + "svg":
        no("%s: root is %s" % (path, root.tag))
    texts = [t.text or "" for t in root.iter(ns + "text")]
    bars = [r for r in root.iter(ns + "rect") if r.get("class") == "bar"]
    if len(bars) != len(pairs):
        no("%s: %d bars for %d pairs" % (path, len(bars), len(pairs)))
    if not any("test run" in t for t in texts):
        no("%s: the --plot-note is not in the subtitle" % path)
    for p in pairs:
        v = values.get((p, m))
        if v is None:
            no("no bench line for %s.%s" % (p, m))
            continue
        if not any(t.startswith(v + " ") for t in texts):
            no("%s: %s's value %s is not shown (texts: %s)" % (path, p, v, texts))
        r = ratios.get((p, m))
        # The chart divides the values it shows; the bench line divides
        # unrounded medians: the two may round apart in the last digit.
        shown = [float(x) for t in texts if t.startswith(v + " ")
                 for x in re.findall(r"\(([0-9.]+)x\)", t)]
        if r is not None and not any(abs(x - r) <= 0.0051 + 0.01 * r for x in shown):
            no("%s: %s's ratio %.2f is not shown (%s)" % (path, p, r, shown))
    if "kernel_veth" in pairs and not any("(baseline)" in t for t in texts):
        no("%s: no baseline bar" % path)
    if ('src="%s.svg"' % m) not in open(os.path.join(d, "index.html")).read():
        no("index.html does not show %s" % m)
print("checked %d charts" % len(want))
sys.exit(1 if bad else 0)
PY
[ "$fails" = 0 ] && echo PASS && exit 0
exit 1
