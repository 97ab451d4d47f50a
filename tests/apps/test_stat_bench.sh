#!/bin/bash
# skiff-stat against skiff-bench's servers: while a pair runs, its skiff
# server (and a skiff client) are listed as skiff-bench instances, and
# `skiff-stat --once --json PID` of the server shows frames received and
# sent, growing under the load; once skiff-bench is done the list is empty
# (each instance removed its segment at skiff_fini()). skiff_memlink needs
# no root; as root kernel_to_skiff_veth too (a server on AF_XDP, on its
# veth, in its own namespace).
# Usage: test_stat_bench.sh SKIFF_BENCH SKIFF_STAT
set -u
bench=$1
stat=$2
tmp=$(mktemp -d /tmp/skiff-stat-bench.XXXXXX)
chmod 755 "$tmp"
bpid=
trap '[ -n "$bpid" ] && kill "$bpid" 2>/dev/null; wait; rm -rf "$tmp"' EXIT
export SKIFF_STAT_DIR=$tmp/shm
mkdir -m 755 "$SKIFF_STAT_DIR"
pairs=skiff_memlink
[ "$(id -u)" = 0 ] && pairs="skiff_memlink kernel_to_skiff_veth"
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

for pair in $pairs; do
	"$bench" --pairs "$pair" --runs c64 --reps 1 --echo-s 6 --warmup-s 0 >"$tmp/$pair.out" 2>&1 &
	bpid=$!
	# The server: skiff-bench's instance at 10.99.0.2.
	spid=
	for _ in $(seq 100); do
		spid=$("$stat" --dir "$SKIFF_STAT_DIR" -j 2>/dev/null | python3 -c '
import json, sys
for l in sys.stdin:
    o = json.loads(l)
    if o["program"] == "skiff-bench" and o["address"].startswith("10.99.0.2/") and o["state"] == "running":
        print(o["pid"])
        break')
		[ -n "$spid" ] && break
		sleep 0.2
	done
	if [ -z "$spid" ]; then
		fail "$pair: skiff-stat does not list skiff-bench's server"
		"$stat" --dir "$SKIFF_STAT_DIR"
		wait "$bpid"
		bpid=
		continue
	fi
	"$stat" --dir "$SKIFF_STAT_DIR" | tee "$tmp/list"
	sleep 1
	if "$stat" --dir "$SKIFF_STAT_DIR" --once --json -i 0.5 "$spid" >"$tmp/a.json" &&
		"$stat" --dir "$SKIFF_STAT_DIR" --once --json -i 0.5 "$spid" >"$tmp/b.json"; then
		python3 - "$tmp/a.json" "$tmp/b.json" "$pair" <<'PY' || fail "$pair: the counters"
import json, sys
a = json.loads(open(sys.argv[1]).read().splitlines()[-1])
b = json.loads(open(sys.argv[2]).read().splitlines()[-1])
pair, bad = sys.argv[3], 0
la, lb = a["counters"]["link"], b["counters"]["link"]
print("%s: server rx_frames %d -> %d, tx_frames %d -> %d, rx rate %.0f/s, backend %s %s %s"
      % (pair, la["rx_frames"], lb["rx_frames"], la["tx_frames"], lb["tx_frames"],
         b["rates"]["link"]["rx_frames"], b["backend"], b["interface"], b["xdp_mode"]))
if not (0 < la["rx_frames"] < lb["rx_frames"] and 0 < la["tx_frames"] < lb["tx_frames"]):
    print("FAIL: the server's frames do not grow under load"); bad = 1
if b["rates"]["link"]["rx_frames"] <= 0:
    print("FAIL: no receive rate"); bad = 1
if pair != "skiff_memlink" and (b["backend"] != "xsk" or not b["interface"] or b["xdp_mode"] == "none"):
    print("FAIL: an AF_XDP server should show its interface and XDP mode"); bad = 1
sys.exit(bad)
PY
	else
		fail "$pair: skiff-stat --once --json $spid: exit $?"
	fi
	wait "$bpid"
	rc=$?
	bpid=
	[ "$rc" = 0 ] || { fail "$pair: skiff-bench exit $rc"; tail -5 "$tmp/$pair.out"; }
	left=$("$stat" --dir "$SKIFF_STAT_DIR" 2>&1 | grep -c skiff-bench)
	[ "$left" = 0 ] || fail "$pair: $left skiff-bench instances still listed after it exited"
done
[ "$fails" = 0 ] && echo PASS && exit 0
exit 1
