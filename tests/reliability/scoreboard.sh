#!/usr/bin/env bash
# Rewrites the scoreboard table in docs/reliability.md from the rows the
# tests wrote (tk_score() in the CUnit harness, tests/fuzz/run.sh for
# the fuzzers): for each test the newest row of all the files given wins.
#
#   bash tests/reliability/scoreboard.sh [ROWS.tsv ...]
#
# Default files: build/dev/scoreboard.tsv, build/asan/scoreboard.tsv and
# build/fuzz/scoreboard.tsv, those that exist. A row is
# "DATE<TAB>TEST<TAB>FIGURE<TAB>RESULT".
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
doc=$top/docs/reliability.md
files=("$@")
if ((${#files[@]} == 0)); then
	for f in build/dev build/asan build/fuzz; do
		[[ -f $top/$f/scoreboard.tsv ]] && files+=("$top/$f/scoreboard.tsv")
	done
fi
if ((${#files[@]} == 0)); then
	echo "scoreboard: no rows yet (run bash tests/run.sh first)" >&2
	exit 1
fi
grep -q '^<!-- scoreboard:begin -->$' "$doc" || {
	echo "scoreboard: $doc has no <!-- scoreboard:begin --> marker" >&2
	exit 1
}

table=$(mktemp)
trap 'rm -f "$table"' EXIT
{
	echo "| test | figure | result | when |"
	echo "|---|---|---|---|"
	# A row measured by the ASan build (its figure says so) is a row of its
	# own: both builds' figures stay on the board. Then the newest row per
	# test (dates sort as text), by test name.
	cat "${files[@]}" |
		awk -F'\t' -v OFS='\t' 'NF == 4 && sub(/ \(ASan build\)$/, "", $3) { $2 = $2 " (ASan)" } { print }' |
		sort -t$'\t' -k2,2 -k1,1 |
		awk -F'\t' 'NF == 4 { last[$2] = $0 } END { for (k in last) print last[k] }' |
		sort -t$'\t' -k2,2 |
		awk -F'\t' '{ printf "| `%s` | %s | %s | %s |\n", $2, $3, $4, $1 }'
} >"$table"

awk -v table="$table" '
	/^<!-- scoreboard:begin -->$/ { print; while ((getline l < table) > 0) print l; skip = 1; next }
	/^<!-- scoreboard:end -->$/ { skip = 0 }
	!skip { print }
' "$doc" >"$doc.new"
mv "$doc.new" "$doc"
rows=$(($(wc -l <"$table") - 2))
fails=$(grep -c '| FAIL |' "$table" || true)
echo "scoreboard: $rows rows ($fails failing) written to docs/reliability.md"
