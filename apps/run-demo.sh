#!/usr/bin/env bash
# The README's demo command: set-up, build, then skiff-echo on its embedded
# default (its own namespaces and veth pair, driven by Linux TCP clients;
# over memlink between two skiff processes where root or AF_XDP is
# missing). Exits with skiff-echo's status: 0 PASS, 1 FAIL.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$top/tests/host/setup.sh"
cd "$top"
cmake --preset release
cmake --build --preset release -j "$(nproc)"
demo=$top/build/release/apps/skiff-echo
if [[ ! -x $demo ]]; then
	echo "run-demo: $demo was not built (see the configure output above)" >&2
	exit 1
fi
exec "$demo" "$@"
