#!/usr/bin/env bash
# The README's test command. On a fresh Debian 12 machine, as root: installs
# what is missing and fetches lwIP (tests/host/setup.sh), builds the `dev`
# preset and runs the whole test suite (benchmarks and fuzzers excluded:
# `ctest --preset bench` runs the benchmarks).
#
#   bash tests/run.sh [--preset NAME] [extra ctest arguments...]
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
preset=dev
if [[ ${1:-} == --preset ]]; then
	preset=$2
	shift 2
fi

bash "$top/tests/host/setup.sh"
cd "$top"
cmake --preset "$preset"
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" "$@"
